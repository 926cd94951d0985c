"""Renderer: centroid accuracy, shape areas, camera axes' directions, presets, textures, determinism."""

import numpy as np
import pytest

from kinema.world import camera as cam
from kinema.world.render import render_scene
from kinema.world.spec import (
    CAMERA_AXES,
    CAMERA_PRESETS,
    BackgroundSpec,
    CameraSpec,
    ObjectSpec,
    SceneSpec,
    WallsSpec,
)


def _static_states(spec):
    rows = [[*o.position, *o.velocity, o.angle, 0.0] for o in spec.objects]
    return np.tile(np.array(rows, dtype=np.float64)[None], (spec.num_frames, 1, 1))


def _alpha_centroid(frame, bg=255.0):
    """Coverage-weighted centroid of a red object on white: alpha = 1 - G / 255."""
    a = 1.0 - frame[..., 1].astype(np.float64) / bg
    ys, xs = np.mgrid[: frame.shape[0], : frame.shape[1]]
    return np.array([(a * xs).sum() / a.sum(), (a * ys).sum() / a.sum()])


@pytest.mark.parametrize(("w", "h", "size"), [(64, 64, 1.2), (48, 32, 0.6), (40, 40, 2.0)])
def test_ball_centroid_matches_truth_within_a_tenth_of_a_pixel(w, h, size):
    rng = np.random.default_rng(w)
    ww = 10.0 * w / h
    errs = []
    for _ in range(6):
        pos = (
            float(rng.uniform(size + 0.3, ww - size - 0.3)),
            float(rng.uniform(size + 0.3, 10 - size - 0.3)),
        )
        spec = SceneSpec(
            objects=[ObjectSpec(size=size, position=pos)],
            num_frames=1,
            width=w,
            height=h,
            world_size=(ww, 10),
        )
        frames, truth = render_scene(spec, _static_states(spec))
        assert frames.shape == (1, h, w, 3) and frames.dtype == np.uint8
        errs.append(np.abs(_alpha_centroid(frames[0]) - truth.pixels[0, 0]).max())
    assert max(errs) < 0.1


@pytest.mark.parametrize(
    ("shape", "area"),
    [("circle", np.pi), ("square", 2.0), ("triangle", 3 * np.sqrt(3) / 4), ("ring", np.pi * (1 - 0.55**2))],
)
def test_shape_area_matches_geometry(shape, area):
    r = 2.0  # world units; 64 px / 10 units → 6.4 px per unit
    spec = SceneSpec(
        objects=[ObjectSpec(shape=shape, size=r, position=(5, 5), angle=0.3)],
        num_frames=1,
        width=64,
        height=64,
    )
    frames, _ = render_scene(spec, _static_states(spec))
    covered = (1.0 - frames[0, ..., 1] / 255.0).sum() / 6.4**2
    assert covered == pytest.approx(area * r**2, rel=0.02)


def _markers_spec(camera, w=64, h=48, frames=11):
    """Two small static markers left/right of the centre; their pixel motion shows the camera's."""
    objs = [
        ObjectSpec(size=0.35, position=(5.67, 5.0)),
        ObjectSpec(size=0.35, color="blue", position=(7.67, 6.0)),
    ]
    return SceneSpec(
        objects=objs,
        num_frames=frames,
        fps=5.0,
        width=w,
        height=h,
        world_size=(10 * w / h, 10),
        camera=camera,
    )


def _blob_centroid(frame, channel_on, channel_off):
    m = (frame[..., channel_on] > 127) & (frame[..., channel_off] < 127) & (frame[..., 1] < 127)
    ys, xs = np.nonzero(m)
    return np.array([xs.mean(), ys.mean()])


# axis → what a positive value does to the scene on screen (kinema.world.camera's table)
EXPECTED = {
    "horizontal": "left",
    "vertical": "down",
    "pan": "down",
    "tilt": "left",
    "roll": "ccw",
    "zoom": "shrink",
}


@pytest.mark.parametrize("axis", CAMERA_AXES)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_each_camera_axis_moves_the_scene_in_the_documented_direction(axis, sign):
    spec = _markers_spec(CameraSpec(**{axis: 8.0 * sign}))
    frames, truth = render_scene(spec, _static_states(spec))
    red0, red1 = _blob_centroid(frames[0], 0, 2), _blob_centroid(frames[-1], 0, 2)
    blue0, blue1 = _blob_centroid(frames[0], 2, 0), _blob_centroid(frames[-1], 2, 0)
    np.testing.assert_allclose(red1, truth.pixels[-1, 0], atol=0.35)  # rendered = ground-truth transform
    move = red1 - red0
    sep0, sep1 = blue0 - red0, blue1 - red1
    expect = EXPECTED[axis]
    if expect == "left":
        assert sign * move[0] < -1.0 and abs(move[1]) < abs(move[0])
    elif expect == "down":
        assert sign * move[1] > 1.0 and abs(move[0]) < abs(move[1])
    elif expect == "ccw":  # on screen (y down) counter-clockwise = the angle atan2(-dy, dx) grows
        turn = np.arctan2(-sep1[1], sep1[0]) - np.arctan2(-sep0[1], sep0[0])
        assert sign * turn > 0.1
    else:  # positive zoom = wider view: the markers get closer together
        assert sign * (np.linalg.norm(sep1) - np.linalg.norm(sep0)) < -1.0
    np.testing.assert_allclose(
        truth.camera, np.tile(np.eye(6)[CAMERA_AXES.index(axis)] * 0.8 * sign, (11, 1)), atol=1e-6
    )


def test_textured_background_slides_against_horizontal_camera():
    spec = SceneSpec(
        num_frames=2,
        fps=1.0,
        width=48,
        height=48,
        background=BackgroundSpec(kind="checker", cell=1.3),
        camera=CameraSpec(horizontal=10.0),
    )
    frames, truth = render_scene(spec, np.zeros((2, 0, 6)))
    a, b = frames[0, 8:40, :, 0].astype(float), frames[1, 8:40, :, 0].astype(float)
    expected = truth.homographies[1][0, 2] - truth.homographies[0][0, 2]  # pixels, negative = left
    assert expected < -5
    shifts = list(range(-12, 13))
    errs = [np.abs(a[:, 12:36] - b[:, 12 + s : 36 + s]).mean() for s in shifts]
    # frame1(x) = frame0(x - d): content moved by d = expected, so b[x + s] matches a[x] at s = expected
    assert abs(shifts[int(np.argmin(errs))] - expected) <= 1.0
    assert frames[0].std() > 20  # the texture is visible


@pytest.mark.parametrize("preset", CAMERA_PRESETS)
def test_presets_are_the_documented_compositions(preset):
    comp = cam.PRESETS[preset]
    np.testing.assert_array_equal(
        cam.camera_axes(CameraSpec(preset=preset)), [comp.get(a, 0.0) for a in CAMERA_AXES]
    )
    h_preset = cam.camera_homographies(CameraSpec(preset=preset), 5, 2.0, (12.5, 10), 40, 32)
    h_axes = cam.camera_homographies(CameraSpec(**comp), 5, 2.0, (12.5, 10), 40, 32)
    np.testing.assert_allclose(h_preset, h_axes)
    assert set(comp) and all(abs(v) <= 10 for v in comp.values())


def test_static_camera_is_the_rest_mapping_and_zero_vector():
    h = cam.camera_homographies(CameraSpec(), 3, 10.0, (10, 10), 128, 128)
    np.testing.assert_allclose(h, np.broadcast_to(cam.rest_homography((10, 10), 128, 128), (3, 3, 3)))
    # pixel (j, i) centre convention: world (0, 10) is the top-left corner of pixel (0, 0)
    np.testing.assert_allclose(cam.apply_homography(h[0], np.array([0.0, 10.0])), [-0.5, -0.5])
    assert not cam.camera_vector(CameraSpec(), 4).any()


def test_render_is_deterministic_and_textures_differ_by_kind():
    outs = {}
    for kind in ("flat", "checker", "grid", "noise"):
        spec = SceneSpec(
            objects=[ObjectSpec(shape="ring", color="green", size=1.5, position=(4, 6), velocity=(1, 0))],
            num_frames=3,
            width=32,
            height=24,
            world_size=(10 * 32 / 24, 10),
            background=BackgroundSpec(kind=kind, seed=7, cell=1.1),
            camera=CameraSpec(roll=4, zoom=-3),
        )
        states = _static_states(spec)
        a, _ = render_scene(spec, states)
        b, _ = render_scene(spec, states)
        assert a.tobytes() == b.tobytes()
        outs[kind] = a
    kinds = list(outs)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(outs[kinds[i]], outs[kinds[j]])


def test_walls_come_into_view_when_the_camera_moves():
    walls = WallsSpec(floor=True, left=True)
    spec = SceneSpec(
        num_frames=6,
        fps=2.0,
        width=32,
        height=32,
        walls=walls,
        camera=CameraSpec(vertical=-10, horizontal=-10),
    )
    frames, _ = render_scene(spec, np.zeros((6, 0, 6)))
    assert (frames[0] == 255).all()  # at rest the walls lie on the frame border, out of view
    last = frames[-1]
    assert (last[-1, :, 0] == 90).all() and (
        last[:, 0, 0] == 90
    ).all()  # floor at the bottom, left wall at the left
    assert (last[0, -1] == 255).all()  # the world is still white
    still, _ = render_scene(spec.model_copy(update={"camera": CameraSpec()}), np.zeros((6, 0, 6)))
    assert (still == 255).all()


@pytest.mark.parametrize("position", [(2.5, 2.5), (0.5, 0.5)])
def test_objects_bigger_than_the_frame_are_drawn_through_a_frame_sized_window(position):
    # radius 5 in a 5x5 world = 64 px: a centred disc covers the whole frame; one near a corner leaves
    # the far corner white.
    spec = SceneSpec(
        objects=[ObjectSpec(size=5.0, position=position)],
        num_frames=2,
        width=64,
        height=64,
        world_size=(5.0, 5.0),
    )
    frames, truth = render_scene(spec, _static_states(spec))
    ys, xs = np.mgrid[:64, :64]
    cx, cy = truth.pixels[0, 0]
    dist = np.hypot(xs - cx, ys - cy) / 12.8  # world units from the disc's centre
    red = frames[0, ..., 1] < 128
    assert red[dist < 4.9].all() and not red[dist > 5.1].any()
    assert red.all() if position == (2.5, 2.5) else not red.all()


def test_an_object_near_the_horizon_gets_a_bounded_window():
    import torch

    from kinema.world.render import _object_window

    # A homography whose third row nearly vanishes at the object: pixels per world unit blow up there
    # (a tilted camera looking toward the horizon). The window must stay the frame, not thousands of px.
    h = torch.eye(3, dtype=torch.float64)
    h[2] = torch.tensor([1.0, 0.0, -4.999999], dtype=torch.float64)
    origin, side = _object_window(
        h.view(1, 1, 3, 3), torch.tensor([[[5.0, 5.0]]], dtype=torch.float64), torch.ones(1), 64, 48
    )
    assert side == 64 and origin.abs().max() == 0
