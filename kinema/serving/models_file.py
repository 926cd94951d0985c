"""A serve models file (`kinema serve --models models.yaml`): the models a server offers, each by folder or
hub id, with its own load settings — any field of the diffusers backends' `LoadOptions` (dtype, offload,
vae_tiling, fp8, cache, compile, loras, transformer, and whatever fields it gains), checked against that
dataclass's own fields and types, so a new option needs no change here.

    default: wan-1.3b                                   # optional: the model a request naming none gets
    models:
      - model: Wan-AI/Wan2.1-T2V-1.3B-Diffusers@main    # a folder or a hub id org/name[@revision]
        name: wan-1.3b                                  # optional: the API's `model` (default: as written)
        dtype: bf16
        offload: group
        vae_tiling: true
        cache: fbc
        loras: ["org/style-lora:0.8", /loras/detail.safetensors]
      - model: ~/models/LTX-Video
        transformer: ~/models/ltxv-2b-q8_0.gguf         # a single-file transformer over the folder
      - model: models/kinema-world                       # a Kinema model takes no load settings

A mistake (an unknown key, a value outside an option's choices, two models with one name) stops start-up
with one sentence naming the file, the model and the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kinema.errors import InvalidInputError


class ModelEntry(BaseModel):
    """One model: where it is, its name, and (as extra keys) its load settings."""

    model_config = ConfigDict(extra="allow")

    model: str
    name: str | None = None

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    models: list[ModelEntry]


def load_option_fields() -> dict[str, dataclasses.Field]:
    from kinema.backends.diffusers_base import LoadOptions

    return {f.name: f for f in dataclasses.fields(LoadOptions)}


def check_settings(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """A models-file entry's settings as `load_backend` keyword arguments, validated by `LoadOptions`
    itself (its field types through pydantic, then its own checks); InvalidInputError naming the key."""
    from pydantic import TypeAdapter

    from kinema.backends.diffusers_base import LoadOptions

    fields = load_option_fields()
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise InvalidInputError(
            f"{where}: unknown setting {unknown[0]!r}; a model takes model, name and the load settings "
            f"{', '.join(fields)}."
        )
    values = dict(settings)
    for key in ("offload_dir", "transformer"):
        if isinstance(values.get(key), str):
            values[key] = str(Path(values[key]).expanduser())
    if "loras" in values:
        values["loras"] = _loras(values["loras"], where)
    try:
        TypeAdapter(LoadOptions).validate_python(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        own = first.get("ctx", {}).get("error")
        if isinstance(own, InvalidInputError):  # LoadOptions' own check (a choice, a missing file)
            raise InvalidInputError(f"{where}: {own}") from None
        key = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {key}: {first['msg']}; fix it.") from None
    return values


def _loras(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    """`loras`: a list of `PATH[:SCALE]` strings (files or hub ids) or {path, scale} mappings."""
    from kinema.backends.diffusers_base import LoadOptions

    items = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(items, list):
        raise InvalidInputError(f"{where}: loras must be a list of PATH[:SCALE] or {{path, scale}}.")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(LoadOptions.parse_lora(item))
        elif isinstance(item, dict) and set(item) <= {"path", "scale"} and "path" in item:
            out.append((str(item["path"]), float(item.get("scale", 1.0))))
        else:
            raise InvalidInputError(f"{where}: loras: {item!r} is neither PATH[:SCALE] nor {{path, scale}}.")
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class ListedModel:
    """A checked entry: `settings` are `load_backend` keyword arguments."""

    model: str
    name: str | None
    settings: dict[str, Any]


def read_models_file(path: str | Path) -> tuple[list[ListedModel], str | None]:
    """The YAML file's models, each with its checked settings, and its default model (or None)."""
    import yaml

    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the models file {path} ({exc}); pass an existing file."
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"The models file {path} is not valid YAML: {exc}") from None
    try:
        parsed = ModelsFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "the file"
        raise InvalidInputError(
            f"The models file {path}: {key}: {first['msg']}; it holds `models:`, a list of entries each "
            "with `model:` (a folder or hub id), and an optional `default:`."
        ) from None
    listed: list[ListedModel] = []
    for entry in parsed.models:
        settings = check_settings(entry.settings(), f"{path}, model {entry.name or entry.model!r}")
        listed.append(ListedModel(entry.model, entry.name, settings))
    return listed, parsed.default


def plain_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON shows them (`GET /v1/models`): LoRAs as {path, scale}, paths as strings."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "loras":
            value = [{"path": str(p), "scale": s} for p, s in value]
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out
