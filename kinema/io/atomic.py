"""Atomic file writes: write to a hidden temp file beside the target, then ``os.replace`` it in place.

A reader (the server streaming a finished job, a user opening the file) never sees a half-written file,
and a failure mid-write leaves whatever was at the target path untouched.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


def temp_path_for(path: Path) -> Path:
    """A unique hidden temp name in the same folder (same filesystem, so ``os.replace`` is atomic) that
    keeps the suffix, so writers that pick a format by suffix (PIL, PyAV) write the right one."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")


def fsync_file(path: Path) -> None:
    """Flush a finished file to disk before it is renamed into place, so a crash cannot leave an empty
    file under the final name."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


@contextlib.contextmanager
def atomic_write_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path to write to; on success it replaces ``path``, on an exception it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
