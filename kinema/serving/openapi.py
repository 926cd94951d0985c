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


FILE_TYPES = {
    "input_reference": "image/png, image/jpeg, image/webp",
    "image_tail": "image/png, image/jpeg, image/webp",
    "video": "video/mp4, video/quicktime",
}


def request_body(
    model: type[BaseModel],
    files: tuple[str, ...] = (),
    json: bool = True,
    required_files: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`openapi_extra=` of a route that reads its own body: JSON (unless `json=False`: a route whose body
    must carry a file), or a multipart form with these files (`required_files` among them)."""
    schema = model.model_json_schema(ref_template=REF)
    form: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in files:
            form[name] = {"type": "string", "format": "binary", "description": "the file itself"}
        elif _is_scalar(prop):
            form[name] = _form_scalar(name, prop)
        else:
            form[name] = {"type": "string", "description": f"`{name}` as JSON text"}
    for name in files:
        form.setdefault(name, {"type": "string", "format": "binary", "description": "the file itself"})
    required = [r for r in schema.get("required", []) if r not in files or r in required_files]
    form_schema = {
        "type": "object",
        "properties": form,
        "required": list(dict.fromkeys([*required, *required_files])),
        "additionalProperties": False,  # as in the JSON body: an unknown field is a 400, not ignored
    }
    form_body: dict[str, Any] = {"schema": form_schema}
    types = {n: FILE_TYPES[n] for n in files if n in FILE_TYPES}
    if types:  # what each file part may be (the server tells by its bytes: body.FileKind, validation.py)
        form_body["encoding"] = {n: {"contentType": t} for n, t in types.items()}
    content: dict[str, Any] = {"multipart/form-data": form_body}
    if json:
        content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}, **content}
    return {"requestBody": {"required": True, "content": content}}


def _form_scalar(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A scalar field as a form part: the field's own type and rules (a form part is text, but OpenAPI 3.1
    forms declare it by the value it carries: `cfg_scale` is a number from 0 to 30 there too; issue 29,
    defect 9). A nullable field's null branch is dropped: a form cannot send null, only leave a field out."""
    kinds = [k for k in prop.get("anyOf", [prop]) if k.get("type") != "null"]
    out: dict[str, Any] = {"description": prop.get("description", name)}
    if len(kinds) == 1:
        out.update({k: v for k, v in kinds[0].items() if k not in ("title", "default")})
    else:  # e.g. seconds: "4", 4 or 4.5
        out["anyOf"] = [{k: v for k, v in kind.items() if k != "title"} for kind in kinds]
    for key in ("enum", "const", "examples"):
        if key in prop:
            out[key] = prop[key]
    return out


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


# Pydantic writes a bound it cannot fold into the type (one behind a BeforeValidator: schemas.Int, Float) under
# its own name, which JSON Schema ignores: `num_inference_steps` read as any integer, 0 was schema-valid and a
# 400 (issue 29, defect 9). They are renamed to JSON Schema's keywords.
BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for ours, standard in BOUNDS.items():
                if ours in node:
                    node[standard] = node.pop(ours)
        for value in node.values():
            _standard_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _standard_bounds(value)


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
        _standard_bounds(spec)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
