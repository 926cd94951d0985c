"""Image → video: the image is the first frame (Kling / Wan image2video).

The image is encoded as a 1-frame video into `cond_latents[:, :, 0]` with `cond_mask` 1 there; the DiT
sees it at every step, the final latent frame 0 is set to it (exact, the VAE being causal), and the
image's pixels are pasted over frame 0 so the video starts with exactly the given picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kinema.pipelines.pipeline_kinema import GivenFrames, KinemaPipeline, VideoPipelineOutput


class ImageToVideoPipeline(KinemaPipeline):
    """Image (+ optional prompt) → video starting on that image. Without a size, the image's own size is
    kept when the model can make it, else the closest aspect preset."""

    task = "i2v"
    requires_prompt = False

    def __call__(
        self, image: Any, prompt: str | Sequence[str] | None = None, paste_image: bool = True, **options: Any
    ) -> VideoPipelineOutput:
        # 1. request, sized like the image
        first = self.read_image(image)
        request = self.make_request(prompt, options, like=(first.shape[1], first.shape[0]))
        # 2. the image as the given first frame, at the output size
        given = GivenFrames(start=self.fit_frames(first[None], request.size), paste=paste_image)
        # 3–6. prompt, conditions, latents, denoise, decode
        return self.generate(request, given)
