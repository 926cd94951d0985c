"""AutoencoderKinema: shapes, causality, image = 1-frame video, chunked decode, save/load, errors."""

from __future__ import annotations

import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.models import AutoencoderKinema, vae_config


@pytest.fixture(scope="module")
def vae() -> AutoencoderKinema:
    torch.manual_seed(0)
    return AutoencoderKinema(**vae_config("tiny")).eval()


def _video(frames: int = 9, size: int = 16, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, frames, size, size, generator=g) * 2 - 1  # (1, 3, T, H, W) in [-1, 1]


@torch.no_grad()
def test_shapes_tiny_and_latent_shape(vae):
    x = _video(9, 16)
    post = vae.encode(x)
    assert post.mean.shape == (1, 4, 3, 4, 4)
    assert vae.latent_shape(9, 16, 16) == (4, 3, 4, 4)
    assert post.sample(torch.Generator().manual_seed(0)).shape == (1, 4, 3, 4, 4)
    assert post.kl().shape == (1,)
    assert vae.decode(post.mode()).shape == (1, 3, 9, 16, 16)
    recon, post2 = vae(x, generator=torch.Generator().manual_seed(0))
    assert recon.shape == x.shape and torch.equal(post2.mean, post.mean)


@torch.no_grad()
def test_default_vae_compresses_4x8x8():
    torch.manual_seed(0)
    vae = AutoencoderKinema(**vae_config("small"))
    assert vae.latent_shape(17, 64, 48) == (16, 5, 8, 6)
    assert 1e6 < sum(p.numel() for p in vae.parameters()) < 5e6  # "a few M params at most"
    z = vae.encode(_video(5, 16)).mode()
    assert z.shape == (1, 16, 2, 2, 2)
    assert vae.decode(z).shape == (1, 3, 5, 16, 16)


@torch.no_grad()
def test_encoder_is_causal(vae):
    # T=9 → latent frames {0}, {1..4}, {5..8}: changing frame 5 may only change latent frame 2.
    x = _video(9)
    y = x.clone()
    y[:, :, 5] = -y[:, :, 5]
    zx, zy = vae.encode(x).mean, vae.encode(y).mean
    assert torch.equal(zx[:, :, :2], zy[:, :, :2])
    assert (zx[:, :, 2] - zy[:, :, 2]).abs().max() > 1e-4  # the change does reach latent frame 2


@torch.no_grad()
def test_decoder_is_causal(vae):
    z = vae.encode(_video(9)).mean
    z2 = z.clone()
    z2[:, :, 2] += 1.0
    a, b = vae.decode(z), vae.decode(z2)
    assert torch.equal(a[:, :, :5], b[:, :, :5])  # frames 0..4 come from latent frames 0..1
    assert (a[:, :, 5:] - b[:, :, 5:]).abs().max() > 1e-4


@torch.no_grad()
def test_image_is_a_one_frame_video(vae):
    x = _video(9)
    z_video = vae.encode(x).mean
    z_image = vae.encode(x[:, :, :1]).mean
    assert z_image.shape == (1, 4, 1, 4, 4)
    torch.testing.assert_close(z_image, z_video[:, :, :1], atol=1e-5, rtol=0)
    assert vae.decode(z_image).shape == (1, 3, 1, 16, 16)


@torch.no_grad()
@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunked_decode_equals_full_decode(vae, chunk):
    z = torch.randn(2, 4, 5, 4, 4, generator=torch.Generator().manual_seed(3))
    full = vae.decode(z)
    assert full.shape == (2, 3, 17, 16, 16)
    torch.testing.assert_close(vae.decode(z, chunk_frames=chunk), full, atol=1e-5, rtol=0)
    pieces = list(vae.iter_decode(z, chunk))
    sizes = [p.shape[2] for p in pieces]
    assert sizes[0] == 1 + 4 * (min(chunk, 5) - 1) and sum(sizes) == 17


def test_normalize_roundtrip():
    vae = AutoencoderKinema(**vae_config("tiny", scaling_factor=0.5, shift_factor=0.25))
    z = torch.randn(1, 4, 2, 3, 3)
    torch.testing.assert_close(vae.normalize(z), (z - 0.25) * 0.5)
    torch.testing.assert_close(vae.denormalize(vae.normalize(z)), z)


def test_posterior_sampling_is_seeded(vae):
    post = vae.encode(_video(5))
    a = post.sample(torch.Generator().manual_seed(7))
    b = post.sample(torch.Generator().manual_seed(7))
    c = post.sample(torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.all(post.kl() >= 0)


def test_save_load_roundtrip(vae, tmp_path):
    vae.save_pretrained(tmp_path / "vae")
    assert (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert (tmp_path / "vae" / "config.json").is_file()
    loaded = AutoencoderKinema.from_pretrained(tmp_path / "vae").eval()
    assert loaded.config.latent_channels == 4 and loaded.config.spatial_compression == 4
    x = _video(5)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.decode(loaded.encode(x).mode()), vae.decode(vae.encode(x).mode()), atol=1e-6, rtol=0
        )


def test_gradients_reach_encoder(vae):
    vae.train()
    recon, post = vae(_video(5), generator=torch.Generator().manual_seed(0))
    (recon.pow(2).mean() + post.kl().mean()).backward()
    assert vae.encoder.conv_in.conv.weight.grad.abs().sum() > 0
    vae.zero_grad(set_to_none=True)
    vae.eval()


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ((1, 3, 16, 16), "(B, C, T, H, W)"),
        ((1, 3, 8, 16, 16), "1 + 4*k"),
        ((1, 3, 9, 18, 16), "multiples of 4"),
        ((1, 1, 9, 16, 16), "3 channels"),
    ],
)
def test_bad_video_inputs_raise(vae, shape, needle):
    with pytest.raises(
        InvalidInputError,
        match=needle.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+").replace("*", r"\*"),
    ):
        vae.encode(torch.zeros(shape))


def test_bad_latents_and_config_raise(vae):
    with pytest.raises(InvalidInputError, match="latents"):
        vae.decode(torch.zeros(1, 3, 2, 4, 4))
    with pytest.raises(InvalidInputError, match="chunk_frames"):
        next(vae.iter_decode(torch.zeros(1, 4, 2, 4, 4), 0))
    with pytest.raises(InvalidInputError, match="spatial_compression"):
        AutoencoderKinema(channel_multipliers=(1, 2), spatial_compression=8)


@torch.no_grad()
def test_space_to_depth_stem_keeps_shapes_causality_and_chunking():
    torch.manual_seed(0)
    vae = AutoencoderKinema(**vae_config("tiny", patch_size=2)).eval()
    x = _video(9, 16)
    z = vae.encode(x).mean
    assert z.shape == (1, 4, 3, 4, 4)  # spatial 4 = stem 2 x one conv halving
    y = x.clone()
    y[:, :, 5] = -y[:, :, 5]
    assert torch.equal(z[:, :, :2], vae.encode(y).mean[:, :, :2])
    assert vae.decode(z).shape == x.shape
    torch.testing.assert_close(vae.decode(z, chunk_frames=1), vae.decode(z), atol=1e-5, rtol=0)
    # The stem is an exact space-to-depth: unfold(fold(x)) is the identity.
    torch.testing.assert_close(vae._unfold(vae._fold(x)), x, atol=0, rtol=0)


def test_world_preset_is_64x64_friendly_and_stem_must_divide_compression():
    vae = AutoencoderKinema(**vae_config("world"))
    assert vae.latent_shape(33, 64, 64) == (8, 9, 8, 8)
    with pytest.raises(InvalidInputError, match="patch_size=3"):
        AutoencoderKinema(**vae_config("world", patch_size=3))


@torch.no_grad()
def test_reference_slice():
    # Pins the tiny VAE's architecture and initialisation (diffusers-style expected slice).
    torch.manual_seed(0)
    vae = AutoencoderKinema(**vae_config("tiny")).eval()
    y = vae.decode(torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(y[0, :, 4, 5, 6], torch.tensor([0.1796, -0.5320, -0.3420]), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        y[0, 0, 0, 0, :3], torch.tensor([-0.1771, -0.2797, -0.2335]), atol=1e-4, rtol=0
    )


def test_widen_latent_decodes_exactly_as_before_and_the_new_channels_carry_a_signal():
    torch.manual_seed(5)
    vae = AutoencoderKinema(**vae_config("tiny", scaling_factor=0.5, shift_factor=0.25)).eval()
    wide = vae.widen_latent(7, torch.Generator().manual_seed(0)).eval()
    assert wide.config.latent_channels == 7 and wide.config.scaling_factor == 0.5
    x = _video()
    with torch.no_grad():
        z, zw = vae.encode(x), wide.encode(x)
        torch.testing.assert_close(zw.mean[:, :4], z.mean)  # the old channels, as they were
        torch.testing.assert_close(zw.logvar[:, :4], z.logvar)
        assert float(zw.mean[:, 4:].std()) > 0  # the new ones are not dead
        torch.testing.assert_close(wide.decode(zw.mode()), vae.decode(z.mode()), atol=1e-5, rtol=1e-5)
    with pytest.raises(InvalidInputError, match="fewer than"):
        vae.widen_latent(2)


def test_widen_decoder_decodes_as_before_keeps_the_encoder_and_its_new_channels_learn(tmp_path):
    torch.manual_seed(5)
    vae = AutoencoderKinema(**vae_config("tiny", scaling_factor=0.5, shift_factor=0.25)).eval()
    wide = vae.widen_decoder(12, torch.Generator().manual_seed(0)).eval()
    assert wide.config.decoder_base_channels == 12 and wide.config.base_channels == 8
    assert wide.decoder.conv_in.conv.weight.shape[0] == 24  # top stage: 12 * multiplier 2
    x = _video()
    with torch.no_grad():
        z = vae.encode(x).mode()
        torch.testing.assert_close(wide.encode(x).mode(), z)  # the latent space a DiT reads is unchanged
        # equal up to the norms' eps, which now divides a mean over more channels
        torch.testing.assert_close(wide.decode(z), vae.decode(z), atol=2e-4, rtol=0)
    # One decoder-only step on a reconstruction loss moves the new channels' zero-started weights.
    wide.train()
    opt = torch.optim.SGD(wide.decoder.parameters(), lr=0.1)
    (wide.decode(z) - x).pow(2).mean().backward()
    opt.step()
    grown = wide.decoder.conv_in.conv.weight[16:]  # output channels the widening added, zero at the start
    assert float(grown.abs().max()) > 0
    wide.save_pretrained(tmp_path / "wide")
    again = AutoencoderKinema.from_pretrained(tmp_path / "wide")
    assert again.config.decoder_base_channels == 12
    with torch.no_grad():
        torch.testing.assert_close(again.decode(z), wide.eval().decode(z))
    with pytest.raises(InvalidInputError, match="fewer than"):
        vae.widen_decoder(4)
