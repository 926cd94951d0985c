"""A Hugging Face cache laid out by the tests, as `huggingface_hub` writes it: `models--org--name/` with
`blobs/<sha256>`, `snapshots/<commit>/<file>` symlinked to the blobs, and `refs/<branch>` holding a commit.
The resolution code under test is huggingface_hub's own, run offline against it."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest


def repo_folder(cache: Path, repo_id: str) -> Path:
    return Path(cache) / ("models--" + repo_id.replace("/", "--"))


def put_snapshot(
    cache: Path, repo_id: str, folder: Path, commit: str, refs: tuple[str, ...] = ("main",)
) -> Path:
    """Copy a model folder into the cache as `repo_id` at `commit`; point `refs` at it. → the snapshot."""
    repo = repo_folder(cache, repo_id)
    snapshot = repo / "snapshots" / commit
    for src in sorted(Path(folder).rglob("*")):
        if src.is_dir():
            continue
        data = src.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            shutil.copyfile(src, blob)
        link = snapshot / src.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """HF_HOME / HF_HUB_CACHE in tmp_path, HF_HUB_OFFLINE=1 — in the environment (for subprocesses) and in
    huggingface_hub's constants, which it reads from the environment once, at import."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    for name, value in (("HF_HOME", tmp_path / "hf"), ("HF_HUB_CACHE", cache), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, str(value))
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache
