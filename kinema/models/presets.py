"""Size presets of Kinema's models, in one registry.

DiT sizes follow DiT (arXiv 2212.09748) and the physical-law study (arXiv 2411.02385): S 12x384 (6 heads),
B 12x768 (12), L 24x1024 (16), XL 28x1152 (16); ``tiny`` is for tests. VAE presets: ``tiny`` (4x4x4, for
tests), ``small`` (a few M params, trainable on a laptop CPU at 64x64), ``base`` (wider, 2 res blocks).
"""

from __future__ import annotations

from typing import Any

from kinema.errors import InvalidInputError

DIT_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"in_channels": 4, "out_channels": 4, "hidden_size": 64, "depth": 2, "num_heads": 2},
    "S": {"hidden_size": 384, "depth": 12, "num_heads": 6},
    "B": {"hidden_size": 768, "depth": 12, "num_heads": 12},
    "L": {"hidden_size": 1024, "depth": 24, "num_heads": 16},
    "XL": {"hidden_size": 1152, "depth": 28, "num_heads": 16},
}

VAE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "latent_channels": 4,
        "base_channels": 8,
        "channel_multipliers": (1, 2, 2),
        "num_res_blocks": 1,
        "spatial_compression": 4,
        "temporal_compression": 4,
    },
    "small": {
        "latent_channels": 16,
        "base_channels": 24,
        "channel_multipliers": (1, 2, 4, 4),
        "num_res_blocks": 1,
        "spatial_compression": 8,
        "temporal_compression": 4,
    },
    # The shipped world model's VAE: a 2x2 space-to-depth stem, then convs at 32x32 and below for 64x64
    # clips, so it trains on a 2-core CPU (the plain "small" preset's full-resolution 3D convs dominate).
    "world": {
        "latent_channels": 8,
        "base_channels": 16,
        "channel_multipliers": (1, 2, 4),
        "num_res_blocks": 1,
        "spatial_compression": 8,
        "temporal_compression": 4,
        "patch_size": 2,
    },
    "base": {
        "latent_channels": 16,
        "base_channels": 64,
        "channel_multipliers": (1, 2, 4, 4),
        "num_res_blocks": 2,
        "spatial_compression": 8,
        "temporal_compression": 4,
    },
}


def _lookup(
    registry: dict[str, dict[str, Any]], kind: str, name: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    if name not in registry:
        raise InvalidInputError(f"unknown {kind} preset {name!r}; choose one of {sorted(registry)}.")
    return {**registry[name], **overrides}


def transformer_config(name: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``KinemaTransformer3DModel`` of preset ``name``, with ``overrides`` applied."""
    return _lookup(DIT_PRESETS, "DiT", name, overrides)


def vae_config(name: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``AutoencoderKinema`` of preset ``name``, with ``overrides`` applied."""
    return _lookup(VAE_PRESETS, "VAE", name, overrides)
