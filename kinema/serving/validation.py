"""Turn a request into the exact numbers a generation needs, or an ApiError that says what to change.

Nothing here touches the database; the routes call these checks before anything is stored, so bad input
always ends as a 4xx with a message, never a 500.

Uploaded files are identified by their bytes, never by the Content-Type they declare (issue 15, item 8):
images open with an explicit allow-list of PIL formats (PNG, JPEG, WebP — TIFF, PCX, EPS and the rest are
refused before any of their decoders runs; EPS would hand user bytes to Ghostscript), videos with the
MP4/QuickTime demuxer only and an allow-list of codecs. The API process reads an image's header and checks
its integrity cheaply (PNG chunk CRCs, JPEG at 1/8 scale) but never decodes it at full size: the worker
does, once, at the output size (item 3: a 105 KB one-colour 6000x6000 PNG cost the API 480 MB a request).
"""

from __future__ import annotations

import binascii
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinema.backends.base import GenerationSpec
from kinema.errors import InvalidInputError
from kinema.pipelines import sizes
from kinema.runtime.request import check_guidance_interval
from kinema.runtime.tasks import Task, api_task_given
from kinema.serving.body import FileKind, Upload
from kinema.serving.callback_urls import CallbackPolicy, CallbackRefused
from kinema.serving.errors import ApiError
from kinema.serving.registry import ModelInfo, ModelRegistry
from kinema.serving.schemas import (
    CameraControl,
    ReferenceObject,
    TrajectoryPoint,
    VideoCreateRequest,
)
from kinema.serving.settings import ServeSettings

# PIL format → (media type, file suffix). The formats a user may upload; nothing else is even parsed.
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "WEBP": ("image/webp", ".webp"),
}
IMAGE_TYPES = tuple(t for t, _ in IMAGE_FORMATS.values())
IMAGE_NAMES = "PNG, JPEG or WebP"
# Containers (ffmpeg's demuxer names) and codecs an uploaded video may use.
VIDEO_CONTAINER = "mov"  # ffmpeg's demuxer for MP4, MOV and M4V
VIDEO_CODECS = ("h264", "hevc", "av1")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/x-m4v", "application/octet-stream")
VIDEO_NAMES = "an MP4 or MOV file with H.264, HEVC or AV1 video"
# A file part's signature, checked while it streams in (body.py): PNG, JPEG, WebP; an ISO-BMFF / QuickTime box.
VIDEO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
IMAGE_KIND = FileKind(
    (*IMAGE_TYPES, "application/octet-stream"),
    lambda head: (
        head.startswith((b"\x89PNG", b"\xff\xd8\xff")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    ),
    f"a {IMAGE_NAMES} image",
)
VIDEO_KIND = FileKind(VIDEO_TYPES, lambda head: head[4:8] in VIDEO_BOXES, VIDEO_NAMES)
# The create route's pictures: the API's field → the GenerationSpec's (the task table's `given`).
PICTURES: dict[str, str] = {"input_reference": "image", "image_tail": "last_image"}


__all__ = ["ApiError", "Upload"]


@dataclass
class ImageInput:
    """A checked image, not yet decoded: its bytes, format and size (the worker decodes it)."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def suffix(self) -> str:
        return IMAGE_FORMATS[self.format][1]


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
    def video_seconds(self) -> float:
        # (T - 1) / fps: 33 frames at 8 fps are 4 s of motion, which is what the user asked for.
        return max(self.num_frames - 1, 1) / self.fps

    @property
    def seconds(self) -> str:
        return _fmt_seconds(self.video_seconds)


@dataclass
class Plan:
    """A request's checked facts besides its spec: its task's row (whose API mode is the jobs' `task`
    column), the model, the size and length, the webhook URL, and physics mode with its candidates (each
    is charged)."""

    task: Task
    model: ModelInfo
    geometry: Geometry
    callback_url: str | None
    physics: bool = False
    candidates: int = 1

    @property
    def mode(self) -> str:
        return str(self.task.api_mode)


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


def check_texts(settings: ServeSettings, prompt: str, negative_prompt: str | None) -> str:
    """The prompt and negative prompt of any route: one limit (`max_prompt_chars`) for both, everywhere."""
    prompt = check_prompt(prompt, settings)
    if negative_prompt is not None and len(negative_prompt) > settings.max_prompt_chars:
        raise ApiError(
            400,
            f"`negative_prompt` has {len(negative_prompt)} characters; shorten it to at most "
            f"{settings.max_prompt_chars}.",
            "negative_prompt",
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
    if isinstance(value, bool):
        raise ApiError(400, f'`{param}` must be a number of seconds such as "4"; got {value!r}.', param)
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


def check_image(
    source: Upload | ReferenceObject | str | None, settings: ServeSettings, param: str
) -> ImageInput | None:
    """An uploaded image, a data URL, or a plain base64 string → its checked bytes (not decoded)."""
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
        data = _decode_base64_image(source, param, settings.max_upload_bytes)
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
        raise ApiError(400, f"`{param}` is empty; upload a {IMAGE_NAMES} image.", param)
    if content_type and content_type not in IMAGE_TYPES and content_type != "application/octet-stream":
        raise ApiError(
            415,
            f"`{param}` has media type {content_type}; upload a {IMAGE_NAMES} image.",
            param,
            "unsupported_media_type",
        )
    image = _inspect_image(data, settings, param)
    declared = content_type if content_type in IMAGE_TYPES else None
    if declared and declared != IMAGE_FORMATS[image.format][0]:
        raise ApiError(
            415,
            f"`{param}` is declared as {declared} but is a {image.format} image; send the right "
            "Content-Type (or application/octet-stream).",
            param,
            "unsupported_media_type",
        )
    return image


def _decode_base64_image(value: str, param: str, max_bytes: int) -> bytes:
    """A data URL's or plain base64's bytes. Its size is known from its length, so one over `max_bytes` is a
    413 before decoding; the text is encoded once and decoded from a view of it (no sliced copies: a 50 MB
    data URL cost the API four copies of itself; issue 29, defect 2)."""
    if value.startswith(("http://", "https://")):
        raise ApiError(
            400,
            f"`{param}` is a URL; this server does not fetch URLs — send a base64 data URL or upload the file.",
            param,
        )
    start = 0
    if value.startswith("data:"):
        comma = value.find(",")
        if ";base64" not in value[: comma if comma >= 0 else 200]:
            raise ApiError(400, f"`{param}` must be a base64 data URL (data:image/png;base64,...).", param)
        start = comma + 1
    size = (len(value) - start) * 3 // 4
    if size > max_bytes + 2:
        raise ApiError(
            413,
            f"`{param}` is about {size} bytes; send an image of at most {max_bytes} bytes.",
            param,
            "file_too_large",
        )
    try:
        text = value.encode("ascii")
        return binascii.a2b_base64(memoryview(text)[start:], strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ApiError(
            400, f"`{param}` is not valid base64; send a data URL like data:image/png;base64,....", param
        ) from None


def open_image(source: bytes | str | Path) -> Any:
    """PIL's `Image.open` restricted to the allowed formats (the API and the worker both open this way)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        fp = io.BytesIO(source) if isinstance(source, bytes) else source
        return Image.open(fp, formats=list(IMAGE_FORMATS))


def _inspect_image(data: bytes, settings: ServeSettings, param: str) -> ImageInput:
    """Format and size from the header; too many pixels (or a bomb) → 413, not an allowed image → 415,
    damaged → 400. Integrity is checked without a full decode: PNG chunk CRCs through to IEND, JPEG
    decoded at 1/8 scale (`draft`); WebP's header only (the worker's decode finds the rest)."""
    from PIL import Image, UnidentifiedImageError

    try:
        probe = open_image(data)
    except Image.DecompressionBombError:
        probe = None
    except UnidentifiedImageError:
        raise ApiError(
            415,
            f"`{param}` is not a {IMAGE_NAMES} image (other formats are refused); convert it and upload again.",
            param,
            "unsupported_media_type",
        ) from None
    except ValueError as exc:  # PIL's limit on PNG text chunks (zTXt / iTXt) and on their total size
        if "text" not in str(exc).lower() and "TEXT" not in str(exc):
            raise ApiError(
                400, f"`{param}` could not be read ({exc}); upload a valid image.", param, "invalid_image"
            ) from None
        raise ApiError(
            400,
            f"`{param}` has a text metadata chunk larger than this server reads ({exc}); strip the image's "
            "metadata (e.g. save it again without text chunks) and upload again.",
            param,
            "invalid_image",
        ) from None
    except (OSError, SyntaxError) as exc:
        raise ApiError(
            400, f"`{param}` is damaged ({exc}); upload an intact image.", param, "invalid_image"
        ) from None
    w, h = probe.size if probe is not None else (None, None)
    if w is None or h is None or w * h > settings.max_image_pixels:
        shown = f"is {w}x{h} pixels" if w is not None else "declares too many pixels (a decompression bomb)"
        raise ApiError(
            413,
            f"`{param}` {shown}; send an image of at most {settings.max_image_pixels} pixels.",
            param,
            "image_too_large",
        )
    fmt = probe.format
    try:
        if fmt == "PNG":
            probe.verify()  # reads every chunk and checks its CRC; decompresses nothing
        elif fmt == "JPEG":
            probe.draft("RGB", (max(1, w // 8), max(1, h // 8)))
            probe.load()
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        if "truncat" in reason.lower() or isinstance(exc, (EOFError,)):
            reason = f"truncated: {reason}"
        raise ApiError(
            400,
            f"`{param}` is damaged or truncated ({reason}); upload an intact image.",
            param,
            "invalid_image",
        ) from None
    finally:
        probe.close()
    return ImageInput(data, fmt, w, h)


def check_video(path: Path, settings: ServeSettings, model: ModelInfo, content_type: str | None) -> Any:
    """An uploaded video's facts (`kinema.io.VideoInfo`), after the container, codec, frame rate and length
    are checked against the allow-list and the model (issue 15, items 1, 8 and 13)."""
    import av

    from kinema.io.video import probe_video

    if content_type and content_type not in VIDEO_TYPES:
        raise ApiError(
            415,
            f"`video` has media type {content_type}; upload {VIDEO_NAMES} (video/mp4).",
            "video",
            "unsupported_media_type",
        )
    refused = ApiError(
        415,
        f"`video` is not a video this server reads; upload {VIDEO_NAMES}.",
        "video",
        "unsupported_media_type",
    )
    try:
        with av.open(str(path), format=VIDEO_CONTAINER) as container:
            if not container.streams.video:
                raise refused
            codec = container.streams.video[0].codec_context.name
    except ApiError:
        raise
    except Exception:
        raise refused from None
    if codec not in VIDEO_CODECS:
        raise ApiError(
            415,
            f"`video` is {codec} video; upload {VIDEO_NAMES}.",
            "video",
            "unsupported_media_type",
        )
    try:
        info = probe_video(path)
    except Exception:
        raise refused from None
    if info.num_frames < 1 or info.width < 1 or info.height < 1:
        raise ApiError(400, "`video` has no frames; upload a video with at least one frame.", "video")
    if not _first_frame_decodes(path):
        # The header's frame count is a claim: a moov declaring 33 frames over an empty mdat passed the probe
        # and failed in the worker (issue 29, defect 4). One decoded frame is the proof, at upload.
        raise ApiError(
            400,
            f"`video` declares {info.num_frames} frames but none of them decodes (its media data is empty or "
            "damaged); upload a video that plays.",
            "video",
        )
    if not (0 < info.fps <= settings.max_fps):
        raise ApiError(
            400,
            f"`video` runs at {info.fps:g} fps; this server extends videos of 1 to {settings.max_fps} fps "
            f"(model {model.name} makes {model.fps:g}) — re-encode it at a normal frame rate.",
            "video",
        )
    if info.num_frames / info.fps > settings.max_total_seconds:
        raise ApiError(
            400,
            f"`video` is longer than {settings.max_total_seconds:g} s; upload a shorter clip.",
            "video",
        )
    return info


def check_audio(model: ModelInfo, audio: bool | None) -> bool | None:
    """The create request's `audio`, resolved against the model (so the video object can say whether its
    file will have sound): a sound-making model's videos have it unless `audio: false`; asking a video-only
    model for it is a 400."""
    if audio and not model.audio:
        raise ApiError(
            400,
            f"Model {model.name} makes video without sound; leave out `audio` or choose a model that makes "
            "sound (GET /v1/models: `audio`).",
            "audio",
        )
    return False if audio is False else (True if model.audio else None)


def _first_frame_decodes(path: Path) -> bool:
    """Whether the upload's first video frame decodes (packets are read until one does, at most the file)."""
    import av

    try:
        with av.open(str(path), format=VIDEO_CONTAINER) as container:
            for _ in container.decode(video=0):
                return True
    except Exception:
        return False
    return False


def check_physics(model: ModelInfo, physics: str | None, candidates: int | None) -> tuple[bool, int]:
    """Kinema's physics mode → (on, candidates), or a 400."""
    if physics != "simulate":
        if candidates is not None:
            raise ApiError(
                400,
                '`physics_candidates` needs `physics: "simulate"`; add it or drop physics_candidates.',
                "physics_candidates",
            )
        return False, 1
    require_option(model, "physics", "cannot generate with physics simulation")
    return True, candidates or 1


def require_option(model: ModelInfo, option: str, lacks: str, which: str = "") -> None:
    """A 400 `unsupported_option` naming the request field, unless the model lists `option` in its options
    (`lacks`: what the model does instead; `which`: the models that have it, where that helps)."""
    if option not in model.options:
        raise ApiError(
            400,
            f"Model {model.name} {lacks}; leave out `{option}` or choose a model that lists it in its options "
            f"(GET /v1/models{which}).",
            option,
            "unsupported_option",
        )


def check_upscale(model: ModelInfo, upscale: int | None) -> int | None:
    """`upscale: 2` on a model with a latent upsampler, or a 400 naming the option."""
    if upscale is not None:
        require_option(
            model,
            "upscale",
            "has no latent upsampler",
            ": an LTX-Video or LTX-2 folder with a latent_upsampler/",
        )
    return upscale


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


def check_trajectories(paths: list[list[TrajectoryPoint]] | None, geo: Geometry) -> dict[str, Any] | None:
    """Kling-style trajectories (pixel points spread evenly over the clip) → the motion-brush JSON of the
    spec (`kinema.pipelines.trajectories.load_trajectories`: [t seconds, x, y] per point), or a 400."""
    if paths is None:
        return None
    width, height = geo.width, geo.height
    if not paths or len(paths) > 6:
        raise ApiError(400, "`trajectories` must hold 1 to 6 paths (one per object to move).", "trajectories")
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
    duration = max(geo.num_frames - 1, 1) / geo.fps
    return {
        "trajectories": [
            {"path": [[duration * i / (len(p) - 1), float(q.x), float(q.y)] for i, q in enumerate(p)]}
            for p in paths
        ]
    }


def check_callback_url(url: str | None, policy: CallbackPolicy) -> str | None:
    if url is None:
        return None
    try:
        policy.check(url)
    except CallbackRefused as exc:
        raise ApiError(400, str(exc), "callback_url", "invalid_callback_url") from None
    return url


# ---- a create request, checked in three steps (the tier's limits go between the first and the second) ----


def check_create(
    req: VideoCreateRequest,
    uploads: dict[str, Upload],
    registry: ModelRegistry,
    settings: ServeSettings,
    callbacks: CallbackPolicy,
) -> Plan:
    """What a create request asks for, before any uploaded image is looked at."""
    check_texts(settings, req.prompt, req.negative_prompt)
    if req.seconds is not None and req.duration is not None:
        raise ApiError(400, "Send `seconds` or `duration`, not both (they mean the same).", "duration")
    model = resolve_model(registry, req.model)
    seconds, param = (req.seconds, "seconds") if req.seconds is not None else (req.duration, "duration")
    geo = geometry(model, settings, req.size, req.aspect_ratio, seconds, req.fps, param)
    physics, candidates = check_physics(model, req.physics, req.physics_candidates)
    check_audio(model, req.audio)
    check_upscale(model, req.upscale)
    callback_url = check_callback_url(req.callback_url, callbacks)
    given = [
        spec for param, spec in PICTURES.items() if (uploads.get(param) or getattr(req, param)) is not None
    ]
    return Plan(api_task_given(given), model, geo, callback_url, physics, candidates)


def check_images(
    req: VideoCreateRequest, uploads: dict[str, Upload], settings: ServeSettings
) -> dict[str, ImageInput]:
    """The create request's first and last frames, checked (not decoded), by the spec's names."""
    images = {
        spec: check_image(uploads.get(param) or getattr(req, param), settings, param)
        for param, spec in PICTURES.items()
    }
    if images["last_image"] is not None and images["image"] is None:
        raise ApiError(
            400,
            "`image_tail` (the last frame) needs `input_reference` (the first frame) too.",
            "image_tail",
        )
    return {k: v for k, v in images.items() if v is not None}


def create_spec(plan: Plan, req: VideoCreateRequest) -> GenerationSpec:
    """The create request's spec: its motion checked, Kling's "pro" mode as twice the model's steps."""
    geo, model = plan.geometry, plan.model
    steps = req.num_inference_steps
    if req.mode == "pro" and steps is None:
        # Kling's "pro" mode: the same model, more careful sampling (twice the model's default steps).
        steps = 2 * model.num_inference_steps
    return generation_spec(
        plan.task,
        req.prompt,
        req,
        geo,
        model,
        num_inference_steps=steps,
        camera_control=check_camera(req.camera_control),
        trajectories=check_trajectories(req.trajectories, geo),
        strength=req.strength,
        physics=plan.physics or None,
        physics_candidates=plan.candidates if plan.physics else None,
        audio=check_audio(model, req.audio),
        upscale=check_upscale(model, req.upscale),
    )


def generation_spec(
    task: Task, prompt: str, req: Any, geo: Geometry, model: ModelInfo, **fields: Any
) -> GenerationSpec:
    """A job's spec from a checked request: the API's names mapped onto the spec's once (Kling's
    `cfg_scale` is `guidance_scale` from here on), then checked by the spec's own validators; None = the
    model's default."""
    interval = req.guidance_interval
    if interval is not None:
        require_option(model, "guidance_interval", "guides at every step")
        try:
            interval = check_guidance_interval(interval)
        except InvalidInputError as exc:
            raise ApiError(400, str(exc), "guidance_interval") from None
    if req.guide_trajectory is not None:
        require_option(model, "guide_trajectory", "has no trajectory-map guidance")
    shared = {
        "guidance_interval": interval,
        "guide_trajectory": req.guide_trajectory,
        "width": geo.width,
        "height": geo.height,
        "num_frames": geo.num_frames,
        "fps": geo.fps,
        "negative_prompt": req.negative_prompt,
        "guidance_scale": req.cfg_scale,
        "num_inference_steps": req.num_inference_steps,
        "seed": req.seed,
    }
    given = {k: v for k, v in {**shared, **fields}.items() if v is not None}
    try:
        return GenerationSpec.parse(task=task.name, prompt=prompt, **given)
    except InvalidInputError as exc:
        raise ApiError(400, str(exc)) from None
