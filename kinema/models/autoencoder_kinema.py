"""AutoencoderKinema: a 3D causal VAE over pixel videos (B, 3, T, H, W) in [-1, 1].

Reads top-down: causal conv → residual block → down/up-sampling → encoder → decoder → the model.

Causality (the property image-to-video, keyframes and continuation rely on): every temporal convolution
is padded on the *past* side only, so output frame ``i`` sees input frames ``<= i``. Temporal down-sampling is
a stride-2 causal conv over a sequence of ``1 + 2m`` frames, which maps frame 0 alone to the first output;
after two such stages latent frame ``j`` depends only on pixel frames ``<= 4j`` (Wan2.1's causal VAE, arXiv
2503.20314, makes the same choice). Normalisation is per position (RMS over channels), never over time, so
it cannot leak the future either. An image is therefore a 1-frame video, and valid frame counts are
``1 + temporal_compression * k``.

Bounded-memory decoding: because everything is causal, the decoder can run over latent chunks in order if
each causal conv remembers the last ``kernel_t - 1`` input frames of the previous chunk (the "causal cache").
Chunked and full decoding compute the same numbers (tested within 1e-5).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from kinema.errors import InvalidInputError

# Cache shared by all causal layers of one chunked decode: module id → tail frames of its last input.
CausalCache = dict[int, torch.Tensor]


class DiagonalGaussian:
    """Diagonal Gaussian posterior q(z|x) over latents (B, C, t, h, w)."""

    def __init__(self, moments: torch.Tensor) -> None:
        self.mean, logvar = moments.chunk(2, dim=1)  # (B, C, t, h, w) each
        # Clamp as in the LDM/diffusers VAE: keeps exp() finite early in training.
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else self.mean.device
        eps = torch.randn(self.mean.shape, generator=generator, device=device, dtype=self.mean.dtype)
        return self.mean + self.std * eps.to(self.mean.device)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) summed over (C, t, h, w): shape (B,)."""
        kl = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return kl.sum(dim=(1, 2, 3, 4))


class ChannelRMSNorm(nn.Module):
    """RMS norm over channels at each (t, h, w) position: causal, and independent of video length."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, T, H, W)
        x = x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)
        return x * self.weight.view(1, -1, 1, 1, 1)


class CausalConv3d(nn.Module):
    """Conv3d padded symmetrically in space and only on the past side in time.

    With a ``cache`` the past padding is the previous chunk's last ``kernel_t - 1`` frames instead of zeros,
    so a chunked run equals a full run.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int] = (3, 3, 3),
        stride: tuple[int, int, int] = (1, 1, 1),
    ) -> None:
        super().__init__()
        kt, kh, kw = kernel_size
        self.time_pad = kt - 1
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=(0, kh // 2, kw // 2)
        )

    def forward(self, x: torch.Tensor, cache: CausalCache | None = None) -> torch.Tensor:
        # x: (B, C, T, H, W)
        if self.time_pad > 0:
            past = None if cache is None else cache.get(id(self))
            if past is None:
                past = x.new_zeros(x.shape[0], x.shape[1], self.time_pad, x.shape[3], x.shape[4])
            x = torch.cat([past, x], dim=2)  # (B, C, pad + T, H, W)
            if cache is not None:
                cache[id(self)] = x[:, :, -self.time_pad :].detach()
        return self.conv(x)


class ResBlock3d(nn.Module):
    """Pre-norm residual block of two causal 3x3x3 convs."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = ChannelRMSNorm(in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels)
        self.norm2 = ChannelRMSNorm(out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels)
        self.skip = nn.Conv3d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, cache: CausalCache | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)), cache)
        h = self.conv2(F.silu(self.norm2(h)), cache)
        return self.skip(x) + h


class Downsample3d(nn.Module):
    """Stride-2 causal conv in space and/or time; frame 0 maps alone to output frame 0."""

    def __init__(self, channels: int, spatial: bool, temporal: bool) -> None:
        super().__init__()
        s, t = (2 if spatial else 1), (2 if temporal else 1)
        self.conv = CausalConv3d(channels, channels, (3 if temporal else 1, 3, 3), stride=(t, s, s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, 1 + 2m, H, W) -> (B, C, 1 + m, H/2, W/2) when both are on
        return self.conv(x)


class Upsample3d(nn.Module):
    """Inverse of Downsample3d: nearest 2x in space, a causal conv to 2 frames per frame in time.

    The first latent frame stands for one frame only, so the first of its two frames is dropped; with a
    cache this happens only in the chunk that holds frame 0.
    """

    def __init__(self, channels: int, spatial: bool, temporal: bool) -> None:
        super().__init__()
        self.spatial, self.temporal = spatial, temporal
        if temporal:
            self.time_conv = CausalConv3d(channels, 2 * channels, (3, 1, 1))
        self.conv = CausalConv3d(channels, channels, (1, 3, 3))

    def forward(self, x: torch.Tensor, cache: CausalCache | None = None) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if self.temporal:
            first_chunk = cache is None or id(self) not in cache
            y = self.time_conv(x, cache).view(b, 2, c, t, h, w)  # (B, 2, C, T, H, W)
            x = y.permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)  # frames interleaved: (B, C, 2T, H, W)
            if first_chunk:
                x = x[:, :, 1:]  # (B, C, 2T - 1, H, W)
                if cache is not None:
                    cache[id(self)] = x.new_ones(())  # marks "frame 0 already emitted"
        if self.spatial:
            t2 = x.shape[2]
            x = x.transpose(1, 2).reshape(b * t2, c, h, w)
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (B*T, C, 2H, 2W)
            x = x.view(b, t2, c, 2 * h, 2 * w).transpose(1, 2)  # (B, C, T, 2H, 2W)
        return self.conv(x, cache)


def _stage_flags(
    num_stages: int, spatial_compression: int, temporal_compression: int
) -> list[tuple[bool, bool]]:
    """Which of the ``num_stages`` down-sampling stages halve space / time (the deepest ones do both)."""
    n_s = int(math.log2(spatial_compression))
    n_t = int(math.log2(temporal_compression))
    return [(i >= num_stages - n_s, i >= num_stages - n_t) for i in range(num_stages)]


class VideoEncoder(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        num_res_blocks: int,
        flags: list[tuple[bool, bool]],
    ) -> None:
        super().__init__()
        self.conv_in = CausalConv3d(in_channels, channels[0])
        self.blocks = nn.ModuleList()
        c_prev = channels[0]
        for i, c in enumerate(channels):
            for _ in range(num_res_blocks):
                self.blocks.append(ResBlock3d(c_prev, c))
                c_prev = c
            if i < len(flags):
                self.blocks.append(Downsample3d(c, *flags[i]))
        self.mid = ResBlock3d(c_prev, c_prev)
        self.norm_out = ChannelRMSNorm(c_prev)
        self.conv_out = CausalConv3d(c_prev, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)  # (B, C0, T, H, W)
        for block in self.blocks:
            x = block(x)  # down-sampling stages shrink (T, H, W)
        x = self.mid(x)
        return self.conv_out(F.silu(self.norm_out(x)))  # (B, 2 * latent, t, h, w)


class VideoDecoder(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        num_res_blocks: int,
        flags: list[tuple[bool, bool]],
    ) -> None:
        super().__init__()
        rev = list(reversed(channels))
        self.conv_in = CausalConv3d(in_channels, rev[0])
        self.mid = ResBlock3d(rev[0], rev[0])
        self.blocks = nn.ModuleList()
        up_flags = list(reversed(flags))
        c_prev = rev[0]
        for i, c in enumerate(rev):
            for _ in range(num_res_blocks):
                self.blocks.append(ResBlock3d(c_prev, c))
                c_prev = c
            if i < len(up_flags):
                self.blocks.append(Upsample3d(c, *up_flags[i]))
        self.norm_out = ChannelRMSNorm(c_prev)
        self.conv_out = CausalConv3d(c_prev, out_channels)

    def forward(self, z: torch.Tensor, cache: CausalCache | None = None) -> torch.Tensor:
        x = self.conv_in(z, cache)  # (B, C_top, t, h, w)
        x = self.mid(x, cache)
        for block in self.blocks:
            x = block(x, cache)  # up-sampling stages grow (T, H, W)
        return self.conv_out(F.silu(self.norm_out(x)), cache)  # (B, 3, T, H, W)


class AutoencoderKinema(ModelMixin, ConfigMixin):
    """3D causal KL autoencoder: (B, 3, 1 + 4k, H, W) ⇄ (B, latent_channels, 1 + k, H / 8, W / 8).

    The DiT works on ``normalize(z) = (z - shift_factor) * scaling_factor``.
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        latent_channels: int = 16,
        base_channels: int = 24,
        channel_multipliers: tuple[int, ...] = (1, 2, 4, 4),
        num_res_blocks: int = 1,
        temporal_compression: int = 4,
        spatial_compression: int = 8,
        scaling_factor: float = 1.0,
        shift_factor: float = 0.0,
        patch_size: int = 1,
        decoder_base_channels: int | None = None,
        decoder_num_res_blocks: int | None = None,
    ) -> None:
        super().__init__()
        num_stages = len(channel_multipliers) - 1
        if patch_size < 1 or spatial_compression % patch_size:
            raise InvalidInputError(
                f"patch_size={patch_size} must be >= 1 and divide spatial_compression={spatial_compression}."
            )
        # A patch_size > 1 stem folds p x p pixels into channels (space-to-depth) before the first conv, so
        # the full-resolution convs - most of a video VAE's cost - run on p^2 fewer positions. Measured on
        # this shared 2-core CPU: fwd+bwd at 64x64x9, batch 4, 36 s for "small" vs 16 s for "world" (p=2, base 24).
        conv_spatial = spatial_compression // patch_size
        for name, factor in (("spatial", conv_spatial), ("temporal", temporal_compression)):
            if factor < 1 or factor & (factor - 1) or factor > 2**num_stages:
                raise InvalidInputError(
                    f"{name}_compression={factor} must be a power of two <= 2**{num_stages} "
                    f"(one halving per channel_multipliers stage after the first); add stages or lower it."
                )
        channels = [base_channels * m for m in channel_multipliers]
        flags = _stage_flags(num_stages, conv_spatial, temporal_compression)
        folded = in_channels * patch_size * patch_size
        self.encoder = VideoEncoder(folded, 2 * latent_channels, channels, num_res_blocks, flags)
        # An asymmetric codec (a decoder wider or deeper than its encoder, as in Zhu et al.'s asymmetric VQGAN,
        # arXiv 2306.04632) spends capacity where the pixels are drawn; a frozen encoder keeps the latent space
        # that a DiT already reads, so only the decoder retrains.
        dec_channels = [(decoder_base_channels or base_channels) * m for m in channel_multipliers]
        dec_blocks = decoder_num_res_blocks or num_res_blocks
        self.decoder = VideoDecoder(latent_channels, folded, dec_channels, dec_blocks, flags)

    # ----- space-to-depth stem -------------------------------------------------------------------------
    def _fold(self, x: torch.Tensor) -> torch.Tensor:
        p = self.config.patch_size
        if p == 1:
            return x
        b, c, t, h, w = x.shape
        x = F.pixel_unshuffle(x.transpose(1, 2).reshape(b * t, c, h, w), p)  # (B*T, C p^2, H/p, W/p)
        return x.view(b, t, c * p * p, h // p, w // p).transpose(1, 2)  # (B, C p^2, T, H/p, W/p)

    def _unfold(self, x: torch.Tensor) -> torch.Tensor:
        p = self.config.patch_size
        if p == 1:
            return x
        b, c, t, h, w = x.shape
        x = F.pixel_shuffle(x.transpose(1, 2).reshape(b * t, c, h, w), p)  # (B*T, C / p^2, H p, W p)
        return x.view(b, t, c // (p * p), h * p, w * p).transpose(1, 2)  # (B, 3, T, H, W)

    # ----- sizes ---------------------------------------------------------------------------------------
    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(C, t, h, w) of the latents of a (num_frames, height, width) video; raises for sizes it can't make."""
        tc, sc = self.config.temporal_compression, self.config.spatial_compression
        if num_frames < 1 or (num_frames - 1) % tc:
            raise InvalidInputError(
                f"num_frames={num_frames} is not 1 + {tc}*k; use e.g. {1 + tc * max(0, (num_frames - 1) // tc)} "
                f"or {1 + tc * (max(0, num_frames - 1) // tc + 1)}."
            )
        if height < sc or width < sc or height % sc or width % sc:
            raise InvalidInputError(
                f"height={height} and width={width} must be positive multiples of {sc} (the VAE's spatial "
                f"compression); resize or crop to e.g. {max(sc, height // sc * sc)}x{max(sc, width // sc * sc)}."
            )
        return (self.config.latent_channels, 1 + (num_frames - 1) // tc, height // sc, width // sc)

    def _check_video(self, x: torch.Tensor) -> None:
        if x.ndim != 5:
            raise InvalidInputError(
                f"AutoencoderKinema.encode expects a video tensor (B, C, T, H, W); got shape {tuple(x.shape)}. "
                "Add a batch/time axis (an image is a 1-frame video: x[:, :, None])."
            )
        if x.shape[1] != self.config.in_channels:
            raise InvalidInputError(
                f"expected {self.config.in_channels} channels on dim 1 of (B, C, T, H, W); got shape {tuple(x.shape)}."
            )
        self.latent_shape(x.shape[2], x.shape[3], x.shape[4])

    def _check_latents(self, z: torch.Tensor) -> None:
        if z.ndim != 5 or z.shape[1] != self.config.latent_channels:
            raise InvalidInputError(
                f"AutoencoderKinema.decode expects latents (B, {self.config.latent_channels}, t, h, w); "
                f"got shape {tuple(z.shape)}."
            )

    # ----- latent normalisation ------------------------------------------------------------------------
    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.config.shift_factor) * self.config.scaling_factor

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z / self.config.scaling_factor + self.config.shift_factor

    # ----- encode / decode -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """x: (B, 3, T, H, W) in [-1, 1] → posterior over (B, C, t, h, w)."""
        self._check_video(x)
        return DiagonalGaussian(self.encoder(self._fold(x)))

    def iter_decode(self, z: torch.Tensor, chunk_frames: int = 1) -> Iterator[torch.Tensor]:
        """Decode ``chunk_frames`` latent frames at a time; yields (B, 3, T_chunk, H, W) in order.

        The first chunk holds ``1 + 4 (chunk_frames - 1)`` pixel frames, later ones ``4 chunk_frames``.
        Peak memory is that of one chunk plus the causal cache (a few frames per layer).
        """
        self._check_latents(z)
        if chunk_frames < 1:
            raise InvalidInputError(f"chunk_frames must be >= 1; got {chunk_frames}.")
        cache: CausalCache = {}
        for start in range(0, z.shape[2], chunk_frames):
            yield self._unfold(self.decoder(z[:, :, start : start + chunk_frames], cache))

    def decode(self, z: torch.Tensor, chunk_frames: int | None = None) -> torch.Tensor:
        """z: (B, C, t, h, w) → (B, 3, 1 + 4 (t - 1), H, W); ``chunk_frames`` bounds memory, same result."""
        self._check_latents(z)
        if chunk_frames is None or chunk_frames >= z.shape[2]:
            return self._unfold(self.decoder(z))
        return torch.cat(list(self.iter_decode(z, chunk_frames)), dim=2)

    def forward(
        self, x: torch.Tensor, sample_posterior: bool = True, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, DiagonalGaussian]:
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample_posterior else posterior.mode()
        return self.decode(z), posterior

    def init_kwargs(self) -> dict:
        """This model's constructor arguments (its config without diffusers' private `_` keys): build a
        copy with some of them changed."""
        return {k: v for k, v in dict(self.config).items() if not k.startswith("_")}

    def widen_latent(
        self, latent_channels: int, generator: torch.Generator | None = None
    ) -> AutoencoderKinema:
        """A copy with ``latent_channels`` (>= today's) latent channels that decodes exactly as this one does.

        The first channels keep their weights; the new channels' encoder rows start small and random (they
        carry a signal from step one) and the decoder's columns reading them start at zero, so the widened
        model's reconstructions equal this one's until training gives the new channels a use (function-
        preserving widening, Net2Net's idea, arXiv 1511.05641). The latent normalisation is kept; retrain or
        re-measure it before a DiT trains on the new space.
        """
        old = self.config.latent_channels
        if latent_channels < old:
            raise InvalidInputError(
                f"widen_latent: {latent_channels} latent channels is fewer than today's {old}"
            )
        config = self.init_kwargs()
        wide = AutoencoderKinema(**{**config, "latent_channels": latent_channels})
        state, mine = wide.state_dict(), self.state_dict()
        for name, value in mine.items():
            if state[name].shape == value.shape:
                state[name] = value.clone()
        enc_w, enc_b = "encoder.conv_out.conv.weight", "encoder.conv_out.conv.bias"  # (2C, c, kt, kh, kw)
        w, b = mine[enc_w], mine[enc_b]
        new = latent_channels - old
        noise = torch.randn((new, *w.shape[1:]), generator=generator) * float(w[:old].std())
        # rows: old means, new means, old log-variances, new log-variances (posterior = mean | logvar halves)
        state[enc_w] = torch.cat(
            [w[:old], noise, w[old:], w[old:].mean(0, keepdim=True).expand(new, *w.shape[1:])]
        )
        state[enc_b] = torch.cat([b[:old], torch.zeros(new), b[old:], b[old:].mean().expand(new)])
        dec_w = "decoder.conv_in.conv.weight"  # (C_top, C, kt, kh, kw)
        w = mine[dec_w]
        state[dec_w] = torch.cat([w, torch.zeros(w.shape[0], new, *w.shape[2:])], dim=1)
        wide.load_state_dict(state)
        return wide

    def widen_decoder(
        self, decoder_base_channels: int, generator: torch.Generator | None = None
    ) -> AutoencoderKinema:
        """A copy whose decoder is ``decoder_base_channels`` wide (>= today's) and decodes exactly as this one.

        The encoder and latent normalisation are kept, so the latent space a DiT reads is unchanged: train the
        copy with ``train.trainable: [decoder]``. Every decoder layer keeps its weights in the first channels;
        a layer's new output channels start at zero and its weights reading new input channels start random,
        so new channels carry nothing until training gives them a use and get a gradient from step one (the
        idea of Net2Net's function-preserving widening, arXiv 1511.05641). A channel RMS norm sees zeros in the
        new channels, so its old weights are scaled by sqrt(old / new) to keep the same output.
        """
        config = self.init_kwargs()
        old_base = config.get("decoder_base_channels") or config["base_channels"]
        if decoder_base_channels < old_base:
            raise InvalidInputError(
                f"widen_decoder: {decoder_base_channels} base channels is fewer than today's {old_base}"
            )
        wide = AutoencoderKinema(**{**config, "decoder_base_channels": decoder_base_channels})
        wide.encoder.load_state_dict(self.encoder.state_dict())
        modules = list(wide.decoder.named_modules())
        norms = {f"{n}.weight" for n, m in modules if isinstance(m, ChannelRMSNorm)}
        # A temporal up-sampler's conv emits (2, C) rows, frame-pair major: row k*C + c moves to k*C' + c.
        paired = {
            f"{n}.time_conv.conv.{p}"
            for n, m in modules
            if isinstance(m, Upsample3d) and m.temporal
            for p in ("weight", "bias")
        }
        old_state, state = self.decoder.state_dict(), wide.decoder.state_dict()
        for name, new in state.items():
            old = old_state[name]
            if name in norms:
                new.fill_(1.0)
                new[: old.shape[0]] = old * math.sqrt(old.shape[0] / new.shape[0])
                continue
            if name in paired:
                o, o_new = old.shape[0] // 2, new.shape[0] // 2
                rows = torch.cat([torch.arange(o), o_new + torch.arange(o)])
            else:
                rows = torch.arange(old.shape[0])
            new.zero_()
            if old.ndim == 1:  # bias
                new[rows] = old
                continue
            new[rows, : old.shape[1]] = old
            if new.shape[1] > old.shape[1]:  # weights reading new (zero) input channels
                extra = torch.randn(
                    (len(rows), new.shape[1] - old.shape[1], *old.shape[2:]), generator=generator
                )
                new[rows, old.shape[1] :] = extra * float(old.std())
        wide.decoder.load_state_dict(state)
        return wide
