"""Health, the studio's public config, and the studio itself (no key needed for any of them)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kinema.serving.deps import AuthDep, ServiceDep
from kinema.serving.schemas import Health, ServerConfig

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
def health(service: ServiceDep) -> Health:
    return service.health()


@router.get("/v1/config", response_model=ServerConfig)
def public_config(service: ServiceDep, auth: AuthDep) -> ServerConfig:
    """What the studio needs before it has a key: whether one is required, and the limits."""
    return service.server_config(auth.required())


@router.get("/", include_in_schema=False)
def studio() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
