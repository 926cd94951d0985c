"""Where uploads and outputs live: files under one folder (`Storage`), or an S3 bucket (`ObjectStorage`)
so that workers on other machines serve the same queue (issue 29, item 1).

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
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from kinema.errors import InvalidInputError, KinemaError, MissingDependencyError
from kinema.io.atomic import atomic_write_path, temp_path_for, writer_is_gone

if TYPE_CHECKING:
    from kinema.serving.settings import ServeSettings

# variant -> (file name, media type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
# Outputs are published previews first, the video last: a reader that sees the video sees all three.
PUBLISH_ORDER = ("thumbnail", "spritesheet", "video")
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


# One range of bytes, as browsers ask for media (`bytes=0-`, `bytes=100-199`, `bytes=-500`); a multi-range
# request is answered whole, as RFC 9110 allows.
_RANGE = re.compile(r"^bytes=(\d+-\d*|-\d+)$")


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
        return self.root / "videos" / _safe(job_id)

    def output_path(self, job_id: str, variant: str) -> Path:
        return self.video_dir(job_id) / VARIANTS[variant][0]

    def input_path(self, job_id: str, name: str) -> Path:
        return self.root / "inputs" / _safe(job_id) / name

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
        shutil.rmtree(self.root / "inputs" / _safe(job_id), ignore_errors=True)

    def sweep(self, statuses: Statuses, older_than: float, now: float | None = None) -> tuple[int, int]:
        """Remove stale temp files (every folder), stale job-less input and output folders, and the
        outputs of failed jobs; returns how many bytes and how many paths went."""
        cutoff = (time.time() if now is None else now) - older_than
        return _add(self._sweep_folders(statuses, cutoff), self._sweep_temp_files(cutoff))

    def _sweep_folders(
        self, statuses: Statuses, cutoff: float, keep_running: bool = False
    ) -> tuple[int, int]:
        folders = [
            (top, p)
            for top in ("inputs", "videos")
            for p in (self.root / top).iterdir()
            if p.is_dir() and _is_job_id(p.name)
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


class ObjectStorage(Storage):
    """Uploads and outputs as objects in an S3 bucket under a prefix (`--storage s3://BUCKET/PREFIX`);
    `root` (the data dir) holds this process's working copies and upload spool only.

    Keys: `PREFIX/inputs/<job id>/<name>` and `PREFIX/videos/<job id>/<video.mp4|thumbnail.jpg|...>`.
    The client is boto3's: endpoint, region and credentials come from the environment (AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, ...) or from `--s3-endpoint-url`; uploads above 8 MB go as multipart uploads."""

    kind = "s3"

    def __init__(
        self, root: Path, bucket: str, prefix: str, client: Any, presign_seconds: int | None = None
    ) -> None:
        super().__init__(root)
        self.presign_seconds = presign_seconds
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client
        self._uploads_seen: dict[str, float] = {}  # multipart upload id -> when a sweep first saw it

    def _key(self, top: str, job_id: str, name: str = "") -> str:
        return f"{self.prefix}{top}/{_safe(job_id)}/{name}"

    def check(self) -> None:
        """Fail at start-up, not at the first job, when the bucket cannot be reached."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise InvalidInputError(
                f"The S3 bucket {self.bucket!r} cannot be reached ({_s3_reason(exc)}); check --storage, "
                "the endpoint (AWS_ENDPOINT_URL or --s3-endpoint-url) and the credentials in the environment."
            ) from None

    def _upload(self, path: Path, key: str) -> None:
        # upload_file switches to a multipart upload above 8 MB; either way the key appears only whole.
        self.client.upload_file(str(path), self.bucket, key)

    def _download(self, key: str, path: Path) -> bool:
        """Fetch `key` to `path` atomically; False when there is no such object."""
        try:
            with atomic_write_path(path) as tmp:
                self.client.download_file(self.bucket, key, str(tmp))
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    # ---- the API's side ------------------------------------------------------------------------------

    def publish_inputs(self, job_id: str) -> None:
        folder = self.root / "inputs" / _safe(job_id)
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                self._upload(path, self._key("inputs", job_id, path.name))
        shutil.rmtree(folder, ignore_errors=True)

    def open_output(self, job_id: str, variant: str, byte_range: str | None = None) -> Content | None:
        """The object's bytes (those of `byte_range` when it is one valid range: a 206), or a presigned
        URL (`presign_seconds`), or None when it is not stored."""
        if self.presign_seconds:
            return self._presigned(job_id, variant)
        key = self._key("videos", job_id, VARIANTS[variant][0])
        extra = {"Range": byte_range.strip()} if byte_range and _RANGE.match(byte_range.strip()) else {}
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        except Exception as exc:
            if _is_missing(exc):
                return None
            if _s3_reason(exc) == "InvalidRange":
                size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
                raise RangeNotSatisfiable(int(size)) from None
            raise
        return Content(
            VARIANTS[variant][1],
            chunks=_chunks(obj["Body"]),
            size=int(obj["ContentLength"]),
            content_range=obj.get("ContentRange") if extra else None,
        )

    def _presigned(self, job_id: str, variant: str) -> Content | None:
        name, media_type = VARIANTS[variant]
        key = self._key("videos", job_id, name)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)  # a 404 here, not from the bucket later
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        filename = f"{job_id}{Path(name).suffix}"
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": media_type,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=self.presign_seconds,
        )
        return Content(media_type, url=url)

    @contextlib.contextmanager
    def local_output(self, job_id: str, variant: str) -> Iterator[Path | None]:
        path = temp_path_for(self.root / "uploads" / VARIANTS[variant][0])
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            found = self._download(self._key("videos", job_id, VARIANTS[variant][0]), path)
            yield path if found else None
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def bytes_stored(self) -> int:
        return sum(obj["Size"] for obj in self._objects(self.prefix))

    # ---- the worker's side ---------------------------------------------------------------------------

    def fetch_input(self, job_id: str, name: str) -> Path:
        path = self.input_path(job_id, name)
        if path.is_file() or self._download(self._key("inputs", job_id, name), path):
            return path
        raise KinemaError(f"The input {name} of {job_id} is no longer stored; submit the video again.")

    def fetch_source_video(self, job_id: str, source_id: str) -> Path:
        path = self.input_path(job_id, f"source-{_safe(source_id)}.mp4")
        if path.is_file() or self._download(self._key("videos", source_id, "video.mp4"), path):
            return path
        raise KinemaError(f"The source video {source_id} is no longer stored.")

    def publish_outputs(self, job_id: str) -> None:
        for variant in PUBLISH_ORDER:
            path = self.output_path(job_id, variant)
            if path.is_file():
                self._upload(path, self._key("videos", job_id, path.name))

    def release_local(self, job_id: str) -> None:
        super().remove_job(job_id)

    def discard_attempt(self, job_id: str) -> None:
        # Nothing of an unfinished attempt was uploaded (outputs go up only once finished); another
        # worker owns the job now, and its objects must stay.
        super().remove_job(job_id)

    def sweep_scratch(self, statuses: Statuses) -> tuple[int, int]:
        """At a worker's start: working copies of jobs no worker runs, and temp files of dead writers."""
        # (a folder of no job yet may be the API's, being written on this machine: a minute's grace)
        return _add(
            self._sweep_folders(statuses, cutoff=time.time() - 60.0, keep_running=True),
            self._sweep_temp_files(cutoff=0.0),
        )

    # ---- removing ------------------------------------------------------------------------------------

    def remove_outputs(self, job_id: str) -> None:
        super().remove_outputs(job_id)
        self._delete_prefix(self._key("videos", job_id))

    def remove_job(self, job_id: str) -> None:
        super().remove_job(job_id)
        self._delete_prefix(self._key("videos", job_id))
        self._delete_prefix(self._key("inputs", job_id))

    def sweep(self, statuses: Statuses, older_than: float, now: float | None = None) -> tuple[int, int]:
        """The local sweep, then the bucket's: objects of no job (untouched for `older_than`), outputs of
        failed jobs, and multipart uploads left unfinished for `older_than`."""
        now = time.time() if now is None else now
        cutoff = now - older_than
        local = super().sweep(statuses, older_than, now)
        return _add(local, self._sweep_objects(statuses, cutoff), self._abort_stale_uploads(now, older_than))

    def _sweep_objects(self, statuses: Statuses, cutoff: float) -> tuple[int, int]:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for top in ("inputs", "videos"):
            for obj in self._objects(f"{self.prefix}{top}/"):
                job_id = obj["Key"][len(self.prefix) + len(top) + 1 :].split("/", 1)[0]
                if _is_job_id(job_id):
                    groups.setdefault((top, job_id), []).append(obj)
        known = statuses(sorted({job_id for _, job_id in groups})) if groups else {}
        removed_bytes = removed = 0
        for (top, job_id), objs in groups.items():
            status = known.get(job_id)
            if status is None:
                drop = max(o["LastModified"].timestamp() for o in objs) < cutoff
            else:
                drop = top == "videos" and status == "failed"
            if drop:
                self._delete_keys([o["Key"] for o in objs])
                removed_bytes += sum(o["Size"] for o in objs)
                removed += len(objs)
        return removed_bytes, removed

    def _abort_stale_uploads(self, now: float, older_than: float) -> tuple[int, int]:
        """Abort multipart uploads this sweeper has seen unfinished for `older_than` seconds. Its own
        clock, not the upload's `Initiated`: servers' clocks differ (moto reports a fixed 2010 date), and
        a live upload must never be aborted because another machine's clock runs ahead."""
        aborted = 0
        seen: dict[str, float] = {}
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                upload_id = upload["UploadId"]
                seen[upload_id] = self._uploads_seen.get(upload_id, now)
                if now - seen[upload_id] >= older_than:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload_id
                    )
                    del seen[upload_id]
                    aborted += 1
        self._uploads_seen = seen
        return 0, aborted

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _delete_prefix(self, prefix: str) -> None:
        self._delete_keys([o["Key"] for o in self._objects(prefix)])

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


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
        storage = ObjectStorage(
            settings.data_dir, parts.netloc, unquote(parts.path), client, settings.s3_presign_seconds
        )
        storage.check()
        return storage
    raise InvalidInputError(f"--storage must be file://DIR or s3://BUCKET[/PREFIX]; got {url!r}.")


def _chunks(body: Any, size: int = 1 << 20) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(size)
    finally:
        body.close()


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _s3_reason(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


def _add(*counts: tuple[int, int]) -> tuple[int, int]:
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


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
