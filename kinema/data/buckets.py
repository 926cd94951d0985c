"""Aspect-ratio and duration buckets for training on clips of mixed shapes and lengths.

A DiT trains on one tensor shape per batch, but real folders mix 16:9, 9:16, square and cinema clips of
many lengths. Instead of cropping everything square (which teaches the model to cut heads off), each clip
goes to the bucket of the nearest aspect ratio — one size per ratio, about the same pixel area, so every
bucket costs about the same per frame — and to the longest frame count it can fill. Sides are multiples of
16 (VAE downsampling 8 x DiT patch 2); frame counts are ``1 + 4k`` (the causal VAE's 4x temporal
compression). The bucket of a sample is its ``(num_frames, height, width)`` key. Same idea as SDXL's and
Open-Sora's buckets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kinema.errors import InvalidInputError

DEFAULT_ASPECT_RATIOS: dict[str, float] = {
    "16:9": 16 / 9,
    "9:16": 9 / 16,
    "1:1": 1.0,
    "4:3": 4 / 3,
    "3:4": 3 / 4,
    "21:9": 21 / 9,
}

BucketKey = tuple[int, int, int]  # (num_frames, height, width)


@dataclass(frozen=True)
class BucketConfig:
    """Everything that decides the training shapes, in one place."""

    area: int = 256 * 256  # target pixels per frame; each aspect bucket has about this many
    multiple: int = 16  # sides are multiples of this (VAE 8x x DiT patch 2)
    aspect_ratios: tuple[tuple[str, float], ...] = tuple(DEFAULT_ASPECT_RATIOS.items())
    frame_buckets: tuple[int, ...] = (17, 33, 49)  # video lengths in frames, each 1 + 4k
    # Sample frames at this rate (stride = round(source fps / fps)); None = every frame.
    fps: float | None = None
    # Explicit (name, width, height) buckets; when given they replace the area-based ones.
    sizes: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def fixed(cls, width: int, height: int, num_frames: int, fps: float | None = None) -> BucketConfig:
        """One shape for everything (cover-resize + centre crop to ``width x height``, ``num_frames``
        frames; images stay 1-frame samples)."""
        return cls(
            area=width * height,
            multiple=1,
            frame_buckets=(num_frames,),
            fps=fps,
            sizes=((f"{width}x{height}", width, height),),
        )

    def __post_init__(self) -> None:
        if self.area < self.multiple**2:
            raise InvalidInputError(
                f"Bucket area {self.area} is below one {self.multiple}x{self.multiple} tile."
            )
        if not self.frame_buckets:
            raise InvalidInputError("frame_buckets must name at least one frame count, e.g. (17, 33).")
        bad = [t for t in self.frame_buckets if t < 1 or (t - 1) % 4]
        if bad:
            raise InvalidInputError(f"Frame buckets must be 1 + 4k (1, 5, 9, 17, 33, ...); got {bad}.")
        for name, width, height in self.sizes:
            if width < 1 or height < 1 or width % self.multiple or height % self.multiple:
                raise InvalidInputError(
                    f"Bucket {name!r} is {width}x{height}; sides must be positive multiples of {self.multiple}."
                )
        if self.fps is not None and not self.fps > 0:
            raise InvalidInputError(f"fps must be positive or None; got {self.fps}.")


@dataclass(frozen=True)
class AspectBucket:
    name: str
    width: int
    height: int


def bucket_size(ratio: float, area: int, multiple: int) -> tuple[int, int]:
    """(width, height) with ``width / height ~= ratio``, ``width * height ~= area``, multiples of ``multiple``."""
    height = math.sqrt(area / ratio)
    width = height * ratio
    snap = lambda x: max(multiple, multiple * round(x / multiple))  # noqa: E731
    return snap(width), snap(height)


def make_aspect_buckets(config: BucketConfig) -> list[AspectBucket]:
    """One bucket per aspect ratio; ratios that snap to the same size share one bucket (the first name)."""
    if config.sizes:
        return [AspectBucket(name, width, height) for name, width, height in config.sizes]
    buckets: list[AspectBucket] = []
    seen: set[tuple[int, int]] = set()
    for name, ratio in config.aspect_ratios:
        size = bucket_size(ratio, config.area, config.multiple)
        if size not in seen:
            seen.add(size)
            buckets.append(AspectBucket(name, *size))
    return buckets


def nearest_aspect_bucket(width: int, height: int, buckets: Sequence[AspectBucket]) -> AspectBucket:
    """The bucket whose ratio is closest to ``width / height`` in log space (so 2:1 and 1:2 are equally far
    from 1:1)."""
    if width < 1 or height < 1:
        raise InvalidInputError(f"A frame size must be positive; got {width}x{height}.")
    target = math.log(width / height)
    return min(buckets, key=lambda b: abs(math.log(b.width / b.height) - target))


def frame_stride(source_fps: float | None, target_fps: float | None) -> int:
    """Take every n-th frame so that a ``source_fps`` clip plays at about ``target_fps``."""
    if target_fps is None or not source_fps or source_fps <= target_fps:
        return 1
    return max(1, round(source_fps / target_fps))


def pick_frame_bucket(num_frames: int, frame_buckets: Sequence[int], stride: int = 1) -> int | None:
    """The longest bucket a clip of ``num_frames`` can fill at this stride; None if it is too short."""
    fitting = [t for t in frame_buckets if (t - 1) * stride + 1 <= num_frames]
    return max(fitting) if fitting else None
