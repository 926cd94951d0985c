"""The worker: claims jobs from the store, runs a generator, writes outputs, reports progress.

The generator is pluggable (`Generator` protocol). The default, `PipelineGenerator`, loads each model once
through `kinema.pipelines.load_pipeline` and keeps it; tests and other back-ends pass their own.

A heartbeat thread renews the job's lease and records progress while the generator runs; if the user
deletes the job (or the lease is lost to another worker after a stall), the pipeline callback returns
False and generation stops.

Run it with `kinema worker --database URL --data-dir DIR --models-dir DIR` (or `python -m kinema.serving.worker`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kinema.errors import Interrupted, KinemaError
from kinema.serving.cli_args import add_worker_arguments
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.settings import ServeSettings
from kinema.serving.storage import Storage
from kinema.serving.store import Claim, JobStore

log = logging.getLogger("kinema.worker")

# The server's modes → kinema.pipelines task names.
PIPELINE_TASKS = {"text": "t2v", "image": "i2v", "keyframes": "keyframes", "extend": "extend", "remix": "v2v"}

ProgressCallback = Callable[[int, int, str], bool]


@dataclass
class GenerationRequest:
    task: str  # text | image | keyframes | extend | remix
    model: ModelInfo
    prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    negative_prompt: str | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    image: np.ndarray | None = None  # uint8 (H, W, 3)
    last_image: np.ndarray | None = None
    video_path: Path | None = None  # the MP4 of the video being extended or remixed
    strength: float | None = None
    camera: dict[str, Any] | None = None
    trajectories: list[list[list[float]]] | None = None
    job_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float


class Generator(Protocol):
    def generate(self, request: GenerationRequest, callback: ProgressCallback) -> GenerationResult: ...


class PipelineGenerator:
    """Runs kinema.pipelines. Each model is loaded once (as its text-to-video pipeline); the other tasks'
    pipelines are built over the same components, so nothing is loaded twice."""

    def __init__(self) -> None:
        self._pipelines: dict[tuple[str, str], Any] = {}

    def pipeline(self, task: str, model: ModelInfo) -> Any:
        from kinema.pipelines import load_pipeline

        base_key = ("t2v", str(model.path))
        if base_key not in self._pipelines:
            self._pipelines[base_key] = load_pipeline("t2v", str(model.path))
        name = PIPELINE_TASKS[task]
        if (name, str(model.path)) not in self._pipelines:
            self._pipelines[(name, str(model.path))] = load_pipeline(name, self._pipelines[base_key])
        return self._pipelines[(name, str(model.path))]

    def generate(self, request: GenerationRequest, callback: ProgressCallback) -> GenerationResult:
        pipe = self.pipeline(request.task, request.model)
        options: dict[str, Any] = {
            "negative_prompt": request.negative_prompt,
            "width": request.width,
            "height": request.height,
            "num_frames": request.num_frames,
            "fps": request.fps,
            "seed": request.seed,
            "callback": callback,
            "num_inference_steps": request.num_inference_steps,
            "guidance_scale": request.guidance_scale,
            "camera_control": request.camera,
            "trajectories": _trajectory_paths(request),
        }
        options = {k: v for k, v in options.items() if v is not None}
        task, prompt = request.task, request.prompt
        if task == "text":
            out = pipe(prompt, **options)
        elif task == "image":
            out = pipe(request.image, prompt, **options)
        elif task == "keyframes":
            out = pipe(request.image, request.last_image, prompt, **options)
        elif task == "extend":  # num_frames = frames to add; the result includes the source
            out = pipe(str(request.video_path), prompt, include_source=True, **options)
        elif task == "remix":
            out = pipe(str(request.video_path), prompt, strength=request.strength or 0.6, **options)
        else:
            raise KinemaError(f"Unknown task {task!r}.")
        frames = np.asarray(out.frames)
        if frames.ndim == 5:  # (B, T, H, W, 3) -> the first (only) video
            frames = frames[0]
        return GenerationResult(frames=frames, fps=float(out.fps))


def _trajectory_paths(request: GenerationRequest) -> Any:
    """Kling-style paths (points evenly spread over the clip) → kinema.pipelines TrajectoryPath objects."""
    if not request.trajectories:
        return None
    from kinema.pipelines.trajectories import TrajectoryPath

    duration = max(request.num_frames - 1, 1) / request.fps
    paths = []
    for points in request.trajectories:
        n = len(points)
        paths.append(
            TrajectoryPath(
                points=[(duration * i / (n - 1), float(x), float(y)) for i, (x, y) in enumerate(points)]
            )
        )
    return paths


def load_generator(spec: str | None) -> Generator:
    """`module:factory` → factory(); None → PipelineGenerator()."""
    if not spec:
        return PipelineGenerator()
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_generator")
    return factory()


def progress_percent(step: int, total: int, stage: str) -> int:
    """Map a pipeline callback to 0–100: denoising fills 5–90, decoding 90–97; writing files ends at 99."""
    frac = min(1.0, max(0.0, step / total)) if total else 0.0
    if stage.startswith("decod"):
        return int(90 + 7 * frac)
    return int(5 + 85 * frac)


class Worker:
    def __init__(
        self,
        store: JobStore,
        storage: Storage,
        registry: ModelRegistry,
        generator: Generator,
        settings: ServeSettings,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.registry = registry
        self.generator = generator
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.parent_pid: int | None = None  # stop when this process is gone (a worker of `kinema serve`)

    def run_forever(self) -> None:
        log.info("worker %s ready (models: %s)", self.owner, ", ".join(self.registry.models) or "none")
        while not self.stop_event.is_set():
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.info("the server (pid %d) is gone; worker %s exits", self.parent_pid, self.owner)
                return
            try:
                worked = self.run_once()
            except Exception:  # the database went away for a moment: wait and retry, never die
                log.exception("worker loop error")
                worked = False
            if not worked:
                self.stop_event.wait(self.settings.poll_seconds)

    def run_once(self) -> bool:
        claim = self.store.claim(self.owner, self.settings.lease_seconds, list(self.registry.models))
        if claim is None:
            return False
        self.run_claim(claim)
        return True

    def run_claim(self, claim: Claim) -> None:
        job = claim.job
        log.info("job %s: %s attempt %d", job.id, job.task, job.attempts)
        state = {"progress": 0, "verdict": "ok", "done": False}
        lock = threading.Lock()

        def callback(step: int, total: int, stage: str) -> bool:
            with lock:
                state["progress"] = max(state["progress"], progress_percent(step, total, stage))
                return state["verdict"] == "ok"

        beat = threading.Thread(target=self._heartbeat, args=(claim, state, lock), daemon=True)
        beat.start()
        try:
            request = self.build_request(job)
            result = self.generator.generate(request, callback)
            with lock:
                verdict = state["verdict"]
            if verdict != "ok":
                raise Interrupted(f"job {job.id} stopped: {verdict}")
            with lock:
                state["progress"] = 97
            self.write_outputs(job.id, request, result)
            with lock:
                state["done"] = True
            if not self.store.complete(job.id, self.owner, self.settings.output_ttl_seconds):
                log.warning("job %s finished but its lease was lost; another worker owns it now", job.id)
        except Interrupted:
            with lock:
                state["done"] = True
                verdict = state["verdict"]
            if verdict == "cancel":
                self.store.mark_cancelled(job.id, self.owner)
                self.storage.remove_job(job.id)
            log.info("job %s interrupted (%s)", job.id, verdict)
        except KinemaError as exc:
            with lock:
                state["done"] = True
            self.store.fail(job.id, self.owner, "invalid_request", str(exc))
        except Exception as exc:
            with lock:
                state["done"] = True
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.store.fail(
                job.id, self.owner, "generation_failed", f"Generation failed: {type(exc).__name__}: {exc}"
            )
        finally:
            with lock:
                state["done"] = True
            beat.join(timeout=5)

    def _heartbeat(self, claim: Claim, state: dict[str, Any], lock: threading.Lock) -> None:
        last_sent = -1
        last_beat = time.monotonic()
        tick = min(0.25, self.settings.heartbeat_seconds)
        while True:
            time.sleep(tick)
            with lock:
                if state["done"]:
                    return
                progress = state["progress"]
            due = time.monotonic() - last_beat >= self.settings.heartbeat_seconds
            if progress == last_sent and not due:
                continue
            try:
                verdict = self.store.heartbeat(
                    claim.job.id,
                    self.owner,
                    self.settings.lease_seconds,
                    progress if progress != last_sent else None,
                )
            except Exception:
                log.exception("heartbeat failed")
                continue
            last_sent, last_beat = progress, time.monotonic()
            if verdict != "ok":
                with lock:
                    state["verdict"] = verdict
                return

    def build_request(self, job: Any) -> GenerationRequest:
        params = job.params
        model = self.registry.get(job.model)
        if model is None:
            raise KinemaError(f"Model {job.model!r} is not installed on this worker; add it with --model.")
        request = GenerationRequest(
            task=job.task,
            model=model,
            prompt=job.prompt,
            width=params["width"],
            height=params["height"],
            num_frames=params["num_frames"],
            fps=params["fps"],
            negative_prompt=params.get("negative_prompt"),
            num_inference_steps=params.get("num_inference_steps"),
            guidance_scale=params.get("cfg_scale"),
            seed=params.get("seed"),
            strength=params.get("strength"),
            camera=params.get("camera_control"),
            trajectories=params.get("trajectories"),
            job_id=job.id,
        )
        from kinema.io.images import load_image

        if params.get("image"):
            request.image = load_image(
                self.storage.input_path(job.id, params["image"]), request.width, request.height
            )
        if params.get("image_tail"):
            request.last_image = load_image(
                self.storage.input_path(job.id, params["image_tail"]), request.width, request.height
            )
        if params.get("source_video_id"):
            request.video_path = self.storage.output_path(params["source_video_id"], "video")
            if not request.video_path.is_file():
                raise KinemaError(f"The source video {params['source_video_id']} is no longer stored.")
        elif params.get("source_video"):  # an uploaded video to extend
            request.video_path = self.storage.input_path(job.id, params["source_video"])
        return request

    def write_outputs(self, job_id: str, request: GenerationRequest, result: GenerationResult) -> None:
        from kinema.io.video import read_video, write_spritesheet, write_thumbnail, write_video

        frames = np.asarray(result.frames, dtype=np.uint8)
        if (
            request.task == "extend"
            and request.video_path is not None
            and frames.shape[0] == request.num_frames
        ):
            # A generator that returned only the continuation: stitch it after the source video.
            source, _ = read_video(request.video_path)
            frames = np.concatenate([source, frames], axis=0)  # (T_src + T_new, H, W, 3)
        label = _label(job_id)
        s = self.storage
        s.write_with(
            s.output_path(job_id, "video"), lambda p: write_video(p, frames, result.fps, label=label)
        )
        s.write_with(s.output_path(job_id, "thumbnail"), lambda p: write_thumbnail(frames, p))
        s.write_with(
            s.output_path(job_id, "spritesheet"), lambda p: _spritesheet(write_spritesheet, frames, p)
        )


def _spritesheet(write: Callable[..., Any], frames: np.ndarray, path: Path) -> None:
    n = frames.shape[0]
    columns = min(n, 4)
    rows = max(1, min(4, (n + columns - 1) // columns))
    write(frames, path, columns, rows)


def _label(job_id: str) -> Any:
    from kinema.io.label import AIGCLabel

    return AIGCLabel(Label="1", ContentProducer="Kinema", ProduceID=job_id)


def build_worker(settings: ServeSettings, generator: Generator | None = None) -> Worker:
    store = JobStore(settings.database_url())
    storage = Storage(settings.data_dir)
    registry = ModelRegistry.discover(settings.models_dir, settings.models, settings.default_model)
    return Worker(store, storage, registry, generator or PipelineGenerator(), settings)


def settings_from_args(args: argparse.Namespace, **extra: Any) -> ServeSettings:
    overrides: dict[str, Any] = dict(extra)
    for arg, key in (
        ("database", "database"),
        ("data_dir", "data_dir"),
        ("models_dir", "models_dir"),
        ("default_model", "default_model"),
        ("lease_seconds", "lease_seconds"),
        ("heartbeat_seconds", "heartbeat_seconds"),
        ("max_attempts", "max_attempts"),
    ):
        value = getattr(args, arg, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "model", None):
        overrides["models"] = list(args.model)
    return ServeSettings(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kinema worker", description=__doc__.splitlines()[0])
    add_worker_arguments(parser)
    return run_worker(parser.parse_args(argv))


def run_worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = settings_from_args(args)
    worker = build_worker(settings, load_generator(getattr(args, "generator", None)))
    worker.parent_pid = getattr(args, "parent_pid", None)

    def stop(signum: int, frame: Any) -> None:
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run_forever()
    worker.store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
