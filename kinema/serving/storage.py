"""Where uploads and outputs live on disk, written atomically.

Every file is written under a temporary name in its final folder and then `os.replace`d into place
(`kinema.io.atomic`, the one atomic writer), so a reader (or a crash) sees either no file or the whole
file, never half of one. Uploads being received are spooled into `uploads/`.

A crash mid-write leaves the temp file behind (issue 15, item 7: 62–150 MB `.tmp` MP4s survived restarts),
and a crash between writing a job's inputs and committing its row leaves an input folder of no job:
`sweep` removes both once they have been left untouched for `older_than` seconds (a file being written
is touched continually), at start-up and from the janitor.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kinema.io.atomic import atomic_write_path

# variant -> (file name, media type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "videos").mkdir(parents=True, exist_ok=True)
        (self.root / "inputs").mkdir(parents=True, exist_ok=True)
        self.spool_dir = self.root / "uploads"

    def video_dir(self, job_id: str) -> Path:
        return self.root / "videos" / _safe(job_id)

    def output_path(self, job_id: str, variant: str) -> Path:
        return self.video_dir(job_id) / VARIANTS[variant][0]

    def input_path(self, job_id: str, name: str) -> Path:
        return self.root / "inputs" / _safe(job_id) / name

    def write_bytes(self, path: Path, data: bytes) -> None:
        with atomic_write_path(path) as tmp:
            tmp.write_bytes(data)

    def remove_outputs(self, job_id: str) -> None:
        """The job's output files (not its inputs: a retry needs them)."""
        shutil.rmtree(self.video_dir(job_id), ignore_errors=True)

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.video_dir(job_id), ignore_errors=True)
        shutil.rmtree(self.root / "inputs" / _safe(job_id), ignore_errors=True)

    def sweep(
        self, existing: Callable[[list[str]], set[str]], older_than: float, now: float | None = None
    ) -> tuple[int, int]:
        """Remove stale temp files (every folder) and stale job-less input folders; returns how many bytes
        and how many paths went. `existing(ids)` says which job ids have a row."""
        cutoff = (time.time() if now is None else now) - older_than
        removed_bytes = removed = 0
        folders = {p.name: p for p in (self.root / "inputs").iterdir() if p.is_dir() and _is_job_id(p.name)}
        known = existing(sorted(folders)) if folders else set()
        for name, folder in folders.items():
            if name in known or _newest_mtime(folder) >= cutoff:
                continue
            removed_bytes += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        for path in self._temp_files():
            try:
                st = path.stat()
                if st.st_mtime < cutoff:
                    path.unlink()
                    removed_bytes += st.st_size
                    removed += 1
            except FileNotFoundError:
                pass
        return removed_bytes, removed

    def _temp_files(self) -> Iterable[Path]:
        for top in (self.root / "inputs", self.root / "videos", self.spool_dir):
            if not top.is_dir():
                continue
            for path in top.rglob(".*"):
                if path.is_file() and (".tmp" in path.name or path.parent == self.spool_dir):
                    yield path


def _is_job_id(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name


def _newest_mtime(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for dirpath, _, files in os.walk(folder):
        for f in files:
            try:
                times.append(os.stat(os.path.join(dirpath, f)).st_mtime)
            except FileNotFoundError:
                pass
    return max(times)


def _safe(job_id: str) -> str:
    if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
        raise ValueError(f"bad job id {job_id!r}")
    return job_id
