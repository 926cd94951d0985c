"""Flow matching: sigma sampling, shift, noise convention vs diffusers schedulers, masked loss, training."""

from __future__ import annotations

import time

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from torch import nn

from kinema.diffusion import (
    add_noise,
    apply_guidance,
    flow_matching_loss,
    make_scheduler,
    resolution_shift,
    sample_sigmas,
)
from kinema.errors import InvalidInputError
from kinema.models import AutoencoderKinema, KinemaTransformer3DModel, transformer_config, vae_config


def test_sample_sigmas_logit_normal_seeded_and_shifted():
    a = sample_sigmas(4096, torch.Generator().manual_seed(0))
    b = sample_sigmas(4096, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (4096,) and a.dtype == torch.float32
    assert 0 < a.min() and a.max() < 1
    assert abs(a.median().item() - 0.5) < 0.03  # sigmoid(N(0, 1)) has median 1/2
    shifted = sample_sigmas(4096, torch.Generator().manual_seed(0), shift=3.0)
    torch.testing.assert_close(shifted, 3 * a / (1 + 2 * a))
    assert shifted.mean() > a.mean() + 0.1


def test_resolution_shift_interpolates_and_clamps():
    assert resolution_shift(256) == pytest.approx(1.0)
    assert resolution_shift(4096) == pytest.approx(3.0)
    assert resolution_shift((256 + 4096) // 2) == pytest.approx(2.0)
    assert resolution_shift(16) == pytest.approx(1.0) and resolution_shift(10**6) == pytest.approx(3.0)


def test_add_noise_endpoints():
    x0, noise = torch.randn(3, 2, 1, 2, 2), torch.randn(3, 2, 1, 2, 2)
    out = add_noise(x0, noise, torch.tensor([0.0, 0.25, 1.0]))
    torch.testing.assert_close(out[0], x0[0])
    torch.testing.assert_close(out[1], 0.75 * x0[1] + 0.25 * noise[1])
    torch.testing.assert_close(out[2], noise[2])


@pytest.mark.parametrize("name", ["euler", "unipc"])
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_scheduler_convention_matches_add_noise(name, shift):
    """With the exact velocity of a one-point data set, the diffusers sampler must land on that point:
    proves our (sigma, timestep = 1000 sigma, v = noise - x0) convention is the scheduler's."""
    scheduler = make_scheduler(name, shift=shift)
    assert isinstance(
        scheduler, FlowMatchEulerDiscreteScheduler if name == "euler" else UniPCMultistepScheduler
    )
    scheduler.set_timesteps(12)
    sigmas = scheduler.sigmas[:-1]
    # UniPC rounds its timesteps to integers; Euler keeps them exact.
    torch.testing.assert_close(scheduler.timesteps.float(), (sigmas * 1000).float(), atol=1.0, rtol=0)
    if shift > 1:
        assert sigmas[len(sigmas) // 2] > 0.5 + 0.1  # shift spends more steps at high noise
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 2, 1, 3, 3, generator=g)
    x = torch.randn(1, 2, 1, 3, 3, generator=g)
    for i, t in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[i]
        v = (x - x0) / sigma  # exact velocity noise - x0 at x_sigma = (1 - sigma) x0 + sigma noise
        x = scheduler.step(v, t, x).prev_sample
    torch.testing.assert_close(x, x0, atol=1e-4, rtol=0)


def test_make_scheduler_unknown_name():
    with pytest.raises(InvalidInputError, match="euler"):
        make_scheduler("ddim")


def test_apply_guidance():
    c, u = torch.tensor([2.0]), torch.tensor([1.0])
    assert apply_guidance(c, u, 5.0).item() == pytest.approx(6.0)
    assert apply_guidance(c, u, 1.0).item() == pytest.approx(2.0)


class _Oracle(nn.Module):
    """Predicts the exact velocity for known clean latents, plus an error of `bias` on the chosen frames."""

    def __init__(self, x0: torch.Tensor, bad_frames: list[int], bias: float = 100.0) -> None:
        super().__init__()
        self.x0, self.bad_frames, self.bias = x0, bad_frames, bias
        self.config = type("Config", (), {"patch_size": (1, 2, 2)})()
        self.seen: dict = {}

    def forward(self, noisy, timestep, encoder_hidden_states, **kwargs):
        self.seen = {"timestep": timestep, **kwargs}
        sigma = (timestep / 1000).view(-1, 1, 1, 1, 1)
        v = (noisy - self.x0) / sigma
        v[:, :, self.bad_frames] += self.bias
        return v


def test_loss_masks_conditioned_frames_and_passes_conditions():
    x0 = torch.randn(2, 4, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    text = torch.zeros(2, 5, 384)
    mask = torch.zeros(2, 1, 3, 4, 4)
    mask[:, :, 0] = 1.0
    oracle = _Oracle(x0, bad_frames=[0])
    cam = torch.zeros(2, 3, 6)
    loss = flow_matching_loss(
        oracle,
        x0,
        text,
        cond_latents=x0,
        cond_mask=mask,
        camera=cam,
        generator=torch.Generator().manual_seed(1),
    )
    assert loss.item() < 1e-6  # the only errors sit on the given frame, which is masked out
    assert oracle.seen["camera"] is cam and oracle.seen["cond_mask"] is mask
    assert torch.all((oracle.seen["timestep"] > 0) & (oracle.seen["timestep"] < 1000))
    unmasked = flow_matching_loss(oracle, x0, text, generator=torch.Generator().manual_seed(1))
    assert unmasked.item() == pytest.approx(100.0**2 / 3, rel=1e-3)  # 1 of 3 frames off by 100
    with pytest.raises(InvalidInputError, match="latents"):
        flow_matching_loss(oracle, x0[0], text)


def test_loss_is_seeded():
    torch.manual_seed(0)
    model = KinemaTransformer3DModel(**transformer_config("tiny"))
    x0 = torch.randn(1, 4, 2, 4, 4)
    text = torch.randn(1, 3, 384)
    a = flow_matching_loss(model, x0, text, generator=torch.Generator().manual_seed(3))
    b = flow_matching_loss(model, x0, text, generator=torch.Generator().manual_seed(3))
    c = flow_matching_loss(model, x0, text, generator=torch.Generator().manual_seed(4))
    assert a.item() == b.item() and a.item() != c.item()


def test_tiny_training_loss_falls_tenfold():
    """VAE encode → DiT → flow-matching loss on one tiny clip; plain AdamW must cut the loss >= 10x."""
    torch.manual_seed(0)
    vae = AutoencoderKinema(**vae_config("tiny")).eval()
    model = KinemaTransformer3DModel(**transformer_config("tiny"))
    g = torch.Generator().manual_seed(0)
    video = torch.rand(1, 3, 5, 16, 16, generator=g) * 2 - 1
    with torch.no_grad():
        latents = vae.normalize(vae.encode(video).mode())  # (1, 4, 2, 4, 4)
        latents = latents / latents.std()
    text = torch.randn(1, 4, 384, generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)

    def eval_loss() -> float:
        with torch.no_grad():
            batch = latents.expand(32, -1, -1, -1, -1)
            return flow_matching_loss(
                model, batch, text.expand(32, -1, -1), generator=torch.Generator().manual_seed(123)
            ).item()

    start, t0 = eval_loss(), time.perf_counter()
    for step in range(250):
        loss = flow_matching_loss(
            model,
            latents.expand(8, -1, -1, -1, -1),
            text.expand(8, -1, -1),
            generator=torch.Generator().manual_seed(step),
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    end = eval_loss()
    print(f"flow-matching loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")
    assert end < start / 10
