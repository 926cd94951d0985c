"""The models a server offers: model folders found on disk (named by their folder name), hub ids (named by
the id; `kinema.backends.hub` resolves them into the Hugging Face cache), and the entries of a models file
(`models_file.py`: each with its own load settings, e.g. dtype and offload).

A model's facts (native size, fps, frames, limits, modes) come from `kinema.backends.read_facts` without
torch; the API validates requests and answers `/v1/models` with them (and each model's source and
settings), and the worker loads the weights with the model's settings (`load_options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kinema.backends.base import ModelFacts
from kinema.backends.loader import is_model_folder, read_facts
from kinema.errors import InvalidInputError, ModelNotFoundError

ModelInfo = ModelFacts  # what the API knows of a model: read from its folder without torch


def read_model_info(path: Path | str, name: str | None = None, dtype: str | None = None) -> ModelInfo:
    return read_facts(path, name, dtype)


class ModelRegistry:
    def __init__(
        self,
        models: list[ModelInfo],
        default: str | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        self.models: dict[str, ModelInfo] = {}
        for m in models:
            if m.name in self.models:
                raise InvalidInputError(
                    f"Two models are named {m.name!r}; give one another name (`name:` in the models file)."
                )
            self.models[m.name] = m
        if default is not None and default not in self.models:
            raise ModelNotFoundError(f"Default model {default!r} is not among {sorted(self.models)}.")
        self.default = default or (models[0].name if models else None)
        self.settings = settings or {}  # name → load_backend keyword arguments (a models file's)
        self.sources = sources or {}  # name → the folder or hub id as the operator wrote it

    @classmethod
    def from_settings(cls, settings: Any) -> ModelRegistry:
        """The registry a `ServeSettings` describes (--models-dir, --model, --models FILE, --default-model)."""
        return cls.discover(
            settings.models_dir, settings.models, settings.default_model, settings.models_file
        )

    @classmethod
    def discover(
        cls,
        models_dir: Path | None,
        models: list[Path | str],
        default: str | None = None,
        models_file: Path | None = None,
    ) -> ModelRegistry:
        found: list[ModelInfo] = []
        settings: dict[str, dict[str, Any]] = {}
        sources: dict[str, str] = {}
        for path in models:
            found.append(read_model_info(str(path)))
            sources[found[-1].name] = str(path)
        if models_file is not None:
            from kinema.serving.models_file import read_models_file

            listed, file_default = read_models_file(models_file)
            default = default or file_default
            for entry in listed:
                found.append(read_model_info(entry.model, entry.name, entry.settings.get("dtype")))
                settings[found[-1].name] = entry.settings
                sources[found[-1].name] = entry.model
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
        if not models and models_dir is None and models_file is None:
            # Nothing named: serve the shipped model, so `kinema serve` works out of the box, offline.
            from kinema.pipelines.model_config import default_model_path

            try:
                found.append(read_model_info(default_model_path()))
            except ModelNotFoundError:
                pass
        return cls(found, default, settings, sources)

    def get(self, name: str | None) -> ModelInfo | None:
        if name is None:
            name = self.default
        return self.models.get(name) if name else None

    def load_options(self) -> dict[str, dict[str, Any]]:
        """Each model folder's load settings, keyed by its path (what `BackendCache(load=...)` takes); one
        folder listed twice with different settings is refused, since a worker loads a folder once."""
        by_path: dict[str, dict[str, Any]] = {}
        for name, options in self.settings.items():
            path = str(self.models[name].path)
            if by_path.get(path, options) != options:
                raise InvalidInputError(
                    f"{self.sources.get(name, name)} is listed twice with different settings; a worker loads "
                    "a model once: list it once."
                )
            by_path[path] = options
        return by_path
