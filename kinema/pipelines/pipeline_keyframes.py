"""Keyframes → video: first and last frame (Kling `image_tail`, Wan first-last-frame), optionally frames
in between at given times.

The first image conditions latent frame 0 like image-to-video. Each later keyframe is encoded alone as a
1-frame image latent and placed in the latent frame that covers its time, with `cond_mask` 1 there; the
last frame lands in the last latent frame. All keyframes are pasted into the output exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_kinema import GivenFrames, KinemaPipeline, Request, VideoPipelineOutput

ASPECT_TOLERANCE = 0.25  # keyframes whose aspect differs more than this from the first cannot share a frame


class KeyframesPipeline(KinemaPipeline):
    """First image + last image and/or in-between keyframes `[(seconds, image), ...]` → video."""

    task = "keyframes"
    requires_prompt = False

    def __call__(
        self,
        image: Any,
        last_image: Any = None,
        prompt: str | Sequence[str] | None = None,
        keyframes: Sequence[tuple[float, Any]] = (),
        paste_keyframes: bool = True,
        **options: Any,
    ) -> VideoPipelineOutput:
        # 1. request, sized like the first image
        first = self.read_image(image)
        if last_image is None and not keyframes:
            raise InvalidInputError(
                "Keyframes need a last image or in-between keyframes; for one image use i2v."
            )
        request = self.make_request(prompt, options, like=(first.shape[1], first.shape[0]))
        # 2. the keyframes, placed in time and checked
        given = self.place_keyframes(first, last_image, keyframes, request, paste_keyframes)
        # 3–6. prompt, conditions, latents, denoise, decode
        return self.generate(request, given)

    def place_keyframes(
        self,
        first: np.ndarray,
        last_image: Any,
        keyframes: Sequence[tuple[float, Any]],
        request: Request,
        paste: bool,
    ) -> GivenFrames:
        size = request.size
        if size.num_frames < 1 + self.vae.config.temporal_compression:
            raise InvalidInputError(
                f"Keyframes need a video of at least {1 + self.vae.config.temporal_compression} frames."
            )
        last_frame = size.num_frames - 1
        timed: list[tuple[int, Any, str]] = []
        for seconds, keyframe in keyframes:
            frame = int(round(float(seconds) * request.fps))
            if not 0 < frame < last_frame:
                raise InvalidInputError(
                    f"Keyframe at {seconds} s is not inside the video (0 … {last_frame / request.fps:g} s, "
                    "first and last frame excluded); move it or make the video longer."
                )
            timed.append((frame, keyframe, f"keyframe at {seconds} s"))
        if last_image is not None:
            timed.append((last_frame, last_image, "last image"))
        later, used = [], {0: "first image"}
        aspect = first.shape[1] / first.shape[0]
        for frame, keyframe, what in sorted(timed, key=lambda item: item[0]):
            picture = self.read_image(keyframe)
            if abs(np.log(picture.shape[1] / picture.shape[0] / aspect)) > np.log(1 + ASPECT_TOLERANCE):
                raise InvalidInputError(
                    f"The {what} is {picture.shape[1]}x{picture.shape[0]}, a different shape from the first "
                    f"image ({first.shape[1]}x{first.shape[0]}); crop keyframes to the same aspect ratio."
                )
            j = self.latent_index(frame)
            if j in used:
                raise InvalidInputError(
                    f"The {what} falls in the same latent frame as the {used[j]} (4 frames share one); "
                    "space keyframes at least 4 frames apart."
                )
            used[j] = what
            later.append((frame, self.fit_frames(picture[None], size)[0]))
        return GivenFrames(start=self.fit_frames(first[None], size), later=later, paste=paste)
