"""`--storage s3://BUCKET[/PREFIX]`: uploads and outputs as objects in an S3 bucket (storage.py holds the
interface, the file storage it extends, and why objects are never seen half-written)."""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kinema.errors import InvalidInputError, KinemaError
from kinema.io.atomic import atomic_write_path, temp_path_for
from kinema.serving.storage import (
    VARIANTS,
    Content,
    RangeNotSatisfiable,
    Statuses,
    Storage,
    add_counts,
    is_job_id,
    safe_id,
)

# Outputs are published previews first, the video last: a reader that sees the video sees all three.
PUBLISH_ORDER = ("thumbnail", "spritesheet", "video")

# One range of bytes, as browsers ask for media (`bytes=0-`, `bytes=100-199`, `bytes=-500`); a multi-range
# request is answered whole, as RFC 9110 allows.
_RANGE = re.compile(r"^bytes=(\d+-\d*|-\d+)$")


class ObjectStorage(Storage):
    """Uploads and outputs as objects in an S3 bucket under a prefix (`--storage s3://BUCKET/PREFIX`);
    `root` (the data dir) holds this process's working copies and upload spool only.

    Keys: `PREFIX/inputs/<job id>/<name>` and `PREFIX/videos/<job id>/<video.mp4|thumbnail.jpg|...>`.
    The client is boto3's: endpoint, region and credentials come from the environment (AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, ...) or from `--s3-endpoint-url`; uploads above 8 MB go as multipart uploads."""

    kind = "s3"
    # Objects one sweep lists per folder (inputs/, videos/); the next sweep goes on after the last key it
    # saw and starts over when a listing reaches the end. A bucket of a million outputs then costs a few
    # LIST requests a minute, not a thousand, and every object is still looked at every N/5000 minutes.
    sweep_keys = 5000

    def __init__(
        self, root: Path, bucket: str, prefix: str, client: Any, presign_seconds: int | None = None
    ) -> None:
        super().__init__(root)
        self.presign_seconds = presign_seconds
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client
        self._uploads_seen: dict[str, float] = {}  # multipart upload id -> when a sweep first saw it
        self._sweep_after: dict[str, str] = {}  # folder -> the key the next sweep lists after

    def _key(self, top: str, job_id: str, name: str = "") -> str:
        return f"{self.prefix}{top}/{safe_id(job_id)}/{name}"

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
        folder = self.root / "inputs" / safe_id(job_id)
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
        path = self.input_path(job_id, f"source-{safe_id(source_id)}.mp4")
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
        return add_counts(
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
        return add_counts(
            local, self._sweep_objects(statuses, cutoff), self._abort_stale_uploads(now, older_than)
        )

    def _sweep_objects(self, statuses: Statuses, cutoff: float) -> tuple[int, int]:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for top in ("inputs", "videos"):
            window, self._sweep_after[top] = self._window(f"{self.prefix}{top}/", self._sweep_after.get(top))
            for obj in window:
                job_id = obj["Key"][len(self.prefix) + len(top) + 1 :].split("/", 1)[0]
                if is_job_id(job_id):
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

    def _window(self, prefix: str, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `sweep_keys` objects under `prefix` after the key `after`, in key order, and the key the
        next window starts after (None: this one reached the end, so the next starts over). A job whose
        objects straddle two windows is judged in each by the same rule, so nothing live is dropped."""
        found = list(itertools.islice(self._objects(prefix, after, self.sweep_keys), self.sweep_keys))
        return found, found[-1]["Key"] if len(found) == self.sweep_keys else None

    def _objects(self, prefix: str, after: str | None = None, page: int = 1000) -> Iterator[dict[str, Any]]:
        """The objects under `prefix` (after the key `after`), in key order, listed a page at a time as
        they are consumed."""
        paginator = self.client.get_paginator("list_objects_v2")
        extra = {"StartAfter": after} if after else {}
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": min(1000, page)}, **extra
        )
        for listed in pages:
            yield from listed.get("Contents", [])

    def _delete_prefix(self, prefix: str) -> None:
        self._delete_keys([o["Key"] for o in self._objects(prefix)])

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


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
