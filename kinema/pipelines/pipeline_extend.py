"""Extend a video: chained continuation, chunk by chunk, to any length (Kling's +4–5 s per call up to
3 minutes, in one call here).

Each chunk is a native-length generation whose first `1 + 4k` frames are given: the last frames of what
exists so far, re-encoded as a video so that, the VAE being causal, they are exactly the chunk's leading
latent frames (`cond_mask` 1 there; the final latents keep them). The decoded overlap is dropped and the
rest is appended. Only the tail of the video is held in memory: the source MP4 is decoded frame by frame
(`iter_video_frames`) keeping the last frames, and every chunk is streamed to the writer as it is made, so
memory stays flat however long the result (measured in tests/pipelines and benchmarks/bench_pipelines.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.io import VideoWriter
from kinema.pipelines.pipeline_kinema import (
    GivenFrames,
    KinemaPipeline,
    Progress,
    Request,
    VideoPipelineOutput,
)


class ExtendPipeline(KinemaPipeline):
    """Source video (MP4 path or uint8 (T, H, W, 3)) → the same video continued by `num_frames` frames
    (or `seconds`). With `output_path` or `writer` (anything with `.write(uint8 (n, H, W, 3))`) frames
    are streamed and `frames` is None; otherwise the whole result is returned in memory. `timeline_tracks`
    (K, T_source + T_added, 3) give every chunk its window of one long set of object tracks (physics mode)."""

    task = "extend"
    requires_prompt = False

    def __call__(
        self,
        video: Any,
        prompt: str | Sequence[str] | None = None,
        output_path: str | Path | None = None,
        writer: Any = None,
        include_source: bool = True,
        chunk_frames: int | None = None,
        context_frames: int | None = None,
        crossfade_frames: int = 0,
        timeline_tracks: np.ndarray | None = None,
        **options: Any,
    ) -> VideoPipelineOutput:
        if output_path is not None and writer is not None:
            raise InvalidInputError("Give either output_path or writer for the extended video, not both.")
        # 1. request for one chunk, sized like the source; how much to add; how much context per chunk
        source, fps, source_size = self.read_video_frames(video)
        add = self.frames_to_add(options, options.get("fps") or fps)
        chunk = {"num_frames": chunk_frames or self.config.num_frames}
        request = self.make_request(prompt, {**options, **chunk}, like=source_size, fps=fps)
        if request.batch_size != 1:
            raise InvalidInputError("Extension continues one video; give one prompt.")
        context = self.context_length(request, context_frames)
        if not 0 <= crossfade_frames <= context:
            raise InvalidInputError(
                f"crossfade_frames={crossfade_frames} must be within 0 … {context} (the context)."
            )
        # 2. the prompt, once for all chunks
        text = self.encode_prompt(request)
        new_per_chunk = request.size.num_frames - context
        num_chunks = math.ceil(add / new_per_chunk)
        progress = Progress(
            request.callback, num_chunks * (request.num_inference_steps + self.decode_units(request))
        )
        with self.open_output(output_path, writer, request) as sink:
            out = CrossFade(sink, crossfade_frames)
            # 3. the source: streamed through (if kept), its tail remembered
            tail: deque[np.ndarray] = deque(maxlen=context)
            position = 0  # frames of the timeline so far (source, then added)
            for frame in source:
                position += 1
                frame = self.fit_frames(frame[None], request.size)
                if include_source:
                    out.write(frame)
                tail.append(frame[0].copy())  # own memory: the tail costs the same from the first chunk on
            if not tail:
                raise InvalidInputError("The video to extend has no frames.")
            # 4. chunks: condition on the tail, generate, drop the overlap, stream the rest
            added = 0
            while added < add:
                chunk_request = self.chunk_request(request, timeline_tracks, position, len(tail))
                overlap, new = self.next_chunk(chunk_request, tail, text, progress)
                new = new[: add - added]
                out.blend(overlap)
                out.write(new)
                tail.extend(f.copy() for f in new)  # frame by frame: no view keeps a chunk alive
                added += len(new)
                position += len(new)
                del new, overlap  # not held while the next chunk is made
            out.flush()
        frames = np.concatenate(sink.kept)[None] if sink.write is None else None  # (1, T, H, W, 3)
        return VideoPipelineOutput(frames=frames, fps=request.fps, num_frames=sink.count)

    def frames_to_add(self, options: dict[str, Any], fps: float) -> int:
        """Pop `num_frames` / `seconds` (the length to add) from the options."""
        num_frames, seconds = options.pop("num_frames", None), options.pop("seconds", None)
        if num_frames is not None and seconds is not None:
            raise InvalidInputError("Give either seconds or num_frames to add, not both.")
        if num_frames is None and seconds is None:
            seconds = self.config.num_frames / self.config.fps  # one native clip more, like Kling's +5 s
        add = int(num_frames) if num_frames is not None else int(round(float(seconds) * fps))
        if add < 1:
            raise InvalidInputError(f"Asked to add {add} frames; give a positive duration to extend by.")
        return add

    def context_length(self, request: Request, context_frames: int | None) -> int:
        """Frames of the video's end given to each chunk: 1 + 4k, about a third of the chunk by default."""
        c = self.vae.config.temporal_compression
        t = 1 + (request.size.num_frames - 1) // c
        context = context_frames or 1 + c * max(1, (t - 1) // 3)
        if (context - 1) % c or not 1 <= context < request.size.num_frames:
            raise InvalidInputError(
                f"context_frames={context} must be 1 + {c}k and shorter than the {request.size.num_frames}-frame chunk."
            )
        return context

    def chunk_request(
        self, request: Request, timeline: np.ndarray | None, position: int, tail: int
    ) -> Request:
        """The request of the chunk that starts `tail` frames before timeline frame `position`: with
        `timeline_tracks` (K, T_total, 3) — object tracks over the whole result, source first, e.g. a
        simulation's — each chunk gets its own window of them as its trajectories."""
        if timeline is None:
            return request
        c = self.vae.config.temporal_compression
        start = position - (1 + c * ((tail - 1) // c))
        n = request.size.num_frames
        idx = np.clip(np.arange(start, start + n), 0, timeline.shape[1] - 1)
        window = np.array(timeline[:, idx])  # (K, n, 3); past the end: the last position, held
        window[:, start + np.arange(n) >= timeline.shape[1], 2] = 0.0  # ... and marked not visible
        return dataclasses.replace(request, trajectories=window)

    def next_chunk(
        self, request: Request, tail: deque[np.ndarray], text: Any, progress: Progress
    ) -> tuple[np.ndarray, np.ndarray]:
        """One chunk conditioned on the tail → (its decoding of the tail, its new frames), uint8
        (n, H, W, 3) and (T − n, H, W, 3)."""
        c = self.vae.config.temporal_compression
        usable = 1 + c * ((len(tail) - 1) // c)  # a short source gives a shorter (1 + 4k) context
        prefix = np.stack(list(tail)[-usable:])  # (n, H, W, 3)
        parts: list[np.ndarray] = []
        self.generate(
            request, GivenFrames(start=prefix, paste=False), text=text, progress=progress, sink=parts.append
        )
        chunk = np.concatenate(parts)  # (T, H, W, 3)
        # Copies, not views: a view would keep the whole chunk alive in the tail (measured: peak memory
        # of 10 chunks 1.8x that of one with views, flat with copies).
        return chunk[: len(prefix)].copy(), chunk[len(prefix) :].copy()

    @contextlib.contextmanager
    def open_output(
        self, output_path: str | Path | None, writer: Any, request: Request
    ) -> Iterator[FrameOutput]:
        """Where the frames go: a new MP4 file, a given writer, or memory."""
        if output_path is not None:
            size = request.size
            with VideoWriter(output_path, request.fps, size.width, size.height) as file_writer:
                yield FrameOutput(file_writer.write)
        else:
            yield FrameOutput(writer.write if writer is not None else None)


class FrameOutput:
    """A frame sink that counts frames and keeps them when there is no writer."""

    def __init__(self, write: Any = None) -> None:
        self.write, self.count, self.kept = write, 0, []

    def __call__(self, frames: np.ndarray) -> None:  # uint8 (n, H, W, 3)
        self.count += len(frames)
        if self.write is not None:
            self.write(frames)
        else:
            self.kept.append(frames)


class CrossFade:
    """Holds back the last `frames` frames written; `blend(overlap)` fades them toward the next chunk's
    decoding of those same frames, so the step between the real frames and the chunk's reconstruction of
    them (the VAE's error, which the new frames continue from) is spread over `frames` frames."""

    def __init__(self, sink: Any, frames: int) -> None:
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
        weight = (np.arange(1, k + 1, dtype=np.float32) / (k + 1))[
            :, None, None, None
        ]  # (k, 1, 1, 1) → chunk
        mixed = (1 - weight) * self.pending + weight * overlap[-k:]
        self.pending = np.round(mixed).astype(np.uint8)

    def flush(self) -> None:
        if self.pending is not None:
            self.sink(self.pending)
            self.pending = None
