"""Health, the studio's public config, and the studio itself (no key needed for any of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kinema.serving.deps import AuthDep, RegistryDep, SettingsDep
from kinema.serving.schemas import Health, ServerConfig

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
def health(registry: RegistryDep) -> dict[str, Any]:
    return {"ok": True, "models": list(registry.models)}


@router.get("/v1/config", response_model=ServerConfig)
def public_config(settings: SettingsDep, registry: RegistryDep, auth: AuthDep) -> dict[str, Any]:
    """What the studio needs before it has a key: whether one is required, and the limits."""
    return {
        "auth_required": auth.required(),
        "max_prompt_chars": settings.max_prompt_chars,
        "max_seconds": settings.max_seconds,
        "default_model": registry.default,
    }


@router.get("/", include_in_schema=False)
def studio() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
