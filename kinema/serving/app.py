"""The FastAPI application: wiring only. Routes live in `routes/` (one router per resource), their typed
dependencies in `deps.py`, errors in `errors.py`, the origin policy in `origins.py`, the spec's extras in
`openapi.py`, housekeeping in `janitor.py`.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kinema.serving.body import BodyBudget, ReleaseBodies
from kinema.serving.deps import Auth
from kinema.serving.errors import install_error_handlers
from kinema.serving.janitor import Janitor
from kinema.serving.metrics import KinemaCollector, make_registry, serve_separately
from kinema.serving.openapi import install_openapi
from kinema.serving.origins import install_origin_policy
from kinema.serving.registry import ModelRegistry
from kinema.serving.routes import ROUTERS
from kinema.serving.routes.system import STATIC_DIR
from kinema.serving.routes.videos import create_limits
from kinema.serving.schemas import (
    CharacterCreateRequest,
    VideoCreateRequest,
    VideoEditRequest,
    VideoExtendRequest,
    VideoRemixRequest,
)
from kinema.serving.service import VideoService
from kinema.serving.settings import ServeSettings
from kinema.serving.storage import make_storage
from kinema.serving.store import Store

log = logging.getLogger("kinema.serve")
DESCRIPTION = (
    "OpenAI's videos API (`client.videos.*`) with Kling's extras and Kinema's physics mode. "
    'Every error is `{"error": {message, type, param, code}}`.'
)


def create_app(
    settings: ServeSettings,
    store: Store | None = None,
    registry: ModelRegistry | None = None,
    start_webhooks: bool = True,
) -> FastAPI:
    store = store or Store(settings.database_url())
    registry = registry or ModelRegistry.from_settings(settings)
    storage = make_storage(settings)
    service = VideoService(store, storage, registry, settings)
    janitor = Janitor(service)

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
        janitor.start()  # its first pass sweeps what a crash left behind
        metrics_server = None
        if settings.metrics_port is not None:
            metrics_server = serve_separately(app.state.metrics_registry, settings)
        yield
        janitor.stop_event.set()
        if metrics_server is not None:
            metrics_server.shutdown()
        if sender is not None:
            sender.stop_event.set()

    app = FastAPI(
        title="Kinema",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    app.state.auth = Auth(store.keys, settings)
    app.state.janitor = janitor
    app.state.supervisor = None  # `kinema serve` sets its worker supervisor here (for /metrics)
    app.state.metrics = KinemaCollector(service, lambda: _supervised(app))
    app.state.metrics_registry = make_registry(app.state.metrics)
    budget = max(settings.max_body_bytes_in_flight, create_limits(settings).body_bytes)
    app.state.body_budget = BodyBudget(budget)

    install_error_handlers(app)
    app.add_middleware(ReleaseBodies, budget=app.state.body_budget)
    install_origin_policy(app, settings)
    for router in ROUTERS:
        app.include_router(router)
    app.state.method_table = [(r.path_regex, r.methods) for router in ROUTERS for r in router.routes]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(
        app,
        (VideoCreateRequest, VideoRemixRequest, VideoExtendRequest, VideoEditRequest, CharacterCreateRequest),
    )
    return app


def _supervised(app: FastAPI) -> tuple[int, int] | None:
    supervisor = app.state.supervisor
    return supervisor.stats() if supervisor is not None else None
