"""`/v1/videos`: OpenAI's videos API (create, list, retrieve, delete, content, remix, extensions, edits) plus
Kinema's server-sent events. Each route reads its body (body.py), validates it against its request model
and calls `VideoService`."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kinema.serving.auth import Tenant
from kinema.serving.body import BodyLimits, Upload, read_body
from kinema.serving.deps import ServiceDep, SettingsDep, TenantDep
from kinema.serving.errors import validate
from kinema.serving.openapi import errors, request_body
from kinema.serving.schemas import (
    MAX_ID_CHARS,
    CharacterCreateRequest,
    CharacterObject,
    Provenance,
    Video,
    VideoCreateRequest,
    VideoDeleted,
    VideoEditRequest,
    VideoExtendRequest,
    VideoList,
    VideoRemixRequest,
)
from kinema.serving.service import VideoService
from kinema.serving.settings import ServeSettings
from kinema.serving.validation import IMAGE_KIND, VIDEO_KIND

POLL_AFTER_MS = "500"
SMALL_BODY_BYTES = 1_000_000  # a body with no files: prompts and options

router = APIRouter(prefix="/v1/videos", tags=["videos"])
# One event of the stream (OpenAPI 3.1: the schema of an event-stream describes each event).
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "pattern": "^video\\.(queued|in_progress|completed|failed|deleted)$"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/Video"},
                    {"$ref": "#/components/schemas/VideoDeleted"},
                ]
            },
        },
    },
}
VideoIdPath = Annotated[str, Path(max_length=MAX_ID_CHARS, description="A video's id")]


def create_limits(s: ServeSettings) -> BodyLimits:
    # Two images, as files or as base64 (4/3 of their bytes) in JSON, plus the fields.
    body = math.ceil(2 * s.max_upload_bytes * 4 / 3) + SMALL_BODY_BYTES
    return BodyLimits(
        body,
        s.max_upload_bytes,
        files=("input_reference", "image_tail"),
        kinds={"input_reference": IMAGE_KIND, "image_tail": IMAGE_KIND},
    )


@router.post(
    "",
    response_model=Video,
    responses=errors(400, 401, 403, 413, 415, 429),
    openapi_extra=request_body(VideoCreateRequest, files=("input_reference", "image_tail")),
)
async def create_video(
    request: Request, tenant: TenantDep, service: ServiceDep, settings: SettingsDep
) -> Video:
    """Queue a video: text → video, image → video (`input_reference`) or keyframes (`image_tail` too)."""
    await run_in_threadpool(service.admit, tenant)
    fields, uploads = await read_body(request, create_limits(settings))
    req = validate(VideoCreateRequest, fields)
    return await run_in_threadpool(service.create, tenant, req, uploads)


@router.get("", response_model=VideoList, responses=errors(400, 401, 403))
def list_videos(
    tenant: TenantDep,
    service: ServiceDep,
    after: Annotated[str | None, Query(max_length=MAX_ID_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> VideoList:
    """Your videos, newest first by default; page with `after` = the last id of the previous page."""
    return service.list(tenant, after, limit, order)


@router.post(
    "/extensions",
    response_model=Video,
    responses=errors(400, 401, 403, 404, 409, 413, 415, 429),
    openapi_extra=request_body(VideoExtendRequest, files=("video",), required_files=("video",)),
)
async def extend_video(
    request: Request, tenant: TenantDep, service: ServiceDep, settings: SettingsDep
) -> Video:
    """Continue a completed video (`video: {"id": ...}`) or an uploaded MP4 (`video` as a file)."""
    await run_in_threadpool(service.admit, tenant)
    req, upload = await _read_video_request(request, VideoExtendRequest, service, settings)
    return await run_in_threadpool(service.extend, tenant, req, upload)


@router.post(
    "/edits",
    response_model=Video,
    responses=errors(400, 401, 403, 404, 409, 413, 415, 429),
    openapi_extra=request_body(VideoEditRequest, files=("video",), required_files=("video",)),
)
async def edit_video(
    request: Request, tenant: TenantDep, service: ServiceDep, settings: SettingsDep
) -> Video:
    """Edit a completed video (`video: {"id": ...}`) or an uploaded MP4 (`video` as a file) with a prompt:
    video → video, on a model that can (`remix` among its modes)."""
    await run_in_threadpool(service.admit, tenant)
    req, upload = await _read_video_request(request, VideoEditRequest, service, settings)
    return await run_in_threadpool(service.edit, tenant, req, upload)


@router.post(
    "/characters",
    response_model=CharacterObject,
    responses=errors(400, 401, 403, 413, 415),
    openapi_extra=request_body(
        CharacterCreateRequest, files=("video",), json=False, required_files=("video",)
    ),
)
async def create_character(
    request: Request, tenant: TenantDep, service: ServiceDep, settings: SettingsDep
) -> CharacterObject:
    """A character from a video of it (`name`, and `video` as a file): its picture can then be named in
    `characters` of a create request, on models that take reference pictures (Wan VACE)."""
    req, upload = await _read_video_request(request, CharacterCreateRequest, service, settings)
    return await run_in_threadpool(service.create_character, tenant, req, upload)


@router.get(
    "/characters/{character_id}", response_model=CharacterObject, responses=errors(400, 401, 403, 404)
)
def get_character(
    character_id: Annotated[str, Path(max_length=MAX_ID_CHARS, description="A character's id")],
    tenant: TenantDep,
    service: ServiceDep,
) -> CharacterObject:
    return service.get_character(tenant, character_id)


async def _read_video_request(
    request: Request, model: type[BaseModel], service: VideoService, settings: ServeSettings
) -> tuple[Any, Upload | None]:
    """A body that names a video by id (JSON) or uploads it (`video`, spooled to disk as it arrives)."""
    limits = BodyLimits(
        settings.max_video_upload_bytes + SMALL_BODY_BYTES,
        settings.max_video_upload_bytes,
        files=("video",),
        spool=("video",),
        spool_dir=service.spool_dir,
        json_bytes=SMALL_BODY_BYTES,  # JSON names a video by id; only a form carries the file
        kinds={"video": VIDEO_KIND},
    )
    fields, uploads = await read_body(request, limits)
    upload = uploads.get("video")
    try:
        return validate(model, fields), upload
    except BaseException:
        if upload is not None:
            upload.discard()
        raise


@router.get("/{video_id}", response_model=Video, responses=errors(400, 401, 403, 404))
def retrieve_video(video_id: VideoIdPath, tenant: TenantDep, service: ServiceDep) -> JSONResponse:
    body = service.retrieve(tenant, video_id).model_dump(mode="json")
    return JSONResponse(body, headers={"openai-poll-after-ms": POLL_AFTER_MS})


@router.delete("/{video_id}", response_model=VideoDeleted, responses=errors(400, 401, 403, 404))
def delete_video(video_id: VideoIdPath, tenant: TenantDep, service: ServiceDep) -> VideoDeleted:
    """Delete a video: a queued one is cancelled, a running one stops, a finished one's files go."""
    return service.delete(tenant, video_id)


@router.get(
    "/{video_id}/content",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The MP4, or a JPEG thumbnail / sprite sheet",
            "content": {
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **errors(400, 401, 403, 404, 409),
    },
)
def video_content(
    video_id: VideoIdPath,
    request: Request,
    tenant: TenantDep,
    service: ServiceDep,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> Response:
    """The file, from disk (with ranges), streamed from the bucket (`--storage s3://…`), or a redirect
    to a presigned URL of the bucket (`--s3-presign-seconds`)."""
    content = service.content(tenant, video_id, variant, request.headers.get("range"))
    filename = f"{video_id}{'.mp4' if variant == 'video' else '.jpg'}"
    if content.path is not None:
        return FileResponse(content.path, media_type=content.media_type, filename=filename)
    if content.url is not None:  # `s3_presign_seconds`: the bucket serves the bytes
        return RedirectResponse(content.url, status_code=307)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Accept-Ranges": "bytes"}
    if content.size is not None:
        headers["Content-Length"] = str(content.size)
    if content.content_range is not None:  # a browser's <video> seeking
        headers["Content-Range"] = content.content_range
    status = 206 if content.content_range is not None else 200
    return StreamingResponse(
        content.chunks, status_code=status, media_type=content.media_type, headers=headers
    )


@router.get("/{video_id}/provenance", response_model=Provenance, responses=errors(400, 401, 403, 404, 409))
def video_provenance(video_id: VideoIdPath, tenant: TenantDep, service: ServiceDep) -> Provenance:
    """The video's content credential: its AIGC label and C2PA manifest, and whether the signature validates."""
    return service.provenance(tenant, video_id)


@router.post(
    "/{video_id}/remix",
    response_model=Video,
    responses=errors(400, 401, 403, 404, 409, 413, 415, 429),
    openapi_extra=request_body(VideoRemixRequest),
)
async def remix_video(
    video_id: VideoIdPath, request: Request, tenant: TenantDep, service: ServiceDep
) -> Video:
    """A new video from a completed one and a new prompt."""
    await run_in_threadpool(service.admit, tenant)
    fields, _ = await read_body(request, BodyLimits(SMALL_BODY_BYTES, 0))
    req = validate(VideoRemixRequest, fields)
    return await run_in_threadpool(service.remix, tenant, video_id, req)


@router.get(
    "/{video_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `video.<status>` with the video object at each change, until "
            "it completes, fails or is deleted (`video.deleted`), or `events_max_seconds` pass",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **errors(400, 401, 403, 404),
    },
)
def video_events(
    video_id: VideoIdPath,
    request: Request,
    tenant: TenantDep,
    service: ServiceDep,
    settings: SettingsDep,
) -> StreamingResponse:
    service.retrieve(tenant, video_id)  # 404 before the stream starts
    return StreamingResponse(
        _event_stream(service, tenant, video_id, request, settings.poll_seconds, settings.events_max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _event_stream(
    service: VideoService, tenant: Tenant, video_id: str, request: Request, poll: float, max_seconds: float
) -> AsyncIterator[str]:
    """Server-sent events: one `video` event per change of the object, until it finishes or is deleted."""
    last: str | None = None
    last_sent = started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        if await request.is_disconnected():
            return
        video = await run_in_threadpool(service.find, tenant, video_id)
        if video is None:
            gone = {"id": video_id, "object": "video.deleted", "deleted": True}
            yield f"event: video.deleted\ndata: {json.dumps(gone)}\n\n"
            return
        text = json.dumps(video.model_dump(mode="json"))
        if text != last:
            last, last_sent = text, time.monotonic()
            yield f"event: video.{video.status}\ndata: {text}\n\n"
            if video.status in ("completed", "failed"):
                return
        elif time.monotonic() - last_sent > 15:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll)
