"""A model folder → its backend. `read_facts` needs no torch (the server's API process calls it);
`load_backend` loads the weights; `BackendCache` keeps one loaded backend per model in a worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kinema.backends.base import ModelFacts, VideoBackend
from kinema.errors import ModelNotFoundError
from kinema.pipelines.model_config import CONFIG_NAME


def backend_class(path: str | Path) -> type[VideoBackend]:
    """The backend class for a model folder, recognised by the file that describes it."""
    path = Path(path)
    if (path / CONFIG_NAME).is_file():
        from kinema.backends.kinema import KinemaBackend

        return KinemaBackend
    if not path.is_dir():
        raise ModelNotFoundError(f"No model folder at {str(path)!r}; pass the folder of a model.")
    raise ModelNotFoundError(
        f"{str(path)!r} is not a model folder Kinema can run: it has no {CONFIG_NAME} (a Kinema model); "
        "pass a folder saved by Kinema."
    )


def read_facts(path: str | Path, name: str | None = None) -> ModelFacts:
    """Native size, fps, frames, limits, modes and options of a model folder, without loading it."""
    return backend_class(path).read_facts(Path(path), name)


def load_backend(path: str | Path, device: str = "cpu", dtype: Any = None) -> VideoBackend:
    """The backend of a model folder, ready to `generate`."""
    return backend_class(path)(path, device=device, dtype=dtype)


class BackendCache:
    """One loaded backend per (model folder, device): a worker loads each model once and every mode
    shares its components."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._loaded: dict[str, VideoBackend] = {}

    def get(self, path: str | Path) -> VideoBackend:
        key = str(Path(path).resolve())
        if key not in self._loaded:
            self._loaded[key] = load_backend(key, device=self.device)
        return self._loaded[key]
