"""A model folder or hub id → its backend. `read_facts` needs no torch (the server's API process calls it);
`load_backend` loads the weights; `BackendCache` keeps one loaded backend per model in a worker. A hub id
(`org/name[@revision]`) is resolved to its snapshot in the Hugging Face cache first (`kinema.backends.hub`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kinema.backends.base import ModelFacts, VideoBackend
from kinema.backends.hub import resolve_model
from kinema.errors import InvalidInputError, ModelNotFoundError
from kinema.pipelines.model_config import CONFIG_NAME

# A diffusers folder's model_index.json `_class_name` → the backend that runs it ("module:class"; imported
# only when such a folder is met, and torch-free until it loads the weights).
DIFFUSERS_BACKENDS: dict[str, str] = {
    "WanPipeline": "kinema.backends.wan:WanBackend",
    "WanImageToVideoPipeline": "kinema.backends.wan:WanI2VBackend",
    "WanVACEPipeline": "kinema.backends.wan:WanVACEBackend",
    "LTXPipeline": "kinema.backends.ltx:LTXBackend",
    "LTXImageToVideoPipeline": "kinema.backends.ltx:LTXBackend",
    "LTXConditionPipeline": "kinema.backends.ltx:LTXBackend",
    "LTX2Pipeline": "kinema.backends.ltx2:LTX2Backend",
    "LTX2ImageToVideoPipeline": "kinema.backends.ltx2:LTX2Backend",
    "LTX2ConditionPipeline": "kinema.backends.ltx2:LTX2Backend",
    "CogVideoXPipeline": "kinema.backends.cogvideox:CogVideoXBackend",
    "CogVideoXImageToVideoPipeline": "kinema.backends.cogvideox:CogVideoXI2VBackend",
    "CogVideoXVideoToVideoPipeline": "kinema.backends.cogvideox:CogVideoXBackend",
    "HunyuanVideoPipeline": "kinema.backends.hunyuan:HunyuanVideoBackend",
    "HunyuanVideoImageToVideoPipeline": "kinema.backends.hunyuan:HunyuanVideoI2VBackend",
    "HunyuanVideo15Pipeline": "kinema.backends.hunyuan15:HunyuanVideo15Backend",
    "HunyuanVideo15ImageToVideoPipeline": "kinema.backends.hunyuan15:HunyuanVideo15I2VBackend",
    "Kandinsky5T2VPipeline": "kinema.backends.kandinsky5:Kandinsky5Backend",
    "Kandinsky5I2VPipeline": "kinema.backends.kandinsky5:Kandinsky5I2VBackend",
    "HeliosPipeline": "kinema.backends.helios:HeliosBackend",
    "HeliosPyramidPipeline": "kinema.backends.helios:HeliosPyramidBackend",
    "SkyReelsV2DiffusionForcingPipeline": "kinema.backends.skyreels:SkyReelsV2Backend",
    "SkyReelsV2DiffusionForcingImageToVideoPipeline": "kinema.backends.skyreels:SkyReelsV2Backend",
    "SkyReelsV2DiffusionForcingVideoToVideoPipeline": "kinema.backends.skyreels:SkyReelsV2Backend",
}
DIFFUSERS_INDEX = "model_index.json"
MODULAR_INDEX = "modular_model_index.json"


def backend_class(path: str | Path) -> type[VideoBackend]:
    """The backend class for a model folder, recognised by the file that describes it: kinema.json (a
    Kinema model) or model_index.json (a diffusers pipeline folder, by its `_class_name`)."""
    path = Path(path)
    if (path / CONFIG_NAME).is_file():
        from kinema.backends.kinema import KinemaBackend

        return KinemaBackend
    if not path.is_dir():
        raise ModelNotFoundError(f"No model folder at {str(path)!r}; pass the folder of a model.")
    if (path / DIFFUSERS_INDEX).is_file():
        return _diffusers_backend(path)
    if (path / MODULAR_INDEX).is_file():  # MiniMax-H3 and the other modular-only pipelines
        raise ModelNotFoundError(
            f"{str(path)!r} is a diffusers modular pipeline folder ({MODULAR_INDEX}), which Kinema does not "
            "run yet (MiniMax-H3 among them: README, 'Open-weight models'); pass a folder with model_index.json."
        )
    raise ModelNotFoundError(
        f"{str(path)!r} is not a model folder Kinema can run: it has no {CONFIG_NAME} (a Kinema model) "
        f"and no {DIFFUSERS_INDEX} (a diffusers model); pass a folder saved by Kinema or by diffusers."
    )


def _diffusers_backend(path: Path) -> type[VideoBackend]:
    try:
        name = json.loads((path / DIFFUSERS_INDEX).read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelNotFoundError(
            f"{path / DIFFUSERS_INDEX} cannot be read ({exc}); fix or re-save the folder."
        ) from None
    if name not in DIFFUSERS_BACKENDS:
        raise ModelNotFoundError(
            f"{str(path)!r} is a diffusers {name} folder, which Kinema does not run; it runs "
            f"{', '.join(sorted(DIFFUSERS_BACKENDS))}."
        )
    module, _, attr = DIFFUSERS_BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr).variant(path)


def is_model_folder(path: str | Path) -> bool:
    """Whether `path` holds a model Kinema recognises (for scanning a --models-dir)."""
    path = Path(path)
    return (path / CONFIG_NAME).is_file() or (path / DIFFUSERS_INDEX).is_file()


def read_facts(path: str | Path, name: str | None = None, dtype: str | None = None) -> ModelFacts:
    """Native size, fps, frames, limits, modes and options of a model folder or hub id, without loading
    it. A hub id's facts are named by the id (its snapshot folder is named by a commit)."""
    source = resolve_model(path, dtype)
    return backend_class(source.path).read_facts(source.path, name or source.name)


def load_backend(path: str | Path, device: str = "cpu", dtype: Any = None, **load: Any) -> VideoBackend:
    """The backend of a model folder or hub id, ready to `generate`. `load` = memory/speed options of
    diffusers folders (`kinema.backends.diffusers_base.LoadOptions`: dtype, offload, vae_tiling, cache,
    compile, loras, transformer, ...)."""
    source = resolve_model(path, load.get("dtype") or (dtype if isinstance(dtype, str) else None))
    cls = backend_class(source.path)
    given = {k: v for k, v in load.items() if v not in (None, False, (), [])}
    if not given:
        backend = cls(source.path, device=device, dtype=dtype)
    else:
        from kinema.backends.diffusers_base import DiffusersBackend, LoadOptions

        if not issubclass(cls, DiffusersBackend):
            raise InvalidInputError(
                f"{', '.join(sorted(given))} are options of diffusers model folders; {source.name} is a "
                f"{cls.name} model, which loads without them: drop them."
            )
        backend = cls(source.path, device=device, dtype=dtype, load=LoadOptions(**load))
    if source.hub is not None:  # named by the id, not by the snapshot's commit folder
        backend.facts = dataclasses.replace(backend.facts, name=source.name)
    return backend


class BackendCache:
    """One loaded backend per (model folder, device): a worker loads each model once and every mode
    shares its components. `load` gives a folder its load options (a serve models file's settings: `dtype`,
    `offload`, ... as `load_backend` takes them), keyed by the folder's resolved path; `defaults` (e.g.
    `memory="auto"`, `quantize="int8"` from `--memory` / `--quantize`) apply to every diffusers folder under
    them. Kinema's own models load without the defaults."""

    def __init__(
        self,
        device: str = "cpu",
        load: Mapping[str, Mapping[str, Any]] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.device = device
        self.load = {str(Path(k).resolve()): dict(v) for k, v in (load or {}).items()}
        self.defaults = dict(defaults or {})
        self._loaded: dict[str, VideoBackend] = {}

    def get(self, path: str | Path) -> VideoBackend:
        key = str(Path(path).resolve())
        if key not in self._loaded:
            from kinema.backends.diffusers_base import DiffusersBackend

            diffusers = issubclass(backend_class(key), DiffusersBackend)
            options = {**(self.defaults if diffusers else {}), **self.load.get(key, {})}
            backend = load_backend(key, device=self.device, **options)
            plan = getattr(backend, "memory_plan", None)
            if plan is not None:
                logging.getLogger(__name__).info("%s", plan.table())
            self._loaded[key] = backend
        return self._loaded[key]
