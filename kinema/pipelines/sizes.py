"""Video sizes a model can make: aspect presets, snapping to the model's grid, durations → frame counts.

A Kinema model works on a grid: the VAE shrinks space by `spatial_compression` (8) and the DiT cuts the
latent into `patch_size` (2) patches, so width and height must be multiples of 8 × 2 = 16. In time the
causal VAE keeps frame 0 alone and packs every next 4 frames into one latent frame, so frame counts are
`1 + 4k` (an image is the 1-frame video). Presets keep about the model's native pixel area, the way Kling's
`aspect_ratio` and OpenAI's `size` choose among a few fixed resolutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kinema.errors import InvalidInputError

# name -> (width part, height part). The six ratios Kling, Jimeng and OpenAI offer between them.
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
}


@dataclass(frozen=True)
class VideoSize:
    """A resolved request: pixel width, height and frame count (`1 + 4k`)."""

    width: int
    height: int
    num_frames: int


@dataclass(frozen=True)
class SizeRules:
    """What one model can make; built from its kinema.json and its VAE / DiT configs."""

    native_width: int
    native_height: int
    native_frames: int
    max_frames: int
    multiple: int = 16  # VAE spatial compression × DiT patch size
    temporal_compression: int = 4
    max_pixels: int | None = None  # width × height; None = 4 × native area

    @property
    def native_area(self) -> int:
        return self.native_width * self.native_height

    @property
    def pixel_limit(self) -> int:
        return self.max_pixels if self.max_pixels is not None else 4 * self.native_area


def size_for_aspect(aspect_ratio: str, area: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the given ratio, about `area` pixels, both multiples of `multiple`."""
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInputError(
            f"Unknown aspect ratio {aspect_ratio!r}; it must be one of {', '.join(ASPECT_RATIOS)}."
        )
    a, b = ASPECT_RATIOS[aspect_ratio]
    width = math.sqrt(area * a / b)
    height = width * b / a
    return _snap(width, multiple), _snap(height, multiple)


def _snap(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def check_size(width: int, height: int, rules: SizeRules) -> None:
    """Raise InvalidInputError unless the model can make `width × height`."""
    m = rules.multiple
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"Size {width}x{height} is empty; give a positive width and height.")
    if width % m or height % m:
        raise InvalidInputError(
            f"Size {width}x{height} is not on this model's grid: width and height must be multiples of {m}; "
            f"try {_snap(width, m)}x{_snap(height, m)} or ask for an aspect ratio instead."
        )
    if width * height > rules.pixel_limit:
        raise InvalidInputError(
            f"Size {width}x{height} is too large: larger than this model can make ({rules.pixel_limit} pixels "
            f"at most, native {rules.native_width}x{rules.native_height}); choose a smaller size."
        )


def frames_for_seconds(seconds: float, fps: float, temporal_compression: int = 4) -> int:
    """The `1 + 4k` frame count closest to `seconds` at `fps` (at least 1 + 4 frames)."""
    if not seconds > 0:
        raise InvalidInputError(f"Duration {seconds} s is not positive; give a duration above 0 seconds.")
    k = max(1, int(round(seconds * fps / temporal_compression)))
    return 1 + temporal_compression * k


def check_num_frames(num_frames: int, rules: SizeRules) -> None:
    """Raise InvalidInputError unless `num_frames` is `1 + 4k` and within the model's limit."""
    c = rules.temporal_compression
    if num_frames < 1 or (num_frames - 1) % c:
        below = 1 + c * max(0, (num_frames - 1) // c)
        raise InvalidInputError(
            f"{num_frames} frames cannot be made: frame counts must be 1 + {c}k (e.g. {below} or {below + c})."
        )
    if num_frames > rules.max_frames:
        raise InvalidInputError(
            f"{num_frames} frames is more than this model makes in one pass ({rules.max_frames}); "
            "ask for fewer frames or generate then extend the video (`kinema generate --extend`)."
        )


def resolve_size(
    rules: SizeRules,
    width: int | None = None,
    height: int | None = None,
    aspect_ratio: str | None = None,
    num_frames: int | None = None,
    seconds: float | None = None,
    fps: float | None = None,
) -> VideoSize:
    """Turn what a user asked for into a size the model can make, or raise InvalidInputError."""
    if aspect_ratio is not None and (width is not None or height is not None):
        raise InvalidInputError("Give either an aspect ratio or a width and height, not both.")
    if (width is None) != (height is None):
        raise InvalidInputError("Give both width and height (or neither, to use the model's native size).")
    if aspect_ratio is not None:
        width, height = size_for_aspect(aspect_ratio, rules.native_area, rules.multiple)
    elif width is None:
        width, height = rules.native_width, rules.native_height
    assert width is not None and height is not None
    check_size(width, height, rules)

    if num_frames is not None and seconds is not None:
        raise InvalidInputError("Give either a duration in seconds or a number of frames, not both.")
    if seconds is not None:
        num_frames = frames_for_seconds(seconds, fps or 1.0, rules.temporal_compression)
    elif num_frames is None:
        num_frames = rules.native_frames
    check_num_frames(num_frames, rules)
    return VideoSize(width=width, height=height, num_frames=num_frames)
