"""Atomic file writes: write to a hidden temp file beside the target, then ``os.replace`` it in place.

A reader (the server streaming a finished job, a user opening the file) never sees a half-written file,
and a failure mid-write leaves whatever was at the target path untouched.

Temp names carry their writer (`w<host>-<pid>`): after a crash, a sweep can tell a file that no live
process is writing from one being written, at once instead of after an age limit (issue 29, defect 10:
an interrupted upload's temp file outlived a restart by the 10-minute sweep age).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

# `.<stem>.<12 hex>.w<6 hex host>-<pid>.tmp<suffix>`; older names without the writer tag still match `.tmp`.
_WRITER = re.compile(r"\.w([0-9a-f]{6})-(\d+)\.tmp")


def host_tag() -> str:
    """This machine, in six hex digits (a pid means nothing on another host sharing the folder)."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def temp_path_for(path: Path) -> Path:
    """A unique hidden temp name in the same folder (same filesystem, so ``os.replace`` is atomic) that
    keeps the suffix, so writers that pick a format by suffix (PIL, PyAV) write the right one, and names
    its writer (host and pid) so a sweep knows when nobody is writing it any more."""
    tag = f"w{host_tag()}-{os.getpid()}"
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.{tag}.tmp{path.suffix}")


def writer_is_gone(path: Path) -> bool:
    """True when `path` is a temp file of this host whose writing process no longer exists (so nothing
    will ever finish it); False when its writer lives, is on another host, or is not named."""
    match = _WRITER.search(path.name)
    if match is None or match.group(1) != host_tag():
        return False
    pid = int(match.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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
