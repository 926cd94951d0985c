"""A Kinema model folder on disk: `kinema.json` + `vae/` + `transformer/`, and a random one for tests.

    my-model/
      kinema.json        ModelFolderConfig: native size, fps, frames, text encoder, sampling defaults
      vae/               AutoencoderKinema.save_pretrained (config.json + safetensors)
      transformer/       KinemaTransformer3DModel.save_pretrained

The text encoder is named, not stored ("minilm" = the packaged MiniLM, or a local T5 folder), so a model
folder stays a few tens of MB and nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kinema.errors import InvalidInputError, ModelNotFoundError
from kinema.models.autoencoder_kinema import AutoencoderKinema
from kinema.models.presets import transformer_config, vae_config
from kinema.models.text_encoder import TextEncoder, load_text_encoder
from kinema.models.transformer_kinema import KinemaTransformer3DModel
from kinema.pipelines.model_config import (  # noqa: F401  (the folder format, re-exported)
    CONFIG_NAME,
    FORMAT,
    SHIPPED_MODEL,
    ModelFolderConfig,
    default_model_path,
    read_model_config,
)

# Random model folders for tests, the server's tests and the README: preset → (VAE, DiT, folder config).
RANDOM_PRESETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tiny": (
        "tiny",
        "tiny",
        dict(
            width=32,
            height=32,
            num_frames=9,
            max_frames=33,
            fps=8.0,
            num_inference_steps=2,
            guidance_scale=3.0,
            shift=1.0,
            sampler="euler",
        ),
    ),
    "small": (
        "small",
        "S",
        dict(
            width=128,
            height=128,
            num_frames=33,
            max_frames=129,
            fps=16.0,
            num_inference_steps=20,
            guidance_scale=5.0,
            shift=3.0,
        ),
    ),
}


def save_model_folder(
    path: str | Path, vae: AutoencoderKinema, transformer: KinemaTransformer3DModel, config: ModelFolderConfig
) -> Path:
    """Write a model folder (creating it); returns its path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(path / "vae")
    transformer.save_pretrained(path / "transformer")
    (path / CONFIG_NAME).write_text(config.to_json())
    return path


def load_model_folder(
    path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> tuple[AutoencoderKinema, KinemaTransformer3DModel, TextEncoder, ModelFolderConfig]:
    """(vae, transformer, text encoder, config) of a model folder, in eval mode on `device`."""
    path = Path(path)
    config = read_model_config(path)
    for part in ("vae", "transformer"):
        if not (path / part / "config.json").is_file():
            raise ModelNotFoundError(
                f"Model folder {str(path)!r} has no {part}/ weights; re-save or re-download it."
            )
    vae = AutoencoderKinema.from_pretrained(path / "vae", low_cpu_mem_usage=False).to(device).eval()
    transformer = (
        KinemaTransformer3DModel.from_pretrained(path / "transformer", low_cpu_mem_usage=False)
        .to(device)
        .eval()
    )
    if dtype is not None:
        transformer = transformer.to(dtype)  # the VAE stays float32: its decode is sensitive to precision
    text_encoder = load_text_encoder(config.text_encoder, device=device)
    return vae, transformer, text_encoder, config


def _wake_zero_layers(module: torch.nn.Module, generator: torch.Generator, std: float = 0.05) -> None:
    """Redraw all-zero parameters. adaLN-Zero (DiT) starts the output layer, the modulations and the camera
    / trajectory embeddings at zero, so an untrained model would ignore every input; a random test model
    must not, or tests could not see conditions reach the output."""
    with torch.no_grad():
        for param in module.parameters():
            if not param.any():
                param.copy_(torch.randn(param.shape, generator=generator) * std)


def build_random_components(
    preset: str = "tiny", seed: int = 0, text_dim: int = 384, **transformer_overrides: Any
) -> tuple[AutoencoderKinema, KinemaTransformer3DModel, ModelFolderConfig]:
    """Seeded random (vae, transformer, config) of a preset in RANDOM_PRESETS (`transformer_overrides`,
    e.g. `trajectory_adapter_channels=7`, change the DiT's config)."""
    if preset not in RANDOM_PRESETS:
        raise InvalidInputError(
            f"Unknown random model preset {preset!r}; use one of {', '.join(RANDOM_PRESETS)}."
        )
    vae_name, dit_name, folder = RANDOM_PRESETS[preset]
    torch.manual_seed(seed)
    vae = AutoencoderKinema(**vae_config(vae_name)).eval()
    channels = vae.config.latent_channels
    transformer = KinemaTransformer3DModel(
        **transformer_config(
            dit_name, in_channels=channels, out_channels=channels, text_dim=text_dim, **transformer_overrides
        )
    ).eval()
    _wake_zero_layers(transformer, torch.Generator().manual_seed(seed + 1))
    return vae, transformer, ModelFolderConfig(name=f"random-{preset}", **folder)


def create_random_model_folder(
    path: str | Path, preset: str = "tiny", seed: int = 0, **transformer_overrides: Any
) -> Path:
    """Write a seeded random-weight model folder (for tests, the server's tests and the README)."""
    vae, transformer, config = build_random_components(preset, seed, **transformer_overrides)
    return save_model_folder(path, vae, transformer, config)
