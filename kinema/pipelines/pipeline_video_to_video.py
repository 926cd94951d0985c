"""Video → video (remix): the source video is encoded, noised to σ = strength, and denoised from there
under the new prompt (SDEdit, arXiv 2108.01073; diffusers' img2img for flow matching): low strength keeps
the source's layout and motion, strength 1 ignores it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_kinema import KinemaPipeline, VideoPipelineOutput

# How much a remix changes when the request does not say (the one default: CLI, server and backends
# leave it unset).
DEFAULT_STRENGTH = 0.7


class VideoToVideoPipeline(KinemaPipeline):
    """Source video (MP4 path or uint8 (T, H, W, 3)) + prompt → remixed video of the same length."""

    task = "v2v"

    def __call__(
        self, video: Any, prompt: str | Sequence[str], strength: float = DEFAULT_STRENGTH, **options: Any
    ) -> VideoPipelineOutput:
        if not 0.0 < strength <= 1.0:
            raise InvalidInputError(
                f"strength={strength} must be in (0, 1]: 0.3 keeps much of the source, 1 little."
            )
        # 1. request: the source's length, size and frame rate unless asked otherwise
        source, fps = self.read_source(video, options)
        request = self.make_request(prompt, options, like=(source.shape[2], source.shape[1]), fps=fps)
        frames = self.fit_frames(source[: request.size.num_frames], request.size)
        if len(frames) < request.size.num_frames:
            raise InvalidInputError(
                f"The source video has {len(frames)} frames, fewer than the {request.size.num_frames} asked for."
            )
        # 2. the source's latents, the starting point
        init = self.encode_frames(frames).expand(request.batch_size, -1, -1, -1, -1)  # (B, C, t, h, w)
        # 3–6. prompt, conditions, noised latents, denoise the last `strength` of the schedule, decode
        return self.generate(request, init_latents=init, strength=strength)

    def read_source(self, video: Any, options: dict[str, Any]) -> tuple[np.ndarray, float]:
        """The source frames needed (uint8 (T, H, W, 3), T = 1 + 4k) and the source frame rate."""
        rules = self.size_rules
        wanted = options.get("num_frames")
        frames_iter, fps, _ = self.read_video_frames(video, limit=wanted or rules.max_frames + 1)
        frames = np.stack(list(frames_iter))
        if wanted is None and options.get("seconds") is None:
            if len(frames) > rules.max_frames:
                raise InvalidInputError(
                    f"The source video is longer than this model makes in one pass ({rules.max_frames} frames); "
                    "pass num_frames / seconds to remix its start."
                )
            c = rules.temporal_compression
            options["num_frames"] = 1 + c * ((len(frames) - 1) // c)
        return frames, fps
