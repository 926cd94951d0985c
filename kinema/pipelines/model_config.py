"""A Kinema model folder's facts (`kinema.json`), readable without torch: the one source the pipelines,
the backends, the server's registry and validation, and the CLI all read.

    my-model/
      kinema.json        ModelFolderConfig: native size, fps, frames, text encoder, sampling defaults
      vae/               AutoencoderKinema.save_pretrained (config.json + safetensors)
      transformer/       KinemaTransformer3DModel.save_pretrained
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from kinema.errors import InvalidInputError, ModelNotFoundError

CONFIG_NAME = "kinema.json"
FORMAT = "kinema-model"


@dataclass
class ModelFolderConfig:
    """Everything a pipeline needs to know about a model besides its weights (saved as kinema.json)."""

    name: str = "kinema"
    width: int = 256  # native size: what the model was trained at and makes by default
    height: int = 256
    num_frames: int = 33  # native clip length (1 + 4k); also the extension chunk length
    max_frames: int = 129  # longest single pass; longer videos come from extension
    max_pixels: int | None = None  # largest width × height; None = 4 × native area
    fps: float = 16.0
    text_encoder: str = "minilm"
    max_text_length: int = 77
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    shift: float = 3.0  # flow-matching timestep shift (SD3 / Wan)
    sampler: str = "unipc"
    negative_prompt: str = ""
    decode_chunk_frames: int = 2  # latent frames per VAE decode chunk (bounds decode memory)
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # noise levels where guidance applies (1 = noise)
    # with a trajectory map (physics mode, motion brush), which sets the motion itself; None = the one above
    trajectory_guidance_interval: tuple[float, float] | None = None
    # with a trajectory map, guide towards the map too: the unguided branch gets neither the prompt nor the
    # map (else it keeps the map and guidance pushes towards the prompt alone)
    guide_trajectory: bool = False
    trajectory_guidance_scale: float | None = None  # with a trajectory map; None = guidance_scale

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": 1, **asdict(self)}, indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFolderConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def read_model_config(path: str | Path) -> ModelFolderConfig:
    """kinema.json of a model folder; ModelNotFoundError says what is missing."""
    path = Path(path)
    file = path / CONFIG_NAME
    if not path.is_dir():
        raise ModelNotFoundError(
            f"No model folder at {str(path)!r}; pass the folder that holds {CONFIG_NAME}."
        )
    if not file.is_file():
        raise ModelNotFoundError(
            f"{str(path)!r} is not a Kinema model folder ({CONFIG_NAME} is missing); pass a folder saved by Kinema."
        )
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{file} is not valid JSON ({exc}); restore the model folder.") from None
    if data.get("format") != FORMAT:
        raise InvalidInputError(f"{file} is not a Kinema model description (format {data.get('format')!r}).")
    return ModelFolderConfig.from_dict(data)


# The default model: kinema-world v1 (issue 25; `models/kinema-world` is v0.2, the default before it).
SHIPPED_MODEL = "kinema-world-v1"


def default_model_path() -> Path:
    """The shipped model: $KINEMA_MODEL, ./models/kinema-world-v1, or models/kinema-world-v1 of the source tree.

    The CLI and the server fall back to it when no model is named, so a fresh checkout works offline.
    """
    candidates = []
    if os.environ.get("KINEMA_MODEL"):
        candidates.append(Path(os.environ["KINEMA_MODEL"]))
    candidates.append(Path.cwd() / "models" / SHIPPED_MODEL)
    candidates.append(Path(__file__).resolve().parents[2] / "models" / SHIPPED_MODEL)
    for path in candidates:
        if (path / CONFIG_NAME).is_file():
            return path
    raise ModelNotFoundError(
        f"No model given and the shipped model (models/{SHIPPED_MODEL}) is not in this installation; "
        "pass --model PATH to a Kinema model folder (or set KINEMA_MODEL)."
    )
