"""Kinema's own model folders (kinema.json + vae/ + transformer/) as a backend, over `kinema.pipelines`
(which stay the diffusers-style public Python API). Every mode and every option: the DiT was trained
with task mixing, camera vectors and trajectory maps (`kinema.training.conditioning`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kinema.backends.base import OPTIONAL_INPUTS, TASKS, GenerationSpec, ModelFacts, Output, VideoBackend
from kinema.errors import InvalidInputError
from kinema.pipelines.model_config import CONFIG_NAME, read_model_config
from kinema.runtime import media
from kinema.runtime.extend import frames_to_add
from kinema.runtime.request import SPEC_OPTIONS
from kinema.runtime.tasks import NO_MOTION, TASK_TABLE
from kinema.runtime.tasks import TASKS as TASK_ROWS

PHYSICS_TASKS = tuple(t.name for t in TASK_TABLE if t.physics)


def _calls(spec: GenerationSpec) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and task-specific arguments of the task's pipeline `__call__`: the given pictures
    in the table's order, then the prompt; the task's own options by name (unset ones left out)."""
    row = TASK_ROWS[spec.task]
    args = (*(getattr(spec, name) for name in row.given), spec.prompt)
    return args, {n: getattr(spec, n) for n in row.options if getattr(spec, n) is not None}


def _grid(path: Path) -> tuple[int, int]:
    """(size multiple, temporal compression) from the VAE and DiT configs, read as JSON (no torch)."""
    try:
        vae = json.loads((path / "vae" / "config.json").read_text())
        dit = json.loads((path / "transformer" / "config.json").read_text())
        return int(vae["spatial_compression"]) * int(dit["patch_size"][1]), int(vae["temporal_compression"])
    except (OSError, KeyError, ValueError, TypeError, IndexError):
        return 16, 4  # the architecture's defaults (8x8 VAE, 2x2 patches, 4 frames per latent frame)


def _check_physics_request(task: str, has_trajectories: bool, candidates: int) -> None:
    if task not in PHYSICS_TASKS:
        raise InvalidInputError(
            f"Physics mode works with {', '.join(PHYSICS_TASKS)} (the simulator needs the clip to start from "
            f"text or from given frames); {task} cannot use it."
        )
    if has_trajectories:
        raise InvalidInputError(
            "Physics mode makes the trajectories from the simulation; drop the trajectories or physics mode."
        )
    if candidates > 1 and TASK_ROWS[task].adds_length:
        raise InvalidInputError(
            "physics_candidates > 1 works with text → video and image → video; an extension is chosen "
            "chunk by chunk, so use one candidate."
        )


def _camera_spec(camera_control: Any) -> Any:
    """A Kling camera_control → the world's CameraSpec (so the tracks are what that camera sees), or None."""
    from kinema.pipelines.camera import camera_axes
    from kinema.world.spec import CAMERA_PRESETS, CameraSpec

    if camera_control is None:
        return None
    if camera_control.get("type") in CAMERA_PRESETS and camera_control.get("speed") is None:
        return CameraSpec(preset=camera_control["type"])
    return CameraSpec(**camera_axes(camera_control))


class KinemaBackend(VideoBackend):
    name = "kinema"
    modes = TASKS
    # Every optional input but a latent upsampler (none for Kinema's VAE) and reference pictures of a subject
    # (Kinema's DiT has no reference branch).
    options = tuple(o for o in OPTIONAL_INPUTS if o not in ("upscale", "reference_images"))

    def __init__(self, path: str | Path, device: str = "cpu", dtype: Any = None, base: Any = None) -> None:
        self.path = Path(path)
        self.facts = self.read_facts(self.path)
        self.device, self.dtype = device, dtype
        self._pipes: dict[str, Any] = {"t2v": base} if base is not None else {}

    @classmethod
    def read_facts(cls, path: Path, name: str | None = None) -> ModelFacts:
        path = Path(path)
        config = read_model_config(path)
        multiple, temporal = _grid(path)
        return ModelFacts(
            name=name or path.name,
            path=path.resolve(),
            backend=cls.name,
            modes=cls.modes,
            options=cls.options,
            width=config.width,
            height=config.height,
            fps=float(config.fps),
            num_frames=config.num_frames,
            max_frames=config.max_frames,
            max_pixels=config.max_pixels,
            size_multiple=multiple,
            temporal_compression=temporal,
            num_inference_steps=config.num_inference_steps,
            created_at=int((path / CONFIG_NAME).stat().st_mtime),
            config=json.loads((path / CONFIG_NAME).read_text()),
        )

    @classmethod
    def from_pipeline(cls, pipe: Any, path: str | Path) -> KinemaBackend:
        """A backend over an already loaded pipeline (its components are shared, nothing loads twice)."""
        return cls(path, base=pipe)

    def pipeline(self, task: str) -> Any:
        """The task's pipeline; every task shares the components loaded once for the first."""
        if task not in self._pipes:
            from kinema.pipelines.loading import load_pipeline

            first = next(iter(self._pipes.values()), None)
            source = first if first is not None else self.path
            self._pipes[task] = load_pipeline(task, source, device=self.device, dtype=self.dtype)
        return self._pipes[task]

    def run(self, spec: GenerationSpec, output: Output) -> None:
        pipe, row = self.pipeline(spec.task), TASK_ROWS[spec.task]
        options = {n: getattr(spec, n) for n in SPEC_OPTIONS if getattr(spec, n) is not None}
        if not row.motion:  # a still image takes no length and no motion
            options = {n: v for n, v in options.items() if n not in NO_MOTION}
        options["fps"] = output.fps
        args, extra = _calls(spec)
        if spec.physics:
            self._run_physics(spec, pipe, args, extra, options, output)
        elif row.adds_length:  # streamed chunk by chunk into the output, however long
            pipe(*args, writer=output, **extra, **options)
        else:
            output.write(pipe(*args, **extra, **options).frames[0])  # (T, H, W, 3) of the only video

    # ---- physics-grounded generation (the motion planner is kinema.world.planner) ----------------------
    def _run_physics(
        self, spec: GenerationSpec, pipe: Any, args: tuple, extra: dict, options: dict, output: Output
    ) -> None:
        """The simulation's tracks as the trajectory map; the DiT draws every frame. Text → video and
        image → video draw `physics_candidates` videos in one batch and keep the closest to the simulation;
        an extension gives each chunk its window of one simulation over the whole added length."""
        from kinema.world import planner

        _check_physics_request(spec.task, spec.trajectories is not None, spec.physics_candidates)
        fps, row = output.fps, TASK_ROWS[spec.task]
        if row.adds_length:
            tail, count, size = self._source_tail(pipe, spec, options)
            native = pipe.config.num_frames / pipe.config.fps
            add = frames_to_add(options.get("num_frames"), options.get("seconds"), fps, native)
            camera = _camera_spec(spec.camera_control)
            plan = planner.plan(spec.prompt, *size, add + 1, fps, tail, camera)
            output.info["physics"] = plan.report
            options = self._with_plan_camera(options, plan)
            timeline = planner.timeline(plan.tracks, count - 1)  # track frame 0 = the source's last frame
            pipe(*args, writer=output, timeline_tracks=timeline, **extra, **options)
            return
        like = None
        if row.takes_image:
            image = media.read_image(spec.image)
            args, like = (image, *args[1:]), (image.shape[1], image.shape[0])
        request = pipe.make_request(spec.prompt or None, {**options, "callback": None}, like=like, fps=fps)
        size = request.size
        given = media.fit_frames(args[0][None], size.width, size.height) if row.takes_image else None
        camera = _camera_spec(spec.camera_control)
        plan = planner.plan(spec.prompt, size.width, size.height, size.num_frames, fps, given, camera)
        output.info["physics"] = plan.report
        options = self._with_plan_camera(options, plan)
        n = spec.physics_candidates
        prompts = [spec.prompt] * n
        args = (*args[:-1], prompts)  # the given image (if any), then one prompt per candidate
        videos = pipe(*args, trajectories=plan.tracks, **extra, **options).frames  # (N, T, H, W, 3)
        best, errors = planner.best_candidate(videos, plan, fps) if n > 1 else (0, [])
        if errors:
            output.info["physics_candidate_errors_px"] = [round(e, 3) for e in errors]
        output.write(videos[best])

    @staticmethod
    def _with_plan_camera(options: dict, plan: Any) -> dict:
        """The prompt's camera words drive the camera vector too, unless a camera_control was given."""
        from kinema.world import planner

        if options.get("camera_control") is None:
            control = planner.camera_control(plan.scene)
            if control is not None:
                return {**options, "camera_control": control}
        return options

    @staticmethod
    def _source_tail(pipe: Any, spec: GenerationSpec, options: dict) -> tuple[Any, int, tuple[int, int]]:
        """(the source's last 5 frames at the output size, its frame count, output (width, height))."""
        from collections import deque

        import numpy as np

        frames, fps, like = media.open_video(spec.video, pipe.config.fps)
        request = pipe.make_request(
            spec.prompt or None,
            {**options, "callback": None, "num_frames": None, "seconds": None},
            like=like,
            fps=fps,
        )
        tail: deque = deque(maxlen=5)
        count = 0
        for frame in frames:
            tail.append(frame)
            count += 1
        if not tail:
            raise InvalidInputError("The video to extend has no frames.")
        fitted = media.fit_frames(np.stack(list(tail)), request.size.width, request.size.height)
        return fitted, count, (request.size.width, request.size.height)
