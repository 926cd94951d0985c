"""Checkpoints on disk: written atomically, found again after a crash, pruned to the last K.

Layout of one checkpoint (`<run_dir>/checkpoints/step_00000200/`):
  model.safetensors   trainable weights (full, unsharded)
  ema.safetensors     EMA weights (when EMA is on)
  optimizer.pt        optimizer state (full, keyed like the model)
  trainer.pt          step, LR scheduler, data position, task extras, EMA update count
  rng_rank<r>.pt      python / numpy / torch / CUDA RNG states of rank r
  config.yaml         the resolved training config
  COMPLETE            written last; a folder without it is never loaded

Atomicity: everything goes into `.tmp_step_…` and is renamed to `step_…` in one `os.rename` at the end, so a
run killed with SIGKILL at any moment leaves either the whole checkpoint or none of it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

_STEP_DIR = re.compile(r"^step_(\d{8})$")


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _STEP_DIR.match(child.name)
        if m and (child / "COMPLETE").is_file():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def begin_checkpoint(run_dir: str | Path, step: int) -> Path:
    """Create an empty temporary folder for the checkpoint of `step` (rank 0 calls this)."""
    root = checkpoint_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp_{step_dir_name(step)}"
    if tmp.exists():
        shutil.rmtree(tmp)  # left over from a run killed while saving
    tmp.mkdir()
    return tmp


def commit_checkpoint(tmp: Path, step: int, keep_last: int) -> Path:
    """Mark complete, rename into place in one step, and prune older checkpoints (rank 0)."""
    (tmp / "COMPLETE").write_text(f"{step}\n")
    _fsync_dir(tmp)
    final = tmp.parent / step_dir_name(step)
    if final.exists():  # the same step saved again (e.g. final save right after a periodic one)
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(final.parent)
    for _, old in list_checkpoints(final.parent.parent)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in final.parent.glob(".tmp_step_*"):
        if stale != tmp:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def save_object(obj: Any, path: Path) -> None:
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def load_object(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=False)


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
