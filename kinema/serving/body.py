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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from kinema.serving.errors import ApiError, storage_error

# Fields that arrive as nested objects; in a multipart form they may also come as a JSON string.
JSON_FIELDS = {"camera_control", "trajectories", "input_reference", "image_tail", "video", "guidance_interval"}
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


class BodyBudget:
    """The bytes of request bodies held in memory by all requests at once (issue 29, defect 2: ten concurrent
    50 MB JSON creates took the API from 214 to 979 MB RSS). Each request takes its bytes as they arrive and
    gives them back when it has been answered (`release_bodies`); a request whose next chunk would pass the
    limit is refused with 503 and Retry-After, and its bytes are given back at once. Only the event loop
    touches the count (read_body is async), so it needs no lock. Spooled video parts are on disk, not here."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0  # the most ever held at once (benchmarks/bench_serving_bodies.py reads RSS beside it)

    def take(self, request: Request, n: int) -> None:
        held = request.scope.setdefault("state", {}).setdefault(HELD_KEY, [0])
        if self.used + n > self.limit:
            raise ApiError(
                503,
                f"The server is reading {self.used} bytes of other requests' bodies (at most {self.limit} at "
                "once); retry in a moment.",
                None,
                "server_busy",
                "server_error",
                {"Retry-After": "1"},
            )
        self.used += n
        self.peak = max(self.peak, self.used)
        held[0] += n

    def give_back(self, scope: dict[str, Any]) -> None:
        held = scope.get("state", {}).get(HELD_KEY)
        if held and held[0]:
            self.used -= held[0]
            held[0] = 0


HELD_KEY = "kinema_body_bytes"


class ReleaseBodies:
    """ASGI middleware: a request's body bytes go back to the budget once it has been answered (or failed)."""

    def __init__(self, app: Any, budget: BodyBudget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            self.budget.give_back(scope)


def _budget(request: Request) -> BodyBudget | None:
    return getattr(request.app.state, "body_budget", None)


SNIFF_BYTES = 16  # a file part's first bytes, enough for every allowed format's signature


@dataclass(frozen=True)
class FileKind:
    """What a file field may hold, checked while the part streams in (issue 29, defect 6: a `video` part
    declared image/png, 200 MB long, was spooled in full before its 415): the declared media types it may
    carry (a part may declare none) and a test of its first `SNIFF_BYTES` bytes (the format's signature)."""

    media_types: tuple[str, ...]
    signature: Callable[[bytes], bool]
    names: str  # for messages: "an MP4 or MOV file ..."


@dataclass(frozen=True)
class BodyLimits:
    body_bytes: int  # the whole body
    file_bytes: int  # each uploaded file
    files: tuple[str, ...] = ()  # the fields that may be files
    spool: tuple[str, ...] = ()  # of those, the ones written to disk as they arrive
    spool_dir: Path | None = None
    json_bytes: int | None = None  # a JSON or URL-encoded body, when less than body_bytes (no files in it)
    kinds: Mapping[str, FileKind] = field(default_factory=dict)  # file field → what it may hold

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
    budget = _budget(request)
    if kind == "multipart/form-data":
        return await _read_multipart(request, content_type, limits, budget)
    if kind in ("application/json", ""):
        return _parse_json(await _read_all(request, limits.text_bytes, budget)), {}
    if kind == "application/x-www-form-urlencoded":
        return _parse_urlencoded(bytes(await _read_all(request, limits.text_bytes, budget))), {}
    raise ApiError(
        415,
        f"Content-Type {kind!r} is not supported; send application/json or multipart/form-data.",
        None,
        "unsupported_media_type",
    )


def _too_large(size: int | None, limit: int) -> ApiError:
    shown = f"is {size} bytes" if size is not None else "is over the limit"
    return ApiError(413, f"The request body {shown}; keep it under {limit} bytes.", None, "request_too_large")


async def _read_all(request: Request, limit: int, budget: BodyBudget | None = None) -> bytearray:
    """The body in one buffer (grown in place: no list of chunks joined into a second copy)."""
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise _too_large(
                None if not request.headers.get("content-length") else len(body) + len(chunk), limit
            )
        if budget is not None:
            budget.take(request, len(chunk))
        body += chunk
    return body


def _parse_json(raw: bytearray) -> dict[str, Any]:
    if not raw:
        raise ApiError(400, 'The request body is empty; send a JSON object such as {"prompt": "..."}.', None)
    try:
        # Decoded here, the raw buffer emptied before parsing: at most two copies of a large body are alive
        # at once (its text, then the text and the parsed value), not three.
        text = raw.decode("utf-8")
        raw.clear()
        body = json.loads(text, parse_int=_parse_int)
        del text
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
        if value.isascii():  # no copy: a 50 MB base64 string is not encoded just to be checked
            return
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
        self.head = b""  # the first SNIFF_BYTES bytes of a file part, until its signature is checked
        self.sniffed = False


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
            kind = self.limits.kinds.get(part.name)
            if kind is not None and part.content_type and part.content_type not in kind.media_types:
                raise _wrong_kind(part.name, kind, f"has media type {part.content_type}")
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
        elif not part.sniffed:
            part.head += data[start : min(end, start + SNIFF_BYTES - len(part.head))]
            if len(part.head) >= SNIFF_BYTES:
                self._sniff(part)
        if part.file is not None:
            part.file.write(data[start:end])
        else:
            part.data.extend(data[start:end])

    def _sniff(self, part: _Part) -> None:
        """415 as soon as a file part's first bytes are not its field's format (before the rest is read)."""
        part.sniffed = True
        kind = self.limits.kinds.get(part.name)
        if kind is not None and part.head and not kind.signature(part.head):
            raise _wrong_kind(part.name, kind, "does not start as such a file does")

    def on_part_end(self) -> None:
        part = self.part
        if part.filename is None:
            self.fields.append((part.name, _decode(bytes(part.data), f"`{part.name}`", part.name)))
            return
        if not part.sniffed:
            self._sniff(part)  # a file shorter than SNIFF_BYTES
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


def _wrong_kind(name: str, kind: FileKind, why: str) -> ApiError:
    return ApiError(415, f"`{name}` {why}; upload {kind.names}.", name, "unsupported_media_type")


def _decode(data: bytes, what: str, param: str | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not valid UTF-8 text; send UTF-8.", param, "invalid_value") from None


async def _read_multipart(
    request: Request, content_type: str, limits: BodyLimits, budget: BodyBudget | None = None
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
            spooled = reader.part.file is not None and reader.part.sniffed  # this chunk goes to disk
            if budget is not None and not spooled:
                budget.take(request, len(chunk))
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
