"""LTX-2 diffusers folders (`LTX2Pipeline`, `LTX2ImageToVideoPipeline`, `LTX2ConditionPipeline`): video
**with sound** (issue 28). One joint transformer denoises video and audio latents together; the audio VAE and
vocoder turn the audio latents into a waveform at the vocoder's `output_sampling_rate` (24 kHz for LTX-2 —
the audio VAE's own `sample_rate` is its mel rate, not the output's).

t2v runs `LTX2Pipeline`, i2v `LTX2ImageToVideoPipeline`; keyframes, extension and video→video run
`LTX2ConditionPipeline` with `LTX2VideoCondition`s, as LTX-Video's condition pipeline does. No LTX-2
pipeline takes sound to condition on, so an extension keeps the source's sound and continues it with each
chunk's own, cross-faded at the joins (`kinema.runtime.extend.SoundTrack`). `--upscale 2` runs
`LTX2LatentUpsamplePipeline` between a half-size pass and a 3-step refinement (`latent_upscale.py`).
Defaults are LTX-2's own: 768×512, 121 frames at 24 fps, 40 steps, guidance 4; sizes on a 32-px grid.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import DiffusersBackend, FamilyDefaults, Request, read_component_config
from kinema.backends.latent_upscale import LatentUpscale
from kinema.backends.ltx import keyframe_indices
from kinema.runtime.tasks import TASKS

# LTX-2's pipelines default to 768x512 and 121 frames at 24 fps; 40 steps and guidance 4 are its model
# card's settings for the full (non-distilled) checkpoint; 257 frames (~10.7 s) its longest clip.
LTX2_DEFAULTS = FamilyDefaults(
    width=768, height=512, fps=24, num_frames=121, max_frames=257, num_inference_steps=40, guidance_scale=4.0
)


def ltx2_grid(path: Path) -> tuple[int, int]:
    """(size multiple, VAE temporal compression) from the configs (LTX-2: 32× and 8×), computed as
    `AutoencoderKLLTX2Video` does: patch × 2^(scaling blocks), in space and in time alike."""
    vae = read_component_config(path, "vae")
    dit = read_component_config(path, "transformer")
    # Without explicit ratios, count the encoder's strides: each scaling block halves space, time or both
    # by its `downsample_type` (the class default is spatial, temporal, spatiotemporal x2: 32x in space with
    # the 4x patch, 8x in time; diffusers' own fallback counts every block as both).
    scaling = vae.get("spatio_temporal_scaling", [True, True, True, True])
    kinds = vae.get("downsample_type", ["spatial", "temporal", "spatiotemporal", "spatiotemporal"])
    strides = [k for k, on in zip(kinds, scaling) if on]
    space = sum(k in ("spatial", "spatiotemporal", "conv") for k in strides)
    time = sum(k in ("temporal", "spatiotemporal", "conv") for k in strides)
    spatial = vae.get("spatial_compression_ratio") or int(vae.get("patch_size", 4)) * 2**space
    temporal = vae.get("temporal_compression_ratio") or int(vae.get("patch_size_t", 1)) * 2**time
    # diffusers' LTX-2 pipelines refuse sizes off a 32-px grid whatever the VAE (check_inputs)
    return math.lcm(int(spatial) * int(dit.get("patch_size", 1)), 32), int(temporal)


class LTX2Backend(LatentUpscale, DiffusersBackend):
    name = "ltx2"
    folder_classes = ("LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline")
    modes = ("t2v", "i2v", "keyframes", "extend", "v2v")
    options = ("negative_prompt", "aspect_ratio", "keyframes", "strength", "crossfade_frames", "upscale")
    makes_audio = True
    pipelines = {
        "t2v": "LTX2Pipeline",
        "i2v": "LTX2ImageToVideoPipeline",
        "keyframes": "LTX2ConditionPipeline",
        "extend": "LTX2ConditionPipeline",
        "v2v": "LTX2ConditionPipeline",
    }
    transformer_names = ("transformer",)
    defaults = LTX2_DEFAULTS
    context_frames = 1 + 8 * 2  # 3 latent frames of the video's end per chunk
    unsupported_motion = "diffusers' LTX-2 pipelines take no camera or trajectory input"
    upsample_pipeline = "LTX2LatentUpsamplePipeline"
    upsampler_model = "diffusers.pipelines.ltx2:LTX2LatentUpsamplerModel"
    refine_task = "t2v"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        return ltx2_grid(path)

    def audio_rate(self) -> int:
        """The vocoder's output rate (24 kHz for LTX-2), read from its config without loading it."""
        config = read_component_config(self.path, "vocoder")
        return int(config.get("output_sampling_rate", 24_000))

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        # the prompt's tokens: LTX-2's default is 1024; a prompt is rarely over 256 (what LTX-Video uses)
        return {**super().call_kwargs(req, num_frames), "frame_rate": req.fps, "max_sequence_length": 256}

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        row = TASKS[task]
        if not row.given:  # text → video
            return {}
        if row.takes_video:  # a remix: the whole source as a soft condition
            video = self.source_video(spec.video, req)
            condition = LTX2VideoCondition(frames=video, index=0, strength=1.0 - self.strength(spec, req))
            return {"conditions": [condition], "num_frames": len(video)}
        if not row.takes_keyframes:  # image → video: the first frame
            return {"image": self.image(spec.image, req)}
        return {
            "conditions": [
                LTX2VideoCondition(frames=self.image(picture, req), index=index)
                for index, picture in keyframe_indices(spec, req)
            ]
        }

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
        from PIL import Image

        video = [Image.fromarray(f) for f in tail]
        return "extend", {"conditions": [LTX2VideoCondition(frames=video, index=0, strength=1.0)]}

    def refine_inputs(self, latents: Any, audio_latents: Any) -> dict[str, Any]:
        """LTX-2's second stage: the upsampled video latents and the first stage's audio latents, re-noised
        to the distilled schedule's third-from-last level and denoised over its last three sigmas."""
        from diffusers.pipelines.ltx2.utils import STAGE_2_DISTILLED_SIGMA_VALUES as SIGMAS

        return {
            "latents": latents,
            "audio_latents": audio_latents,
            "sigmas": list(SIGMAS),
            "noise_scale": SIGMAS[0],
            "num_inference_steps": len(SIGMAS),
        }
