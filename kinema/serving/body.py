"""Request bodies, read as they stream in: JSON or multipart/form-data → (fields, uploaded files).

Limits apply to the bytes as they arrive, not to a declared Content-Length (a chunked body declares none):
the body stops being read at its limit, a file part at its own, and the answer is a 413 (issue 15, item 2:
a chunked 200 MB upload was spooled to disk in full, and a chunked JSON body buffered in full, before the
refusal). Image files stay in memory (they are at most `max_upload_bytes`); a video file goes straight to
a spool file in the data folder (`Storage.spool_path`), removed when the request is refused.

Text is checked for what the database cannot store: a lone UTF-16 surrogate (`"\\ud800"`, valid JSON, not
valid UTF-8) is a 400 that names its field, and an integer of more than 100 digits reads as infinity, so
the field's own range check answers (Python refuses to parse one of 4,300 digits at all).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from kinema.serving.errors import ApiError, storage_error

# Fields that arrive as nested objects; in a multipart form they may also come as a JSON string.
JSON_FIELDS = {"camera_control", "trajectories", "input_reference", "image_tail", "video"}
MAX_FORM_FIELD_BYTES = 1_000_000  # one text part of a form (a JSON camera path or trajectory list)
MAX_FORM_PARTS = 64
MAX_INT_DIGITS = 100


@dataclass
class Upload:
    """An uploaded file as it arrived: its bytes (in memory) or its spool file, plus the declared type."""

    data: bytes = b""
    content_type: str | None = None
    filename: str | None = None
    path: Path | None = None  # set for files spooled to disk (videos); the service moves it into place
    size: int = 0

    def discard(self) -> None:
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


@dataclass(frozen=True)
class BodyLimits:
    body_bytes: int  # the whole body
    file_bytes: int  # each uploaded file
    files: tuple[str, ...] = ()  # the fields that may be files
    spool: tuple[str, ...] = ()  # of those, the ones written to disk as they arrive
    spool_dir: Path | None = None
    json_bytes: int | None = None  # a JSON or URL-encoded body, when less than body_bytes (no files in it)

    @property
    def text_bytes(self) -> int:
        return min(self.body_bytes, self.json_bytes or self.body_bytes)


async def read_body(request: Request, limits: BodyLimits) -> tuple[dict[str, Any], dict[str, Upload]]:
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    length = request.headers.get("content-length")
    limit = limits.body_bytes if kind == "multipart/form-data" else limits.text_bytes
    if length and length.isdigit() and int(length) > limit:
        raise _too_large(int(length), limit)
    if kind == "multipart/form-data":
        return await _read_multipart(request, content_type, limits)
    if kind in ("application/json", ""):
        return _parse_json(await _read_all(request, limits.text_bytes)), {}
    if kind == "application/x-www-form-urlencoded":
        return _parse_urlencoded(await _read_all(request, limits.text_bytes)), {}
    raise ApiError(
        415,
        f"Content-Type {kind!r} is not supported; send application/json or multipart/form-data.",
        None,
        "unsupported_media_type",
    )


def _too_large(size: int | None, limit: int) -> ApiError:
    shown = f"is {size} bytes" if size is not None else "is over the limit"
    return ApiError(413, f"The request body {shown}; keep it under {limit} bytes.", None, "request_too_large")


async def _read_all(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(None if not request.headers.get("content-length") else total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise ApiError(400, 'The request body is empty; send a JSON object such as {"prompt": "..."}.', None)
    try:
        body = json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise ApiError(400, "The request body is nested too deeply; send a flat JSON object.", None) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, f"The request body is not valid JSON ({exc.args[0] if exc.args else exc}).", None
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, 'The request body must be a JSON object such as {"prompt": "..."}.', None)
    check_text(body)
    return body


def _parse_urlencoded(raw: bytes) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    text = _decode(raw, "The form body")
    fields: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_PARTS, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(
            400, "The form body is not valid UTF-8 text; send UTF-8.", None, "invalid_value"
        ) from None
    except ValueError as exc:
        raise ApiError(
            400, f"The form body could not be parsed ({exc}); send fewer or valid fields.", None
        ) from None
    for key, value in pairs:
        check_text(value, key)
        set_form_field(fields, key, value)
    return fields


def _parse_int(text: str) -> int | float:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def check_text(value: Any, path: str = "") -> None:
    """400 on the first string (key or value) that is not valid Unicode text (a lone surrogate)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            where = f"`{path}`" if path else "The request body"
            raise ApiError(
                400,
                f"{where} contains an unpaired UTF-16 surrogate (such as \\ud800), which is not text; "
                "send valid Unicode.",
                path or None,
                "invalid_value",
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{path}[{i}]")


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.filename: str | None = None
        self.content_type: str | None = None
        self.data = bytearray()
        self.size = 0
        self.file: Any = None  # the spool file object of a spooled part
        self.path: Path | None = None


class _MultipartReader:
    """python-multipart's streaming parser with Kinema's limits; parts become fields or Uploads."""

    def __init__(self, limits: BodyLimits) -> None:
        self.limits = limits
        self.fields: list[tuple[str, str]] = []
        self.uploads: dict[str, Upload] = {}
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.parts = 0
        self.error: ApiError | None = None

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.parts += 1
        if self.parts > MAX_FORM_PARTS:
            raise ApiError(400, f"The form has more than {MAX_FORM_PARTS} parts; send fewer fields.", None)

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        part = self.part
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise ApiError(400, "A form part has no name; every part needs Content-Disposition: name.", None)
        part.name = _decode(options[b"name"], "a form field name")
        if b"filename" in options:
            part.filename = _decode(options[b"filename"], f"the file name of `{part.name}`")
            declared = part.headers.get(b"content-type")
            part.content_type = (
                _decode(declared, part.name).split(";")[0].strip().lower() if declared else None
            )
            files = self.limits.files
            if part.name not in files:
                allowed = f"only {', '.join(files)} may be uploaded" if files else "this route takes no files"
                raise ApiError(
                    400, f"Unexpected file field `{part.name}`; {allowed}.", part.name, "unknown_parameter"
                )
            if part.name in self.uploads:
                raise ApiError(400, f"`{part.name}` is uploaded twice; send one file.", part.name)
            if part.name in self.limits.spool and self.limits.spool_dir is not None:
                from kinema.io.atomic import temp_path_for

                self.limits.spool_dir.mkdir(parents=True, exist_ok=True)
                part.path = temp_path_for(self.limits.spool_dir / f"{part.name}.upload")
                part.file = open(part.path, "wb")  # noqa: SIM115 - closed in on_part_end / cleanup

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        part.size += end - start
        if part.filename is None:
            if part.size > MAX_FORM_FIELD_BYTES:
                raise ApiError(
                    413,
                    f"Form field `{part.name}` is larger than {MAX_FORM_FIELD_BYTES} bytes; shorten it.",
                    part.name,
                    "field_too_large",
                )
        elif part.size > self.limits.file_bytes:
            raise ApiError(
                413,
                f"`{part.name}` is larger than {self.limits.file_bytes} bytes; upload a smaller file.",
                part.name,
                "file_too_large",
            )
        if part.file is not None:
            part.file.write(data[start:end])
        else:
            part.data.extend(data[start:end])

    def on_part_end(self) -> None:
        part = self.part
        if part.filename is None:
            self.fields.append((part.name, _decode(bytes(part.data), f"`{part.name}`", part.name)))
            return
        if part.file is not None:
            part.file.flush()
            os.fsync(part.file.fileno())
            part.file.close()
            part.file = None
        self.uploads[part.name] = Upload(
            bytes(part.data), part.content_type, part.filename, part.path, part.size
        )

    def cleanup(self) -> None:
        if self.part.file is not None:
            self.part.file.close()
        for path in [self.part.path, *(u.path for u in self.uploads.values())]:
            if path is not None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass


def _decode(data: bytes, what: str, param: str | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not valid UTF-8 text; send UTF-8.", param, "invalid_value") from None


async def _read_multipart(
    request: Request, content_type: str, limits: BodyLimits
) -> tuple[dict[str, Any], dict[str, Upload]]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "The multipart body has no boundary; send valid multipart/form-data.", None)
    reader = _MultipartReader(limits)
    callbacks = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.body_bytes:
                raise _too_large(None, limits.body_bytes)
            parser.write(chunk)
        parser.finalize()
    except ApiError:
        reader.cleanup()
        raise
    except OSError as exc:  # spooling a file failed (a full disk): the server's fault, not the body's
        reader.cleanup()
        raise storage_error(exc) from None
    except Exception as exc:  # the parser's own errors: a malformed body
        reader.cleanup()
        raise ApiError(
            400, f"The form body could not be parsed ({exc}); send valid multipart/form-data.", None
        ) from None
    fields: dict[str, Any] = {}
    try:
        for key, value in reader.fields:
            set_form_field(fields, key, value)
    except ApiError:
        reader.cleanup()
        raise
    return fields, reader.uploads


def set_form_field(fields: dict[str, Any], key: str, value: str) -> None:
    """`a[b][c]=v` → {"a": {"b": {"c": v}}}; `a[]=v` appends; JSON strings for object fields are parsed."""
    base, _, rest = key.partition("[")
    parts = [p.rstrip("]") for p in rest.split("[")] if rest else []
    if not parts:
        if base in JSON_FIELDS and value[:1] in "{[":
            try:
                fields[base] = json.loads(value, parse_int=_parse_int)
                return
            except (json.JSONDecodeError, RecursionError):
                raise ApiError(400, f"`{base}` is not valid JSON.", base) from None
        fields[base] = value
        return
    node: Any = fields.setdefault(base, [] if parts[0] == "" else {})
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            if not isinstance(node, list):
                raise ApiError(400, f"Form field `{key}` mixes list and object syntax.", base)
            if last:
                node.append(value)
            else:
                node.append([] if parts[i + 1] == "" else {})
                node = node[-1]
        else:
            if not isinstance(node, dict):
                raise ApiError(400, f"Form field `{key}` mixes list and object syntax.", base)
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if parts[i + 1] == "" else {})
