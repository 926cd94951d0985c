"""Kinema's models: the 3D causal VAE, the spatio-temporal DiT, their presets and the text encoders."""

from kinema.models.autoencoder_kinema import AutoencoderKinema, DiagonalGaussian
from kinema.models.presets import DIT_PRESETS, VAE_PRESETS, transformer_config, vae_config
from kinema.models.text_encoder import (
    MiniLMTextEncoder,
    T5TextEncoder,
    TextEncoder,
    load_text_encoder,
)
from kinema.models.transformer_kinema import KinemaTransformer3DModel

__all__ = [
    "DIT_PRESETS",
    "VAE_PRESETS",
    "AutoencoderKinema",
    "DiagonalGaussian",
    "KinemaTransformer3DModel",
    "MiniLMTextEncoder",
    "T5TextEncoder",
    "TextEncoder",
    "load_text_encoder",
    "transformer_config",
    "vae_config",
]
