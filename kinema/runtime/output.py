"""Where a generation's frames go, for every model family and every caller: the one output path.

`FrameOutput` opens on the first write (the model decides the size) and is one of
- an MP4 file written as frames arrive (atomic: a failure or a cancel leaves no file), with the AIGC label
  and the visible mark if asked;
- a PNG/JPEG file (one frame: text → image), held in memory and saved labelled at the end;
- a caller's sink (anything with `write(uint8 (n, H, W, 3))`), or memory.
Sound (issue 28) goes beside the frames through `write_audio(float (C, n), rate)`: an MP4 gets an AAC track
(the rate must be known before the first frame opens the file: write sound first), memory and sinks get it
back in the result. At the end the track is padded with silence to the video's length, so a player never
sees sound end early.
A written file is then signed with a C2PA credential when a signing identity is given (`finish_file`, which
also signs the files made from it, such as a thumbnail)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.runtime.tasks import IMAGE_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "FrameOutput", "GenerationResult", "Signature", "finish_file"]


@dataclass
class GenerationResult:
    """What a generation returns. `frames` is None when they went to a file or a sink."""

    frames: np.ndarray | None  # uint8 (T, H, W, 3)
    fps: float
    num_frames: int
    width: int
    height: int
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)  # what the backend wants the caller to know
    audio: np.ndarray | None = None  # float32 (C, n) in [-1, 1], when not written to a file
    audio_rate: int | None = None  # Hz; set whenever the result has sound (file or memory)

    @property
    def has_audio(self) -> bool:
        return self.audio_rate is not None


@dataclass(frozen=True)
class Signature:
    """How a written file is signed: the identity (kinema.io.SigningIdentity), what made it (a task of
    kinema.io.provenance.TASKS), the model, and the input files it was made from."""

    identity: Any
    task: str = "text"
    model: str | None = None
    ingredients: Sequence[Path] = ()


def finish_file(path: Path, signature: Signature | None) -> Path:
    """Sign a finished file (MP4 / PNG / JPEG) in place; a file that cannot carry its promised credential
    is removed, not delivered."""
    if signature is None or signature.identity is None:
        return path
    from kinema.io.provenance import sign_file

    try:
        sign_file(
            path, signature.identity, signature.task, model=signature.model, ingredients=signature.ingredients
        )
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return path


class FrameOutput:
    """One destination for a generation's frames (module docstring). Use as a context manager, or call
    `close()` at the end and `abort()` on failure."""

    def __init__(
        self,
        fps: float,
        path: str | Path | None = None,
        sink: Any = None,
        *,
        label: Any = "default",
        visible_label: Any = None,
        signature: Signature | None = None,
    ) -> None:
        if path is not None and sink is not None:
            raise InvalidInputError("Give the frames one destination: output_path or sink, not both.")
        self.fps, self.path, self.sink = float(fps), None if path is None else Path(path), sink
        self.label, self.visible_label, self.signature = label, visible_label, signature
        self.count, self.width, self.height = 0, 0, 0
        self.info: dict[str, Any] = {}  # e.g. physics mode's report; returned with the result
        self._chunks: list[np.ndarray] = []
        self._writer: Any = None
        self.audio_rate: int | None = None
        self.audio_samples = 0
        self._audio_chunks: list[np.ndarray] = []  # sound before the file opens, or for memory / sinks
        self.to_image = self.path is not None and self.path.suffix.lower() in IMAGE_SUFFIXES

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 (n, H, W, 3) frames in order."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if self.count == 0:
            self.height, self.width = int(frames.shape[1]), int(frames.shape[2])
            self._open()
        self.count += len(frames)
        if self._writer is not None:
            self._writer.write(frames)
        elif self.sink is not None:
            self.sink.write(frames)
        else:
            self._chunks.append(frames)

    __call__ = write  # also a plain frame callback

    def write_audio(self, samples: np.ndarray, rate: int) -> None:
        """Append float (C, n) (or (n,)) sound in [-1, 1] at `rate` Hz, in order. The first call fixes the
        rate; into a file it must come before the first frame (the MP4's tracks are set when it opens)."""
        from kinema.io.video import as_audio_samples

        if self.audio_rate is None:
            if self._writer is not None or self.to_image:
                raise InvalidInputError(
                    "Sound must be written before the first frame of a video file (its tracks are fixed "
                    "when it opens); this is a bug in the backend, please report it."
                )
            self.audio_rate = int(rate)
        elif int(rate) != self.audio_rate:
            raise InvalidInputError(f"Sound at {rate} Hz cannot continue a {self.audio_rate} Hz track.")
        samples = as_audio_samples(samples, 2)  # (2, n): stereo throughout, mono copied to both sides
        self.audio_samples += samples.shape[1]
        if self._writer is not None:
            self._writer.write_audio(samples)
        elif self.sink is not None:  # a frame stream: it takes the sound if it can, else it is not kept
            if hasattr(self.sink, "write_audio"):
                self.sink.write_audio(samples, self.audio_rate)
        else:
            self._audio_chunks.append(samples)

    def _pad_audio(self) -> None:
        """Silence after the sound up to the video's length (count / fps seconds)."""
        missing = round(self.count * self.audio_rate / self.fps) - self.audio_samples
        if missing > 0:
            self.write_audio(np.zeros((2, missing), np.float32), self.audio_rate)

    def _open(self) -> None:
        if self.path is not None and not self.to_image:
            from kinema.io import VideoWriter

            self._writer = VideoWriter(
                self.path,
                self.fps,
                self.width,
                self.height,
                label=self._label(),
                visible_label=self.visible_label,
                audio_rate=self.audio_rate,
            )
            for samples in self._audio_chunks:  # sound written before the file opened
                self._writer.write_audio(samples)
            self._audio_chunks = []

    def _label(self) -> Any:
        """The label; "default" = Kinema's own (`kinema.io.label.default_label`), None = none."""
        from kinema.io.label import default_label

        return default_label() if isinstance(self.label, str) else self.label

    def close(self) -> GenerationResult:
        if self.count == 0:
            raise InvalidInputError("The generation produced no frames.")
        frames = np.concatenate(self._chunks) if self._chunks else None  # (T, H, W, 3)
        if self.audio_rate is not None and not self.to_image:
            self._pad_audio()
        audio = np.concatenate(self._audio_chunks, axis=1) if self._audio_chunks else None  # (2, n)
        if self._writer is not None:
            self._writer.close()
        elif self.to_image:
            from PIL import Image

            from kinema.io.label import save_labelled_image

            save_labelled_image(
                Image.fromarray(frames[0]), self.path, self._label(), visible_label=self.visible_label
            )
            frames = None
        if self.path is not None:
            finish_file(self.path, self.signature)
        rate = None if self.to_image else self.audio_rate
        return GenerationResult(
            frames, self.fps, self.count, self.width, self.height, self.path, self.info, audio, rate
        )

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()

    def __enter__(self) -> FrameOutput:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
