"""Where a model comes from: a local folder, or a Hugging Face Hub id `org/name[@revision]` resolved into
the hub's own cache by `huggingface_hub` (its `HF_HOME` / `HF_HUB_CACHE`, `HF_HUB_OFFLINE`, the token in
`HF_TOKEN` or from `hf auth login`, its progress bars). Torch-free: the server's API process resolves the
models it lists, before any worker loads one.

Only what the pipeline needs comes down: the components `model_index.json` names (not the repo's README
images, original-format checkpoints or ONNX exports), each in one weight format (safetensors before
pickles) and one precision variant — the requested dtype's (`diffusion_pytorch_model.bf16.safetensors`)
where the repo has it, else the full-precision files — so a repo holding fp32 and fp16 copies costs one
copy. `weight_variant` tells `from_pretrained` which variant a folder holds.

Offline (`HF_HUB_OFFLINE=1`, or no route to the hub) a cached snapshot is found through
`try_to_load_from_cache` (refs/<branch> → snapshots/<commit>); nothing cached is an error that names the
id, the cache and the command that fetches it (`kinema pull ID`).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kinema.errors import InvalidInputError, ModelNotFoundError

INDEX_FILE = "model_index.json"  # a diffusers pipeline
KINEMA_FILE = "kinema.json"  # a Kinema model folder (kinema.pipelines.model_config.CONFIG_NAME)
DEFAULTS_FILE = "kinema_defaults.json"  # a folder's own native size (diffusers_base.DEFAULTS_FILE)
# Weight files, in the order a format is preferred (diffusers' own order: safetensors, then pickles).
WEIGHT_FORMATS = (".safetensors", ".bin")
OTHER_WEIGHTS = (".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".onnx", ".onnx_data", ".pb", ".gguf", ".pte")
# A precision variant sits between the weight name and its suffix: `model.fp16.safetensors`,
# `model.fp16-00001-of-00002.safetensors`, `model.safetensors.index.fp16.json` (diffusers' `_add_variant`).
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REVISION = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
_ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
LORA_PATTERNS = ["*.safetensors", "*.json"]  # a LoRA repo: its weights files and their configs
# What `kinema plan` reads of a hub id: the pipeline's index and each component's config (its parameters are
# counted on the meta device), not the weights - a 14B model is planned in kilobytes, not 60 GB.
CONFIG_PATTERNS = [INDEX_FILE, KINEMA_FILE, DEFAULTS_FILE, "*/config.json", "*/scheduler_config.json"]
DTYPE_VARIANTS = {"bf16": "bf16", "fp16": "fp16"}  # --dtype → the variant files that hold it


@dataclass(frozen=True)
class HubId:
    """`org/name[@revision]`."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class ModelSource:
    """A model as named by the user, and the local folder that holds it."""

    name: str  # what the user typed (a folder's name, or the hub id): the model's default name
    path: Path
    hub: HubId | None = None
    commit: str | None = None  # the snapshot's commit, for a hub id


def parse_hub_id(text: str) -> HubId | None:
    """`org/name[@revision]` → HubId; None when `text` cannot be a hub id (no slash, a path-like start,
    characters the hub does not allow)."""
    repo, _, revision = str(text).partition("@")
    parts = repo.split("/")
    if len(parts) != 2 or not all(_ID_PART.match(p) for p in parts):
        return None
    if any(".." in p or "--" in p or p.endswith((".", "-")) for p in parts):
        return None
    if "@" in str(text) and not _REVISION.match(revision):  # a branch, tag, refs/pr/N or commit
        return None
    return HubId(repo, revision or None)


def resolve_model(name_or_path: str | Path, dtype: str | None = None) -> ModelSource:
    """A local folder as it is, or a hub id's cached (downloading it if needed) snapshot folder."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return ModelSource(path.name or text, path)
    hub = parse_hub_id(text)
    if hub is None or path.exists():
        raise ModelNotFoundError(
            f"No model folder at {text!r}, and it is not a Hugging Face Hub id (org/name[@revision]); "
            "pass the folder of a model or a hub id such as Wan-AI/Wan2.1-T2V-1.3B-Diffusers."
        )
    folder, commit = snapshot(hub, dtype, local=text)
    return ModelSource(text, folder, hub, commit)


def resolve_configs(name_or_path: str | Path, dtype: str | None = None) -> ModelSource:
    """What a memory plan reads: a local folder as it is; a hub id's cached snapshot when it is whole, else
    only its configs (`CONFIG_PATTERNS`) fetched into the cache - the weights come down when it runs."""
    text = str(name_or_path)
    hub = parse_hub_id(text)
    if Path(text).expanduser().exists() or hub is None:
        return resolve_model(text, dtype)
    # (otherwise the look-up finds the commit, and a whole snapshot of it already holds the configs, so
    # nothing comes down)
    folder, commit = cached_commit(hub) or snapshot(hub, dtype, local=text, patterns=CONFIG_PATTERNS)
    return ModelSource(text, folder, hub, commit)


def resolve_lora(text: str) -> str:
    """A LoRA given as a file or folder (as it is) or a hub id (its snapshot's weights file: diffusers'
    `pytorch_lora_weights.safetensors`, or the repo's only `.safetensors`)."""
    path = Path(text).expanduser()
    hub = parse_hub_id(text)
    if path.exists() or hub is None:
        return text
    folder, _ = snapshot(hub, None, local=text, patterns=LORA_PATTERNS)
    weights = sorted(p for p in folder.glob("*.safetensors"))
    named = [p for p in weights if p.name == "pytorch_lora_weights.safetensors"]
    if named or len(weights) == 1:
        return str((named or weights)[0])
    raise InvalidInputError(
        f"LoRA {text}: the repo has {len(weights)} .safetensors files at its top "
        f"({', '.join(p.name for p in weights) or 'none'}); pass the one you mean as a file path, "
        f"e.g. --lora {weights[0] if weights else folder / 'lora.safetensors'}."
    )


# ---- the hub's cache ---------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The hub cache huggingface_hub uses now ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/...)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def pull_command(hub: HubId, lora: bool = False) -> str:
    return f"kinema pull {hub}" + (" --lora" if lora else "")


def cached_snapshot(hub: HubId) -> tuple[Path, str] | None:
    """(snapshot folder, commit) of a cached revision, found the way huggingface_hub finds it offline
    (refs/<revision> → snapshots/<commit>, or the commit itself); None when not cached."""
    from huggingface_hub import try_to_load_from_cache

    for marker in (INDEX_FILE, KINEMA_FILE):
        found = try_to_load_from_cache(hub.repo_id, marker, revision=hub.revision)
        if isinstance(found, str):
            folder = Path(found).parent
            return (folder, folder.name) if is_whole(folder) else None
    return None


def cached_commit(hub: HubId) -> tuple[Path, str] | None:
    """The whole cached snapshot of a hub id pinned to a commit: a commit never changes, so a cached one
    needs no look-up. None for a branch or tag, or when not cached whole."""
    return cached_snapshot(hub) if hub.revision and _COMMIT.fullmatch(hub.revision) else None


def is_whole(folder: Path) -> bool:
    """Whether a cached pipeline snapshot holds weights for each component that has a model config - not
    only the configs `kinema plan` fetched (`CONFIG_PATTERNS`). A Kinema model always comes down whole."""
    import json

    index = folder / INDEX_FILE
    if not index.is_file():
        return True
    weights = WEIGHT_FORMATS + OTHER_WEIGHTS
    for name in components(json.loads(index.read_text())):
        sub = folder / name
        if (sub / "config.json").is_file() and not any(f.suffix in weights for f in sub.iterdir()):
            return False
    return True


def _cached_files(hub: HubId, patterns: list[str]) -> tuple[Path, str] | None:
    """(snapshot folder, commit) of a cached repo fetched with `patterns` (a LoRA repo has no marker file
    to look up), through snapshot_download's own offline resolution; None when not cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(
            snapshot_download(
                hub.repo_id, revision=hub.revision, allow_patterns=patterns, local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, OSError):
        return None
    return folder, folder.name


def snapshot(
    hub: HubId, dtype: str | None, local: str | None = None, patterns: list[str] | None = None
) -> tuple[Path, str]:
    """The hub id's snapshot folder and commit: from the cache when offline, else downloaded (only the
    files the pipeline needs) into it. `patterns` overrides the choice (a LoRA repo)."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return _offline(hub, local, "HF_HUB_OFFLINE is set", patterns)
    found = cached_commit(hub) if patterns is None else None
    if found is not None:
        return found
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi().model_info(hub.repo_id, revision=hub.revision)
        files = [s.rfilename for s in info.siblings or ()]
        allow = patterns or download_files(hub, files, dtype, info.sha)
        print(f"kinema: fetching {hub} ({info.sha[:12]}) into {cache_dir()}", file=sys.stderr)
        folder = snapshot_download(hub.repo_id, revision=info.sha, allow_patterns=allow)
        return Path(folder), str(info.sha)
    except GatedRepoError:
        raise ModelNotFoundError(
            f"{hub.repo_id} is gated: accept its terms on https://huggingface.co/{hub.repo_id}, then set "
            "HF_TOKEN (or run `hf auth login`) and try again."
        ) from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(
            f"{hub.repo_id} has no revision {hub.revision!r}; pass a branch, tag or commit it has."
        ) from None
    except RepositoryNotFoundError:
        where = f"no folder {local!r} here and " if local else ""
        raise ModelNotFoundError(
            f"{hub}: {where}no model {hub.repo_id!r} on the Hugging Face Hub (or it is private: set HF_TOKEN "
            "or run `hf auth login`); check the name."
        ) from None
    except (OfflineModeIsEnabled, HfHubHTTPError, OSError, *_transport_errors()) as exc:  # no route, hub down
        why = f"the hub could not be reached ({type(exc).__name__}: {exc})"
        return _offline(hub, local, why, patterns)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection/timeout errors (huggingface_hub 2.x uses `httpx2`, 1.x `httpx`), which
    are not OSErrors: no network must read as "not cached", not as a traceback."""
    import importlib

    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _offline(hub: HubId, local: str | None, why: str, patterns: list[str] | None) -> tuple[Path, str]:
    found = cached_snapshot(hub) if patterns is None else _cached_files(hub, patterns)
    if found is not None:
        return found
    where = f"there is no folder {local!r} here and " if local else ""
    revision = f" at revision {hub.revision}" if hub.revision else ""
    raise ModelNotFoundError(
        f"{hub.repo_id}{revision}: {where}it is not (whole) in the Hugging Face cache at {cache_dir()}, and {why}; "
        f"download it where there is a network with `{pull_command(hub, patterns is not None)}` (or `hf "
        f"download {hub.repo_id}"
        f"{' --revision ' + hub.revision if hub.revision else ''}`) into that cache (HF_HOME / HF_HUB_CACHE), "
        "then run this again."
    )


def download_files(hub: HubId, files: list[str], dtype: str | None, commit: str) -> list[str]:
    """The repo's files a pipeline needs: model_index.json's components, one format and variant each. A
    repo without model_index.json is taken whole if it is a Kinema model, else refused."""
    if INDEX_FILE in files:
        import json

        from huggingface_hub import hf_hub_download

        index = json.loads(Path(hf_hub_download(hub.repo_id, INDEX_FILE, revision=commit)).read_text())
        return choose_files(index, files, dtype)
    if KINEMA_FILE in files:
        return files
    raise ModelNotFoundError(
        f"{hub} has no {INDEX_FILE} (a diffusers pipeline) or {KINEMA_FILE} (a Kinema model); pass a "
        "pipeline's id (e.g. Wan-AI/Wan2.1-T2V-1.3B-Diffusers), and a single-file checkpoint from such a "
        "repo as a local file with --transformer FILE."
    )


# ---- which files ---------------------------------------------------------------------------------------------
def components(index: dict[str, Any]) -> list[str]:
    """The component folders a model_index.json loads (entries like ["diffusers", "AutoencoderKLWan"])."""
    return [
        k
        for k, v in index.items()
        if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and None not in v
    ]


def _weight_variant(name: str) -> tuple[str, str | None] | None:
    """(format suffix, variant) of a weight file or weight index; None for any other file."""
    parts = name.split(".")
    if name.endswith(".json") and ".index" in name:  # model.safetensors.index[.fp16].json
        fmt = "." + parts[1]
        variant = parts[3] if len(parts) == 5 else None
        return (fmt, variant) if fmt in WEIGHT_FORMATS else None
    suffix = "." + parts[-1]
    if suffix not in WEIGHT_FORMATS or len(parts) < 2:
        return None
    middle = _SHARD.sub("", ".".join(parts[1:-1])) if len(parts) > 2 else None
    return suffix, middle or None


def choose_files(index: dict[str, Any], files: list[str], dtype: str | None) -> list[str]:
    """For each component folder: its config/tokenizer files, and the weights of one format (safetensors
    before .bin) and one variant (the dtype's, else none, else the first there is)."""
    wanted = DTYPE_VARIANTS.get(dtype or "")
    keep = [f for f in files if f in (INDEX_FILE, DEFAULTS_FILE)]
    for component in components(index):
        inside = [f for f in files if PurePosixPath(f).parts[0] == component and "/" in f]
        weights = {f: _weight_variant(PurePosixPath(f).name) for f in inside}
        keep += [
            f for f, w in weights.items() if w is None and not f.endswith(OTHER_WEIGHTS)
        ]  # config, tokenizer, scheduler
        found = [w for w in weights.values() if w is not None]
        if not found:
            continue
        fmt = next(s for s in WEIGHT_FORMATS if any(w[0] == s for w in found))
        variants = {w[1] for w in found if w[0] == fmt}
        order = [wanted, None, *sorted(v for v in variants if v)]
        variant = next(v for v in order if v in variants)
        keep += [f for f, w in weights.items() if w == (fmt, variant)]
    return keep


def weight_variant(folder: Path, dtype: str | None) -> str | None:
    """The `variant=` for `from_pretrained(folder)`: the dtype's variant where a component has it, or the
    variant of a component that has nothing else (a folder saved with `save_pretrained(variant=...)` or
    pulled with --dtype); None for plain files. diffusers then loads, per component, the variant where that
    component has it and the plain files elsewhere."""
    wanted = DTYPE_VARIANTS.get(dtype or "")
    per_component: list[set[str | None]] = []
    for sub in Path(folder).iterdir():
        if sub.is_dir():
            found = {w for w in map(_weight_variant, (p.name for p in sub.iterdir())) if w is not None}
            if found:
                per_component.append({v for _, v in found})
    if wanted and any(wanted in v for v in per_component):
        return wanted
    only = sorted(next(iter(v)) for v in per_component if None not in v and len(v) == 1)
    return only[0] if only else None


def pull(text: str, dtype: str | None = None, patterns: list[str] | None = None) -> ModelSource:
    """`kinema pull`: fetch a hub id into the cache (what `generate`/`serve` would fetch) and say where."""
    hub = parse_hub_id(text)
    if hub is None:
        raise InvalidInputError(f"{text!r} is not a Hugging Face Hub id; write it as org/name[@revision].")
    folder, commit = snapshot(hub, dtype, patterns=patterns)
    return ModelSource(text, folder, hub, commit)
