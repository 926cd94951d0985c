"""`GET /metrics`: Prometheus's text format (metrics.py holds what it reports and how it is exposed)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kinema.serving.errors import ApiError

router = APIRouter(tags=["system"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The scrape; behind `metrics_key` when set, absent here when `metrics_port` moves it elsewhere."""
    settings = request.app.state.settings
    if settings.metrics_port is not None:
        raise ApiError(404, "No route GET /metrics; see /docs for the API.", None, "not_found")
    if settings.metrics_key:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_key}".encode()):
            raise ApiError(
                401,
                "GET /metrics needs the metrics key: send Authorization: Bearer <KINEMA_METRICS_KEY>.",
                None,
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
    body = generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
