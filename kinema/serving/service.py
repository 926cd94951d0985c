"""The video service: what the routes call. Validates (validation.py), enforces tiers, stores (store.py).

Tier policy: `concurrency` = unfinished (queued + running) jobs a key may hold; `quota_seconds` = seconds of
video a key may request per `quota_window_seconds` (failed and cancelled-before-start jobs do not count).
Either limit answers 429 with Retry-After and a message saying when to retry.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from kinema.serving.auth import Tenant
from kinema.serving.registry import ModelRegistry
from kinema.serving.schemas import VideoCreateRequest, VideoExtendRequest, VideoRemixRequest, video_object
from kinema.serving.settings import ServeSettings
from kinema.serving.storage import VARIANTS, Storage
from kinema.serving.store import Job, JobStore, new_id
from kinema.serving.validation import (
    ApiError,
    Geometry,
    Upload,
    check_callback_url,
    check_camera,
    check_prompt,
    check_trajectories,
    decode_image,
    geometry,
    parse_seconds,
    resolve_model,
)


class VideoService:
    def __init__(
        self, store: JobStore, storage: Storage, registry: ModelRegistry, settings: ServeSettings
    ) -> None:
        self.store = store
        self.storage = storage
        self.registry = registry
        self.settings = settings

    # ---- create / remix / extend --------------------------------------------------------------------

    def create(self, tenant: Tenant, req: VideoCreateRequest, uploads: dict[str, Upload]) -> dict[str, Any]:
        s = self.settings
        prompt = check_prompt(req.prompt, s)
        if req.negative_prompt is not None and len(req.negative_prompt) > s.max_prompt_chars:
            raise ApiError(
                400,
                f"`negative_prompt` is longer than {s.max_prompt_chars} characters; shorten it.",
                "negative_prompt",
            )
        if req.seconds is not None and req.duration is not None:
            raise ApiError(400, "Send `seconds` or `duration`, not both (they mean the same).", "duration")
        model = resolve_model(self.registry, req.model)
        geo = geometry(
            model,
            s,
            req.size,
            req.aspect_ratio,
            req.seconds if req.seconds is not None else req.duration,
            req.fps,
            "seconds" if req.seconds is not None else "duration",
        )
        image = decode_image(uploads.get("input_reference") or req.input_reference, s, "input_reference")
        tail = decode_image(uploads.get("image_tail") or req.image_tail, s, "image_tail")
        if tail is not None and image is None:
            raise ApiError(
                400,
                "`image_tail` (the last frame) needs `input_reference` (the first frame) too.",
                "image_tail",
            )
        task = "keyframes" if tail is not None else "image" if image is not None else "text"
        params = self._common_params(req, geo)
        params["camera_control"] = check_camera(req.camera_control)
        params["trajectories"] = trajectory_paths(
            check_trajectories(req.trajectories, geo.width, geo.height), geo
        )
        if req.strength is not None:
            params["strength"] = req.strength
        if req.mode == "pro" and req.num_inference_steps is None:
            # Kling's "pro" mode: the same model, more careful sampling (twice the model's default steps).
            params["num_inference_steps"] = 2 * model.num_inference_steps
        images = {"image": image, "last_image": tail}
        return self._submit(tenant, model.name, task, prompt, geo, params, images, req.callback_url)

    def remix(self, tenant: Tenant, video_id: str, req: VideoRemixRequest) -> dict[str, Any]:
        prompt = check_prompt(req.prompt, self.settings)
        source = self._finished_source(tenant, video_id, "video_id")
        model = resolve_model(self.registry, source.model)
        p = source.params
        geo = Geometry(p["width"], p["height"], _source_frames(source), p["fps"])
        params = self._common_params(req, geo)
        params["source_video_id"] = source.id
        params["strength"] = req.strength  # None: the model's default
        return self._submit(
            tenant, model.name, "remix", prompt, geo, params, {}, req.callback_url, remixed_from=source.id
        )

    def extend(self, tenant: Tenant, req: VideoExtendRequest, upload: Upload | None = None) -> dict[str, Any]:
        """Continue a completed video (`video: {"id": ...}`) or an uploaded MP4 (`video` as a file)."""
        job_id = new_id("video")
        try:
            return self._extend(tenant, req, upload, job_id)
        except ApiError:
            self.storage.remove_job(job_id)  # an uploaded source saved before the refusal
            raise

    def _extend(
        self, tenant: Tenant, req: VideoExtendRequest, upload: Upload | None, job_id: str
    ) -> dict[str, Any]:
        s = self.settings
        prompt = check_prompt(req.prompt, s)
        if upload is not None:
            model = resolve_model(self.registry, None)
            src_path = self.storage.input_path(job_id, "source.mp4")
            info = self._save_source_video(upload, src_path, model)
            width, height = _snap_size(info.width, info.height, model)
            fps, src_frames, source_id = max(1, round(info.fps)), info.num_frames, None
        elif req.video is not None:
            source = self._finished_source(tenant, req.video.id, "video.id")
            model = resolve_model(self.registry, source.model)
            p = source.params
            width, height, fps, src_frames, source_id = (
                p["width"],
                p["height"],
                p["fps"],
                _source_frames(source),
                source.id,
            )
        else:
            raise ApiError(
                400,
                'Missing required field `video`: pass {"id": ...} of a completed video or upload an MP4.',
                "video",
            )
        seconds = parse_seconds(req.seconds, s) or model.native_seconds
        # The extension pipeline works in chunks, so any length is possible; the total is what is capped.
        new_frames = max(1, round(seconds * fps))
        total_frames = src_frames + new_frames
        if total_frames / fps > s.max_total_seconds:
            raise ApiError(
                400,
                f"Extending would make the video {total_frames / fps:.0f} s long; the limit is "
                f"{s.max_total_seconds:g} s — extend by less or start a new video.",
                "seconds",
            )
        geo = Geometry(width, height, new_frames, fps)
        params = self._common_params(req, geo)
        params["total_frames"] = total_frames
        if source_id:
            params["source_video_id"] = source_id
        else:
            params["source_video"] = "source.mp4"
        shown = Geometry(width, height, total_frames, fps)
        return self._submit(
            tenant,
            model.name,
            "extend",
            prompt,
            geo,
            params,
            {},
            req.callback_url,
            extended_from=source_id,
            shown=shown,
            job_id=job_id,
        )

    def _save_source_video(self, upload: Upload, path: Path, model: Any) -> Any:
        from kinema.io.video import probe_video

        if len(upload.data) > self.settings.max_video_upload_bytes:
            raise ApiError(
                413,
                f"`video` is larger than {self.settings.max_video_upload_bytes} bytes; upload a shorter clip.",
                "video",
                "file_too_large",
            )
        self.storage.write_bytes(path, upload.data)
        try:
            info = probe_video(path)
        except Exception:
            self.storage.remove_job(path.parent.name)
            raise ApiError(
                415,
                "`video` is not a video this server can read; upload an MP4 (H.264).",
                "video",
                "unsupported_media_type",
            ) from None
        if info.num_frames < 1 or info.width < 1 or info.height < 1:
            self.storage.remove_job(path.parent.name)
            raise ApiError(400, "`video` has no frames; upload a video with at least one frame.", "video")
        if info.num_frames / max(info.fps, 1e-6) > self.settings.max_total_seconds:
            self.storage.remove_job(path.parent.name)
            raise ApiError(
                400,
                f"`video` is longer than {self.settings.max_total_seconds:g} s; upload a shorter clip.",
                "video",
            )
        return info

    def _common_params(self, req: Any, geo: Geometry) -> dict[str, Any]:
        return {
            "width": geo.width,
            "height": geo.height,
            "num_frames": geo.num_frames,
            "fps": geo.fps,
            "negative_prompt": req.negative_prompt,
            "guidance_scale": req.cfg_scale,  # Kling's name at the API edge, the spec's name from here on
            "num_inference_steps": req.num_inference_steps,
            "seed": req.seed,
        }

    def _finished_source(self, tenant: Tenant, video_id: str, param: str) -> Job:
        source = self.store.get(video_id, tenant.id)
        if source is None:
            raise ApiError(404, f"No video with id {video_id!r}.", param, "not_found")
        if source.status != "completed":
            raise ApiError(
                409,
                f"Video {video_id} is {source.status}; only a completed video can be remixed or extended.",
                param,
                "video_not_ready",
            )
        return source

    def _submit(
        self,
        tenant: Tenant,
        model: str,
        task: str,
        prompt: str,
        geo: Geometry,
        params: dict[str, Any],
        images: dict[str, np.ndarray | None],
        callback_url: str | None,
        remixed_from: str | None = None,
        extended_from: str | None = None,
        shown: Geometry | None = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        job_id = job_id or new_id("video")
        try:
            callback_url = check_callback_url(callback_url)
        except ApiError:
            self.storage.remove_job(job_id)
            raise
        shown = shown or geo
        # Inputs are on disk before the row commits: a worker that claims the job always finds them.
        for name, image in images.items():
            if image is not None:
                params[name] = f"{name}.png"
                self.storage.write_bytes(self.storage.input_path(job_id, f"{name}.png"), _png(image))
        # An extension counts only its new seconds.
        requested = geo.num_frames / geo.fps if task == "extend" else max(geo.num_frames - 1, 1) / geo.fps
        tier = tenant.tier
        now = time.time()
        try:
            with self.store.writing() as conn:
                self.store.lock_tenant(conn, tenant.id)
                active, used, oldest = self.store.tenant_usage(
                    conn, tenant.id, now - self.settings.quota_window_seconds
                )
                if active >= tier.concurrency:
                    raise ApiError(
                        429,
                        f"Your {tier.name} tier runs at most {tier.concurrency} video(s) at once and you have {active} "
                        "queued or running; wait for one to finish (or delete one) and retry.",
                        None,
                        "concurrency_limit_exceeded",
                        "rate_limit_error",
                        {"Retry-After": str(max(1, math.ceil(self.store.mean_run_seconds(10.0))))},
                    )
                if used + requested > tier.quota_seconds:
                    window_h = self.settings.quota_window_seconds / 3600
                    retry = max(1, math.ceil((oldest or now) + self.settings.quota_window_seconds - now))
                    raise ApiError(
                        429,
                        f"Your {tier.name} tier may generate {tier.quota_seconds:g} s of video per {window_h:g} h; you have "
                        f"used {used:g} s and asked for {requested:g} s more. Retry in {retry} s or ask for a higher tier.",
                        None,
                        "quota_exceeded",
                        "rate_limit_error",
                        {"Retry-After": str(retry)},
                    )
                job = self.store.insert_job(
                    conn,
                    id=job_id,
                    tenant=tenant.id,
                    model=model,
                    task=task,
                    priority=tier.priority,
                    prompt=prompt,
                    params=params,
                    seconds=shown.seconds,
                    size=shown.size,
                    max_attempts=self.settings.max_attempts,
                    callback_url=callback_url,
                    remixed_from_video_id=remixed_from,
                    extended_from_video_id=extended_from,
                )
        except ApiError:
            self.storage.remove_job(job_id)
            raise
        return self.public(job)

    # ---- read / delete -------------------------------------------------------------------------------

    def public(self, job: Job) -> dict[str, Any]:
        position = eta = None
        if job.status == "queued":
            position = self.store.queue_position(job)
            running = max(1, self.store.running_count())
            eta = position * self.store.mean_run_seconds() / running
        elif job.status == "in_progress":
            eta = self.store.mean_run_seconds() * (1 - job.progress / 100)
        return video_object(job, position, eta)

    def get(self, tenant: Tenant, video_id: str) -> Job:
        job = self.store.get(video_id, tenant.id)
        if job is None:
            raise ApiError(404, f"No video with id {video_id!r}.", "video_id", "not_found")
        return job

    def list(self, tenant: Tenant, after: str | None, limit: int, order: str) -> dict[str, Any]:
        if order not in ("asc", "desc"):
            raise ApiError(400, f"`order` must be asc or desc; got {order!r}.", "order")
        if not 1 <= limit <= 100:
            raise ApiError(400, f"`limit` must be between 1 and 100; got {limit}.", "limit")
        try:
            items, has_more = self.store.list(tenant.id, after, limit, order)
        except KeyError:
            raise ApiError(
                400,
                f"`after` names no video of yours ({after!r}); pass the last id of the previous page.",
                "after",
            ) from None
        data = [video_object(j) for j in items]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }

    def delete(self, tenant: Tenant, video_id: str) -> dict[str, Any]:
        job = self.store.delete(video_id, tenant.id)
        if job is None:
            raise ApiError(404, f"No video with id {video_id!r}.", "video_id", "not_found")
        if job.status in ("completed", "failed", "cancelled"):
            self.storage.remove_job(video_id)
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    def content(self, tenant: Tenant, video_id: str, variant: str) -> tuple[Path, str]:
        if variant not in VARIANTS:
            raise ApiError(
                400, f"`variant` must be one of {', '.join(VARIANTS)}; got {variant!r}.", "variant"
            )
        job = self.get(tenant, video_id)
        if job.status != "completed":
            raise ApiError(
                409,
                f"Video {video_id} is {job.status}; download it once its status is completed.",
                "video_id",
                "video_not_ready",
            )
        if job.expires_at is not None and time.time() > job.expires_at:
            raise ApiError(
                404,
                f"Video {video_id} expired at {int(job.expires_at)}; generate it again.",
                "video_id",
                "expired",
            )
        path = self.storage.output_path(video_id, variant)
        if not path.is_file():
            raise ApiError(
                404,
                f"The {variant} of video {video_id} is no longer stored (it expired or was deleted).",
                "variant",
                "not_found",
            )
        return path, VARIANTS[variant][1]

    def remove_expired_outputs(self, since: float, until: float) -> int:
        """Delete the files of videos whose downloads expired in [since, until); returns how many."""
        ids = self.store.expired_ids(since, until)
        for video_id in ids:
            self.storage.remove_job(video_id)
        return len(ids)

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": m.name,
                    "object": "model",
                    "created": m.created_at,
                    "owned_by": "kinema",
                    "width": m.width,
                    "height": m.height,
                    "fps": m.fps,
                    "num_frames": m.num_frames,
                    "default": m.name == self.registry.default,
                }
                for m in self.registry.models.values()
            ],
        }


def trajectory_paths(points: list[list[list[float]]] | None, geo: Geometry) -> dict[str, Any] | None:
    """Kling-style trajectories (pixel points spread evenly over the clip) → the motion-brush JSON the
    backends read (`kinema.pipelines.trajectories.load_trajectories`: [t seconds, x, y] per point)."""
    if not points:
        return None
    duration = max(geo.num_frames - 1, 1) / geo.fps
    return {
        "trajectories": [
            {"path": [[duration * i / max(len(p) - 1, 1), float(x), float(y)] for i, (x, y) in enumerate(p)]}
            for p in points
        ]
    }


def _snap_size(width: int, height: int, model: Any) -> tuple[int, int]:
    """An uploaded video's size on the model's grid, at most the model's pixel budget (`sizes.SizeRules`)."""
    rules = model.rules
    scale = min(1.0, math.sqrt(rules.pixel_limit / (width * height)))
    m = rules.multiple
    return max(m, m * int(width * scale / m)), max(m, m * int(height * scale / m))


def _source_frames(job: Job) -> int:
    return int(job.params.get("total_frames") or job.params["num_frames"])


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()
