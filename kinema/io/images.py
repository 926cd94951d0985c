"""Loading user images safely into uint8 ``(H, W, 3)`` RGB arrays, and cover-resizing them.

User images arrive from uploads (image-to-video references, keyframes) and from training folders, so the
loader refuses what would hurt the server: files that are not images, truncated files, decompression bombs
(a tiny file declaring a huge canvas), and files over a byte limit. Every refusal is an
``InvalidInputError`` with a one-sentence message.

Modes: alpha (RGBA, LA, PA, P with transparency) is composited over white — the usual look of a transparent
PNG in a viewer; CMYK / YCbCr / LAB / HSV convert to RGB; 1-bit and grayscale are repeated into three
channels; 16-bit and 32-bit integer images are scaled to 8 bits; float images are clipped to [0, 1] (or
[0, 255] when their values exceed 1). EXIF orientation is applied, so phone photos load upright. Animated
images give their first frame.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kinema.errors import InvalidInputError


@dataclass(frozen=True)
class ImageLimits:
    """What ``load_image`` accepts by default. 40 MP covers any camera photo (a 48 MP phone photo is the
    rare exception; raise ``max_pixels`` for it); 50 MB is above any reasonable PNG of that size."""

    max_pixels: int = 40_000_000
    max_bytes: int = 50 * 1024 * 1024


DEFAULT_LIMITS = ImageLimits()
ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image


def _read_source(source: Any, max_bytes: int) -> tuple[Image.Image, str]:
    """Open (lazily, pixels not decoded yet) and return the image and a name for messages."""
    if isinstance(source, Image.Image):
        return source, "the image"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "the uploaded image"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = f"image {path}"
        if not path.is_file():
            raise InvalidInputError(f"{name} does not exist or is not a file; check the path.")
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidInputError(
                f"{name} is {size} bytes, over the {max_bytes}-byte limit; send a smaller image."
            )
        data = path.read_bytes()
    else:
        raise InvalidInputError(
            f"An image must be a file path, bytes or a PIL image; got {type(source).__name__}."
        )
    if len(data) > max_bytes:
        raise InvalidInputError(
            f"{name} is {len(data)} bytes, over the {max_bytes}-byte limit; send a smaller image."
        )
    if not data:
        raise InvalidInputError(f"{name} is empty; send a PNG, JPEG or WebP file.")
    try:
        with warnings.catch_warnings():
            # load_image applies its own pixel limit right after opening; PIL's warning would only leak.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data)), name
    except UnidentifiedImageError as exc:
        raise InvalidInputError(f"{name} is not a readable image; send a PNG, JPEG or WebP file.") from exc
    except Image.DecompressionBombError as exc:
        raise InvalidInputError(f"{name} declares too many pixels (a decompression bomb); refused.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} is damaged and cannot be read ({exc}); send an intact file."
        ) from exc


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any decoded PIL mode -> uint8 (H, W, 3)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img).astype(np.float32) / 257.0  # 0..65535 -> 0..255
        return np.repeat(arr.round().astype(np.uint8)[..., None], 3, axis=-1)
    if mode == "I":
        arr = np.asarray(img).astype(np.float64)
        # 16-bit PNGs often open as 32-bit "I"; treat values above 255 as 16-bit data.
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0
        arr = np.clip(arr / scale, 0, 255)
        return np.repeat(arr.round().astype(np.uint8)[..., None], 3, axis=-1)
    if mode == "F":
        arr = np.asarray(img).astype(np.float64)
        arr = np.nan_to_num(arr)
        arr = arr * 255.0 if arr.max(initial=0) <= 1.0 else arr
        arr = np.clip(arr, 0, 255)
        return np.repeat(arr.round().astype(np.uint8)[..., None], 3, axis=-1)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode == "P":
        img = img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1, L and RGB itself
    return np.array(rgb, dtype=np.uint8)  # a writable copy (asarray would be read-only)


def load_image(
    source: ImageSource,
    width: int | None = None,
    height: int | None = None,
    max_pixels: int = DEFAULT_LIMITS.max_pixels,
    max_bytes: int = DEFAULT_LIMITS.max_bytes,
) -> np.ndarray:
    """Load an image (path, bytes or PIL image) as uint8 ``(H, W, 3)`` RGB.

    With ``width`` and ``height`` the image is cover-resized and centre-cropped to exactly that size; with
    only one of them it is scaled to it, keeping the aspect ratio.
    """
    img, name = _read_source(source, max_bytes)
    w, h = img.size
    if w < 1 or h < 1:
        raise InvalidInputError(f"{name} has no pixels ({w}x{h}); send a real image.")
    if w * h > max_pixels:
        raise InvalidInputError(
            f"{name} is {w}x{h} = {w * h} pixels, over the {max_pixels}-pixel limit; send a smaller image."
        )
    try:
        with warnings.catch_warnings():
            # Our own limit (max_pixels) was checked above and is the one that counts; PIL's warning is
            # silenced, its hard DecompressionBombError (at 2x its own limit) is still caught below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.seek(0)
            if width is not None and height is not None:
                img = _decode_near(img, width, height)
            else:
                img.load()
            img = ImageOps.exif_transpose(img)
            arr = _to_rgb_array(img)
    except Image.DecompressionBombError as exc:
        raise InvalidInputError(f"{name} declares too many pixels (a decompression bomb); refused.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Truncated or corrupt pixel data ("image file is truncated", "broken data stream", ...).
        raise InvalidInputError(
            f"{name} is truncated or damaged and cannot be decoded ({exc}); send an intact file."
        ) from exc
    if width is not None or height is not None:
        arr = _resize_to(arr, width, height)
    return arr


def _decode_near(img: Image.Image, width: int, height: int) -> Image.Image:
    """Decode at the smallest size that still covers ``width x height`` in either orientation (EXIF may turn
    it): JPEG decodes at 1/2, 1/4 or 1/8 scale through its DCT (`draft`); other formats decode once and are
    box-reduced by an integer factor in place of the full-size copies that followed (issue 29, defect 3: a
    6000x6000 PNG took the worker from 713 to 1218 MB, for a 32x32 frame). Exact resizing follows."""
    side = max(width, height)
    img.draft("RGB", (side, side))  # JPEG: DCT scaling to at least this; a no-op for other formats
    img.load()
    factor = min(img.size) // side
    return img.reduce(factor) if factor >= 2 else img


def _resize_to(arr: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    if width is not None and height is not None:
        return resize_and_crop(arr, width, height)
    h, w = arr.shape[:2]
    if width is not None:
        _check_side(width, "width")
        size = (width, max(1, round(h * width / w)))
    else:
        _check_side(height, "height")
        size = (max(1, round(w * height / h)), height)
    return np.array(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))


def _check_side(value: Any, name: str) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer; got {value!r}.")


def resize_and_crop(img: np.ndarray | Image.Image, width: int, height: int) -> np.ndarray:
    """Scale so the image covers ``width x height`` (aspect kept), then crop the centre: uint8
    ``(height, width, 3)``. Nothing is stretched; the longer side loses its edges."""
    _check_side(width, "width")
    _check_side(height, "height")
    if isinstance(img, Image.Image):
        img = _to_rgb_array(img)
    if not (isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[-1] == 3 and img.dtype == np.uint8):
        shape = getattr(img, "shape", None)
        raise InvalidInputError(
            f"resize_and_crop needs a uint8 (H, W, 3) array or PIL image; got shape {shape}."
        )
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    resized = Image.fromarray(img).resize((new_w, new_h), Image.Resampling.LANCZOS)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.array(resized.crop((left, top, left + width, top + height)))  # (height, width, 3)
