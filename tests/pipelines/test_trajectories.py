import json

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.errors import InvalidInputError
from kinema.pipelines.trajectories import (
    TrajectoryPath,
    load_trajectories,
    paths_to_tracks,
    rasterize_trajectories,
)


def test_paths_interpolate_linearly_over_frames():
    path = TrajectoryPath(start=(4, 8), points=[(1.0, 12, 8)], unit="seconds")
    tracks = paths_to_tracks([path], num_frames=9, fps=4, width=32, height=32)  # (K, T, 3)
    assert tracks.shape == (1, 9, 3)
    assert torch.allclose(tracks[0, :5, 0], torch.tensor([4.0, 6.0, 8.0, 10.0, 12.0]))
    assert torch.all(tracks[0, 4:, 0] == 12)  # holds after the last point
    assert torch.all(tracks[0, :, 1] == 8) and torch.all(tracks[0, :, 2] == 1)


def test_map_has_blob_at_position_and_displacement_in_frame_units():
    # one object moving 8 px right per latent frame (every 4 frames) on a 64x32 frame, 8x latent
    frames = torch.arange(9, dtype=torch.float32)
    tracks = torch.stack([11.5 + 2 * frames, torch.full((9,), 11.5), torch.ones(9)], dim=-1)[
        None
    ]  # (1, 9, 3)
    out = rasterize_trajectories(tracks, num_frames=9, height=32, width=64)  # (B, 3, t, h, w)
    assert out.shape == (1, 3, 3, 4, 8)
    # latent frame 0: x = 11.5 px → cell 1 (centre (1 + ½)·8 − ½ = 11.5); y cell 1
    assert out[0, 0, 0, 1, 1] == pytest.approx(1.0)
    assert out[0, 0, 1, 1, 2] == pytest.approx(1.0)  # 8 px later → cell 2
    assert out[0, 0].amax() == pytest.approx(1.0)
    assert out[0, 1, 0, 1, 1] == pytest.approx(8 / 64)  # dx to the next latent frame, frame widths
    assert out[0, 2, 0, 1, 1] == pytest.approx(0.0)
    assert torch.all(out[0, 1:, 2] == 0)  # last latent frame: no next frame, no displacement
    far = out[0, 1, 0, 3, 7]
    assert far == 0  # displacement only where the blob is


def test_user_paths_and_ground_truth_tracks_rasterise_the_same():
    path = TrajectoryPath(start=(5, 6), points=[(8, 20, 26)], unit="frames")
    from_paths = rasterize_trajectories([path], 9, 32, 32, fps=8)
    tracks = paths_to_tracks([path], 9, 8, 32, 32)
    assert torch.equal(from_paths, rasterize_trajectories(tracks, 9, 32, 32))
    batched = rasterize_trajectories(torch.stack([tracks, tracks]), 9, 32, 32)  # (B, K, T, 3)
    assert batched.shape == (2, 3, 3, 4, 4) and torch.equal(batched[1], from_paths[0])


def test_invisible_frames_have_no_blob_and_tracks_may_leave_the_frame():
    tracks = torch.tensor([[[10.0, 10.0, 1.0]] * 5 + [[100.0, 10.0, 1.0]] * 4])  # (1, 9, 3)
    tracks[0, 4, 2] = 0  # hidden at frame 4 = latent frame 1
    out = rasterize_trajectories(tracks, 9, 32, 32)
    assert out[0, 0, 1].max() == 0
    assert out[0, 0, 2].max() < 1e-3  # far outside: clipped away, no error for ground truth
    assert out[0, 1, 0].abs().max() == 0  # no motion written into a hidden next frame


def test_no_objects_give_an_empty_map():
    assert rasterize_trajectories(torch.zeros(2, 0, 9, 3), 9, 32, 32).shape == (2, 3, 3, 4, 4)
    assert rasterize_trajectories(torch.zeros(0, 9, 3), 9, 32, 32).abs().sum() == 0


def test_points_outside_the_frame_are_user_errors():
    with pytest.raises(InvalidInputError, match="outside the 32x32 frame"):
        paths_to_tracks([TrajectoryPath(start=(5, 5), points=[(0.5, 40, 5)])], 9, 8, 32, 32)
    with pytest.raises(InvalidInputError, match="outside the video"):
        paths_to_tracks([TrajectoryPath(start=(5, 5), points=[(3.0, 6, 5)])], 9, 8, 32, 32)


def test_json_file_with_point_and_mask(tmp_path):
    mask = np.zeros((32, 32), np.uint8)
    mask[10:14, 20:24] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    spec = {
        "trajectories": [
            {"point": [4, 4], "path": [[0.5, 8, 4], [1.0, 12, 4]]},
            {"mask": "mask.png", "path": [{"frame": 8, "x": 10, "y": 12}]},
        ]
    }
    (tmp_path / "paths.json").write_text(json.dumps(spec))
    paths = load_trajectories(tmp_path / "paths.json")
    tracks = paths_to_tracks(paths, 9, 8, 32, 32)
    assert tracks[0, 4, 0] == 8 and tracks[0, 8, 0] == 12
    assert tracks[1, 0, 0] == pytest.approx(21.5) and tracks[1, 0, 1] == pytest.approx(11.5)  # mask centre
    assert tracks[1, 8, 0] == 10
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        load_trajectories("{nope")
    with pytest.raises(InvalidInputError, match="Cannot read the trajectory file"):
        load_trajectories(tmp_path / "missing.json")


def test_tracks_with_looks_write_colour_and_radius_where_the_blob_is():
    # A red object 12 px in radius and a blue one 4 px, far apart, on a 64x32 frame (8x latent).
    red = [11.5, 11.5, 1.0, 1.0, 0.0, 0.0, 12.0]
    blue = [51.5, 19.5, 1.0, 0.0, 0.0, 1.0, 4.0]
    tracks = torch.tensor([[red] * 9, [blue] * 9])  # (K=2, T=9, 7)
    out = rasterize_trajectories(tracks, 9, 32, 64, channels=7)  # (1, 7, t, h, w)
    assert out.shape == (1, 7, 3, 4, 8)
    assert out[0, 3:, 0, 1, 1].tolist() == pytest.approx([1.0, -1.0, -1.0, 1.5])  # 2c - 1, radius in cells
    assert out[0, 3:, 0, 2, 6].tolist() == pytest.approx([-1.0, -1.0, 1.0, 0.5])
    assert torch.all(out[0, 3:, :, 3, 3] == 0)  # between the objects: no blob, no looks
    # The first three channels are the motion map, whatever the looks; a 3-channel map ignores them.
    assert torch.equal(out[:, :3], rasterize_trajectories(tracks[..., :3], 9, 32, 64))
    assert torch.equal(rasterize_trajectories(tracks, 9, 32, 64), out[:, :3])
    # Tracks without looks (a user's path) leave the looks channels at zero: "not given".
    plain = rasterize_trajectories(tracks[..., :3], 9, 32, 64, channels=7)
    assert torch.equal(plain[:, :3], out[:, :3]) and not plain[:, 3:].any()
    with pytest.raises(InvalidInputError, match="3, 7 or 11 channels"):
        rasterize_trajectories(tracks, 9, 32, 64, channels=5)


def test_a_paths_looks_in_json_become_the_tracks_looks_and_others_stay_not_given(tmp_path):
    from kinema.world.spec import COLORS

    spec = [
        {"point": [4, 8], "path": [[1.0, 28, 8]], "color": "Purple", "radius": 6},
        {"point": [4, 24], "path": [[1.0, 28, 24]], "color": "#00ff80", "shape": "Triangle"},
        {"point": [20, 16], "path": [[1.0, 20, 4]], "color": [255, 128, 0], "radius": 3.5},
        {"point": [8, 16], "path": [[1.0, 8, 30]]},  # no looks
    ]
    paths = load_trajectories(json.dumps(spec))
    tracks = paths_to_tracks(paths, 9, 8, 32, 32)
    assert tracks.shape == (4, 9, 8)
    # The colour physics mode hands the adapter for a named colour (the world's RGB / 255), every frame.
    assert tracks[0, :, 3:6] == pytest.approx(torch.tensor(COLORS["purple"]).float().div(255).expand(9, 3))
    assert tracks[0, :, 6].tolist() == [6.0] * 9
    assert tracks[1, 0, 3:7].tolist() == pytest.approx([0.0, 1.0, 128 / 255, 0.0])  # radius not given
    assert tracks[2, 0, 3:7].tolist() == pytest.approx([1.0, 128 / 255, 0.0, 3.5])
    assert tracks[3, 0, 3:7].tolist() == pytest.approx([0.5, 0.5, 0.5, 0.0])  # mid grey: "not given"
    codes = tracks[:, :, 7].tolist()
    assert codes == [[0.0] * 9, [3.0] * 9, [0.0] * 9, [0.0] * 9]  # a triangle; 0: not given
    # Rasterised for the adapter: each object's looks where its blob wins; the unlooked one reads zeros.
    out = rasterize_trajectories(tracks, 9, 32, 32, channels=7, spatial_compression=4)  # (1, 7, 3, 8, 8)
    looks = [2 * 130 / 255 - 1, -1.0, 2 * 170 / 255 - 1, 1.5]
    assert out[0, 3:, 0, 2, 0].tolist() == pytest.approx(looks, abs=1e-6)
    assert not out[0, 3:, 0, 4, 2].any()
    # An adapter that reads shapes gets the same seven channels and the shape one-hot after them.
    wide = rasterize_trajectories(tracks, 9, 32, 32, channels=11, spatial_compression=4)  # (1, 11, 3, 8, 8)
    assert torch.equal(wide[:, :7], out)
    assert wide[0, 7:, 0, 6, 0].tolist() == [0.0, 0.0, 1.0, 0.0]  # the triangle, where its blob wins
    assert not wide[0, 7:, 0, 2, 0].any()  # a colour without a shape: the shape is "not given"
    assert wide[0, 7:].sum(0).max() == 1.0  # at most one shape anywhere
    without_shapes = rasterize_trajectories(tracks[..., :7], 9, 32, 32, channels=11, spatial_compression=4)
    assert not without_shapes[:, 7:].any()
    # Without looks anywhere the tracks stay (K, T, 3), exactly as before.
    assert paths_to_tracks(load_trajectories(json.dumps(spec[3:])), 9, 8, 32, 32).shape == (1, 9, 3)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"colour": "red"}, r"unknown key\(s\) 'colour'; a trajectory takes color, mask, path, point"),
        ({"color": "mauve"}, "color 'mauve' must be a colour name"),
        ({"color": "#12345z"}, "must be a colour name"),
        ({"color": [300, 0, 0]}, r"\[r, g, b\] with each 0-255"),
        ({"color": [True, 0, 0]}, "must be a colour name"),
        ({"radius": -2}, "radius -2 must be a positive number"),
        ({"radius": "big"}, "radius 'big' must be a positive number"),
        ({"shape": "star"}, "shape 'star' must be one of circle, square, triangle, ring"),
        ({"shape": 2}, "shape 2 must be one of"),
    ],
)
def test_bad_looks_in_a_trajectory_are_user_errors(item, message):
    with pytest.raises(InvalidInputError, match=message):
        load_trajectories(json.dumps([{"point": [4, 4], "path": [[1.0, 8, 8]], **item}]))


def test_a_radius_larger_than_the_frame_is_a_user_error():
    paths = load_trajectories(json.dumps([{"point": [4, 4], "path": [[1.0, 8, 8]], "radius": 40}]))
    with pytest.raises(InvalidInputError, match="radius 40 px is larger than the 32x32 frame"):
        paths_to_tracks(paths, 9, 8, 32, 32)


def test_paths_without_looks_take_them_from_the_prompts_objects_in_order():
    from kinema.pipelines.trajectories import looks_from_prompt
    from kinema.world.spec import COLORS

    one, two = (TrajectoryPath(start=(8, 8 + 16 * k), points=[(1.0, 24, 8 + 16 * k)]) for k in range(2))
    size = {"width": 32, "height": 32, "num_frames": 9, "fps": 8}
    (got,) = looks_from_prompt([one], "a purple ball moves to the right", **size)
    assert got.color == pytest.approx(tuple(c / 255 for c in COLORS["purple"]))
    assert got.points == one.points and got.start == one.start
    big, small = (
        looks_from_prompt([two, one], f"a {s} green square and a small red ball move right", **size)
        for s in ("big", "small")
    )
    assert big[0].color == pytest.approx(tuple(c / 255 for c in COLORS["green"]))
    assert big[1].color == pytest.approx((1.0, 0.0, 0.0))
    assert big[0].radius > small[0].radius > 0 and big[1].radius == small[1].radius
    assert (got.shape, big[0].shape, big[1].shape) == ("circle", "square", "circle")  # a ball is a circle
    # No colour said ("a ball"): no looks invented; a count that does not match, or looks given: as given.
    assert looks_from_prompt([one], "a ball moves to the right", **size) == [one]
    assert looks_from_prompt([one, two], "a red ball moves to the right", **size) == [one, two]
    given = TrajectoryPath(start=(8, 8), points=[(1.0, 24, 8)], color=(0.0, 0.0, 1.0))
    assert looks_from_prompt([given], "a red ball moves to the right", **size) == [given]
    assert looks_from_prompt([one], "a lovely sunset", **size) == [one]
