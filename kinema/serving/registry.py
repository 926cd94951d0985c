"""The models a server offers: model folders found on disk, named by their folder name.

A model folder's facts (native size, fps, frames, limits, modes) come from `kinema.backends.read_facts`
without torch; the API validates requests and answers `/v1/models` with them, and the worker loads the
weights.
"""

from __future__ import annotations

from pathlib import Path

from kinema.backends.base import ModelFacts
from kinema.backends.loader import is_model_folder, read_facts
from kinema.errors import ModelNotFoundError

ModelInfo = ModelFacts  # what the API knows of a model: read from its folder without torch


def read_model_info(path: Path, name: str | None = None) -> ModelInfo:
    return read_facts(path, name)


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
            if is_model_folder(root):
                found.append(read_model_info(root))
            for sub in sorted(p for p in root.iterdir() if is_model_folder(p)):
                found.append(read_model_info(sub))
        if not models and models_dir is None:
            # Nothing named: serve the shipped model, so `kinema serve` works out of the box, offline.
            from kinema.pipelines.model_config import default_model_path

            try:
                found.append(read_model_info(default_model_path()))
            except ModelNotFoundError:
                pass
        return cls(found, default)

    def get(self, name: str | None) -> ModelInfo | None:
        if name is None:
            name = self.default
        return self.models.get(name) if name else None
