"""Extend a video: chained continuation, chunk by chunk, to any length (Kling's +4–5 s per call up to
3 minutes, in one call here).

Each chunk is a native-length generation whose first `1 + 4k` frames are given: the last frames of what
exists so far, re-encoded as a video so that, the VAE being causal, they are exactly the chunk's leading
latent frames (`cond_mask` 1 there; the final latents keep them). The decoded overlap is dropped (or
cross-faded) and the rest is appended. The loop, its cross-fade and its flat memory are the runtime's
(`kinema.runtime.extend`, shared with the diffusers backends); this pipeline supplies one chunk.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_kinema import GivenFrames, KinemaPipeline, VideoPipelineOutput
from kinema.runtime import media
from kinema.runtime.extend import CrossFade, extend_video, frames_to_add, split_chunk
from kinema.runtime.output import FrameOutput
from kinema.runtime.progress import Progress
from kinema.runtime.request import Request

__all__ = ["CrossFade", "ExtendPipeline"]


class ExtendPipeline(KinemaPipeline):
    """Source video (MP4 path or uint8 (T, H, W, 3)) → the same video continued by `num_frames` frames
    (or `seconds`). With `output_path` or `writer` (anything with `.write(uint8 (n, H, W, 3))`) frames
    are streamed and `frames` is None; otherwise the whole result is returned in memory. `timeline_tracks`
    (K, T_source + T_added, 3) give every chunk its window of one long set of object tracks (physics mode)."""

    task = "extend"

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
        if timeline_tracks is not None:  # each chunk's request gets its window of them (`chunk_request`)
            chunk["trajectories"] = timeline_tracks
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
        size = request.size

        # 3–4. the source streamed through (if kept), then chunks conditioned on the tail
        def make_chunk(given: np.ndarray, position: int) -> tuple[np.ndarray, np.ndarray]:
            chunk_request = self.chunk_request(request, timeline_tracks, position, len(given))
            return self.next_chunk(chunk_request, given, text, progress)

        with FrameOutput(request.fps, output_path, writer) as out:
            extend_video(
                source,
                out.write,
                make_chunk,
                fit=lambda frame: media.fit_frame(frame, size.width, size.height),
                add=add,
                context=context,
                temporal_compression=self.vae.config.temporal_compression,
                include_source=include_source,
                crossfade_frames=crossfade_frames,
            )
            result = out.close()
        frames = result.frames[None] if result.frames is not None else None  # (1, T, H, W, 3)
        return VideoPipelineOutput(frames=frames, fps=request.fps, num_frames=result.num_frames)

    def frames_to_add(self, options: dict[str, Any], fps: float) -> int:
        """Pop `num_frames` / `seconds` (the length to add) from the options."""
        native = self.config.num_frames / self.config.fps
        return frames_to_add(options.pop("num_frames", None), options.pop("seconds", None), fps, native)

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
        self, request: Request, timeline: np.ndarray | None, position: int, given: int
    ) -> Request:
        """The request of the chunk that starts `given` frames before timeline frame `position`: with
        `timeline_tracks` (K, T_total, 3) — object tracks over the whole result, source first, e.g. a
        simulation's — each chunk gets its own window of them as its trajectories."""
        if timeline is None:
            return request
        start = position - given
        n = request.size.num_frames
        idx = np.clip(np.arange(start, start + n), 0, timeline.shape[1] - 1)
        window = np.array(timeline[:, idx])  # (K, n, 3); past the end: the last position, held
        window[:, start + np.arange(n) >= timeline.shape[1], 2] = 0.0  # ... and marked not visible
        return dataclasses.replace(request, trajectories=window)

    def next_chunk(
        self, request: Request, given: np.ndarray, text: Any, progress: Progress
    ) -> tuple[np.ndarray, np.ndarray]:
        """One chunk conditioned on `given` (uint8 (n, H, W, 3), n = 1 + 4k: the video's end) → (its
        decoding of `given`, its new frames), uint8 (n, H, W, 3) and (T − n, H, W, 3)."""
        parts: list[np.ndarray] = []
        self.generate(
            request, GivenFrames(start=given, paste=False), text=text, progress=progress, sink=parts.append
        )
        return split_chunk(np.concatenate(parts), len(given))  # (T, H, W, 3) → overlap, new
