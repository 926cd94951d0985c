"""The explicit (visible) label of GB 45438-2025: "AI生成 / AI-generated" burned into the pixels.

What the standard asks of a video's explicit label, as Kinema reads it: prompt text that contains "AI" (or
人工智能) and 生成 (or 合成), placed in the opening frames (for at least 2 s), and optionally at a suitable
position during playback; for images, the text in a suitable position, its height at least 5 % of the
image's shortest side. Kinema's mark, kept simple:

- opening: for the first ``opening_seconds`` (2 s) a two-line mark "AI生成" over "AI-generated" in the
  top-left corner, the Chinese line 8 % of the shortest side high (the English line is dropped when it would
  be under 9 px, where lowercase Latin stops being readable; the Chinese line never goes under 12 px);
- playback: after that, "AI生成" alone in the bottom-right corner, 5 % of the shortest side high (at least
  12 px), until the last frame (``during_playback=False`` leaves the rest of the video clean);
- images (thumbnails, sprite sheets, text-to-image) get the opening mark.

White text over a dark box, so it reads on any background. The mark is a clamp, not a blend: inside the
box each channel is capped at ``255 (1 - box_opacity)`` (45 % by default; a white background comes out
exactly as a 55 %-opaque black box over it would), and the text's ink sets a floor of ``255 x coverage``.
A clamp applied twice is the clamp applied once, so marking frames that already carry the mark changes
nothing: extending a marked video (its source frames are written again) or editing one does not stamp a
second, darker mark; after a lossy encode, marking again only snaps the codec's noise back. At 64x64 the mark is the
Chinese line alone, 12 px high (36x12 px of text in a 44x20 px box); at 832x480 the opening mark is 38 px high.

The glyphs come from two grayscale masks shipped in ``kinema/io/assets/`` (rendered once from Noto Sans CJK SC
Bold by ``assets/render_marks.py``): Kinema runs offline on machines with no CJK font, and the text is fixed.

The mark is applied frame by frame as frames reach the writer (a copy per frame; the caller's arrays are
never changed, so a pipeline that keeps frames as context for the next chunk keeps them clean), so memory
does not grow with the video's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from kinema.errors import InvalidInputError

_ASSETS = Path(__file__).parent / "assets"
MARK_TEXT = ("AI生成", "AI-generated")
MIN_CJK_PX = 12  # below this 生 and 成 blur into blobs (checked by eye on 64x64 frames)
MIN_LATIN_PX = 9  # ink height of "AI-generated" (ascender to descender) below which lowercase is unreadable


@dataclass(frozen=True)
class VisibleLabel:
    """Settings of the visible mark (see the module docstring); ``VisibleLabel()`` is the standard one."""

    opening_seconds: float = 2.0  # GB 45438-2025: the opening-frame label lasts at least 2 s
    during_playback: bool = True  # the small corner mark on the frames after the opening
    opening_height: float = 0.08  # Chinese line's height / shortest side, opening mark and images
    playback_height: float = 0.05  # the standard's minimum text height for the corner mark
    box_opacity: float = 0.55

    def __post_init__(self) -> None:
        if not (isinstance(self.opening_seconds, (int, float)) and self.opening_seconds >= 0):
            raise InvalidInputError(f"opening_seconds must be >= 0; got {self.opening_seconds!r}.")
        for name in ("opening_height", "playback_height", "box_opacity"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise InvalidInputError(f"{name} must be in (0, 1]; got {value!r}.")

    def for_video(self, width: int, height: int, fps: float) -> VideoMarks:
        """The marks for frames of this size, computed once per writer."""
        opening = _mark(
            width, height, self.opening_height, "top-left", two_lines=True, opacity=self.box_opacity
        )
        playback = (
            _mark(
                width, height, self.playback_height, "bottom-right", two_lines=False, opacity=self.box_opacity
            )
            if self.during_playback
            else None
        )
        return VideoMarks(opening, playback, math.ceil(self.opening_seconds * fps))

    def stamp_image(self, image: Image.Image) -> Image.Image:
        """A copy of a PIL image with the opening mark (the image's mode is kept for RGB/L/RGBA)."""
        mode = image.mode
        rgb = np.asarray(image.convert("RGB"))
        mark = _mark(rgb.shape[1], rgb.shape[0], self.opening_height, "top-left", True, self.box_opacity)
        out = Image.fromarray(mark.apply(rgb))
        if mode == "RGBA":  # keep the alpha channel of a transparent image
            out.putalpha(image.getchannel("A"))
        elif mode == "L":
            out = out.convert("L")
        return out


@dataclass(frozen=True)
class Mark:
    """One mark placed on frames of one size: the region it covers and its per-pixel clamp."""

    top: int
    left: int
    ceiling: np.ndarray  # uint8 (h, w, 1): the box caps each channel at this
    ink: np.ndarray  # uint8 (h, w, 1): the text's floor (255 x glyph coverage; 0 off the glyphs)

    def region(self) -> tuple[slice, slice]:
        h, w = self.ceiling.shape[:2]
        return slice(self.top, self.top + h), slice(self.left, self.left + w)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """A copy of one uint8 (H, W, 3) frame with the mark: max(min(frame, ceiling), ink), idempotent."""
        out = frame.copy()
        ys, xs = self.region()
        out[ys, xs] = np.maximum(np.minimum(out[ys, xs], self.ceiling), self.ink)
        return out


@dataclass(frozen=True)
class VideoMarks:
    """Which mark each frame index gets: the opening mark, then the playback mark (or none)."""

    opening: Mark
    playback: Mark | None
    opening_frames: int

    def mark_for(self, index: int) -> Mark | None:
        return self.opening if index < self.opening_frames else self.playback

    def apply(self, frames: np.ndarray, first_index: int) -> np.ndarray:
        """Marked copies of uint8 (n, H, W, 3) frames whose first frame is number ``first_index``."""
        out = np.empty_like(frames)
        for k, frame in enumerate(frames):
            mark = self.mark_for(first_index + k)
            out[k] = frame if mark is None else mark.apply(frame)
        return out


@lru_cache(maxsize=2)
def _glyph_mask(name: str) -> np.ndarray:
    with Image.open(_ASSETS / name) as img:
        return np.asarray(img.convert("L"))


def _scaled(name: str, scale: float) -> np.ndarray:
    """The text mask scaled by ``scale`` (area-averaged, so thin strokes fade rather than vanish): float32
    coverage in [0, 1], (h, w)."""
    mask = _glyph_mask(name)
    w, h = max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale))
    resized = Image.fromarray(mask).resize(
        (w, h), Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    )
    return np.asarray(resized, dtype=np.float32) / 255.0


@lru_cache(maxsize=64)
def _mark(width: int, height: int, fraction: float, corner: str, two_lines: bool, opacity: float) -> Mark:
    """Lay out the mark for a (width, height) frame: text height from the shortest side, padding and margin
    proportional to it, shrunk to fit frames too small for the legible minimum."""
    zh_h = _glyph_mask("mark_zh.png").shape[0]
    target = max(MIN_CJK_PX, round(fraction * min(width, height)))
    scale = target / zh_h
    zh = _scaled("mark_zh.png", scale)
    # The English line at half the Chinese font size: then both lines come out about equally wide.
    en = _scaled("mark_en.png", scale * 0.5) if two_lines else None
    if en is not None and en.shape[0] < MIN_LATIN_PX:
        en = None
    pad, gap = max(2, round(0.3 * zh.shape[0])), max(1, round(0.2 * zh.shape[0]))
    lines = [zh] if en is None else [zh, en]
    box_w = max(line.shape[1] for line in lines) + 2 * pad
    box_h = sum(line.shape[0] for line in lines) + gap * (len(lines) - 1) + 2 * pad
    margin = max(1, round(0.03 * min(width, height)))
    if box_w + 2 * margin > width or box_h + 2 * margin > height:  # a tiny frame: shrink the whole mark
        fit = min((width - 2 * margin) / box_w, (height - 2 * margin) / box_h)
        if fit <= 0:
            raise InvalidInputError(f"A {width}x{height} frame is too small for the visible AIGC label.")
        return _shrunk(_compose(lines, box_w, box_h, pad, gap, opacity), fit, width, height, corner)
    return _placed(_compose(lines, box_w, box_h, pad, gap, opacity), width, height, margin, corner)


def _compose(
    lines: list[np.ndarray], box_w: int, box_h: int, pad: int, gap: int, opacity: float
) -> tuple[np.ndarray, np.ndarray]:
    """White text centred in a box: (ceiling, ink), float32 (h, w, 1) each (see `Mark`)."""
    coverage = np.zeros((box_h, box_w), dtype=np.float32)
    y = pad
    for line in lines:
        x = (box_w - line.shape[1]) // 2
        coverage[y : y + line.shape[0], x : x + line.shape[1]] = line
        y += line.shape[0] + gap
    ceiling = np.full((box_h, box_w), 255.0 * (1.0 - opacity), dtype=np.float32)
    return ceiling[..., None], (255.0 * coverage)[..., None]


def _placed(parts: tuple[np.ndarray, np.ndarray], width: int, height: int, margin: int, corner: str) -> Mark:
    ceiling, ink = (np.rint(p).astype(np.uint8) for p in parts)
    h, w = ceiling.shape[:2]
    top = margin if corner.startswith("top") else height - margin - h
    left = margin if corner.endswith("left") else width - margin - w
    return Mark(top, left, ceiling, ink)


def _shrunk(parts: tuple[np.ndarray, np.ndarray], fit: float, width: int, height: int, corner: str) -> Mark:
    ceiling, ink = parts
    w, h = max(1, int(ceiling.shape[1] * fit)), max(1, int(ceiling.shape[0] * fit))

    def resize(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(a[..., 0]).resize((w, h), Image.Resampling.BOX))[..., None]

    return _placed(
        (resize(ceiling), resize(ink)), width, height, max(0, min(width - w, height - h) // 2), corner
    )
