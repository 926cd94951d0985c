"""Rectified-flow training and sampling helpers (the diffusers convention).

``x_sigma = (1 - sigma) * x0 + sigma * noise``, sigma in [0, 1]; the DiT predicts ``v = noise - x0`` at
``timestep = sigma * 1000``. Training samples sigma logit-normally (SD3, arXiv 2403.03206, section 3.1) and
shifts it toward noise for larger videos (``sigma' = s*sigma / (1 + (s - 1)*sigma)``, SD3 section 5.3.2), the
same shift diffusers' FlowMatchEulerDiscreteScheduler applies at sampling time. Sampling uses diffusers'
schedulers, never a hand-written loop here.
"""

from __future__ import annotations

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from torch import nn

from kinema.errors import InvalidInputError

NUM_TRAIN_TIMESTEPS = 1000


def _randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
):
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gen_device, dtype=dtype).to(device)


def shift_sigmas(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """Time shift of SD3 / diffusers: shift > 1 moves sigmas toward 1 (more noise)."""
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def sample_sigmas(
    batch: int,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    std: float = 1.0,
    shift: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(batch,) float32 sigmas: sigmoid(N(mean, std)) (logit-normal), then shifted by ``shift``."""
    u = torch.sigmoid(mean + std * _randn((batch,), generator, torch.device(device), torch.float32))
    return shift_sigmas(u, shift)


def resolution_shift(
    num_tokens: int,
    base_tokens: int = 256,
    base_shift: float = 1.0,
    max_tokens: int = 4096,
    max_shift: float = 3.0,
) -> float:
    """Shift that grows linearly with the token count, clamped to [base_shift, max_shift].

    More tokens carry more redundant signal, so the same sigma destroys less of it; shifting toward noise
    compensates (SD3 section 5.3.2; Flux / diffusers interpolate the same way in ``calculate_shift``).
    """
    frac = (num_tokens - base_tokens) / max(1, max_tokens - base_tokens)
    frac = min(1.0, max(0.0, frac))
    return base_shift + frac * (max_shift - base_shift)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_sigma = (1 - sigma) x0 + sigma noise, with sigma (B,) broadcast over the other dims."""
    s = sigma.to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return (1.0 - s) * x0 + s * noise


def flow_matching_loss(
    transformer: nn.Module,
    latents: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    encoder_attention_mask: torch.Tensor | None = None,
    cond_latents: torch.Tensor | None = None,
    cond_mask: torch.Tensor | None = None,
    camera: torch.Tensor | None = None,
    trajectory: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    shift: float | None = None,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
) -> torch.Tensor:
    """Scalar rectified-flow loss: mean squared error of the predicted velocity to ``noise - latents``.

    latents: (B, C, t, h, w), already normalised by the VAE. Latent frames with ``cond_mask == 1`` are given
    to the model as conditions and left out of the average. ``shift=None`` picks ``resolution_shift`` of the
    token count.
    """
    if latents.ndim != 5:
        raise InvalidInputError(f"latents must be (B, C, t, h, w); got shape {tuple(latents.shape)}.")
    b, _, t, h, w = latents.shape
    if shift is None:
        pt, ph, pw = transformer.config.patch_size
        shift = resolution_shift((t // pt) * (h // ph) * (w // pw))
    sigma = sample_sigmas(b, generator, logit_mean, logit_std, shift, latents.device)  # (B,)
    noise = _randn(tuple(latents.shape), generator, latents.device, latents.dtype)
    noisy = add_noise(latents, noise, sigma)
    pred = transformer(
        noisy,
        sigma * NUM_TRAIN_TIMESTEPS,
        encoder_hidden_states,
        encoder_attention_mask=encoder_attention_mask,
        cond_latents=cond_latents,
        cond_mask=cond_mask,
        camera=camera,
        trajectory=trajectory,
    )  # (B, C, t, h, w)
    err = (pred.float() - (noise - latents).float()).pow(2)  # (B, C, t, h, w)
    if cond_mask is None:
        return err.mean()
    keep = 1.0 - cond_mask.float()  # (B, 1, t, h, w)
    denom = (keep.sum() * err.shape[1]).clamp_min(1.0)
    return (err * keep).sum() / denom


def make_scheduler(name: str = "euler", shift: float = 1.0) -> SchedulerMixin:
    """A diffusers flow-matching scheduler: ``"euler"`` (FlowMatchEulerDiscrete) or ``"unipc"`` (UniPC, Wan's)."""
    if name == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=shift)
    if name == "unipc":
        return UniPCMultistepScheduler(
            num_train_timesteps=NUM_TRAIN_TIMESTEPS,
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            flow_shift=shift,
        )
    raise InvalidInputError(f"unknown sampler {name!r}; choose 'euler' or 'unipc'.")


def apply_guidance(cond: torch.Tensor, uncond: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance: uncond + scale * (cond - uncond) (Ho & Salimans, arXiv 2207.12598)."""
    return uncond + guidance_scale * (cond - uncond)
