"""Given pictures, read once for every model family: images and videos from paths, bytes, PIL images or
uint8 arrays, checked with clear errors, decoded lazily, and fitted to the output size (cover-resize and
centre-crop: nothing is stretched)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.pipelines.sizes import ASPECT_RATIOS, SizeRules


def read_image(source: Any) -> np.ndarray:
    """A path, bytes, PIL image or uint8 (H, W, 3) array → uint8 (H, W, 3), with clear errors."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[-1] != 3:
            raise InvalidInputError(
                f"An image array must be uint8 (H, W, 3); got {source.dtype} {source.shape}."
            )
        return source
    if type(source).__module__.startswith("torch"):  # checked by name: reading an image needs no torch
        raise InvalidInputError("Pass images as uint8 (H, W, 3) numpy arrays, file paths or PIL images.")
    from kinema.io import load_image

    return load_image(source)


def open_video(
    video: Any, default_fps: float, limit: int | None = None
) -> tuple[Iterator[np.ndarray], float, tuple[int, int]]:
    """(frame iterator of uint8 (H, W, 3), fps, (width, height)) of an MP4 path or a uint8 (T, H, W, 3)
    array (whose fps is `default_fps`); decoding is lazy, so only what is used is held in memory."""
    if isinstance(video, np.ndarray):
        if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or len(video) == 0:
            raise InvalidInputError(
                f"A video array must be uint8 (T, H, W, 3); got {video.dtype} {video.shape}."
            )
        return iter(video[:limit]), float(default_fps), (int(video.shape[2]), int(video.shape[1]))
    from kinema.io import iter_video_frames, probe_video

    info = probe_video(video)
    frames = iter_video_frames(video)
    if limit is not None:
        frames = (f for _, f in zip(range(limit), frames))
    return frames, float(info.fps or default_fps), (info.width, info.height)


def video_size(video: Any) -> tuple[int, int]:
    """(width, height) of an MP4 path or a uint8 (T, H, W, 3) array."""
    if isinstance(video, np.ndarray):
        return int(video.shape[2]), int(video.shape[1])
    from kinema.io import probe_video

    info = probe_video(video)
    return info.width, info.height


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H', W', 3) → (height, width, 3), cover-resized and centre-cropped (itself if it fits)."""
    from kinema.io import resize_and_crop

    return resize_and_crop(frame, width, height)


def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (n, H', W', 3) → (n, height, width, 3) (itself if it fits)."""
    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([fit_frame(f, width, height) for f in frames])


def size_like(rules: SizeRules, width: int, height: int) -> tuple[int | None, int | None, str | None]:
    """(width, height, aspect) for a result like a given picture: its own size when the model can make
    it, else the closest aspect preset at the native area."""
    if width % rules.multiple == 0 and height % rules.multiple == 0 and width * height <= rules.pixel_limit:
        return width, height, None
    ratio = math.log(width / height)
    best = min(ASPECT_RATIOS, key=lambda a: abs(math.log(ASPECT_RATIOS[a][0] / ASPECT_RATIOS[a][1]) - ratio))
    return None, None, best
