"""A training dataset over a folder of video files (and images) with a JSONL of captions.

``captions.jsonl`` holds one JSON object per line::

    {"video": "clips/0001.mp4", "caption": "a red ball bounces off the floor"}
    {"video": "stills/cat.png", "caption": "a cat on a sofa"}           # an image: a 1-frame sample
    {"video": "clips/0002.mp4", "caption": "...", "num_frames": 120, "fps": 24, "width": 640, "height": 360}

Paths are relative to the folder (absolute paths are used as they are). ``width``, ``height``,
``num_frames`` and ``fps`` are optional: when all four are given for a video it is not probed at start-up
(useful for big folders). ``image`` is accepted in place of ``video``. Blank lines are skipped.

Every sample goes to a bucket ``(num_frames, height, width)`` (see ``buckets.py``); images are 1-frame
samples and so always sit in their own buckets. Pair the dataset with ``BucketBatchSampler`` to get batches
of one shape. Items are dicts like ``WorldClipDataset``'s: ``{"video": float32 (3, T, H, W) in [-1, 1],
"caption": str}``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from kinema.data.buckets import (
    AspectBucket,
    BucketConfig,
    BucketKey,
    frame_stride,
    make_aspect_buckets,
    nearest_aspect_bucket,
    pick_frame_bucket,
)
from kinema.errors import InvalidInputError
from kinema.io.images import load_image, resize_and_crop
from kinema.io.video import iter_video_frames, probe_video

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
_SIZE_FIELDS = ("width", "height", "num_frames", "fps")
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class FolderSample:
    path: Path
    caption: str
    is_image: bool
    num_frames: int  # frames in the source file (1 for images)
    stride: int  # take every stride-th source frame
    bucket: BucketKey  # (T, H, W) the sample is trained at
    line: int  # line number in the JSONL, for messages


class VideoFolderDataset(Dataset):
    """Videos and images listed in a JSONL file, each resized and cropped to its bucket's shape.

    ``temporal_crop``: "random" picks a random window of the bucket's length in each clip (seeded by
    ``seed``, the epoch and the index, so reruns are identical; call ``set_epoch`` each epoch) — "start"
    always takes the first frames.
    """

    def __init__(
        self,
        root: str | Path,
        captions: str | Path = "captions.jsonl",
        config: BucketConfig | None = None,
        temporal_crop: str = "random",
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        self.captions_path = captions if Path(captions).is_absolute() else self.root / captions
        self.captions_path = Path(self.captions_path)
        self.config = config or BucketConfig()
        if temporal_crop not in ("random", "start"):
            raise InvalidInputError(f"temporal_crop must be 'random' or 'start'; got {temporal_crop!r}.")
        self.temporal_crop = temporal_crop
        self.seed = seed
        self.epoch = 0
        self.aspect_buckets: list[AspectBucket] = make_aspect_buckets(self.config)
        self.samples: list[FolderSample] = []
        self.skipped: list[tuple[int, str]] = []  # (line, reason) for clips too short for any bucket
        self._load_index()
        if self.skipped:
            logger.warning(
                "%s: skipped %d clip(s) shorter than the smallest frame bucket %d (first: line %d, %s)",
                self.captions_path,
                len(self.skipped),
                min(self.config.frame_buckets),
                *self.skipped[0],
            )
        if not self.samples:
            raise InvalidInputError(
                f"{self.captions_path} lists no usable samples; add lines like "
                '{"video": "clip.mp4", "caption": "..."} (clips must have at least '
                f"{min(self.config.frame_buckets)} frames)."
            )

    # -- index ---------------------------------------------------------------------------------------------

    def _load_index(self) -> None:
        if not self.captions_path.is_file():
            raise InvalidInputError(
                f"Caption file {self.captions_path} does not exist; create it with one "
                '{"video": ..., "caption": ...} object per line.'
            )
        with open(self.captions_path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                sample = self._parse_line(line, line_no)
                if sample is not None:
                    self.samples.append(sample)

    def _line_error(self, line_no: int, what: str) -> InvalidInputError:
        return InvalidInputError(f"{self.captions_path}, line {line_no}: {what}")

    def _parse_line(self, line: str, line_no: int) -> FolderSample | None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise self._line_error(
                line_no,
                f'not valid JSON ({exc.msg}); write one {{"video": ..., "caption": ...}} object per line.',
            ) from exc
        if not isinstance(record, dict):
            raise self._line_error(line_no, 'expected a JSON object like {"video": ..., "caption": ...}.')
        rel = record.get("video", record.get("image"))
        caption = record.get("caption")
        if not isinstance(rel, str) or not rel:
            raise self._line_error(line_no, 'needs a "video" (or "image") field with the file path.')
        if not isinstance(caption, str):
            raise self._line_error(line_no, 'needs a "caption" field with a string (may be empty).')
        path = Path(rel) if Path(rel).is_absolute() else self.root / rel
        if not path.is_file():
            raise self._line_error(line_no, f"file {path} does not exist; fix the path or remove the line.")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            width, height = self._image_size(path, line_no)
            aspect = nearest_aspect_bucket(width, height, self.aspect_buckets)
            return FolderSample(path, caption, True, 1, 1, (1, aspect.height, aspect.width), line_no)
        width, height, num_frames, fps = self._video_meta(record, path, line_no)
        stride = frame_stride(fps, self.config.fps)
        frames = pick_frame_bucket(num_frames, self.config.frame_buckets, stride)
        if frames is None:
            self.skipped.append((line_no, f"{path.name} has {num_frames} frames"))
            return None
        aspect = nearest_aspect_bucket(width, height, self.aspect_buckets)
        return FolderSample(
            path, caption, False, num_frames, stride, (frames, aspect.height, aspect.width), line_no
        )

    def _image_size(self, path: Path, line_no: int) -> tuple[int, int]:
        """Displayed (width, height) without decoding pixels; EXIF rotations 5-8 swap the sides."""
        try:
            with Image.open(path) as im:
                width, height = im.size
                if im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
                    width, height = height, width
        except (UnidentifiedImageError, OSError) as exc:
            raise self._line_error(line_no, f"{path} is not a readable image ({exc}).") from exc
        return width, height

    def _video_meta(self, record: dict[str, Any], path: Path, line_no: int) -> tuple[int, int, int, float]:
        if all(isinstance(record.get(k), (int, float)) for k in _SIZE_FIELDS):
            return (
                int(record["width"]),
                int(record["height"]),
                int(record["num_frames"]),
                float(record["fps"]),
            )
        try:
            info = probe_video(path)
        except InvalidInputError as exc:
            raise self._line_error(line_no, str(exc)) from exc
        return info.width, info.height, info.num_frames, info.fps

    # -- items ---------------------------------------------------------------------------------------------

    @property
    def bucket_keys(self) -> list[BucketKey]:
        """The ``(T, H, W)`` bucket of each sample, in index order (what ``BucketBatchSampler`` groups by)."""
        return [s.bucket for s in self.samples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        num_frames, height, width = sample.bucket
        if sample.is_image:
            frames = load_image(sample.path, width=width, height=height)[None]  # (1, H, W, 3)
        else:
            frames = self._read_clip(sample, index)  # (T, H, W, 3)
        video = torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)  # (3, T, H, W)
        return {"video": video, "caption": sample.caption}

    def _read_clip(self, sample: FolderSample, index: int) -> np.ndarray:
        num_frames, height, width = sample.bucket
        span = (num_frames - 1) * sample.stride + 1
        start = 0
        if self.temporal_crop == "random" and sample.num_frames > span:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            start = int(rng.integers(0, sample.num_frames - span + 1))
        wanted = range(start, start + span, sample.stride)
        picked: list[np.ndarray] = []
        for i, frame in enumerate(iter_video_frames(sample.path)):  # streams; stops after the window
            if i in wanted:
                picked.append(resize_and_crop(frame, width, height))
                if len(picked) == num_frames:
                    break
        if not picked:
            raise InvalidInputError(f"{sample.path} (line {sample.line}) has no decodable frames.")
        if len(picked) < num_frames:
            # The container's frame count overstated what decodes (seen with damaged tails): repeat the
            # last frame rather than change the batch shape, and say so.
            logger.warning(
                "%s decoded %d frames where %d were expected; repeating the last frame",
                sample.path,
                len(picked),
                num_frames,
            )
            picked.extend([picked[-1]] * (num_frames - len(picked)))
        return np.stack(picked)  # (T, H, W, 3)
