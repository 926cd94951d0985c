"""Nothing acknowledged is lost: kill -9 of a worker or of the server, and two workers on one PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serving_helpers import REPO, free_port, fresh_pg_database, kill_hard, spawn_worker, worker_env


def test_kill_9_worker_mid_job_then_a_new_worker_finishes_it(server_factory, tmp_path):
    server = server_factory(start_webhooks=False, lease_seconds=1.5, heartbeat_seconds=0.2)
    log = tmp_path / "runs.log"
    slow = {"KINEMA_FAKE_STEPS": "400", "KINEMA_FAKE_STEP_SECONDS": "0.02", "KINEMA_FAKE_LOG": str(log)}
    first = spawn_worker(server.settings, **slow)
    try:
        with server.client() as c:
            vid = c.post("/v1/videos", json={"prompt": "survive a crash"}).json()["id"]
            deadline = time.time() + 30
            while time.time() < deadline:
                body = c.get(f"/v1/videos/{vid}").json()
                if body["status"] == "in_progress" and body["progress"] > 5:
                    break
                time.sleep(0.05)
            assert body["status"] == "in_progress" and body["progress"] > 5
        kill_hard(first)
        killed_at = time.time()
        second = spawn_worker(server.settings, KINEMA_FAKE_LOG=str(log))
        try:
            done = server.wait_for(vid, timeout=40)
        finally:
            kill_hard(second)
    finally:
        kill_hard(first)
    assert done["status"] == "completed" and done["progress"] == 100
    job = server.store.get(vid)
    assert job.attempts == 2 and job.started_at < killed_at
    runs = log.read_text().split()
    assert runs[0::2] == [vid, vid] and runs[1] == str(first.pid) and runs[3] == str(second.pid)
    assert (server.settings.data_dir / "videos" / vid / "video.mp4").stat().st_size > 0


def _start_serve(tmp_path, port: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "kinema.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "models"),
        "--workers", "1", "--backends", "serving_fakes:make_backends", "--lease-seconds", "2",
        "--heartbeat-seconds", "0.3",
    ]  # fmt: skip
    env = worker_env(KINEMA_FAKE_STEPS="15", KINEMA_FAKE_STEP_SECONDS="0.02")
    return subprocess.Popen(
        cmd, env=env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "kinema serve exited early"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("kinema serve did not come up")


def test_kill_9_server_and_its_worker_then_restart_keeps_every_job(tmp_path):
    from serving_helpers import write_fake_model

    write_fake_model(tmp_path / "models")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_serve(tmp_path, port)
    try:
        _wait_up(url, proc)
        with httpx.Client(base_url=url, timeout=10) as c:
            ids = [c.post("/v1/videos", json={"prompt": f"job {i}"}).json()["id"] for i in range(6)]
            deadline = time.time() + 30  # let the worker get into the queue
            while c.get(f"/v1/videos/{ids[0]}").json()["status"] == "queued" and time.time() < deadline:
                time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker child, mid-job, no goodbye
        proc.wait(timeout=10)
        proc = _start_serve(tmp_path, port)
        _wait_up(url, proc)
        with httpx.Client(base_url=url, timeout=10) as c:
            listed = [
                v["id"] for v in c.get("/v1/videos", params={"order": "asc", "limit": 100}).json()["data"]
            ]
            assert listed == ids  # every acknowledged job is still there, in order
            deadline = time.time() + 60
            while time.time() < deadline:
                statuses = [c.get(f"/v1/videos/{i}").json()["status"] for i in ids]
                if all(s == "completed" for s in statuses):
                    break
                time.sleep(0.2)
            assert statuses == ["completed"] * 6
        # a plain SIGTERM to the server stops it cleanly, and its worker with it
        assert len(_children_of(proc.pid)) == 1
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        deadline = time.time() + 15
        while time.time() < deadline and _children_of(proc.pid):
            time.sleep(0.1)
        assert _children_of(proc.pid) == []
    finally:
        kill_hard(proc)


def _children_of(pid: int) -> list[str]:
    """Worker processes started by the `kinema serve` with this pid (their command line has --parent-pid)."""
    needle = f"--parent-pid\0{pid}\0".encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def test_two_worker_processes_on_postgres_never_run_a_job_twice(server_factory, tmp_path):
    database = fresh_pg_database()
    server = server_factory(database=database, start_webhooks=False)
    log = tmp_path / "runs.log"
    env = {"KINEMA_FAKE_STEPS": "2", "KINEMA_FAKE_STEP_SECONDS": "0.01", "KINEMA_FAKE_LOG": str(log)}
    with server.client() as c:
        ids = [c.post("/v1/videos", json={"prompt": f"pg {i}"}).json()["id"] for i in range(12)]
    workers = [spawn_worker(server.settings, **env) for _ in range(2)]
    try:
        for vid in ids:
            assert server.wait_for(vid, timeout=60)["status"] == "completed"
    finally:
        for w in workers:
            kill_hard(w)
    lines = [line.split() for line in log.read_text().splitlines()]
    ran = [job for job, _ in lines]
    assert sorted(ran) == sorted(ids)  # each job ran exactly once
    pids = {pid for _, pid in lines}
    assert pids <= {str(w.pid) for w in workers} and len(pids) == 2  # both workers took part
