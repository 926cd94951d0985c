"""Where uploads and outputs live on disk, written atomically.

Every file is written under a temporary name in its final folder and then `os.replace`d into place
(`kinema.io.atomic`, the one atomic writer), so a reader (or a crash) sees either no file or the whole
file, never half of one.
"""

from __future__ import annotations

import shutil
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


def _safe(job_id: str) -> str:
    if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
        raise ValueError(f"bad job id {job_id!r}")
    return job_id
