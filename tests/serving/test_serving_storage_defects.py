"""Issue 29's storage defects, each reproduced as the probe met it: (5) a full disk, (8) the partial video
of a job that failed `worker_lost`, (10) an interrupted upload's temp file after a restart."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from serving_helpers import REPO, Server, kill_hard, make_settings, spawn_worker, worker_env

MB = 1024 * 1024


@contextlib.contextmanager
def full_disk(path: Path, size: str = "64k"):
    """`path` on a tiny tmpfs that fills up (a real ENOSPC); needs root (CI runs as root)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def png(size=(256, 256)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buf, format="PNG")  # noise: it does not compress
    return buf.getvalue()


def assert_no_path(message: str, *roots: Path) -> None:
    for root in roots:
        assert str(root) not in message and "/tmp" not in message, message


def test_5_a_full_disk_is_507_with_retry_after_and_no_path(server_factory, tmp_path):
    server = server_factory(start_webhooks=False)
    data = server.settings.data_dir
    with full_disk(data / "uploads"), server.client() as c:
        r = c.post(
            "/v1/videos/extensions",
            data={"prompt": "more", "seconds": "1"},
            files={"video": ("clip.mp4", b"\0\0\0\x18ftypisom" + b"\0" * MB, "video/mp4")},
        )
    assert r.status_code == 507, r.text  # was 400 "The form body could not be parsed ([Errno 28] ...)"
    error = r.json()["error"]
    assert error["code"] == "insufficient_storage" and r.headers["retry-after"] == "60"
    assert_no_path(error["message"], data)
    assert list((data / "uploads").iterdir()) == [] if (data / "uploads").exists() else True
    # an image stored with the job (not spooled) meets the same full disk: the same answer, no job
    with full_disk(data / "inputs", "16k"), server.client() as c:
        r = c.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", png())})
        assert r.status_code == 507, r.text
        assert_no_path(r.json()["error"]["message"], data)
        assert c.get("/v1/videos").json()["data"] == []


def test_5_a_job_that_meets_a_full_disk_fails_without_showing_a_path(server_factory):
    server = server_factory(start_webhooks=False)
    data = server.settings.data_dir
    with full_disk(data / "videos", "4k"):
        server.start_worker()
        with server.client() as c:
            vid = c.post("/v1/videos", json={"prompt": "too big for the disk"}).json()["id"]
        job = server.wait_for(vid)
        server.stop_workers()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "insufficient_storage", job["error"]
    assert_no_path(job["error"]["message"], data)


def test_8_a_job_failed_worker_lost_keeps_no_partial_video(server_factory):
    server = server_factory(start_webhooks=False, max_attempts=1, lease_seconds=1.0, heartbeat_seconds=0.2)
    env = {"KINEMA_FAKE_STEPS": "200", "KINEMA_FAKE_STEP_SECONDS": "0.05", "KINEMA_FAKE_WRITE_FIRST": "1"}
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "killed mid-way"}).json()["id"]
    video_dir = server.settings.data_dir / "videos" / vid
    worker = spawn_worker(server.settings, **env)
    try:
        deadline = time.time() + 30
        while not (video_dir.is_dir() and any(video_dir.iterdir())):  # the partial MP4 is on disk
            assert time.time() < deadline, "the worker never wrote a partial video"
            time.sleep(0.05)
    finally:
        kill_hard(worker)
    job = server.wait_for(vid, timeout=30)
    assert job["status"] == "failed" and job["error"]["code"] == "worker_lost"
    deadline = time.time() + 5  # the janitor fails the job, then removes its files, in one pass
    while video_dir.exists():  # was: the killed attempt's partial video stayed
        assert time.time() < deadline, list(video_dir.iterdir())
        time.sleep(0.05)


WRITER = """
import sys, time
from pathlib import Path
from kinema.io.atomic import temp_path_for
path = temp_path_for(Path(sys.argv[1]) / "video.upload")
with open(path, "wb") as fh:
    fh.write(b"half an upload" * 1000)
    fh.flush()
    print(path, flush=True)
    time.sleep(600)
"""


def test_10_a_restart_removes_temp_files_no_live_process_writes(tmp_path):
    settings = make_settings(tmp_path)  # orphan_seconds: the default 10 minutes
    spool = settings.data_dir / "uploads"
    spool.mkdir(parents=True)

    def writer() -> tuple[subprocess.Popen, Path]:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(spool)],
            stdout=subprocess.PIPE,
            env=worker_env(),
            cwd=REPO,
            start_new_session=True,
        )
        return proc, Path(proc.stdout.readline().decode().strip())

    interrupted, left = writer()
    kill_hard(interrupted)  # the upload's writer dies mid-file, as a killed API process does
    live, writing = writer()  # another process is still writing its upload
    try:
        server = Server(settings, start_webhooks=False).start()  # the restart
        try:
            deadline = time.time() + 10
            while left.exists():
                assert time.time() < deadline, "the dead writer's temp file outlived the restart"
                time.sleep(0.05)
            assert writing.exists()  # a file a live process writes stays
        finally:
            server.stop()
    finally:
        kill_hard(live)
