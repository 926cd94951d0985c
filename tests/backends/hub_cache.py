"""A Hugging Face cache laid out by the tests, as `huggingface_hub` writes it: `models--org--name/` with
`blobs/<sha256>`, `snapshots/<commit>/<file>` symlinked to the blobs, and `refs/<branch>` holding a commit.
The resolution code under test is huggingface_hub's own, run offline against it."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


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
