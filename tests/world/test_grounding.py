"""Grounding: simulated tracks are the dataset's own tracks, paper scenes use the closed form, and a prompt
(or a prompt plus frames) becomes tracks the trajectory rasteriser takes."""

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.pipelines.trajectories import rasterize_trajectories
from kinema.world import paper
from kinema.world.dataset import ALL_SCENARIOS, WorldClipDataset
from kinema.world.grounding import plan_from_prompt, simulate_states, simulate_tracks
from kinema.world.render import render_scene
from kinema.world.simulate import simulate
from kinema.world.spec import SHAPES, SceneSpec


def test_simulate_tracks_equals_the_datasets_tracks():
    """Same values, bit for bit, from the spec as the item stores it (JSON), for every scenario, with a
    moving camera on some clips and a non-square frame."""
    ds = WorldClipDataset(
        width=96, height=64, num_frames=9, camera_prob=0.7, texture_prob=0.3, seed=5, num_clips=12
    )
    scenarios = set()
    for item in ds.render(range(12)):
        spec = SceneSpec.parse(item["spec"])
        scenarios.add(spec.scenario)
        tracks = simulate_tracks(spec, max_objects=ds.config.max_objects)
        assert tracks.dtype == np.float32 and tracks.shape == (4, 9, 8)
        np.testing.assert_array_equal(tracks, item["tracks"].numpy())
        n = min(len(spec.objects), 4)  # each object's shape code in every frame; padding rows stay zero
        assert tracks[:n, :, 7].tolist() == [[float(SHAPES.index(o.shape) + 1)] * 9 for o in spec.objects[:n]]
        assert not tracks[n:].any()
    assert scenarios == set(ALL_SCENARIOS)


def test_paper_specs_use_the_closed_form():
    params = paper.sample_paper_params("collision", "id", 1, seed=3)
    spec = paper.paper_spec(params, 0, 96, 64, num_frames=32, fps=10.0)
    closed = paper.simulate_paper(params, 32, 0.1)[0]
    closed[..., 0] += paper.paper_world(96, 64)[1]
    np.testing.assert_array_equal(simulate_states(spec), closed)
    # a spec that no longer matches its parameters (an object moved) goes to pymunk
    moved = spec.model_copy(
        update={"objects": [spec.objects[0].model_copy(update={"position": (3.0, 5.0)}), spec.objects[1]]}
    )
    np.testing.assert_array_equal(simulate_states(moved), simulate(moved).states)


def test_plan_from_prompt_gives_rasterisable_tracks():
    plan = plan_from_prompt("a red ball moves to the right", width=64, height=64, num_frames=17, fps=10.0)
    assert plan.parse.report() == "understood: red ball moving right; not understood: nothing"
    assert plan.tracks.shape == (1, 17, 8) and plan.tracks[..., 2].all()
    x, y = plan.tracks[0, :, 0], plan.tracks[0, :, 1]
    np.testing.assert_allclose(np.diff(x), 2.6 * 6.4 / 10, rtol=1e-4)  # 2.6 world units/s at 6.4 px/unit
    np.testing.assert_allclose(y, y[0])
    traj = rasterize_trajectories(plan.tracks, 17, 64, 64)
    assert tuple(traj.shape) == (1, 3, 5, 8, 8) and float(traj[0, 1].max()) > 0  # moving right


def test_plan_from_frames_starts_at_the_last_frame():
    """Given the first 5 frames of a clip, the plan's tracks go on where the clip goes (0.3 px)."""
    truth = plan_from_prompt(
        "a red ball is thrown to the right and a blue square slides left",
        width=64,
        height=64,
        num_frames=13,
        fps=10.0,
    )
    frames, _ = render_scene(truth.spec, simulate_states(truth.spec))
    plan = plan_from_prompt("they are thrown", width=64, height=64, num_frames=9, fps=10.0, frames=frames[:5])
    assert plan.parse.spec.gravity == truth.spec.gravity and [o.color for o in plan.spec.objects] == [
        "red",
        "blue",
    ]
    np.testing.assert_allclose(plan.tracks, truth.tracks[:, 4:], atol=0.3)


def test_plan_from_prompt_refuses_what_it_cannot_ground():
    with pytest.raises(InvalidInputError, match="not understood: 'purple elephants dancing wobbly'"):
        plan_from_prompt("purple elephants dancing wobbly", width=64, height=64, num_frames=9, fps=10.0)
    blank = np.full((1, 64, 64, 3), 255, dtype=np.uint8)
    with pytest.raises(InvalidInputError, match="No object of a known colour"):
        plan_from_prompt("it falls", width=64, height=64, num_frames=9, fps=10.0, frames=blank)
    with pytest.raises(InvalidInputError, match="aspect ratio"):
        plan_from_prompt("it falls", width=96, height=64, num_frames=9, fps=10.0, frames=blank)


def test_tracks_carry_each_objects_colour_and_its_radius_as_the_camera_sees_it():
    from kinema.world.spec import COLORS, CameraSpec, ObjectSpec

    objects = [
        ObjectSpec(color="green", size=1.0, position=(3.0, 5.0), velocity=(1.0, 0.0)),
        ObjectSpec(color="purple", shape="square", size=0.5, position=(7.0, 5.0)),
    ]
    spec = SceneSpec(objects=objects, num_frames=9, width=64, height=64)  # a 10x10 world: 6.4 px per unit
    tracks = simulate_tracks(spec, max_objects=3)
    np.testing.assert_allclose(tracks[0, :, 3:6], np.tile(np.array(COLORS["green"]) / 255, (9, 1)), atol=1e-6)
    np.testing.assert_allclose(
        tracks[1, :, 3:6], np.tile(np.array(COLORS["purple"]) / 255, (9, 1)), atol=1e-6
    )
    np.testing.assert_allclose(tracks[:2, :, 6], [[6.4] * 9, [3.2] * 9], rtol=1e-5)
    assert not tracks[2].any()  # padding rows stay zero
    # Under a zoom the radius scales like everything else in the picture, e.g. the gap between the two
    # objects (both static here, so only the camera changes it).
    still = spec.model_copy(
        update={"objects": [o.model_copy(update={"velocity": (0.0, 0.0)}) for o in objects]}
    )
    zoomed = simulate_tracks(still.model_copy(update={"camera": CameraSpec(zoom=5)}))
    gap = np.linalg.norm(zoomed[0, :, :2] - zoomed[1, :, :2], axis=-1)  # (T,)
    assert abs(zoomed[0, -1, 6] / zoomed[0, 0, 6] - 1) > 0.05
    np.testing.assert_allclose(zoomed[0, :, 6] / zoomed[0, 0, 6], gap / gap[0], rtol=1e-3)
