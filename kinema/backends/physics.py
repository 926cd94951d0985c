"""Physics-grounded generation: the world simulator decides the motion, the model draws every frame.

The prompt (and, for image→video or extension, the objects in the given frames) becomes a scene
(`kinema.world.grounding.plan_from_prompt`); its simulation gives every object's track over the clip; the
tracks reach the DiT as its trajectory map (the motion-brush input it was trained on), with the text and
the given frames as usual. The world renderer never makes an output frame. With N candidates, N videos
are drawn in one batch and the one whose parsed object tracks lie closest to the simulation is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.runtime.tasks import TASK_TABLE, TASKS

PHYSICS_TASKS = tuple(t.name for t in TASK_TABLE if t.physics)


@dataclass
class PhysicsPlan:
    """The simulated motion of one request: tracks (K, T, 3) [x_px, y_px, visible] over the frames it
    covers, the scene, and what the prompt parser understood."""

    tracks: np.ndarray
    scene: Any  # kinema.world.spec.SceneSpec
    report: str


def check_physics_request(task: str, has_trajectories: bool, candidates: int) -> None:
    if task not in PHYSICS_TASKS:
        raise InvalidInputError(
            f"Physics mode works with {', '.join(PHYSICS_TASKS)} (the simulator needs the clip to start from "
            f"text or from given frames); {task} cannot use it."
        )
    if has_trajectories:
        raise InvalidInputError(
            "Physics mode makes the trajectories from the simulation; drop the trajectories or physics mode."
        )
    if candidates > 1 and TASKS[task].adds_length:
        raise InvalidInputError(
            "physics_candidates > 1 works with text → video and image → video; an extension is chosen "
            "chunk by chunk, so use one candidate."
        )


def camera_spec(camera_control: Any) -> Any:
    """A Kling camera_control → the world's CameraSpec (so the tracks are what that camera sees)."""
    from kinema.pipelines.camera import camera_axes
    from kinema.world.spec import CAMERA_PRESETS, CameraSpec

    if camera_control.get("type") in CAMERA_PRESETS and camera_control.get("speed") is None:
        return CameraSpec(preset=camera_control["type"])
    return CameraSpec(**camera_axes(camera_control))


def camera_control(scene: Any) -> dict[str, Any] | None:
    """The scene's camera (from the prompt's camera words) as a Kling camera_control, or None if static."""
    from kinema.world.spec import CAMERA_AXES

    camera = scene.camera
    if camera.is_static:
        return None
    if camera.preset is not None:
        return {"type": camera.preset}
    config = {a: float(getattr(camera, a)) for a in CAMERA_AXES if getattr(camera, a) != 0}
    return {"type": "simple" if len(config) == 1 else "custom", "config": config}


def plan(
    prompt: str,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    frames: np.ndarray | None = None,
    camera: Any = None,
) -> PhysicsPlan:
    """Simulate what the prompt (and the given frames, the last of which is track frame 0) asks for."""
    from kinema.world.grounding import plan_from_prompt, simulate_tracks

    grounded = plan_from_prompt(
        prompt or "", width=width, height=height, num_frames=num_frames, fps=fps, frames=frames
    )
    scene, tracks = grounded.spec, grounded.tracks
    if camera is not None:  # the asked camera, not the prompt's words, decides what the frame shows
        scene = scene.model_copy(update={"camera": camera_spec(camera)})
        tracks = simulate_tracks(scene)
    return PhysicsPlan(tracks.astype(np.float32), scene, grounded.parse.report())


def timeline(tracks: np.ndarray, before: int) -> np.ndarray:
    """Tracks that start at the last given frame → tracks over `before` earlier frames too, carried back
    at the first step's velocity (the frames there are given; the map only has to agree with them)."""
    if before <= 0:
        return tracks
    step = tracks[:, 1, :2] - tracks[:, 0, :2] if tracks.shape[1] > 1 else np.zeros_like(tracks[:, 0, :2])
    back = np.arange(-before, 0, dtype=np.float32)[None, :, None]  # (1, before, 1)
    earlier = np.concatenate(
        [tracks[:, :1, :2] + back * step[:, None], np.repeat(tracks[:, :1, 2:], before, axis=1)], axis=-1
    )  # (K, before, 3)
    return np.concatenate([earlier, tracks], axis=1)


def track_error(video: np.ndarray, physics: PhysicsPlan, fps: float) -> float:
    """Mean pixel distance between each simulated object's centre and the parsed one in `video`
    (T, H, W, 3), over frames where the simulation has it in view; a missing object costs the frame's
    diagonal."""
    from kinema.world.parser import align_to_spec, track_objects

    scene = physics.scene
    world_h = scene.world_size[1]
    tracks = track_objects(video, world_size=scene.world_size, fps=fps)
    aligned = align_to_spec(tracks, scene)
    h, w = video.shape[1:3]
    scale = h / world_h
    px = np.stack(
        [aligned.centre_world[..., 0] * scale - 0.5, (world_h - aligned.centre_world[..., 1]) * scale - 0.5],
        axis=-1,
    )  # (K, T, 2)
    want = physics.tracks[: px.shape[0], : px.shape[1]]
    in_view = want[..., 2] > 0
    if not in_view.any():
        return 0.0
    dist = np.hypot(*(px - want[..., :2]).transpose(2, 0, 1))  # (K, T)
    dist = np.where(aligned.visible, dist, float(np.hypot(h, w)))
    return float(dist[in_view].mean())


def best_candidate(videos: np.ndarray, physics: PhysicsPlan, fps: float) -> tuple[int, list[float]]:
    """(index, errors) of the candidate (N, T, H, W, 3) that follows the simulation most closely."""
    errors = [track_error(v, physics, fps) for v in videos]
    return int(np.argmin(errors)), errors
