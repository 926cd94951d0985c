"""The video service: what the routes call. Validates (validation.py: the request → the job's
`GenerationSpec`, checked once), enforces tiers, stores the job (job_store.py) and answers with the
response models (schemas.py, views.py).

Tier policy: `concurrency` = unfinished (queued + running) jobs a key may hold; `quota_seconds` = seconds of
video a key may request per `quota_window_seconds` (failed and cancelled-before-start jobs do not count),
each job charged what it will generate (`charged_seconds`). Either limit answers 429 with Retry-After and a
message saying when to retry, and both are checked before any uploaded file is looked at.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

from kinema.runtime.tasks import TASKS
from kinema.serving.auth import Tenant
from kinema.serving.body import Upload
from kinema.serving.callback_urls import CallbackPolicy
from kinema.serving.capabilities import capabilities
from kinema.serving.job_spec import JobSpec
from kinema.serving.models_file import plain_settings
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.schemas import (
    CharacterCreateRequest,
    CharacterObject,
    Health,
    Model,
    ModelList,
    Provenance,
    ProvenanceIngredient,
    ServerConfig,
    Video,
    VideoCreateRequest,
    VideoDeleted,
    VideoEditRequest,
    VideoExtendRequest,
    VideoList,
    VideoRemixRequest,
    WebhookState,
)
from kinema.serving.settings import ServeSettings, signing_identity
from kinema.serving.storage import VARIANTS, Content, RangeNotSatisfiable, Storage
from kinema.serving.store import Job, Store, new_id
from kinema.serving.validation import (
    ApiError,
    Geometry,
    ImageInput,
    Plan,
    check_callback_url,
    check_create,
    check_images,
    check_texts,
    check_video,
    create_spec,
    generation_spec,
    parse_seconds,
    resolve_model,
)
from kinema.serving.views import shown_status, video_view

# The tasks of the routes that start from a finished video (the create route's comes from its pictures).
REMIX, EXTEND = TASKS["v2v"], TASKS["extend"]
REFERENCE_SIDE = 512  # a character's picture: its video's middle frame, at most this many pixels a side


def charged_seconds(model: ModelInfo, video_seconds: float, fps: float, candidates: int = 1) -> float:
    """What a job costs against its tier's quota: the seconds of video it makes, scaled up when its frame
    rate is above the model's — a second at 30 fps is 3.75 seconds of an 8 fps model's work (issue 15,
    item 1: 20 s of a 10,000 fps upload were charged 20 s and ran for hours). Physics candidates are
    each a generation."""
    return video_seconds * max(1.0, fps / model.fps) * max(1, candidates)


class VideoService:
    def __init__(
        self, store: Store, storage: Storage, registry: ModelRegistry, settings: ServeSettings
    ) -> None:
        self.jobs = store.jobs
        self.webhooks = store.webhooks
        self.workers = store.workers
        self.characters = store.characters
        self.storage = storage
        self.registry = registry
        self.settings = settings
        self.signing = signing_identity(settings)  # checked at start-up; its root validates outputs
        self.callbacks = CallbackPolicy(settings.webhook_allowed_hosts)

    # ---- create / remix / extend --------------------------------------------------------------------

    def admit(self, tenant: Tenant) -> None:
        """A key already at its concurrency limit or out of quota hears 429 before its body is read (issue
        29, defect 2: a limited key's 50 MB bodies were read in full, then refused)."""
        self._check_tier(tenant, 0.0)

    def create(self, tenant: Tenant, req: VideoCreateRequest, uploads: dict[str, Upload]) -> Video:
        plan = check_create(req, uploads, self.registry, self.settings, self.callbacks)
        cost = charged_seconds(plan.model, plan.geometry.video_seconds, plan.geometry.fps, plan.candidates)
        # Tier limits before any image is looked at: a key at its limit costs the server nothing more.
        self._check_tier(tenant, cost)
        images = check_images(req, uploads, self.settings)
        references = self._references(tenant, req, plan.model)
        spec = create_spec(plan, req)
        return self._submit(tenant, plan, JobSpec(spec), cost, images, references=references)

    # ---- characters ----------------------------------------------------------------------------------

    def create_character(
        self, tenant: Tenant, req: CharacterCreateRequest, upload: Upload | None
    ) -> CharacterObject:
        """A character from an uploaded video: its middle frame, checked and kept as the reference picture
        (the video itself is not kept)."""
        if upload is None:
            raise ApiError(
                400, "Missing required field `video`: upload a video of the character.", "video",
                "missing_required_parameter",
            )  # fmt: skip
        try:
            path = upload.path
            if path is None:  # not spooled (a small body): check it from a spool file all the same
                path = self.storage.spool_dir / f".character-{new_id('upload')}.mp4"
                self.storage.write_bytes(path, upload.data)
                upload.path = path
            info = check_video(path, self.settings, resolve_model(self.registry, None), upload.content_type)
            picture, width, height = _reference_picture(path, info.num_frames)
        finally:
            upload.discard()
        character = self.characters.add(new_id("char"), tenant.id, req.name.strip(), picture, width, height)
        return _character_view(character)

    def get_character(self, tenant: Tenant, character_id: str) -> CharacterObject:
        character = self.characters.get(character_id, tenant.id)
        if character is None:
            raise ApiError(404, f"No character with id {character_id!r}.", "character_id", "not_found")
        return _character_view(character)

    def _references(self, tenant: Tenant, req: VideoCreateRequest, model: ModelInfo) -> list[bytes]:
        """The pictures of the characters a create request names, for a model that takes reference
        pictures (Wan VACE); a 400 naming the models that do, otherwise."""
        if not req.characters:
            return []
        if "reference_images" not in model.options:
            able = [m.name for m in self.registry.models.values() if "reference_images" in m.options]
            fix = (
                f"models that can: {', '.join(able)} (pass `model`)."
                if able
                else "no model on this server can; add a Wan VACE folder (WanVACEPipeline)."
            )
            raise ApiError(
                400,
                f"Model {model.name} takes no reference pictures, so `characters` cannot be used with it; {fix}",
                "characters",
                "model_not_supported",
            )
        pictures = []
        for i, ref in enumerate(req.characters):
            character = self.characters.get(ref.id, tenant.id)
            if character is None:
                raise ApiError(
                    404, f"No character with id {ref.id!r}; create it with POST /v1/videos/characters.",
                    f"characters[{i}].id", "not_found",
                )  # fmt: skip
            pictures.append(character.image)
        return pictures

    def remix(self, tenant: Tenant, video_id: str, req: VideoRemixRequest) -> Video:
        prompt = check_texts(self.settings, req.prompt, req.negative_prompt)
        callback_url = check_callback_url(req.callback_url, self.callbacks)
        source, stored = self._finished_source(tenant, video_id, "video_id")
        model = resolve_model(self.registry, source.model)
        was = stored.generation
        geo = Geometry(was.width, was.height, stored.length, int(was.fps))
        audio = True if model.audio else None  # a remix by a model that makes sound has its own
        spec = generation_spec(REMIX, prompt, req, geo, model, strength=req.strength, audio=audio)
        plan = Plan(REMIX, model, geo, callback_url)
        cost = charged_seconds(model, geo.video_seconds, geo.fps)
        job = JobSpec(spec, source_video_id=source.id)
        return self._submit(tenant, plan, job, cost, remixed_from=source.id)

    def edit(self, tenant: Tenant, req: VideoEditRequest, upload: Upload | None = None) -> Video:
        """OpenAI's edit: video → video (the `remix` task) from a completed video or an uploaded MP4, on a
        model that can; a model that cannot is a 400 naming the ones that can (issue 29, item 2)."""
        job_id = new_id("video")
        try:
            return self._edit(tenant, req, upload, job_id)
        except BaseException:
            self.storage.remove_job(job_id)
            if upload is not None:
                upload.discard()
            raise

    def _edit(self, tenant: Tenant, req: VideoEditRequest, upload: Upload | None, job_id: str) -> Video:
        prompt = check_texts(self.settings, req.prompt, req.negative_prompt)
        callback_url = check_callback_url(req.callback_url, self.callbacks)
        source_id = None
        if upload is not None:
            model = self._editor(resolve_model(self.registry, req.model))
            self._check_tier(tenant, 0.0)  # the upload's own cost is known after the probe, below
            info = self._save_source_video(upload, self.storage.input_path(job_id, "source.mp4"), model)
            width, height = _snap_size(info.width, info.height, model)
            fps = max(1, round(info.fps))
            # The pipeline redraws at most the model's longest clip, on its causal grid (1 + c·k frames).
            c = model.temporal_compression
            frames = 1 + c * ((min(info.num_frames, model.max_frames) - 1) // c)
            job = dict(source_video="source.mp4")
        elif req.video is not None:
            if req.model is not None:
                raise ApiError(
                    400,
                    "`model` chooses the model of an uploaded video; an edit of a completed video uses that "
                    "video's model — remove `model`.",
                    "model",
                )
            source, stored = self._finished_source(tenant, req.video.id, "video.id")
            model = self._editor(resolve_model(self.registry, source.model))
            was = stored.generation
            width, height, fps, frames = was.width, was.height, int(was.fps), stored.length
            source_id, job = source.id, dict(source_video_id=source.id)
        else:
            raise ApiError(
                400,
                'Missing required field `video`: pass {"id": ...} of a completed video or upload an MP4.',
                "video",
                "missing_required_parameter",
            )
        geo = Geometry(width, height, frames, fps)
        spec = generation_spec(REMIX, prompt, req, geo, model, strength=req.strength)
        plan = Plan(REMIX, model, geo, callback_url)
        cost = charged_seconds(model, geo.video_seconds, geo.fps)
        return self._submit(tenant, plan, JobSpec(spec, **job), cost, remixed_from=source_id, job_id=job_id)

    def _editor(self, model: ModelInfo) -> ModelInfo:
        """The model, if it can edit a video (video → video); else a 400 naming the models that can."""
        if REMIX.name in model.modes:
            return model
        able = [m.name for m in self.registry.models.values() if REMIX.name in m.modes]
        fix = (
            f"models that can: {', '.join(able)} (pass `model`, or edit a video one of them made)."
            if able
            else "no model on this server can; add one that does (Kinema's own, Wan 2.1 T2V, LTX-Video or "
            "CogVideoX video-to-video)."
        )
        raise ApiError(
            400,
            f"Model {model.name} cannot edit videos ({REMIX.title}); it does: {', '.join(model.modes)}; {fix}",
            "model",
            "model_not_supported",
        )

    def extend(self, tenant: Tenant, req: VideoExtendRequest, upload: Upload | None = None) -> Video:
        """Continue a completed video (`video: {"id": ...}`) or an uploaded MP4 (`video` as a file)."""
        job_id = new_id("video")
        try:
            return self._extend(tenant, req, upload, job_id)
        except BaseException:
            self.storage.remove_job(job_id)  # an uploaded source saved before the refusal
            if upload is not None:
                upload.discard()
            raise

    def _extend(self, tenant: Tenant, req: VideoExtendRequest, upload: Upload | None, job_id: str) -> Video:
        s = self.settings
        prompt = check_texts(s, req.prompt, req.negative_prompt)
        callback_url = check_callback_url(req.callback_url, self.callbacks)
        seconds_asked = parse_seconds(req.seconds, s)
        if upload is not None:
            model = resolve_model(self.registry, None)
            self._check_tier(tenant, 0.0)  # the upload's own cost is known after the probe, below
            src_path = self.storage.input_path(job_id, "source.mp4")
            info = self._save_source_video(upload, src_path, model)
            width, height = _snap_size(info.width, info.height, model)
            fps, src_frames, source_id = max(1, round(info.fps)), info.num_frames, None
            from kinema.io import probe_audio

            sounding = probe_audio(src_path) is not None
        elif req.video is not None:
            source, stored = self._finished_source(tenant, req.video.id, "video.id")
            model = resolve_model(self.registry, source.model)
            was = stored.generation
            width, height, fps = was.width, was.height, int(was.fps)
            src_frames, source_id = stored.length, source.id
            sounding = was.audio is True
        else:
            raise ApiError(
                400,
                'Missing required field `video`: pass {"id": ...} of a completed video or upload an MP4.',
                "video",
            )
        seconds = seconds_asked or model.native_seconds
        # The extension pipeline works in chunks, so any length is possible; what one extension may add is
        # capped in frames at the model's own rate (a 60 fps source makes 7.5x the frames of an 8 fps
        # model's second), and the total length is capped too.
        new_frames = max(1, round(seconds * fps))
        most = max(1, math.floor(s.max_seconds * model.fps))
        if new_frames > most:
            raise ApiError(
                400,
                f"Extending this {fps} fps video by {seconds:g} s means generating {new_frames} frames; model "
                f"{model.name} generates at most {most} in one extension ({s.max_seconds:g} s at its "
                f"{model.fps:g} fps) — extend by at most {most / fps:.2f} s per call.",
                "seconds",
            )
        total_frames = src_frames + new_frames
        if total_frames / fps > s.max_total_seconds:
            raise ApiError(
                400,
                f"Extending would make the video {total_frames / fps:.0f} s long; the limit is "
                f"{s.max_total_seconds:g} s — extend by less or start a new video.",
                "seconds",
            )
        geo = Geometry(width, height, new_frames, fps)
        # the source's sound is kept (and continued by a model that makes sound): the video says so
        spec = generation_spec(EXTEND, prompt, req, geo, model, audio=True if sounding or model.audio else None)
        origin = {"source_video_id": source_id} if source_id else {"source_video": "source.mp4"}
        job = JobSpec(spec, total_frames=total_frames, **origin)
        plan = Plan(EXTEND, model, geo, callback_url)
        shown = Geometry(width, height, total_frames, fps)
        cost = charged_seconds(model, new_frames / fps, fps)
        return self._submit(tenant, plan, job, cost, extended_from=source_id, shown=shown, job_id=job_id)

    def _save_source_video(self, upload: Upload, path: Path, model: ModelInfo) -> Any:
        """Move (or write) the uploaded video into the job's inputs, then check it where it lies."""
        limit = self.settings.max_video_upload_bytes
        if max(upload.size, len(upload.data)) > limit:
            raise ApiError(
                413,
                f"`video` is larger than {limit} bytes; upload a shorter clip.",
                "video",
                "file_too_large",
            )
        if upload.path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, path)  # the spool file is already fsynced (body.py)
            upload.path = None
        else:
            self.storage.write_bytes(path, upload.data)
        return check_video(path, self.settings, model, upload.content_type)

    def _finished_source(self, tenant: Tenant, video_id: str, param: str) -> tuple[Job, JobSpec]:
        source = self.jobs.get(video_id, tenant.id)
        if source is None:
            raise ApiError(404, f"No video with id {video_id!r}.", param, "not_found")
        if source.status != "completed":
            raise ApiError(
                409,
                f"Video {video_id} is {source.status}; only a completed video can be remixed or extended.",
                param,
                "video_not_ready",
            )
        return source, JobSpec.load(source)

    def _check_tier(self, tenant: Tenant, cost: float, conn: Any = None, now: float | None = None) -> None:
        """429 when the tenant is at its concurrency limit or `cost` more seconds would pass its quota.
        Called before the expensive checks (without a lock) and again inside the insert's transaction."""
        tier = tenant.tier
        now = time.time() if now is None else now
        if conn is None:
            with self.jobs.reading() as c:
                usage = self.jobs.tenant_usage(c, tenant.id, now - self.settings.quota_window_seconds)
        else:
            usage = self.jobs.tenant_usage(conn, tenant.id, now - self.settings.quota_window_seconds)
        active, used, oldest = usage
        if active >= tier.concurrency:
            raise ApiError(
                429,
                f"Your {tier.name} tier runs at most {tier.concurrency} video(s) at once and you have {active} "
                "queued or running; wait for one to finish (or delete one) and retry.",
                None,
                "concurrency_limit_exceeded",
                "rate_limit_error",
                {"Retry-After": str(max(1, math.ceil(self.jobs.mean_run_seconds(10.0))))},
            )
        if used + cost > tier.quota_seconds:
            window_h = self.settings.quota_window_seconds / 3600
            retry = max(1, math.ceil((oldest or now) + self.settings.quota_window_seconds - now))
            raise ApiError(
                429,
                f"Your {tier.name} tier may generate {tier.quota_seconds:g} s of video per {window_h:g} h; you have "
                f"used {used:g} s and asked for {cost:g} s more. Retry in {retry} s or ask for a higher tier.",
                None,
                "quota_exceeded",
                "rate_limit_error",
                {"Retry-After": str(retry)},
            )

    def _submit(
        self,
        tenant: Tenant,
        plan: Plan,
        job: JobSpec,
        cost: float,
        images: dict[str, ImageInput] | None = None,
        remixed_from: str | None = None,
        extended_from: str | None = None,
        shown: Geometry | None = None,
        job_id: str | None = None,
        references: list[bytes] | None = None,
    ) -> Video:
        """Store the job (its input files first), after the model's modes and, under the tenant's lock,
        its tier's limits are checked."""
        job_id = job_id or new_id("video")
        shown = shown or plan.geometry
        model, task, mode = plan.model, job.generation.task, plan.mode
        if task not in model.modes:  # e.g. an image-to-video-only folder
            self.storage.remove_job(job_id)
            raise ApiError(
                400,
                f"Model {model.name} cannot do {mode} ({task}); it does: {', '.join(model.modes)}.",
                "model",
            )
        files: dict[str, str] = {}
        try:
            # Inputs are on disk before the row commits: a worker that claims the job always finds them.
            # Images are stored as uploaded (checked, not decoded); the worker decodes them at the output size.
            for name, image in (images or {}).items():
                files[name] = f"{name}{image.suffix}"
                self.storage.write_bytes(self.storage.input_path(job_id, files[name]), image.data)
            if references:
                names = [f"reference_{i}.png" for i in range(len(references))]
                for name, picture in zip(names, references, strict=True):
                    self.storage.write_bytes(self.storage.input_path(job_id, name), picture)
                job = dataclasses.replace(job, reference_images=names)
            self.storage.publish_inputs(job_id)  # in the bucket before the row: no worker misses them
            with self.jobs.writing() as conn:
                self.jobs.lock_tenant(conn, tenant.id)
                self._check_tier(tenant, cost, conn)
                job = self.jobs.insert_job(
                    conn,
                    id=job_id,
                    tenant=tenant.id,
                    model=model.name,
                    task=mode,
                    priority=tenant.tier.priority,
                    prompt=job.generation.prompt,
                    params=dataclasses.replace(job, **files).params(),
                    seconds=shown.seconds,
                    charged_seconds=cost,
                    size=shown.size,
                    max_attempts=self.settings.max_attempts,
                    callback_url=plan.callback_url,
                    remixed_from_video_id=remixed_from,
                    extended_from_video_id=extended_from,
                )
        except BaseException:
            self.storage.remove_job(job_id)
            raise
        return self.public(job)

    # ---- read / delete -------------------------------------------------------------------------------

    @property
    def spool_dir(self) -> Path:
        """Where a large upload is spooled while its request is read (on the storage's file system)."""
        return self.storage.spool_dir

    def public(self, job: Job) -> Video:
        """The video with its queue position, ETA and webhook state."""
        now = time.time()
        status = shown_status(job, now)
        position = eta = None
        if status == "queued":
            position = self.jobs.queue_position(job)
            running = max(1, self.jobs.running_count())
            eta = position * self.jobs.mean_run_seconds() / running
        elif status == "in_progress":
            eta = self.jobs.mean_run_seconds() * (1 - job.progress / 100)
        return video_view(job, position, eta, self._webhook_state(job), now)

    def _webhook_state(self, job: Job) -> WebhookState | None:
        """The deliveries to the job's callback_url: the first that failed for good, else the latest."""
        if not job.callback_url:
            return None
        rows = self.webhooks.rows(job.id)
        if not rows:
            return None
        row = next((r for r in rows if r["status"] == "failed"), rows[-1])
        return WebhookState(**{k: row[k] for k in ("event", "status", "attempts", "last_error")})

    def _owned(self, tenant: Tenant, video_id: str) -> Job:
        job = self.jobs.get(video_id, tenant.id)
        if job is None:
            raise ApiError(404, f"No video with id {video_id!r}.", "video_id", "not_found")
        return job

    def retrieve(self, tenant: Tenant, video_id: str) -> Video:
        return self.public(self._owned(tenant, video_id))

    def find(self, tenant: Tenant, video_id: str) -> Video | None:
        """The video as it is now, or None once it is gone (deleted, or never the tenant's)."""
        job = self.jobs.get(video_id, tenant.id)
        return None if job is None else self.public(job)

    def list(self, tenant: Tenant, after: str | None, limit: int, order: str) -> VideoList:
        if order not in ("asc", "desc"):
            raise ApiError(400, f"`order` must be asc or desc; got {order!r}.", "order")
        if not 1 <= limit <= 100:
            raise ApiError(400, f"`limit` must be between 1 and 100; got {limit}.", "limit")
        try:
            items, has_more = self.jobs.list(tenant.id, after, limit, order)
        except KeyError:
            # An `after` that names no video of yours (deleted since, or mistyped) is the end of the list:
            # no id format is promised, so the schema cannot refuse one and the server does not either
            # (issue 29, defect 9: schema-valid yet 400).
            items, has_more = [], False
        now = time.time()
        data = [video_view(j, webhook=self._webhook_state(j), now=now) for j in items]
        return VideoList(
            data=data,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
            has_more=has_more,
        )

    def delete(self, tenant: Tenant, video_id: str) -> VideoDeleted:
        job = self.jobs.delete(video_id, tenant.id)
        if job is None:
            raise ApiError(404, f"No video with id {video_id!r}.", "video_id", "not_found")
        if job.status in ("completed", "failed", "cancelled"):
            self.storage.remove_job(video_id)
        return VideoDeleted(id=video_id, deleted=True)

    def content(self, tenant: Tenant, video_id: str, variant: str, byte_range: str | None = None) -> Content:
        """A completed video's output to send (a local file, or an object's bytes: those of `byte_range`,
        a Range header, when it names one range inside it)."""
        self._downloadable(tenant, video_id, variant)
        try:
            content = self.storage.open_output(video_id, variant, byte_range)
        except RangeNotSatisfiable as exc:
            raise ApiError(
                416,
                str(exc),
                "Range",
                "range_not_satisfiable",
                headers={"Content-Range": f"bytes */{exc.size}"},
            ) from None
        if content is None:
            raise self._not_stored(video_id, variant)
        return content

    @staticmethod
    def _not_stored(video_id: str, variant: str) -> ApiError:
        return ApiError(
            404,
            f"The {variant} of video {video_id} is no longer stored (it expired or was deleted).",
            "variant",
            "not_found",
        )

    def _downloadable(self, tenant: Tenant, video_id: str, variant: str) -> None:
        if variant not in VARIANTS:
            raise ApiError(
                400, f"`variant` must be one of {', '.join(VARIANTS)}; got {variant!r}.", "variant"
            )
        job = self._owned(tenant, video_id)
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

    def provenance(self, tenant: Tenant, video_id: str) -> Provenance:
        """The content credential of a completed video: the AIGC label and its C2PA manifest, validated
        (against this installation's root as a trust anchor)."""
        from kinema.io.provenance import read_provenance

        self._downloadable(tenant, video_id, "video")
        identity = self.signing
        anchors = [identity.trust_anchor_pem] if identity is not None and identity.trust_anchor_pem else []
        with self.storage.local_output(video_id, "video") as path:
            if path is None:
                raise self._not_stored(video_id, "video")
            info = read_provenance(path, trust_anchors=anchors)
        return Provenance(
            id=video_id,
            aigc_label=info.aigc_label.to_dict() if info.aigc_label is not None else None,
            has_manifest=info.has_manifest,
            validation_state=info.validation_state,
            signature_valid=info.signature_valid,
            trusted=info.trusted,
            digital_source_type=info.digital_source_type,
            generator=info.generator,
            model=info.model,
            signer=info.signer,
            actions=[a.get("action") for a in info.actions],
            ingredients=[
                ProvenanceIngredient(title=i.title, relationship=i.relationship) for i in info.ingredients
            ],
            failures=info.failures,
        )

    def remove_expired_outputs(self, since: float, until: float) -> int:
        """Delete the files of videos whose downloads expired in [since, until); returns how many."""
        ids = self.jobs.expired_ids(since, until)
        for video_id in ids:
            self.storage.remove_job(video_id)
        return len(ids)

    def sweep_files(self) -> tuple[int, int]:
        """Remove upload temp files and job-less input folders left by a crash: (bytes, paths) removed."""
        return self.storage.sweep(self.jobs.statuses, self.settings.orphan_seconds)

    def sweep_leases(self) -> list[str]:
        """Requeue (or fail) the jobs whose worker stopped renewing its lease; their ids. A job that
        failed `worker_lost` loses what its killed attempt wrote (issue 29, defect 8)."""
        ids = self.jobs.sweep_expired_leases()
        for job_id, status in self.jobs.statuses(ids).items():
            if status == "failed":
                self.storage.remove_outputs(job_id)
        return ids

    # ---- models and the server --------------------------------------------------------------------

    def models(self) -> ModelList:
        return ModelList(
            data=[
                Model(
                    id=m.name,
                    created=m.created_at,
                    owned_by="kinema",
                    width=m.width,
                    height=m.height,
                    fps=m.fps,
                    num_frames=m.num_frames,
                    max_frames=m.max_frames,
                    modes=list(m.modes),
                    options=list(m.options),
                    default=m.name == self.registry.default,
                    source=self.registry.sources.get(m.name),
                    settings=plain_settings(self.registry.settings.get(m.name, {})),
                    audio=m.audio,
                )
                for m in self.registry.models.values()
            ]
        )

    def health(self) -> Health:
        return Health(ok=True, models=list(self.registry.models))

    def server_config(self, auth_required: bool) -> ServerConfig:
        """What the studio needs before it has a key: whether one is required, the limits, and what each
        model can be asked."""
        return ServerConfig(
            auth_required=auth_required,
            max_prompt_chars=self.settings.max_prompt_chars,
            max_seconds=self.settings.max_seconds,
            default_model=self.registry.default,
            models=capabilities(self.registry),
        )


def _snap_size(width: int, height: int, model: Any) -> tuple[int, int]:
    """An uploaded video's size on the model's grid, at most the model's pixel budget (`sizes.SizeRules`)."""
    rules = model.rules
    scale = min(1.0, math.sqrt(rules.pixel_limit / (width * height)))
    m = rules.multiple
    return max(m, m * int(width * scale / m)), max(m, m * int(height * scale / m))


def _reference_picture(path: Path, num_frames: int) -> tuple[bytes, int, int]:
    """The video's middle frame as a PNG of at most REFERENCE_SIDE a side: (bytes, width, height). Frames
    are decoded one at a time, so memory is one frame of the (size-checked) upload."""
    import io

    from PIL import Image

    from kinema.io.video import iter_video_frames

    frame = None
    for i, decoded in enumerate(iter_video_frames(path)):
        frame = decoded
        if i >= num_frames // 2:
            break
    if frame is None:
        raise ApiError(
            400, "`video` has no frame that decodes; upload a video with at least one frame.", "video"
        )
    picture = Image.fromarray(frame)
    picture.thumbnail((REFERENCE_SIDE, REFERENCE_SIDE))
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue(), picture.width, picture.height


def _character_view(character: Any) -> CharacterObject:
    return CharacterObject(
        id=character.id,
        created_at=int(character.created_at),
        name=character.name,
        width=character.width,
        height=character.height,
    )
