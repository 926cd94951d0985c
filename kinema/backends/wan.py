"""Wan 2.1 / 2.2 diffusers folders (`WanPipeline`, `WanImageToVideoPipeline`, `WanVACEPipeline`).

| folder (`_class_name`)      | backend            | modes                                         |
|-----------------------------|--------------------|-----------------------------------------------|
| WanPipeline (T2V, Wan2.2 two-expert A14B: `transformer_2` + `boundary_ratio`) | WanBackend | t2v, t2i, v2v, extend |
| WanImageToVideoPipeline     | WanI2VBackend      | i2v, keyframes (first + last frame), extend   |
| WanVACEPipeline             | WanVACEBackend     | t2v, t2i, i2v, keyframes (any frames), extend |

Extension: an i2v folder starts each chunk from the video's last frame; a VACE folder is given the last
frames as video with a keep-mask; a T2V folder holds the chunk's first latent frames to the video's end
(`LatentPrefix`). Defaults are Wan's own: 832×480, 81 frames at 16 fps, 50 steps, guidance 5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import (
    DiffusersBackend,
    FamilyDefaults,
    LatentPrefix,
    Request,
    read_component_config,
)
from kinema.runtime.tasks import TASKS

WAN_DEFAULTS = FamilyDefaults(width=832, height=480, fps=16, num_frames=81, max_frames=121)
_NO_MOTION = "diffusers' Wan pipelines take no camera or trajectory input"


def wan_grid(path: Path) -> tuple[int, int]:
    """(VAE spatial × transformer patch, VAE temporal) from the configs (Wan2.2's 5B VAE is 16× in space)."""
    vae = read_component_config(path, "vae")
    dit = read_component_config(path, "transformer") or read_component_config(path, "transformer_2")
    down = vae.get("temperal_downsample", [False, True, True])
    spatial = int(vae.get("scale_factor_spatial") or 2 ** len(down))
    temporal = int(vae.get("scale_factor_temporal") or 2 ** sum(bool(d) for d in down))
    patch = dit.get("patch_size", [1, 2, 2])
    return spatial * int(patch[1]), temporal


def wan_latents(pipe: Any, frames: np.ndarray) -> Any:
    """uint8 (n, H, W, 3) → Wan's normalised latents (1, C, 1 + (n − 1)/4, h, w), as the pipelines'
    `prepare_latents` make them (the mean of the VAE posterior, minus latents_mean, over latents_std)."""
    import torch
    from diffusers.pipelines.wan.pipeline_wan_i2v import retrieve_latents

    vae = pipe.vae
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(127.5).sub(1.0)  # (n, H, W, 3)
    x = x.permute(3, 0, 1, 2)[None].to(pipe._execution_device, vae.dtype)  # (1, 3, n, H, W)
    with torch.no_grad():
        mu = retrieve_latents(vae.encode(x), sample_mode="argmax").float()  # (1, C, t, h, w)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(mu)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(mu)
    return (mu - mean) / std


class _Wan(DiffusersBackend):
    defaults = WAN_DEFAULTS
    unsupported_motion = _NO_MOTION

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        return wan_grid(path)


class WanBackend(_Wan):
    """A Wan text→video folder (2.1, or 2.2 with two experts: diffusers switches at `boundary_ratio`)."""

    name = "wan"
    folder_classes = ("WanPipeline",)
    modes = ("t2v", "t2i", "v2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "strength", "crossfade_frames")
    pipelines = {
        "t2v": "WanPipeline",
        "t2i": "WanPipeline",
        "extend": "WanPipeline",
        "v2v": "WanVideoToVideoPipeline",
    }
    context_frames = 1 + 4 * 4  # 5 latent frames held: enough motion to continue (a quarter of a chunk)

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        if TASKS[task].takes_video:  # a remix
            return {"video": self.source_video(spec.video, req), "strength": self.strength(spec, req)}
        return {}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        pipe = self.pipeline("extend")
        return "extend", {"step_hook": LatentPrefix(wan_latents(pipe, tail), req.generator)}


class WanI2VBackend(_Wan):
    """A Wan image→video folder: first frame, or first + last frame (`last_image`). Wan2.2's (no image
    encoder) does both; Wan2.1 I2V's CLIP-conditioned transformer takes one image (`WanI2VFirstFrameBackend`)
    and Wan2.1 FLF2V's exactly two (`WanFLF2VBackend`)."""

    name = "wan-i2v"
    folder_classes = ("WanImageToVideoPipeline",)
    modes = ("i2v", "keyframes", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(("i2v", "keyframes", "extend"), "WanImageToVideoPipeline")
    context_frames = 1  # the pipeline takes one first frame

    @classmethod
    def variant(cls, path: Path) -> type[DiffusersBackend]:
        dit = read_component_config(path, "transformer")
        if dit.get("image_dim") is None:
            return WanI2VBackend
        return WanFLF2VBackend if dit.get("pos_embed_seq_len") else WanI2VFirstFrameBackend

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        inputs = {"image": self.image(spec.image, req)}
        if "last_image" in TASKS[task].given:
            inputs["last_image"] = self.image(spec.last_image, req)
        return inputs

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", {"image": Image.fromarray(tail[-1])}


class WanI2VFirstFrameBackend(WanI2VBackend):
    """Wan2.1 I2V (CLIP image tokens of one picture): image→video and extension from the last frame."""

    name = "wan-i2v-2.1"
    modes = ("i2v", "extend")


class WanFLF2VBackend(WanI2VBackend):
    """Wan2.1 FLF2V (the CLIP tokens of a first and a last picture, with positions): keyframes only."""

    name = "wan-flf2v"
    modes = ("keyframes",)


class WanVACEBackend(_Wan):
    """A Wan VACE folder: any frames given (first, last, in-between keyframes, a video's end) are kept by
    the mask and the rest is generated around them."""

    name = "wan-vace"
    folder_classes = ("WanVACEPipeline",)
    modes = ("t2v", "t2i", "i2v", "keyframes", "extend")
    options = ("negative_prompt", "aspect_ratio", "keyframes", "crossfade_frames", "reference_images")
    pipelines = dict.fromkeys(modes, "WanVACEPipeline")
    context_frames = 1 + 4 * 4

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        # A character's pictures (`reference_images`) go to VACE's reference input in any task: the
        # pipeline encodes them as extra latent frames in front of the video and drops them after
        # denoising, so they steer what the subject looks like without being frames of the result.
        refs = {"reference_images": [self.image(r, req) for r in spec.reference_images]}
        refs = refs if spec.reference_images else {}
        if not TASKS[task].given:  # text → video / image
            return refs
        n = req.size.num_frames
        given = {0: self.image(spec.image, req)}
        if TASKS[task].takes_keyframes:
            for seconds, picture in spec.keyframes:
                given[min(n - 1, max(0, round(float(seconds) * req.fps)))] = self.image(picture, req)
            if spec.last_image is not None:
                given[n - 1] = self.image(spec.last_image, req)
        return {**self.masked(given, req), **refs}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", self.masked({i: Image.fromarray(f) for i, f in enumerate(tail)}, req)

    @staticmethod
    def masked(given: dict[int, Any], req: Request) -> dict[str, Any]:
        """VACE's inputs for frames given at some indices: the video (grey where generated) and the mask
        (black = keep, white = generate), as in diffusers' VACE examples."""
        from PIL import Image

        size, n = (req.size.width, req.size.height), req.size.num_frames
        grey, black, white = (Image.new("RGB", size, (v,) * 3) for v in (128, 0, 255))
        video = [given.get(i, grey) for i in range(n)]
        mask = [black if i in given else white for i in range(n)]
        return {"video": video, "mask": mask}
