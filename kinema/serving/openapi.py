"""Making /openapi.json true (issue 15, item 12).

Routes read their bodies themselves (body.py streams them under byte limits, as JSON or as a multipart
form), so FastAPI cannot see the request models; `request_body` declares them, and `install_openapi`
adds the models to the spec's components. Every route lists the errors it can answer (`errors(...)`), all
in OpenAI's `Error` shape; FastAPI's default 422 (which this API never returns: validation errors are 400)
is removed.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kinema.serving.schemas import Error

ERROR_DESCRIPTIONS = {
    400: "Bad request: a field is missing, unknown or out of range (`error.param` names it)",
    401: "Missing or invalid API key",
    403: "A web page on another origin may not change videos here",
    404: "No such video (or not yours), or no such route",
    405: "Method not allowed on this path (`Allow` lists the allowed ones)",
    409: "The video is not completed yet",
    413: "The body, a file or an image is too large",
    415: "Unsupported Content-Type or file format",
    429: "Concurrency limit or quota reached (`Retry-After` says when to retry)",
}
REF = "#/components/schemas/{model}"
# What a client can do next with a video it was answered (OpenAPI links: the id feeds these operations;
# stateful fuzzers follow them). The event stream is left out: it stays open until the video ends.
VIDEO_LINKS = {
    "RetrieveVideo": ("/v1/videos/{video_id}", "get"),
    "DeleteVideo": ("/v1/videos/{video_id}", "delete"),
    "DownloadContent": ("/v1/videos/{video_id}/content", "get"),
    "RemixVideo": ("/v1/videos/{video_id}/remix", "post"),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: these error statuses, each with OpenAI's error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": Error, "description": ERROR_DESCRIPTIONS[code]}
        if code == 429:
            entry["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
        out[code] = entry
    return out


def request_body(model: type[BaseModel], files: tuple[str, ...] = ()) -> dict[str, Any]:
    """`openapi_extra=` of a route that reads its own body: JSON, or a multipart form with these files."""
    schema = model.model_json_schema(ref_template=REF)
    form: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in files:
            form[name] = {"type": "string", "format": "binary", "description": "the file itself"}
        elif _is_scalar(prop):
            form[name] = {"type": "string", "description": prop.get("description", name)}
        else:
            form[name] = {"type": "string", "description": f"`{name}` as JSON text"}
    form_schema = {"type": "object", "properties": form, "required": schema.get("required", [])}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}},
                "multipart/form-data": {"schema": form_schema},
            },
        }
    }


def _is_scalar(prop: dict[str, Any]) -> bool:
    kinds = [prop] + list(prop.get("anyOf", []))
    return not any("$ref" in k or k.get("type") in ("object", "array") for k in kinds)


def _add_video_links(paths: dict[str, Any]) -> None:
    targets = {
        name: paths[p][m]["operationId"] for name, (p, m) in VIDEO_LINKS.items() if m in paths.get(p, {})
    }
    video = {"$ref": REF.format(model="Video")}
    for path in paths.values():
        for operation in path.values():
            ok = operation.get("responses", {}).get("200", {})
            if ok.get("content", {}).get("application/json", {}).get("schema") != video:
                continue
            if "requestBody" not in operation:
                continue  # only the operations that make a video
            ok["links"] = {
                name: {"operationId": op_id, "parameters": {"video_id": "$response.body#/id"}}
                for name, op_id in targets.items()
            }


def install_openapi(app: FastAPI, request_models: tuple[type[BaseModel], ...]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        _, defs = models_json_schema([(m, "validation") for m in request_models], ref_template=REF)
        components.update(defs.get("$defs", {}))
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        paths = spec.get("paths", {})
        for path in paths.values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        _add_video_links(paths)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
