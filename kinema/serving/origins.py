"""Which web pages may use the API from a browser (issue 15, item 11).

A browser sends a cross-origin "simple" POST (a multipart form, say) without asking first, and CORS only
hides the answer from the page — the job is queued all the same. On a key-less laptop server that lets any
web site queue jobs. So a state-changing request (POST, PUT, PATCH, DELETE) that carries an `Origin` other
than the server's own is refused with 403 unless the origin is listed in `ServeSettings.cors_origins`;
requests without an Origin (curl, SDKs, the `openai` client) and the studio (same origin) are unaffected.
Listed origins get the usual CORS answers from Starlette's `CORSMiddleware` (preflights included).

The Origin check alone trusts the Host header, and DNS rebinding forges both: a page on evil.example whose
name re-resolves to 127.0.0.1 sends `Host: evil.example:PORT` with the matching `Origin` — same-origin by
every header, so a key-less server queued and listed its jobs (issue 29, defect 1). `HostGuard` therefore
refuses (400) any request whose Host is a name the server was not started for: loopback names, IP
literals (a rebinding needs a name), the address it listens on, and `ServeSettings.allowed_hosts`.
"""

from __future__ import annotations

import ipaddress
import json

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from kinema.serving.errors import error_body
from kinema.serving.settings import ServeSettings

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


async def _refuse(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps(error_body(message, "invalid_request_error", None, code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def host_name(host: str) -> str:
    """`Host` without its port, lower case, brackets of an IPv6 literal removed, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


class HostGuard:
    """ASGI middleware: 400 for a request whose Host names the server by a name it was not started for."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.names = {n.lower().rstrip(".") for n in (*LOOPBACK_NAMES, *allowed) if not n.startswith("*.")}
        self.suffixes = tuple(n.lower()[1:] for n in allowed if n.startswith("*."))

    def allows(self, host: str) -> bool:
        name = host_name(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
            return True  # an address is no name to re-resolve
        except ValueError:
            pass
        return name in self.names or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if host is None or self.allows(host):  # HTTP/1.0 without Host names nothing to rebind
            return await self.app(scope, receive, send)
        await _refuse(
            send,
            400,
            f"This server is not served under the name {host_name(host)!r}; an operator adds a name clients "
            "use with --allowed-host (KINEMA_ALLOWED_HOSTS), or call it by localhost or its IP address.",
            "host_not_allowed",
        )


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
        await _refuse(
            send,
            403,
            f"Requests from web pages on {origin} may not create or change videos here; an operator "
            "allows an origin with KINEMA_CORS_ORIGINS (or call the API without a browser).",
            "cross_origin_refused",
        )

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
    names = list(settings.allowed_hosts)
    if settings.host not in ("0.0.0.0", "::", ""):
        names.append(settings.host)  # the name it was told to listen on
    app.add_middleware(HostGuard, allowed=names)
