"""Extending a video chunk by chunk, for every model family: the loop and its cross-fade.

Each chunk is a native-length generation whose first `1 + ck` frames are given: the last frames of what
exists so far (c = the VAE's temporal compression). The chunk's remake of those frames is dropped (or
cross-faded into them) and the rest is streamed on. Only the tail of the video is held in memory: the source
is decoded frame by frame keeping its last frames, and every chunk is written as it is made, so memory stays
flat however long the result (measured in tests/pipelines and benchmarks/bench_pipelines.py). A model family
supplies only `make_chunk(given, position)`: one generation conditioned on `given`, and `split_chunk`
cuts it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError


def frames_to_add(num_frames: int | None, seconds: float | None, fps: float, native_seconds: float) -> int:
    """An extension's length: `num_frames` or `seconds` to add (default: one native clip more, like
    Kling's +5 s)."""
    if num_frames is not None and seconds is not None:
        raise InvalidInputError("Give either seconds or num_frames to add, not both.")
    if num_frames is not None:
        add = int(num_frames)
    else:
        add = int(round(float(native_seconds if seconds is None else seconds) * fps))
    if add < 1:
        raise InvalidInputError(f"Asked to add {add} frames; give a positive duration to extend by.")
    return add


def usable(count: int, temporal_compression: int) -> int:
    """The longest `1 + ck` run of `count` frames (what a causal VAE encodes as whole latent frames)."""
    return 1 + temporal_compression * ((count - 1) // temporal_compression)


def extend_video(
    source: Iterable[np.ndarray],
    sink: Callable[[np.ndarray], Any],
    make_chunk: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    *,
    fit: Callable[[np.ndarray], np.ndarray],
    add: int,
    context: int,
    temporal_compression: int,
    include_source: bool = True,
    crossfade_frames: int = 0,
) -> int:
    """Stream `source` (uint8 (H', W', 3) frames, fitted to the output size by `fit`) to `sink` if
    `include_source`, then `add` frames made chunk by chunk: `make_chunk(given, position)` gets the last
    `1 + ck` ≤ `context` frames so far (uint8 (n, H, W, 3)) and the number of frames of the timeline so far
    (source, then added), and returns the chunk split in two: its remake of `given` and its new frames,
    uint8 (n, H, W, 3) and (T − n, H, W, 3), each its own memory (copies, not views of the chunk: a view
    would keep the whole chunk alive in the tail; measured: peak memory of 10 chunks 1.8x that of one with
    views, flat with copies). Returns the number of frames written."""
    out = CrossFade(sink, crossfade_frames)
    tail: deque[np.ndarray] = deque(maxlen=context)
    position = 0  # frames of the timeline so far (source, then added)
    for frame in source:
        position += 1
        frame = fit(frame)  # (H, W, 3)
        if include_source:
            out.write(frame[None])
        tail.append(frame.copy())  # own memory: the tail costs the same from the first chunk on
    if not tail:
        raise InvalidInputError("The video to extend has no frames.")
    written, added = position if include_source else 0, 0
    while added < add:
        given = np.stack(list(tail)[-usable(len(tail), temporal_compression) :])  # (n, H, W, 3)
        overlap, new = make_chunk(given, position)
        new = new[: add - added]
        out.blend(overlap)
        out.write(new)
        tail.extend(f.copy() for f in new)
        added += len(new)
        position += len(new)
        del new, overlap  # not held while the next chunk is made
    out.flush()
    return written + added


def split_chunk(chunk: np.ndarray, given: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (T, H, W, 3) → (its first `given` frames, the rest), copies (see `extend_video`)."""
    return chunk[:given].copy(), chunk[given:].copy()


class CrossFade:
    """Holds back the last `frames` frames written; `blend(overlap)` fades them toward the next chunk's
    decoding of those same frames, so the step between the real frames and the chunk's reconstruction of
    them (the VAE's error, which the new frames continue from) is spread over `frames` frames."""

    def __init__(self, sink: Callable[[np.ndarray], Any], frames: int) -> None:
        self.sink, self.frames, self.pending = sink, frames, None

    def write(self, frames: np.ndarray) -> None:  # uint8 (n, H, W, 3)
        if self.frames == 0:
            self.sink(frames)
            return
        held = frames if self.pending is None else np.concatenate([self.pending, frames])
        if len(held) > self.frames:
            self.sink(held[: -self.frames])
        self.pending = held[-self.frames :].copy()

    def blend(self, overlap: np.ndarray) -> None:
        """`overlap` (m, H, W, 3): the new chunk's decoding of the last m frames written (m >= held)."""
        if self.pending is None:
            return
        k = len(self.pending)
        weight = np.arange(1, k + 1, dtype=np.float32) / (k + 1)  # → chunk
        weight = weight.reshape(k, *[1] * (self.pending.ndim - 1))  # (k, 1, 1, 1) frames, (k, 1) samples
        mixed = (1 - weight) * self.pending + weight * overlap[-k:]
        if np.issubdtype(self.pending.dtype, np.integer):
            mixed = np.round(mixed)
        self.pending = mixed.astype(self.pending.dtype)

    def flush(self) -> None:
        if self.pending is not None:
            self.sink(self.pending)
            self.pending = None


class SoundTrack:
    """An extension's sound, kept in step with its frames (issue 28): the source's sound first (fitted to the
    source's length: silence where it has none), then each chunk's own sound — the part over its new frames,
    with its remake of the given frames' time cross-faded into the sound already there over `fade_seconds`
    (40 ms: long enough that the join does not click, short enough not to smear a beat). Frame k spans
    [k, k + 1) / fps; sample counts are rounded at each frame boundary, so the sound never drifts from the
    picture however many chunks there are."""

    def __init__(
        self, write_audio: Callable[[np.ndarray, int], Any], rate: int, fps: float, fade_seconds: float = 0.04
    ) -> None:
        self.rate, self.fps, self.frames = int(rate), float(fps), 0  # frames of the timeline with sound
        self.write_audio = write_audio
        self.out = CrossFade(lambda s: write_audio(s.T, self.rate), max(1, round(fade_seconds * rate)))

    def at(self, frames: int) -> int:
        """Samples from the start of the timeline to frame `frames`."""
        return round(frames * self.rate / self.fps)

    def fit(self, samples: np.ndarray | None, n: int) -> np.ndarray:
        """float (C, m) → float32 (2, n): trimmed, or padded with silence."""
        out = np.zeros((2, n), np.float32)
        if samples is not None:
            samples = np.asarray(samples, np.float32)
            samples = np.repeat(samples, 2, axis=0) if samples.shape[0] == 1 else samples[:2]
            out[:, : min(n, samples.shape[1])] = samples[:, :n]
        return out

    def source(self, samples: np.ndarray | None, frames: int, include: bool) -> None:
        """The source video's sound (None: it has none) over its `frames` frames; written if `include`."""
        if include:
            self.out.write(self.fit(samples, self.at(frames)).T)  # (n, 2)
        self.frames = frames if include else 0
        self._origin = 0 if include else frames  # timeline frames not written (a continuation's source)

    def chunk(self, samples: np.ndarray | None, given: int, new: int) -> None:
        """A chunk's sound (float (C, n) over `given + ...` frames, None: silent) whose first `given` frames
        remake the end of the timeline so far; `new` frames of it are kept."""
        now = self.frames + self._origin  # the chunk's given frames end here on the timeline
        first = self.at(now - given)
        start, end = self.at(now) - first, self.at(now + new) - first
        whole = self.fit(samples, end)  # (2, n)
        self.out.blend(whole[:, :start].T)
        self.out.write(whole[:, start:].T)
        self.frames += new

    def flush(self) -> None:
        self.out.flush()
