"""`GET /v1/models`: the models this server offers (OpenAI's list, plus each model's size and modes)."""

from __future__ import annotations

from fastapi import APIRouter

from kinema.serving.deps import ServiceDep, TenantDep
from kinema.serving.openapi import errors
from kinema.serving.schemas import ModelList

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, responses=errors(401, 403))
def list_models(tenant: TenantDep, service: ServiceDep) -> ModelList:
    """Every model, with its native size, frame rate, frame limit, modes and options."""
    return service.models()
