"""Parser: recovers the truth from renders, reports hidden objects as missing, classifies shapes."""

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.world import paper
from kinema.world.parser import (
    align_to_spec,
    classify_shape,
    connected_components,
    detect_objects,
    parse_video,
    track_objects,
)
from kinema.world.render import render_scene, to_uint8
from kinema.world.spec import ObjectSpec, SceneSpec


def _paper_clip(scenario, size=64, seed=0, n=2):
    p = paper.sample_paper_params(scenario, "id", n, generator=seed)
    states = paper.simulate_paper(p)
    frames = to_uint8(paper.render_paper(states, p.radius, size, size))  # (n, T, H, W, 3)
    return p, states, frames


@pytest.mark.parametrize("scenario", paper.SCENARIOS)
def test_paper_parser_recovers_truth(scenario):
    """Tolerances at 64x64 (6.4 px per world unit): centre 0.3 px (mean 0.1), radius 0.4 px,
    velocity (finite differences, fully visible frames, away from the collision) mean 0.2 world units/s —
    a binary mask's centroid jitters by ~0.1 px, and a difference over 0.2 s turns that into ~0.1 units/s."""
    p, states, frames = _paper_clip(scenario)
    scale = 6.4
    for i in range(len(p)):
        tracks = parse_video(frames[i], world_size=(10, 10), fps=10)
        for k, color in enumerate(("red", "blue")[: states.shape[2]]):
            tr = tracks[color]
            full = tr.fully_visible
            assert full.sum() >= 3
            truth_px = np.stack([states[i, :, k, 0] * scale - 0.5, 63.5 - states[i, :, k, 1] * scale], -1)
            err = np.abs(tr.centre_px[full] - truth_px[full])
            assert err.max() < 0.3 and err.mean() < 0.1
            np.testing.assert_allclose(tr.centre_world[full], states[i, full, k, :2], atol=0.3 / scale)
            assert np.abs(tr.radius_px[full] - p.radius[i, k] * scale).max() < 0.4
            ok = np.isfinite(tr.velocity_world).all(-1)
            if scenario == "collision":
                hit = int(np.ceil(p.collision_time[i] * 10))
                ok[hit - 2 : hit + 2] = False  # finite differences straddle the collision
            verr = np.linalg.norm(tr.velocity_world[ok] - states[i, ok, k, 2:4], axis=-1)
            assert ok.sum() >= 2 and verr.mean() < 0.2


def test_hidden_object_is_reported_missing_never_filled():
    p, states, frames = _paper_clip("collision", seed=3, n=1)
    video = frames[0].copy()
    blue = (video[..., 2] > 127) & (video[..., 0] < 127)
    video[10:13][blue[10:13]] = 255  # paint the blue ball out of frames 10..12
    tracks = parse_video(video)
    blue_tr = tracks["blue"]
    assert not blue_tr.visible[10:13].any() and not blue_tr.fully_visible[10:13].any()
    assert np.isnan(blue_tr.centre_px[10:13]).all() and np.isnan(blue_tr.centre_world[10:13]).all()
    assert np.isnan(blue_tr.velocity_world[10:13]).all() and np.isnan(blue_tr.radius_px[10:13]).all()
    assert tracks["red"].visible[10:13].all()
    # a colour that is not in the clip at all: a track of nothing, all missing
    red_only = _paper_clip("uniform", n=1)[2][0]
    assert not parse_video(red_only)["blue"].visible.any()
    assert tracks.as_array(["red", "blue"])[1, 10:13].sum() == 0


def test_ball_touching_the_border_is_not_fully_visible():
    spec = SceneSpec(objects=[ObjectSpec(size=1.0, position=(0.5, 5.0))], num_frames=1, width=32, height=32)
    frames, _ = render_scene(spec, np.array([[[0.5, 5.0, 0, 0, 0, 0]]]))
    tr = parse_video(frames)["red"]
    assert tr.visible[0] and not tr.fully_visible[0]


def test_parser_accepts_float_tensor_and_rejects_bad_input():
    p, states, frames = _paper_clip("uniform", n=1)
    video = torch.from_numpy(frames[0]).permute(3, 0, 1, 2).float() / 127.5 - 1  # (3, T, H, W)
    a, b = parse_video(frames[0]), parse_video(video)
    np.testing.assert_allclose(a["red"].centre_px, b["red"].centre_px, equal_nan=True)
    with pytest.raises(InvalidInputError, match="uint8"):
        parse_video(frames[0].astype(np.float32))
    with pytest.raises(InvalidInputError, match=r"\(3, T, H, W\)"):
        parse_video(torch.zeros(2, 4, 4, 3))


def test_connected_components_and_holes():
    m = np.zeros((16, 16), dtype=bool)
    m[1:3, 1:3] = True
    m[5:14, 5:14] = True
    m[7:12, 7:12] = False  # a hole
    lab, n = connected_components(m)
    assert n == 2 and lab[1, 1] != lab[5, 5] and lab[0, 0] == 0
    assert classify_shape(m & (lab == lab[5, 5])) == "ring"
    assert classify_shape(m & (lab == lab[1, 1])) == "unknown"  # too small to tell


def test_shape_aware_detection_and_tracking():
    objs = [
        ObjectSpec(shape="circle", color="green", size=1.1, position=(2.5, 2.5)),
        ObjectSpec(shape="square", color="yellow", size=1.3, position=(7.5, 2.5), angle=0.4, velocity=(0, 1)),
        ObjectSpec(shape="triangle", color="purple", size=1.4, position=(2.5, 7.3), angle=0.2),
        ObjectSpec(shape="ring", color="cyan", size=1.4, position=(7.5, 7.5)),
    ]
    spec = SceneSpec(objects=objs, num_frames=3, width=80, height=80)
    states = np.zeros((3, 4, 6))
    for k, o in enumerate(objs):
        states[:, k] = [*o.position, *o.velocity, o.angle, 0]
    states[:, 1, 1] += np.arange(3) * 0.2  # the square moves up
    frames, truth = render_scene(spec, states)
    found = {(d.color, d.shape) for d in detect_objects(frames[0])}
    assert found == {("green", "circle"), ("yellow", "square"), ("purple", "triangle"), ("cyan", "ring")}
    tracks = track_objects(frames, world_size=(10, 10), fps=10)
    assert set(tracks.objects) == {"green circle", "yellow square", "purple triangle", "cyan ring"}
    sq = tracks["yellow square"]
    np.testing.assert_allclose(sq.centre_px, truth.pixels[:, 1], atol=0.3)
    assert sq.velocity_world[1, 1] == pytest.approx(2.0, abs=0.2)  # 0.2 units per 0.1 s, upward


def test_soft_centre_removes_mask_quantisation():
    p, states, frames = _paper_clip("uniform", seed=5, n=2)
    errs = {}
    for mode in ("mask", "soft"):
        e = []
        for i in range(2):
            tr = parse_video(frames[i], centre=mode)["red"]
            ok = tr.fully_visible & np.isfinite(tr.velocity_world).all(-1)
            e.append(np.linalg.norm(tr.velocity_world[ok] - states[i, ok, 0, 2:4], axis=-1))
            truth_px = np.stack([states[i, :, 0, 0] * 6.4 - 0.5, 63.5 - states[i, :, 0, 1] * 6.4], -1)
            if mode == "soft":
                assert np.abs(tr.centre_px[ok] - truth_px[ok]).max() < 0.03
        errs[mode] = np.concatenate(e).mean()
    assert errs["soft"] < 0.03 and errs["soft"] < errs["mask"] / 3
    with pytest.raises(InvalidInputError, match="centre"):
        parse_video(frames[0], centre="median")


def test_align_to_spec_matches_objects_by_colour():
    p, states, frames = _paper_clip("collision", seed=2, n=1)
    spec = paper.paper_spec(p, 0, 64, 64)
    aligned = align_to_spec(parse_video(frames[0]), spec)
    assert aligned.names == ["red", "blue"]
    ok = aligned.fully_visible
    np.testing.assert_allclose(aligned.centre_world[ok], states[0].transpose(1, 0, 2)[ok][:, :2], atol=0.05)
    # a spec object whose colour is not in the video stays missing
    spec2 = spec.model_copy(update={"objects": [spec.objects[0].model_copy(update={"color": "green"})]})
    missing = align_to_spec(parse_video(frames[0]), spec2)
    assert missing.names == [None] and not missing.visible.any() and np.isnan(missing.centre_world).all()
