"""The motion planner of physics mode: the world simulator decides the motion, the model draws every frame.

The prompt (and, for image→video or extension, the objects in the given frames) becomes a scene
(`grounding.plan_from_prompt`); its simulation gives every object's track over the clip (`plan`); the
tracks reach the DiT as its trajectory map (the motion-brush input it was trained on), with the text and
the given frames as usual. The world renderer never makes an output frame. With N candidates, N videos
are drawn in one batch and the one whose parsed object tracks lie closest to the simulation is kept
(`best_candidate`).

World types only: the caller (`kinema.backends.kinema`) checks the request against the task table, turns a
Kling camera_control into a `CameraSpec` and runs the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kinema.world.grounding import plan_from_prompt, simulate_tracks
from kinema.world.parser import align_to_spec, track_objects
from kinema.world.spec import CAMERA_AXES, CameraSpec, SceneSpec


@dataclass
class PhysicsPlan:
    """The simulated motion of one request: float32 tracks (K, T, 8) `[x_px, y_px, visible, r, g, b,
    radius_px, shape]` (`grounding.simulate_tracks`) over the frames it covers, the scene, and what the prompt
    parser understood."""

    tracks: np.ndarray
    scene: SceneSpec
    report: str


def plan(
    prompt: str,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    frames: np.ndarray | None = None,
    camera: CameraSpec | None = None,
) -> PhysicsPlan:
    """Simulate what the prompt (and the given frames, the last of which is track frame 0) asks for."""
    grounded = plan_from_prompt(
        prompt or "", width=width, height=height, num_frames=num_frames, fps=fps, frames=frames
    )
    scene, tracks = grounded.spec, grounded.tracks
    if camera is not None:  # the asked camera, not the prompt's words, decides what the frame shows
        scene = scene.model_copy(update={"camera": camera})
        tracks = simulate_tracks(scene)
    return PhysicsPlan(tracks.astype(np.float32), scene, grounded.parse.report())


def camera_control(scene: SceneSpec) -> dict[str, Any] | None:
    """The scene's camera (from the prompt's camera words) as a Kling camera_control, or None if static."""
    camera = scene.camera
    if camera.is_static:
        return None
    if camera.preset is not None:
        return {"type": camera.preset}
    config = {a: float(getattr(camera, a)) for a in CAMERA_AXES if getattr(camera, a) != 0}
    return {"type": "simple" if len(config) == 1 else "custom", "config": config}


def timeline(tracks: np.ndarray, before: int) -> np.ndarray:
    """Tracks that start at the last given frame → tracks over `before` earlier frames too, carried back
    at the first step's velocity (the frames there are given; the map only has to agree with them)."""
    if before <= 0:
        return tracks
    step = tracks[:, 1, :2] - tracks[:, 0, :2] if tracks.shape[1] > 1 else np.zeros_like(tracks[:, 0, :2])
    back = np.arange(-before, 0, dtype=np.float32)[None, :, None]  # (1, before, 1)
    earlier = np.concatenate(
        [tracks[:, :1, :2] + back * step[:, None], np.repeat(tracks[:, :1, 2:], before, axis=1)], axis=-1
    )  # (K, before, C)
    return np.concatenate([earlier, tracks], axis=1)


def track_error(video: np.ndarray, physics: PhysicsPlan, fps: float) -> float:
    """Mean pixel distance between each simulated object's centre and the parsed one in `video`
    (T, H, W, 3), over frames where the simulation has it in view; a missing object costs the frame's
    diagonal, and so does every frame in which an object the plan does not have (a stray: a track no planned
    object was matched to) is seen - a candidate that draws the plan plus a second, unasked object is worse
    than one that draws the plan alone (adherence counts the objects)."""
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
    diagonal = float(np.hypot(h, w))
    dist = np.hypot(*(px - want[..., :2]).transpose(2, 0, 1))  # (K, T)
    dist = np.where(aligned.visible, dist, diagonal)
    matched = set(aligned.names)
    stray_frames = sum(int(tr.visible.sum()) for name, tr in tracks.objects.items() if name not in matched)
    return float((dist[in_view].sum() + diagonal * stray_frames) / in_view.sum())


def best_candidate(videos: np.ndarray, physics: PhysicsPlan, fps: float) -> tuple[int, list[float]]:
    """(index, errors) of the candidate (N, T, H, W, 3) that follows the simulation most closely."""
    errors = [track_error(v, physics, fps) for v in videos]
    return int(np.argmin(errors)), errors
