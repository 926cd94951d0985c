"""Typed dependencies of the routes: the service, the settings and the request's tenant.

    def retrieve_video(video_id: str, tenant: TenantDep, service: ServiceDep) -> Video: ...

The tenant comes from `Authorization: Bearer <key>` (FastAPI's `HTTPBearer`, so /openapi.json declares
the scheme). Policy (`ServeSettings.auth`): "on" always needs a key, "off" never, and "auto" (the default)
needs one as soon as any key was ever created — revoked keys included, so revoking the last key closes the
server instead of opening it (issue 15, item 5). A revoked key never works. Keys are read from the database
on every request, so a key created or revoked by `kinema keys` in another process counts from the next one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kinema.serving.auth import LOCAL_TENANT, Tenant, tenant_for_key
from kinema.serving.errors import ApiError
from kinema.serving.key_store import KeyStore
from kinema.serving.service import VideoService
from kinema.serving.settings import ServeSettings

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key from `kinema keys create`, as `Authorization: Bearer kin-...`.",
)


class Auth:
    """Who is asking: the key's tenant, or the local tenant while the server needs no key."""

    def __init__(self, keys: KeyStore, settings: ServeSettings) -> None:
        self.keys = keys
        self.mode = settings.auth
        self._ever_had_keys = False

    def required(self) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        # Keys are revoked, never deleted, so once a key exists the answer stays True and is kept for good.
        # "No key yet" is never cached: every request asks the database (one row: 0.15 ms on SQLite, 0.5 ms
        # on PostgreSQL, about what checking a key costs; benchmarks/bench_auth_key_check.py), because
        # `kinema keys create` runs in another process and its key may be used on the very next request.
        # A cached "no key" (it was kept for a second) served such a request as the key-less local tenant,
        # and its video was then a 404 to the key that made it.
        if not self._ever_had_keys:
            self._ever_had_keys = self.keys.ever_had_keys()
        return self._ever_had_keys

    def tenant(self, key: str) -> Tenant:
        if not self.required():
            return LOCAL_TENANT
        if not key:
            raise ApiError(
                401,
                "Missing API key: send `Authorization: Bearer <key>` (an admin creates keys with `kinema keys create`).",
                None,
                "missing_api_key",
                "invalid_request_error",
                {"WWW-Authenticate": "Bearer"},
            )
        tenant = tenant_for_key(self.keys, key)
        if tenant is None:
            raise ApiError(
                401,
                "Invalid API key: check the key you send, or ask for a new one.",
                None,
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return tenant


def get_service(request: Request) -> VideoService:
    return request.app.state.service


def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def get_auth(request: Request) -> Auth:
    return request.app.state.auth


def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Tenant:
    key = credentials.credentials.strip() if credentials is not None else ""
    return get_auth(request).tenant(key)


ServiceDep = Annotated[VideoService, Depends(get_service)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
AuthDep = Annotated[Auth, Depends(get_auth)]
TenantDep = Annotated[Tenant, Depends(get_tenant)]
