"""Which web pages may use the API from a browser (issue 15, item 11).

A browser sends a cross-origin "simple" POST (a multipart form, say) without asking first, and CORS only
hides the answer from the page — the job is queued all the same. On a key-less laptop server that lets any
web site queue jobs. So a state-changing request (POST, PUT, PATCH, DELETE) that carries an `Origin` other
than the server's own is refused with 403 unless the origin is listed in `ServeSettings.cors_origins`;
requests without an Origin (curl, SDKs, the `openai` client) and the studio (same origin) are unaffected.
Listed origins get the usual CORS answers from Starlette's `CORSMiddleware` (preflights included).
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from kinema.serving.errors import error_body
from kinema.serving.settings import ServeSettings

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class OriginGuard:
    """ASGI middleware: 403 for state-changing requests from origins that are neither this server's nor
    listed."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {o.rstrip("/").lower() for o in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is None or self._same_origin(origin, scope, headers) or origin.lower() in self.allowed:
            return await self.app(scope, receive, send)
        body = json.dumps(
            error_body(
                f"Requests from web pages on {origin} may not create or change videos here; an operator "
                "allows an origin with KINEMA_CORS_ORIGINS (or call the API without a browser).",
                "invalid_request_error",
                None,
                "cross_origin_refused",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _same_origin(origin: str, scope: Scope, headers: dict[str, str]) -> bool:
        host = headers.get("host")
        if not host:
            return False
        scheme = scope.get("scheme", "http")
        return origin.rstrip("/").lower() == f"{scheme}://{host}".lower()


def install_origin_policy(app: FastAPI, settings: ServeSettings) -> None:
    # Added last = outermost: the guard answers before CORS headers or routes are involved.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "openai-poll-after-ms"],
        )
    app.add_middleware(OriginGuard, allowed=settings.cors_origins)
