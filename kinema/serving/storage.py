"""Where uploads and outputs live: files under one folder (`Storage`, here), or an S3 bucket
(`object_storage.ObjectStorage`, the same interface) so that workers on other machines serve the same
queue (issue 29, item 1); `make_storage` picks one from `--storage`.

Files: every file is written under a temporary name in its final folder and then `os.replace`d into place
(`kinema.io.atomic`, the one atomic writer), so a reader (or a crash) sees either no file or the whole
file, never half of one. Uploads being received are spooled into `uploads/`.

Objects: the API and the workers keep working files in a local scratch folder (the data dir) and move
them to the bucket whole. An S3 object becomes visible only when its PutObject or its multipart upload's
CompleteMultipartUpload succeeds, so a reader never sees half of one; a job's outputs are uploaded before
its row says `completed`, and its inputs before its row is committed, so whoever reads the row finds them.
A killed upload leaves an incomplete multipart upload (invisible, but billed): the sweep aborts those.

A crash mid-write leaves the temp file behind (issue 15, item 7: 62–150 MB `.tmp` MP4s survived restarts),
and a crash between writing a job's inputs and committing its row leaves inputs of no job: `sweep`
removes both once they have been left untouched for `older_than` seconds, and a temp file at once when
the process that wrote it is gone (issue 29, defect 10). It also removes the outputs of failed jobs, such
as the partial video of an attempt killed before its job failed `worker_lost` (defect 8).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from kinema.errors import InvalidInputError, KinemaError, MissingDependencyError
from kinema.io.atomic import atomic_write_path, writer_is_gone

if TYPE_CHECKING:
    from kinema.serving.settings import ServeSettings

# variant -> (file name, media type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
Statuses = Callable[[list[str]], dict[str, str]]  # job ids -> status of those that have a row


@dataclass
class Content:
    """A stored output to send: a local file, or an object's byte chunks and size."""

    media_type: str
    path: Path | None = None
    chunks: Iterator[bytes] | None = None
    size: int | None = None
    url: str | None = None  # a presigned URL to redirect to, instead of the bytes
    content_range: str | None = None  # set when `chunks` are the part a Range header asked for (206)


class RangeNotSatisfiable(KinemaError):
    """A Range header outside the stored object (the API's 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested range is outside the file's {size} bytes; ask for bytes within it.")
        self.size = size


class Storage:
    """Uploads and outputs as files under `root` (`--storage file://DIR`, or the data dir)."""

    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "videos").mkdir(parents=True, exist_ok=True)
        (self.root / "inputs").mkdir(parents=True, exist_ok=True)
        self.spool_dir = self.root / "uploads"

    # ---- where files are -----------------------------------------------------------------------------

    def video_dir(self, job_id: str) -> Path:
        return self.root / "videos" / safe_id(job_id)

    def output_path(self, job_id: str, variant: str) -> Path:
        return self.video_dir(job_id) / VARIANTS[variant][0]

    def input_path(self, job_id: str, name: str) -> Path:
        return self.root / "inputs" / safe_id(job_id) / name

    def write_bytes(self, path: Path, data: bytes) -> None:
        with atomic_write_path(path) as tmp:
            tmp.write_bytes(data)

    # ---- the API's side ------------------------------------------------------------------------------

    def publish_inputs(self, job_id: str) -> None:
        """Make the job's input files (written under `input_path`) readable by every worker."""

    def open_output(self, job_id: str, variant: str, byte_range: str | None = None) -> Content | None:
        """The output to send, or None when it is not stored. (A file's ranges are served from the
        request by the file response itself; `byte_range` is for objects.)"""
        path = self.output_path(job_id, variant)
        return Content(VARIANTS[variant][1], path=path) if path.is_file() else None

    @contextlib.contextmanager
    def local_output(self, job_id: str, variant: str) -> Iterator[Path | None]:
        """A local file holding the output (for readers that need a path), or None when it is not stored."""
        path = self.output_path(job_id, variant)
        yield path if path.is_file() else None

    def bytes_stored(self) -> int:
        """Bytes of uploads and outputs stored (the metrics' gauge)."""
        total = 0
        for top in ("inputs", "videos"):
            for dirpath, _, files in os.walk(self.root / top):
                for f in files:
                    with contextlib.suppress(FileNotFoundError):
                        total += os.stat(os.path.join(dirpath, f)).st_size
        return total

    # ---- the worker's side ---------------------------------------------------------------------------

    def fetch_input(self, job_id: str, name: str) -> Path:
        """A local path of the job's input file."""
        path = self.input_path(job_id, name)
        if not path.is_file():
            raise KinemaError(f"The input {name} of {job_id} is no longer stored; submit the video again.")
        return path

    def fetch_source_video(self, job_id: str, source_id: str) -> Path:
        """A local path of the finished video `source_id` that job `job_id` extends or remixes."""
        video = self.output_path(source_id, "video")
        if not video.is_file():
            raise KinemaError(f"The source video {source_id} is no longer stored.")
        return video

    def publish_outputs(self, job_id: str) -> None:
        """Make the job's finished outputs readable by the API (before its row says completed)."""

    def release_local(self, job_id: str) -> None:
        """Drop a worker's local working copies of the job's files (none: the files are the store)."""

    def discard_attempt(self, job_id: str) -> None:
        """Remove what an interrupted attempt wrote (its lease went to another worker)."""
        self.remove_outputs(job_id)

    def sweep_scratch(self, statuses: Statuses) -> tuple[int, int]:
        """A worker's start-up sweep of its own working copies (none here: the files are the store)."""
        return 0, 0

    # ---- removing ------------------------------------------------------------------------------------

    def remove_outputs(self, job_id: str) -> None:
        """The job's output files (not its inputs: a retry needs them)."""
        shutil.rmtree(self.video_dir(job_id), ignore_errors=True)

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.video_dir(job_id), ignore_errors=True)
        shutil.rmtree(self.root / "inputs" / safe_id(job_id), ignore_errors=True)

    def sweep(self, statuses: Statuses, older_than: float, now: float | None = None) -> tuple[int, int]:
        """Remove stale temp files (every folder), stale job-less input and output folders, and the
        outputs of failed jobs; returns how many bytes and how many paths went."""
        cutoff = (time.time() if now is None else now) - older_than
        return add_counts(self._sweep_folders(statuses, cutoff), self._sweep_temp_files(cutoff))

    def _sweep_folders(
        self, statuses: Statuses, cutoff: float, keep_running: bool = False
    ) -> tuple[int, int]:
        folders = [
            (top, p)
            for top in ("inputs", "videos")
            for p in (self.root / top).iterdir()
            if p.is_dir() and is_job_id(p.name)
        ]
        known = statuses(sorted({p.name for _, p in folders})) if folders else {}
        removed_bytes = removed = 0
        for top, folder in folders:
            status = known.get(folder.name)
            if status is None:
                drop = _newest_mtime(folder) < cutoff
            elif keep_running:  # a worker's scratch: only a running job's copies are still needed
                drop = status != "in_progress"
            else:
                drop = top == "videos" and status == "failed"
            if drop:
                removed_bytes += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed_bytes, removed

    def _sweep_temp_files(self, cutoff: float) -> tuple[int, int]:
        removed_bytes = removed = 0
        for path in self._temp_files():
            try:
                st = path.stat()
                if st.st_mtime < cutoff or writer_is_gone(path):
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


def make_storage(settings: ServeSettings) -> Storage:
    """The storage `settings.storage` names: None = files in the data dir, `file://DIR`, or
    `s3://BUCKET[/PREFIX]` (boto3; endpoint and credentials from the environment)."""
    url = settings.storage
    if not url:
        return Storage(settings.data_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Storage(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "s3" and parts.netloc:
        try:
            import boto3
        except ImportError:
            raise MissingDependencyError(
                "--storage s3://… needs boto3; install it with: pip install 'kinema[s3]'"
            ) from None
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.s3_region or None
        )
        from kinema.serving.object_storage import ObjectStorage

        storage = ObjectStorage(
            settings.data_dir, parts.netloc, unquote(parts.path), client, settings.s3_presign_seconds
        )
        storage.check()
        return storage
    raise InvalidInputError(f"--storage must be file://DIR or s3://BUCKET[/PREFIX]; got {url!r}.")


def add_counts(*counts: tuple[int, int]) -> tuple[int, int]:
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def is_job_id(name: str) -> bool:
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


def safe_id(job_id: str) -> str:
    if not job_id or "/" in job_id or "\\" in job_id or job_id.startswith("."):
        raise ValueError(f"bad job id {job_id!r}")
    return job_id
