"""The physics-mode planner: a prompt's simulated tracks, the asked camera over the prompt's, tracks carried
back over given frames, the scene's camera as a Kling request, and the candidate that follows the plan."""

import numpy as np

from kinema.world import planner
from kinema.world.grounding import simulate_states, simulate_tracks
from kinema.world.parser import track_objects
from kinema.world.render import render_scene
from kinema.world.spec import CAMERA_PRESETS, CameraSpec

PROMPT = "a red ball moves to the right"


def test_plan_is_the_prompts_simulation():
    plan = planner.plan(PROMPT, 64, 64, 9, 10.0)
    assert plan.report == "understood: red ball moving right; not understood: nothing"
    assert plan.tracks.dtype == np.float32 and plan.tracks.shape == (1, 9, 8)
    np.testing.assert_array_equal(plan.tracks, simulate_tracks(plan.scene))
    assert plan.scene.camera.is_static and planner.camera_control(plan.scene) is None


def test_the_asked_camera_replaces_the_prompts():
    still = planner.plan(PROMPT + ", the camera zooms in", 64, 64, 9, 10.0)
    asked = planner.plan(PROMPT + ", the camera zooms in", 64, 64, 9, 10.0, camera=CameraSpec(horizontal=4))
    assert asked.scene.camera == CameraSpec(horizontal=4) and still.scene.camera != asked.scene.camera
    np.testing.assert_array_equal(asked.tracks, simulate_tracks(asked.scene))
    assert not np.array_equal(asked.tracks[..., 0], still.tracks[..., 0])


def test_camera_control_reads_back_as_the_scenes_camera():
    scene = planner.plan(PROMPT, 64, 64, 9, 10.0).scene

    def with_camera(camera: CameraSpec):
        return scene.model_copy(update={"camera": camera})

    assert planner.camera_control(with_camera(CameraSpec(zoom=-5))) == {
        "type": "simple",
        "config": {"zoom": -5.0},
    }
    mixed = planner.camera_control(with_camera(CameraSpec(pan=2, roll=-1)))
    assert mixed == {"type": "custom", "config": {"pan": 2.0, "roll": -1.0}}
    preset = CAMERA_PRESETS[0]
    assert planner.camera_control(with_camera(CameraSpec(preset=preset))) == {"type": preset}


def test_timeline_carries_the_first_step_back_over_the_given_frames():
    tracks = planner.plan(PROMPT, 64, 64, 9, 10.0).tracks
    assert planner.timeline(tracks, 0) is tracks
    longer = planner.timeline(tracks, 4)
    assert longer.shape == (1, 13, 8)
    np.testing.assert_array_equal(longer[:, 4:], tracks)
    step = tracks[0, 1, :2] - tracks[0, 0, :2]
    np.testing.assert_allclose(np.diff(longer[0, :5, :2], axis=0), np.tile(step, (4, 1)), atol=1e-4)
    np.testing.assert_array_equal(longer[:, :4, 2:], np.repeat(tracks[:, :1, 2:], 4, axis=1))


def test_best_candidate_is_the_video_of_the_simulation():
    plan = planner.plan(PROMPT, 64, 64, 9, 10.0)
    drawn, _ = render_scene(plan.scene, simulate_states(plan.scene))  # (T, H, W, 3)
    backwards = drawn[:, :, ::-1]  # the ball moving left
    best, errors = planner.best_candidate(np.stack([backwards, drawn]), plan, 10.0)
    assert best == 1 and errors[1] < 1.0 < errors[0]


def test_a_candidate_with_an_unasked_object_loses_to_the_plan_alone():
    plan = planner.plan(PROMPT, 64, 64, 9, 10.0)
    drawn, _ = render_scene(plan.scene, simulate_states(plan.scene))
    ball = plan.scene.objects[0]
    stray = ball.model_copy(update={"color": "blue", "position": (5.0, 8.5), "velocity": (0.0, 0.0)})
    two = plan.scene.model_copy(update={"objects": [ball, stray]})
    with_stray, _ = render_scene(two, simulate_states(two))
    tracks = track_objects(with_stray, world_size=two.world_size, fps=10.0)
    assert sorted(tr.color for tr in tracks) == ["blue", "red"]
    best, errors = planner.best_candidate(np.stack([with_stray, drawn]), plan, 10.0)
    # the stray is seen in all 9 frames: 9 diagonals over the ball's 9 in-view frames
    assert best == 1 and errors[1] < 1.0 and errors[0] > 90
