"""Task mixing for DiT training: per sample, which conditions the model is given.

One model learns every task of the pipelines by seeing, per sample (probabilities in `ConditioningSection`):
- t2v: nothing given;
- first_frame (image-to-video): latent frame 0 given (the VAE is causal, so it is the first image alone);
- continuation (extend): the first k latent frames given, k in 1..max_continuation_frames;
- keyframes: the first and the last latent frames given;
and, independently, the caption dropped to the empty prompt (for classifier-free guidance, Ho & Salimans
arXiv 2207.12598), the camera vector kept or zeroed, the trajectory map kept or zeroed. Given frames reach
the DiT as `cond_latents * cond_mask` + `cond_mask` (docs/CONTRACTS.md) and leave the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kinema.training.config import ConditioningSection

TASKS: tuple[str, ...] = ("t2v", "first_frame", "continuation", "keyframes")


@dataclass
class ConditionDraw:
    task: torch.Tensor  # (B,) long, index into TASKS
    cond_latents: torch.Tensor  # (B, C, t, h, w), zeros where not given
    cond_mask: torch.Tensor  # (B, 1, t, h, w) in {0, 1}
    keep_text: torch.Tensor  # (B,) bool
    keep_camera: torch.Tensor  # (B,) bool
    keep_trajectory: torch.Tensor  # (B,) bool
    keep_shape: torch.Tensor | None = None  # (B,) bool: the kept map keeps its shape channels (None: all)


def _uniform(n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    gen_device = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=gen_device).to(device)


def sample_conditions(
    latents: torch.Tensor, cfg: ConditioningSection, generator: torch.Generator | None = None
) -> ConditionDraw:
    """Draw the task and the condition switches of each sample of `latents` (B, C, t, h, w)."""
    b, _, t, _, _ = latents.shape
    device = latents.device
    probs = torch.tensor([cfg.p_t2v, cfg.p_first_frame, cfg.p_continuation, cfg.p_keyframes])
    edges = probs.cumsum(0).to(device)  # (4,)
    u = _uniform(b, generator, device)
    task = torch.searchsorted(edges, u, right=True).clamp_max(len(TASKS) - 1)  # (B,)
    if t == 1:  # an image: giving its only frame would leave nothing to learn
        task = torch.zeros_like(task)
    max_k = max(1, min(cfg.max_continuation_frames, t - 1))
    k = 1 + (_uniform(b, generator, device) * max_k).long().clamp_max(max_k - 1)  # (B,) in 1..max_k
    frame = torch.arange(t, device=device)[None]  # (1, t)
    given = torch.zeros(b, t, dtype=torch.bool, device=device)
    given |= (task == 1)[:, None] & (frame == 0)
    given |= (task == 2)[:, None] & (frame < k[:, None])
    given |= (task == 3)[:, None] & ((frame == 0) | (frame == t - 1))
    cond_mask = given.to(latents.dtype)[:, None, :, None, None].expand(b, 1, t, *latents.shape[3:])
    cond_mask = cond_mask.contiguous()  # (B, 1, t, h, w)
    cond_latents = latents * cond_mask  # (B, C, t, h, w)
    keep_text = _uniform(b, generator, device) >= cfg.p_text_drop
    keep_camera = _uniform(b, generator, device) < cfg.p_camera
    keep_trajectory = _uniform(b, generator, device) < cfg.p_trajectory
    # Drawn only when asked for, so a recipe without it draws exactly the numbers it always drew.
    keep_shape = _uniform(b, generator, device) >= cfg.p_shape_drop if cfg.p_shape_drop else None
    return ConditionDraw(task, cond_latents, cond_mask, keep_text, keep_camera, keep_trajectory, keep_shape)


def camera_per_latent_frame(
    camera: torch.Tensor, latent_frames: int, temporal_compression: int
) -> torch.Tensor:
    """(B, T, 6) per pixel frame -> (B, t, 6): latent frame i covers pixel frames up to i * compression
    (frame 0 alone, then groups of `compression`), so it takes the camera of pixel frame i * compression."""
    idx = (torch.arange(latent_frames) * temporal_compression).clamp_max(camera.shape[1] - 1)
    return camera[:, idx.to(camera.device)]
