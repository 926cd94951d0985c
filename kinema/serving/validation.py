"""Turn a request into the exact numbers a generation needs, or an ApiError that says what to change.

Nothing here touches the database; the routes call these checks before anything is stored, so bad input
always ends as a 4xx with a message, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from kinema.errors import InvalidInputError, KinemaError
from kinema.pipelines import sizes
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.schemas import CameraControl, ReferenceObject, TrajectoryPoint
from kinema.serving.settings import ServeSettings

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


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


@dataclass
class Upload:
    """An uploaded file as it arrived: bytes plus the declared media type."""

    data: bytes
    content_type: str | None = None
    filename: str | None = None


@dataclass
class Geometry:
    width: int
    height: int
    num_frames: int
    fps: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def seconds(self) -> str:
        # (T - 1) / fps: 33 frames at 8 fps are 4 s of motion, which is what the user asked for.
        return _fmt_seconds(max(self.num_frames - 1, 1) / self.fps)


def _fmt_seconds(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def check_prompt(prompt: str, settings: ServeSettings, param: str = "prompt") -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(
            400, f"`{param}` is empty; describe the video you want in a few words.", param, "invalid_value"
        )
    if len(prompt) > settings.max_prompt_chars:
        raise ApiError(
            400,
            f"`{param}` has {len(prompt)} characters; shorten it to at most {settings.max_prompt_chars}.",
            param,
            "string_above_max_length",
        )
    return prompt


def resolve_model(registry: ModelRegistry, name: str | None) -> ModelInfo:
    model = registry.get(name)
    if model is None:
        available = ", ".join(sorted(registry.models)) or "(none: start the server with --model PATH)"
        if name is None:
            raise ApiError(
                400, f"No model is configured; available models: {available}.", "model", "model_not_found"
            )
        raise ApiError(
            400,
            f"Unknown model {name!r}; use one of: {available} (GET /v1/models).",
            "model",
            "model_not_found",
        )
    return model


def parse_seconds(value: Any, settings: ServeSettings, param: str = "seconds") -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, f'`{param}` must be a number of seconds such as "4"; got {value!r}.', param
        ) from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > settings.max_seconds:
        raise ApiError(
            400, f"`{param}` must be between 0 and {settings.max_seconds:g} seconds; got {value!r}.", param
        )
    return seconds


def _sized(param: str, check: Any, *args: Any) -> Any:
    """Run one of `kinema.pipelines.sizes`' rules; its error becomes a 400 on `param`."""
    try:
        return check(*args)
    except InvalidInputError as exc:
        raise ApiError(400, f"`{param}`: {exc}", param) from None


def parse_size(value: str, model: ModelInfo) -> tuple[int, int]:
    try:
        w_text, h_text = value.lower().split("x")
        width, height = int(w_text), int(h_text)
    except (AttributeError, ValueError):
        raise ApiError(
            400,
            f'`size` must look like "{model.width}x{model.height}" (width x height); got {value!r}.',
            "size",
        ) from None
    _sized("size", sizes.check_size, width, height, model.rules)
    return width, height


def size_for_aspect(ratio: str, model: ModelInfo) -> tuple[int, int]:
    return _sized(
        "aspect_ratio", sizes.size_for_aspect, ratio, model.width * model.height, model.size_multiple
    )


def frames_for(seconds: float, fps: int, model: ModelInfo) -> int:
    """Frame count for a duration: the nearest valid count 1 + 4k (the causal VAE's grid)."""
    return sizes.frames_for_seconds(seconds, fps, model.temporal_compression)


def geometry(
    model: ModelInfo,
    settings: ServeSettings,
    size: str | None,
    aspect_ratio: str | None,
    seconds: Any,
    fps: int | None,
    seconds_param: str = "seconds",
) -> Geometry:
    if fps is not None and fps > settings.max_fps:
        raise ApiError(400, f"`fps` must be at most {settings.max_fps}; got {fps}.", "fps")
    out_fps = int(fps or model.fps)
    if size:
        width, height = parse_size(size, model)
        if aspect_ratio:
            want = size_for_aspect(aspect_ratio, model)
            if abs(width / height - want[0] / want[1]) > 0.05:
                raise ApiError(
                    400,
                    f"`size` {size} does not have `aspect_ratio` {aspect_ratio}; send only one of them.",
                    "aspect_ratio",
                )
    elif aspect_ratio:
        width, height = size_for_aspect(aspect_ratio, model)
    else:
        width, height = model.width, model.height
    secs = parse_seconds(seconds, settings, seconds_param)
    num_frames = frames_for(secs, out_fps, model) if secs is not None else model.num_frames
    if num_frames > model.max_frames:
        longest = (model.max_frames - 1) / out_fps
        raise ApiError(
            400,
            f"`{seconds_param}` {seconds} at {out_fps} fps needs {num_frames} frames; model {model.name} makes at most "
            f"{model.max_frames} in one pass — ask for at most {longest:g} s and extend the video for more.",
            seconds_param,
        )
    return Geometry(width, height, num_frames, out_fps)


def decode_image(
    source: Upload | ReferenceObject | str | None, settings: ServeSettings, param: str
) -> np.ndarray | None:
    """An uploaded image, a data URL, or a plain base64 string → uint8 (H, W, 3), checked by kinema.io."""
    if source is None:
        return None
    if isinstance(source, ReferenceObject):
        if source.file_id:
            raise ApiError(
                400, f"`{param}.file_id` is not supported here; upload the image file instead.", param
            )
        if not source.image_url:
            raise ApiError(
                400, f"`{param}` needs `image_url` (a base64 data URL) or an uploaded file.", param
            )
        source = source.image_url
    if isinstance(source, str):
        data = _decode_base64_image(source, param)
        content_type = None
    else:
        data, content_type = source.data, source.content_type
    if len(data) > settings.max_upload_bytes:
        raise ApiError(
            413,
            f"`{param}` is {len(data)} bytes; send an image of at most {settings.max_upload_bytes} bytes.",
            param,
            "file_too_large",
        )
    if not data:
        raise ApiError(400, f"`{param}` is empty; upload a PNG, JPEG or WebP image.", param)
    if content_type and content_type not in IMAGE_TYPES and content_type != "application/octet-stream":
        raise ApiError(
            415,
            f"`{param}` has media type {content_type}; upload a PNG, JPEG or WebP image.",
            param,
            "unsupported_media_type",
        )
    return _load_image_checked(data, settings, param)


def _decode_base64_image(value: str, param: str) -> bytes:
    if value.startswith(("http://", "https://")):
        raise ApiError(
            400,
            f"`{param}` is a URL; this server does not fetch URLs — send a base64 data URL or upload the file.",
            param,
        )
    payload = value
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        if ";base64" not in header:
            raise ApiError(400, f"`{param}` must be a base64 data URL (data:image/png;base64,...).", param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, f"`{param}` is not valid base64; send a data URL like data:image/png;base64,....", param
        ) from None


def _load_image_checked(data: bytes, settings: ServeSettings, param: str) -> np.ndarray:
    import warnings

    from PIL import Image

    from kinema.io.images import load_image

    # Classify before decoding: not an image → 415, too many pixels (or a bomb) → 413, damaged → 400.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size
    except Image.DecompressionBombError:
        w = h = None
    except Exception:
        raise ApiError(
            415,
            f"`{param}` is not an image this server can read; upload a PNG, JPEG or WebP image.",
            param,
            "unsupported_media_type",
        ) from None
    if w is None or h is None or w * h > settings.max_image_pixels:
        shown = f"is {w}x{h} pixels" if w is not None else "declares too many pixels (a decompression bomb)"
        raise ApiError(
            413,
            f"`{param}` {shown}; send an image of at most {settings.max_image_pixels} pixels.",
            param,
            "image_too_large",
        )
    try:
        image = load_image(data, max_pixels=settings.max_image_pixels, max_bytes=settings.max_upload_bytes)
    except KinemaError as exc:
        raise ApiError(400, f"`{param}`: {exc}", param, "invalid_image") from None
    except Exception as exc:  # a decoder error that kinema.io did not classify
        raise ApiError(
            400,
            f"`{param}` could not be decoded ({type(exc).__name__}); upload a valid PNG or JPEG.",
            param,
            "invalid_image",
        ) from None
    return np.ascontiguousarray(image)


def check_camera(camera: CameraControl | None) -> dict[str, Any] | None:
    if camera is None:
        return None
    if camera.type == "simple":
        if camera.config is None:
            raise ApiError(
                400,
                '`camera_control.config` is required when type is "simple"; set one axis, e.g. {"zoom": 5}.',
                "camera_control.config",
            )
        nonzero = [k for k, v in camera.config.model_dump().items() if v != 0]
        if len(nonzero) != 1:
            raise ApiError(
                400,
                '`camera_control.config` must move exactly one axis for type "simple" '
                f"(got {len(nonzero)} non-zero: {', '.join(nonzero) or 'none'}).",
                "camera_control.config",
            )
    elif camera.type == "custom":
        if camera.config is None:
            raise ApiError(
                400, '`camera_control.config` is required when type is "custom".', "camera_control.config"
            )
    elif camera.config is not None:
        raise ApiError(
            400,
            f"`camera_control.config` must be left out for the preset type {camera.type!r}.",
            "camera_control.config",
        )
    return camera.model_dump(exclude_none=True)


def check_trajectories(
    paths: list[list[TrajectoryPoint]] | None, width: int, height: int
) -> list[list[list[float]]] | None:
    if paths is None:
        return None
    if not paths or len(paths) > 6:
        raise ApiError(400, "`trajectories` must hold 1 to 6 paths (one per object to move).", "trajectories")
    out = []
    for i, path in enumerate(paths):
        if len(path) < 2 or len(path) > 77:
            raise ApiError(
                400, f"`trajectories[{i}]` must have 2 to 77 points; got {len(path)}.", f"trajectories[{i}]"
            )
        for p in path:
            if not (0 <= p.x <= width and 0 <= p.y <= height):
                raise ApiError(
                    400,
                    f"`trajectories[{i}]` has point ({p.x:g}, {p.y:g}) outside the {width}x{height} frame; use pixel coordinates inside it.",
                    f"trajectories[{i}]",
                )
        out.append([[p.x, p.y] for p in path])
    return out


def check_callback_url(url: str | None) -> str | None:
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApiError(400, f"`callback_url` must be an http(s) URL; got {url!r}.", "callback_url")
    return url
