"""The worker: claims jobs from the store, runs a generator, writes outputs, reports progress.

Each job becomes one `GenerationSpec` (`build_spec`: the job's stored spec, loaded back typed, plus its
input files) and goes to the model's backend (`kinema.backends`), which streams the
video into the job's output file; the thumbnail and sprite sheet are then made from the finished file. The
backend pool is pluggable (`--backends module:factory`); the default loads each model once.

A heartbeat thread renews the job's lease and records progress while the generator runs; if the user
deletes the job (or the lease is lost to another worker after a stall), the pipeline callback returns
False and generation stops.

Inputs and outputs go through `storage.py`: with `--storage s3://…` the worker downloads a job's inputs
to its scratch folder, uploads its outputs whole before the row says `completed`, and keeps no copies, so
a worker on any machine that reaches the database and the bucket serves the queue.

Run it with `kinema worker --database URL --storage URL --data-dir DIR --models-dir DIR` (its options live in
kinema/commands/worker.py; `python -m kinema.serving.worker` still works and runs that command).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kinema.backends import BackendCache, GenerationSpec, VideoBackend
from kinema.errors import Interrupted, KinemaError
from kinema.runtime.output import Signature, finish_file
from kinema.runtime.tasks import TASKS
from kinema.serving.job_spec import JobSpec, StoredJob
from kinema.serving.job_store import Claim, JobStore
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.settings import ServeSettings, signing_identity
from kinema.serving.storage import Storage, make_storage
from kinema.serving.store import Store
from kinema.serving.worker_store import WorkerStore

log = logging.getLogger("kinema.worker")

ProgressCallback = Callable[[int, int, str], bool]


class BackendPool(Protocol):
    """Where the worker gets a model's backend (`kinema.backends.BackendCache`: each model loaded once)."""

    def get(self, path: str | Path) -> VideoBackend: ...


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
        backends: BackendPool,
        settings: ServeSettings,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.registry = registry
        self.backends = backends
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.parent_pid: int | None = None  # stop when this process is gone (a worker of `kinema serve`)
        self.signing = signing_identity(settings)  # checked now: a bad certificate stops the worker here
        # the workers table (/metrics counts workers on every machine); none for a store-less test worker
        self.presence = WorkerStore(store.db) if store is not None else None
        self._last_presence = 0.0

    def run_forever(self) -> None:
        log.info("worker %s ready (models: %s)", self.owner, ", ".join(self.registry.models) or "none")
        try:  # working copies a killed worker on this machine left (object storage keeps no others)
            removed_bytes, removed = self.storage.sweep_scratch(self.store.statuses)
            if removed:
                log.info("removed %d stale working copies (%d bytes)", removed, removed_bytes)
        except Exception:
            log.exception("start-up sweep of the scratch folder failed")
        try:
            self._loop()
        finally:
            if self.presence is not None:
                with contextlib.suppress(Exception):
                    self.presence.stopped(self.owner)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.info("the server (pid %d) is gone; worker %s exits", self.parent_pid, self.owner)
                return
            try:
                self._say_alive()
                worked = self.run_once()
            except Exception:  # the database went away for a moment: wait and retry, never die
                log.exception("worker loop error")
                worked = False
            if not worked:
                self.stop_event.wait(self.settings.poll_seconds)

    def _say_alive(self) -> None:
        """Renew this worker's row in the workers table, at most once per heartbeat period."""
        if self.presence is None or time.monotonic() - self._last_presence < self.settings.heartbeat_seconds:
            return
        self.presence.beat(self.owner, socket.gethostname())
        self._last_presence = time.monotonic()

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
            spec, model = self.build_spec(job, callback)
            self.backends.get(model.path).generate(spec)
            with lock:
                verdict = state["verdict"]
            if verdict != "ok":
                raise Interrupted(f"job {job.id} stopped: {verdict}")
            with lock:
                state["progress"] = 97
            self.write_previews(job.id)
            self.storage.publish_outputs(job.id)  # whole objects, before the row says completed
            self.storage.release_local(job.id)
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
            else:  # the lease went to another worker: leave no output of this attempt
                self.storage.discard_attempt(job.id)
            log.info("job %s interrupted (%s)", job.id, verdict)
        except KinemaError as exc:
            with lock:
                state["done"] = True
            self.store.fail(job.id, self.owner, "invalid_request", str(exc))
        except Exception as exc:
            with lock:
                state["done"] = True
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.storage.discard_attempt(job.id)  # no half output of a failed job stays stored
            self.store.fail(job.id, self.owner, *failure(exc))
        finally:
            with lock:
                state["done"] = True
            beat.join(timeout=5)
            self.storage.release_local(job.id)

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
            with contextlib.suppress(Exception):  # a long job must not make its worker look lost
                self._say_alive()
            if verdict != "ok":
                with lock:
                    state["verdict"] = verdict
                return

    def build_spec(self, job: StoredJob, callback: ProgressCallback) -> tuple[GenerationSpec, ModelInfo]:
        """The job as a GenerationSpec: its stored spec, loaded back typed (built and checked once, by the
        API), with its input files, its output file and the progress callback attached."""
        stored = JobSpec.load(job)
        model = self.registry.get(job.model)
        if model is None:
            raise KinemaError(f"Model {job.model!r} is not installed on this worker; add it with --model.")
        size = stored.generation.width, stored.generation.height
        inputs: dict[str, Any] = {}
        ingredients: list[Path] = []  # the input files, named in the output's C2PA manifest
        for name in TASKS[stored.generation.task].given:  # the pictures its task takes, in the table's order
            path = self._input_path(job.id, stored, name)
            if path is not None:
                inputs[name] = str(path) if name == "video" else _load_input_image(path, *size)
                ingredients.append(path)
        if stored.reference_images:  # characters' pictures (any task, on models that take them)
            paths = [self.storage.input_path(job.id, f) for f in stored.reference_images]
            inputs["reference_images"] = [_load_input_image(p, *size) for p in paths]
            ingredients.extend(paths)
        spec = stored.generation.model_copy(
            update={
                **inputs,
                "output_path": self.storage.output_path(job.id, "video"),
                "label": _label(job.id),
                "visible_label": self._visible_label(),
                "signing": self.signing,
                "ingredients": ingredients,
                "callback": callback,
            }
        )
        return spec, model

    def _input_path(self, job_id: str, stored: JobSpec, name: str) -> Path | None:
        """Where a job's given picture lies: its uploaded image, or the video it extends or remixes (a
        finished video of this server, or an upload); None when the job stored none."""
        if name != "video":
            file = getattr(stored, name)
            return self.storage.fetch_input(job_id, file) if file else None
        if stored.source_video_id:
            return self.storage.fetch_source_video(job_id, stored.source_video_id)
        if stored.source_video:  # an uploaded video to extend
            return self.storage.fetch_input(job_id, stored.source_video)
        return None

    def _visible_label(self) -> Any:
        from kinema.io.visible_label import VisibleLabel

        return VisibleLabel() if self.settings.visible_label else None

    def write_previews(self, job_id: str) -> None:
        """Thumbnail and sprite sheet, made from the finished video file (each written atomically)."""
        from kinema.io.video import probe_video, write_spritesheet, write_thumbnail

        s = self.storage
        video = s.output_path(job_id, "video")
        thumbnail, sheet = s.output_path(job_id, "thumbnail"), s.output_path(job_id, "spritesheet")
        write_thumbnail(video, thumbnail)
        n = probe_video(video).num_frames
        columns = min(n, 4)
        rows = max(1, min(4, (n + columns - 1) // columns))
        write_spritesheet(video, sheet, columns, rows)  # (the visible mark is already in the frames)
        if self.signing is not None:
            for path, kind in ((thumbnail, "thumbnail"), (sheet, "spritesheet")):
                finish_file(path, Signature(self.signing, kind, ingredients=(video,)))


def failure(exc: Exception) -> tuple[str, str]:
    """A failed job's (error code, message): what went wrong, never a server path (issue 29, defect 5:
    a full disk showed the job's output path to its user)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            "insufficient_storage",
            "The server ran out of storage space while writing this video; submit it again later.",
        )
    if isinstance(exc, OSError):  # its str() names the file
        reason = exc.strerror or "input/output error"
        return "generation_failed", f"Generation failed: {type(exc).__name__}: {reason}."
    return "generation_failed", f"Generation failed: {type(exc).__name__}: {exc}"


def _load_input_image(path: Path, width: int, height: int) -> Any:
    """A stored upload → uint8 (height, width, 3). The API checked only its header; this is the one full
    decode, in the worker, opened with the same format allow-list (validation.open_image)."""
    from kinema.io.images import load_image
    from kinema.serving.validation import open_image

    try:
        image = open_image(path)
    except Exception as exc:
        raise KinemaError(
            f"The uploaded image {path.name} cannot be read ({exc}); upload it again."
        ) from None
    with image:
        return load_image(image, width, height)


def _label(job_id: str) -> Any:
    from kinema.io.label import AIGCLabel

    return AIGCLabel(Label="1", ContentProducer="Kinema", ProduceID=job_id)


def build_worker(
    settings: ServeSettings, backends: BackendPool | None = None, load: dict[str, Any] | None = None
) -> Worker:
    """The worker of `settings`; `load`: the `--memory` / `--quantize` options every diffusers model gets
    under its own models-file settings."""
    store = Store(settings.database_url()).jobs
    storage = make_storage(settings)
    registry = ModelRegistry.from_settings(settings)
    backends = backends or BackendCache(load=registry.load_options(), defaults=load)  # each with its settings
    return Worker(store, storage, registry, backends, settings)


if __name__ == "__main__":  # `python -m kinema.serving.worker`: the same as `kinema worker`
    from kinema.commands.worker import main

    raise SystemExit(main())
