"""Every error the API answers, in OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.

`ApiError` is what services and dependencies raise; the handlers here turn it (and FastAPI's, Starlette's
and pydantic's own errors) into that body, so no route ever answers a bare 422 or an HTML page.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kinema.serve")


class ApiError(Exception):
    """An error answered to the client as OpenAI's {"error": {message, type, param, code}}."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_
        self.headers = headers or {}


def storage_error(exc: OSError) -> ApiError:
    """An OSError met while storing a request's files, told without the server's paths (issue 29,
    defect 5: a full disk was a 400 "form body could not be parsed" naming a spool file): a full disk or
    quota is 507, anything else 503; both say when to retry."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ApiError(
            507,
            "The server has no storage space left for this request; try again later.",
            None,
            "insufficient_storage",
            "server_error",
            headers={"Retry-After": "60"},
        )
    return ApiError(
        503,
        f"The server could not store this request ({exc.strerror or 'I/O error'}); try again later.",
        None,
        "storage_unavailable",
        "server_error",
        headers={"Retry-After": "10"},
    )


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.message, exc.type, exc.param, exc.code), exc.status, headers=exc.headers
    )


def validate(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    """`model.model_validate(fields)`, its first error as a 400 that names the field."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise validation_api_error(exc.errors(), model) from None


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for p in parts:
        text += f"[{p}]" if p.isdigit() else (f".{p}" if text else p)
    return text


def validation_api_error(errors: list[dict[str, Any]], model: type[BaseModel] | None = None) -> ApiError:
    # Pydantic reports one error per union branch; the first is the one a person can act on.
    err = errors[0]
    param = _loc(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None and "." not in param else ""
        hint = f" Allowed fields: {allowed}." if allowed else ""
        return ApiError(400, f"Unknown field `{param}`; remove it.{hint}", param, "unknown_parameter")
    if kind == "missing":
        return ApiError(400, f"Missing required field `{param}`.", param, "missing_required_parameter")
    if kind == "string_too_short" or (
        kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == r"\S"
    ):
        # The schema's non-blank text (schemas.Prompt): the words a person needs, not the regex.
        what = "describe the video you want in a few words" if param.endswith("prompt") else "write some text"
        return ApiError(400, f"`{param}` is empty; {what}.", param, "invalid_value")
    if kind == "string_pattern_mismatch" and param.endswith("callback_url"):
        got = str(err.get("input", ""))[:100]
        return ApiError(400, f"`{param}` must be an http(s) URL; got {got!r}.", param, "invalid_callback_url")
    if kind == "finite_number":  # body.py reads an integer of more than 100 digits as infinity
        return ApiError(
            400,
            f"Invalid value for `{param}`: the number is too large; send one in the field's documented range.",
            param,
            "invalid_value",
        )
    return ApiError(400, f"Invalid value for `{param}`: {err.get('msg', 'invalid')}.", param, "invalid_value")


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """The methods of the route this path names (Starlette's own 405 names only the first route's).

    A path may match several templates: `/v1/videos/extensions` matches its own and `/v1/videos/{video_id}`.
    The path names the most specific one — the template with the fewest parameters, as /openapi.json lists
    it — so `Allow` is that template's methods, not every template's (issue 29, defect 9: OPTIONS on
    /extensions answered `Allow: DELETE, GET, HEAD, POST`). `app.state.method_table` is (path regex,
    methods) of every route, set by app.py."""
    path = request.url.path
    matches = [
        (len(regex.groupindex), route_methods)
        for regex, route_methods in getattr(app.state, "method_table", ())
        if regex.match(path)
    ]
    if not matches:
        return []
    fewest = min(n for n, _ in matches)
    return sorted({m for n, route_methods in matches if n == fewest for m in route_methods})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_api_error(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        headers = dict(exc.headers or {})
        code = None
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}; see /docs for the API."
            code = "not_found"
        elif exc.status_code == 405:
            allow = allowed_methods(app, request)
            headers["Allow"] = ", ".join(allow)
            message = (
                f"Method {request.method} is not allowed on {request.url.path}; it answers "
                f"{', '.join(allow)} (see /docs for the API)."
            )
            code = "method_not_allowed"
        return JSONResponse(
            error_body(message, "invalid_request_error", None, code), exc.status_code, headers=headers
        )

    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("out of storage space on %s %s: %s", request.method, request.url.path, exc)
            return error_response(storage_error(exc))
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(f"Internal error ({type(exc).__name__}); the server log has details.", "server_error"),
            500,
        )
