"""FastAPI routes of the video API (OpenAI's /v1/videos + Kinema extras) and the web studio at `/`.

Routes parse and authenticate, then call `VideoService`. Every error is OpenAI's shape
`{"error": {"message", "type", "param", "code"}}`; bad input is a 4xx whose message says what to change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from kinema.serving.auth import LOCAL_TENANT, Tenant, tenant_for_key
from kinema.serving.registry import ModelRegistry
from kinema.serving.schemas import VideoCreateRequest, VideoExtendRequest, VideoRemixRequest, error_body
from kinema.serving.service import VideoService
from kinema.serving.settings import ServeSettings
from kinema.serving.storage import Storage
from kinema.serving.store import JobStore
from kinema.serving.validation import ApiError, Upload

log = logging.getLogger("kinema.serve")
STATIC_DIR = Path(__file__).parent / "static"
# Fields that arrive as nested objects; in a multipart form they may also come as a JSON string.
JSON_FIELDS = {"camera_control", "trajectories", "input_reference", "image_tail", "video"}
POLL_AFTER_MS = "500"


def create_app(
    settings: ServeSettings,
    store: JobStore | None = None,
    registry: ModelRegistry | None = None,
    start_webhooks: bool = True,
) -> FastAPI:
    store = store or JobStore(settings.database_url())
    registry = registry or ModelRegistry.discover(
        settings.models_dir, settings.models, settings.default_model
    )
    storage = Storage(settings.data_dir)
    service = VideoService(store, storage, registry, settings)
    auth = _Auth(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sender = None
        if start_webhooks:
            from kinema.serving.webhooks import WebhookSender

            sender = WebhookSender(store, settings)
            sender.start()
            where = (
                "KINEMA_WEBHOOK_SECRET"
                if settings.webhook_secret
                else Path(settings.data_dir) / "webhook_secret"
            )
            log.info("webhooks are signed with the secret in %s", where)
        janitor_stop = threading.Event()
        threading.Thread(
            target=_janitor, args=(service, janitor_stop), name="kinema-janitor", daemon=True
        ).start()
        yield
        janitor_stop.set()
        if sender is not None:
            sender.stop_event.set()

    app = FastAPI(title="Kinema", version="1", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.service = service
    app.state.store = store

    _install_error_handlers(app)
    tenant_dep = Depends(auth)

    @app.post("/v1/videos")
    async def create_video(request: Request, tenant: Tenant = tenant_dep) -> JSONResponse:
        fields, uploads = await _read_body(request, settings, files=("input_reference", "image_tail"))
        req = _validate(VideoCreateRequest, fields)
        return JSONResponse(await run_in_threadpool(service.create, tenant, req, uploads))

    @app.get("/v1/videos")
    def list_videos(
        after: str | None = None,
        limit: int = Query(20),
        order: str = "desc",
        tenant: Tenant = tenant_dep,
    ) -> JSONResponse:
        return JSONResponse(service.list(tenant, after, limit, order))

    @app.post("/v1/videos/extensions")
    async def extend_video(request: Request, tenant: Tenant = tenant_dep) -> JSONResponse:
        fields, uploads = await _read_body(
            request, settings, files=("video",), max_file_bytes=settings.max_video_upload_bytes
        )
        req = _validate(VideoExtendRequest, fields)
        return JSONResponse(await run_in_threadpool(service.extend, tenant, req, uploads.get("video")))

    @app.get("/v1/videos/{video_id}")
    def retrieve_video(video_id: str, tenant: Tenant = tenant_dep) -> JSONResponse:
        job = service.get(tenant, video_id)
        return JSONResponse(service.public(job), headers={"openai-poll-after-ms": POLL_AFTER_MS})

    @app.delete("/v1/videos/{video_id}")
    def delete_video(video_id: str, tenant: Tenant = tenant_dep) -> JSONResponse:
        return JSONResponse(service.delete(tenant, video_id))

    @app.get("/v1/videos/{video_id}/content")
    def video_content(video_id: str, variant: str = "video", tenant: Tenant = tenant_dep) -> FileResponse:
        path, media_type = service.content(tenant, video_id, variant)
        return FileResponse(path, media_type=media_type, filename=f"{video_id}{path.suffix}")

    @app.post("/v1/videos/{video_id}/remix")
    async def remix_video(video_id: str, request: Request, tenant: Tenant = tenant_dep) -> JSONResponse:
        fields, _ = await _read_body(request, settings)
        req = _validate(VideoRemixRequest, fields)
        return JSONResponse(await run_in_threadpool(service.remix, tenant, video_id, req))

    @app.get("/v1/videos/{video_id}/events")
    def video_events(video_id: str, request: Request, tenant: Tenant = tenant_dep) -> StreamingResponse:
        service.get(tenant, video_id)  # 404 before the stream starts
        return StreamingResponse(
            _event_stream(service, tenant, video_id, request, settings.poll_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/models")
    def list_models(tenant: Tenant = tenant_dep) -> JSONResponse:
        return JSONResponse(service.models())

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        return {"ok": True, "models": list(registry.models)}

    @app.get("/v1/config")
    def public_config() -> dict[str, Any]:
        """What the studio needs before it has a key: whether one is required, and the limits."""
        return {
            "auth_required": auth.required(),
            "max_prompt_chars": settings.max_prompt_chars,
            "max_seconds": settings.max_seconds,
            "default_model": registry.default,
        }

    @app.get("/", include_in_schema=False)
    def studio() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _janitor(service: VideoService, stop: threading.Event, every: float = 600.0) -> None:
    """Delete expired outputs every 10 minutes (the first pass looks at everything that ever expired)."""
    since = 0.0
    while not stop.is_set():
        now = time.time()
        try:
            removed = service.remove_expired_outputs(since, now)
            if removed:
                log.info("removed the files of %d expired videos", removed)
            since = now
        except Exception:
            log.exception("janitor pass failed")
        stop.wait(every)


class _Auth:
    """The request's tenant, from `Authorization: Bearer <key>` (policy: see settings.py)."""

    def __init__(self, store: JobStore, settings: ServeSettings) -> None:
        self.store = store
        self.mode = settings.auth
        self._has_keys: tuple[float, bool] = (0.0, False)

    def required(self) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        checked, has = self._has_keys
        if time.monotonic() - checked > 1.0:  # keys created while the server runs take effect within 1 s
            has = self.store.has_keys()
            self._has_keys = (time.monotonic(), has)
        return has

    def __call__(self, request: Request) -> Tenant:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not self.required():
            return LOCAL_TENANT
        if not key:
            raise ApiError(
                401,
                "Missing API key: send `Authorization: Bearer <key>` (an admin creates keys with `kinema keys create`).",
                None,
                "missing_api_key",
                "invalid_request_error",
            )
        tenant = tenant_for_key(self.store, key)
        if tenant is None:
            raise ApiError(
                401, "Invalid API key: check the key you send, or ask for a new one.", None, "invalid_api_key"
            )
        return tenant


async def _read_body(
    request: Request,
    settings: ServeSettings,
    files: tuple[str, ...] = (),
    max_file_bytes: int | None = None,
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """JSON or multipart/form-data → (fields, uploaded files); `files` = the fields that may be uploads."""
    max_file = max_file_bytes or settings.max_upload_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length")
    limit = max_file * 2 + 1_000_000
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(
            413,
            f"The request body is {length} bytes; keep it under {limit} bytes.",
            None,
            "request_too_large",
        )
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_part_size=1_000_000)
        except Exception as exc:
            raise ApiError(
                400, f"The form body could not be parsed ({exc}); send valid multipart/form-data.", None
            ) from None
        fields: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key not in files:
                    allowed = (
                        f"only {', '.join(files)} may be uploaded" if files else "this route takes no files"
                    )
                    raise ApiError(
                        400, f"Unexpected file field `{key}`; {allowed}.", key, "unknown_parameter"
                    )
                data = await value.read(max_file + 1)
                uploads[key] = Upload(data, value.content_type, value.filename)
                if len(data) > max_file:
                    raise ApiError(
                        413,
                        f"`{key}` is larger than {max_file} bytes; upload a smaller file.",
                        key,
                        "file_too_large",
                    )
            else:
                _set_form_field(fields, key, value)
        return fields, uploads
    if content_type in ("application/json", ""):
        raw = await request.body()
        if not raw:
            raise ApiError(
                400, 'The request body is empty; send a JSON object such as {"prompt": "..."}.', None
            )
        try:
            body = json.loads(raw)
        except RecursionError:
            raise ApiError(
                400, "The request body is nested too deeply; send a flat JSON object.", None
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, f"The request body is not valid JSON ({exc.args[0] if exc.args else exc}).", None
            ) from None
        if not isinstance(body, dict):
            raise ApiError(400, 'The request body must be a JSON object such as {"prompt": "..."}.', None)
        return body, {}
    raise ApiError(
        415,
        f"Content-Type {content_type!r} is not supported; send application/json or multipart/form-data.",
        None,
        "unsupported_media_type",
    )


def _set_form_field(fields: dict[str, Any], key: str, value: str) -> None:
    """`a[b][c]=v` → {"a": {"b": {"c": v}}}; `a[]=v` appends; JSON strings for object fields are parsed."""
    base, _, rest = key.partition("[")
    parts = [p.rstrip("]") for p in rest.split("[")] if rest else []
    if not parts:
        if base in JSON_FIELDS and value[:1] in "{[":
            try:
                fields[base] = json.loads(value)
                return
            except json.JSONDecodeError:
                raise ApiError(400, f"`{base}` is not valid JSON.", base) from None
        fields[base] = value
        return
    node: Any = fields.setdefault(base, [] if parts[0] == "" else {})
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            if not isinstance(node, list):
                raise ApiError(400, f"Form field `{key}` mixes list and object syntax.", base)
            if last:
                node.append(value)
            else:
                node.append([] if parts[i + 1] == "" else {})
                node = node[-1]
        else:
            if not isinstance(node, dict):
                raise ApiError(400, f"Form field `{key}` mixes list and object syntax.", base)
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if parts[i + 1] == "" else {})


def _validate(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise _validation_api_error(exc.errors(), model) from None


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for p in parts:
        text += f"[{p}]" if p.isdigit() else (f".{p}" if text else p)
    return text


def _validation_api_error(errors: list[dict[str, Any]], model: type[BaseModel] | None = None) -> ApiError:
    # Pydantic reports one error per union branch; the first is the one a person can act on.
    err = errors[0]
    param = _loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None and "." not in param else ""
        hint = f" Allowed fields: {allowed}." if allowed else ""
        return ApiError(400, f"Unknown field `{param}`; remove it.{hint}", param, "unknown_parameter")
    if kind == "missing":
        return ApiError(400, f"Missing required field `{param}`.", param, "missing_required_parameter")
    return ApiError(400, f"Invalid value for `{param}`: {err.get('msg', 'invalid')}.", param, "invalid_value")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.message, exc.type, exc.param, exc.code), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = _validation_api_error(list(exc.errors()))
        return JSONResponse(error_body(err.message, err.type, err.param, err.code), err.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}; see /docs for the API."
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}."
        return JSONResponse(
            error_body(message, "invalid_request_error"), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(f"Internal error ({type(exc).__name__}); the server log has details.", "server_error"),
            500,
        )


async def _event_stream(service: VideoService, tenant: Tenant, video_id: str, request: Request, poll: float):
    """Server-sent events: one `video` event per change of the object, until it finishes or is deleted."""
    last: str | None = None
    last_sent = time.monotonic()
    while True:
        if await request.is_disconnected():
            return
        job = await run_in_threadpool(service.store.get, video_id, tenant.id)
        if job is None:
            yield f"event: video.deleted\ndata: {json.dumps({'id': video_id, 'deleted': True})}\n\n"
            return
        obj = await run_in_threadpool(service.public, job)
        text = json.dumps(obj)
        if text != last:
            last, last_sent = text, time.monotonic()
            yield f"event: video.{obj['status']}\ndata: {text}\n\n"
            if obj["status"] in ("completed", "failed"):
                return
        elif time.monotonic() - last_sent > 15:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll)
