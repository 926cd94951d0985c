"""Where uploads and outputs live on disk, written atomically.

Every file is written under a temporary name in its final folder and then `os.replace`d into place, so a
reader (or a crash) sees either no file or the whole file, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

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

    def video_dir(self, job_id: str) -> Path:
        return self.root / "videos" / _safe(job_id)

    def output_path(self, job_id: str, variant: str) -> Path:
        return self.video_dir(job_id) / VARIANTS[variant][0]

    def input_path(self, job_id: str, name: str) -> Path:
        return self.root / "inputs" / _safe(job_id) / name

    def write_bytes(self, path: Path, data: bytes) -> None:
        self.write_with(path, lambda tmp: tmp.write_bytes(data))

    def write_with(self, path: Path, writer: Callable[[Path], object]) -> None:
        """Call `writer(tmp_path)` (a path with the same suffix), fsync it, then move it to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            writer(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.video_dir(job_id), ignore_errors=True)
        shutil.rmtree(self.root / "inputs" / _safe(job_id), ignore_errors=True)


def _safe(job_id: str) -> str:
    if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
        raise ValueError(f"bad job id {job_id!r}")
    return job_id
