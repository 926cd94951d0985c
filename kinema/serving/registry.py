"""The models a server offers: model folders found on disk, named by their folder name.

A model folder holds `kinema.json` (native size, fps, frame count — written by kinema.pipelines); the API
reads only those numbers (to validate requests and answer `/v1/models`), and the worker loads the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinema.errors import ModelNotFoundError

CONFIG_NAME = "kinema.json"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    width: int
    height: int
    fps: int
    num_frames: int
    max_frames: int = 129
    max_pixels: int | None = None  # None = 4 x the native area
    created_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def native_seconds(self) -> float:
        return (self.num_frames - 1) / self.fps if self.num_frames > 1 else 1.0 / self.fps


def _first(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def read_model_info(path: Path, name: str | None = None) -> ModelInfo:
    path = Path(path)
    config_path = path / CONFIG_NAME
    if not config_path.is_file():
        raise ModelNotFoundError(
            f"{path} is not a Kinema model folder (no {CONFIG_NAME}); pass a folder that has one."
        )
    config = json.loads(config_path.read_text())
    size = _first(config, "size", "native_size", "resolution")
    width = _first(config, "width", "native_width", "sample_width")
    height = _first(config, "height", "native_height", "sample_height")
    if size is not None and (width is None or height is None):
        if isinstance(size, str):
            width, height = (int(v) for v in size.lower().split("x"))
        else:
            width, height = int(size[0]), int(size[1])
    return ModelInfo(
        name=name or path.name,
        path=path.resolve(),
        width=int(width or 256),
        height=int(height or 256),
        fps=int(round(float(_first(config, "fps", "native_fps", default=8)))),
        num_frames=int(_first(config, "num_frames", "frames", "native_frames", default=17)),
        max_frames=int(_first(config, "max_frames", default=129)),
        max_pixels=_first(config, "max_pixels"),
        created_at=int(config_path.stat().st_mtime),
        extra=config,
    )


class ModelRegistry:
    def __init__(self, models: list[ModelInfo], default: str | None = None) -> None:
        self.models = {m.name: m for m in models}
        if default is not None and default not in self.models:
            raise ModelNotFoundError(f"Default model {default!r} is not among {sorted(self.models)}.")
        self.default = default or (models[0].name if models else None)

    @classmethod
    def discover(
        cls, models_dir: Path | None, models: list[Path], default: str | None = None
    ) -> ModelRegistry:
        found: list[ModelInfo] = []
        for path in models:
            found.append(read_model_info(Path(path)))
        if models_dir is not None:
            root = Path(models_dir)
            if not root.is_dir():
                raise ModelNotFoundError(
                    f"Models folder {root} does not exist; create it or pass --model PATH."
                )
            if (root / CONFIG_NAME).is_file():
                found.append(read_model_info(root))
            for sub in sorted(p for p in root.iterdir() if (p / CONFIG_NAME).is_file()):
                found.append(read_model_info(sub))
        if not models and models_dir is None:
            # Nothing named: serve the shipped model, so `kinema serve` works out of the box, offline.
            from kinema.pipelines.model_folder import default_model_path  # torch-heavy; only here

            try:
                found.append(read_model_info(default_model_path()))
            except ModelNotFoundError:
                pass
        return cls(found, default)

    def get(self, name: str | None) -> ModelInfo | None:
        if name is None:
            name = self.default
        return self.models.get(name) if name else None
