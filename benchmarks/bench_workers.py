"""Benchmark: workers on two "machines" sharing only PostgreSQL and an S3 bucket (issue 29, Measures).

Scenario (declared here, printed with the tables):

- An S3-compatible server (moto_server, a standalone process speaking S3 over HTTP on 127.0.0.1) with one
  bucket; a fresh database on the PostgreSQL server named by --postgres / KINEMA_TEST_POSTGRES_URL.
- The API: `kinema serve --workers 0 --database PG --storage s3://BUCKET/bench` (no worker of its own).
- Each "machine" is a `kinema worker --database PG --storage s3://BUCKET/bench --data-dir <its own temp
  dir>` process; nothing but the database and the bucket is shared. The model is Kinema's tiny random model
  (`create_random_model_folder`, 32×32, 9 frames, 2 steps): real generation, fast.
1. Throughput: `--throughput-jobs` text→video jobs with one worker, then as many with two (jobs/s from the
   first submission to the last completion, model loading excluded: the workers are up before the jobs).
2. Kill -9: `--jobs` jobs, two workers; each worker is killed with SIGKILL twice while it holds a job's lease
   (mid-job) and started again at once. Then: lost (jobs not completed), duplicated (runs beyond one per job
   plus one per kill that hit it: `attempts` in the job table), outputs that are not a valid MP4 of the
   requested length, orphaned objects (keys beyond each completed job's three outputs, and unfinished
   multipart uploads), files left in the machines' scratch folders.

The machine is shared (2 CPU cores, other jobs running): both workers compete for the same cores, so
the two-worker throughput shows coordination overhead, not the scaling two real machines would give.

    KINEMA_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/bench_workers.py
    python benchmarks/bench_workers.py --postgres URL --jobs 50 --throughput-jobs 20
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from bench_serving import fresh_pg  # noqa: E402 - a throwaway database on the cluster, as there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, what: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


class Cluster:
    """moto_server + `kinema serve --workers 0` + worker processes, each "machine" with its own dir."""

    def __init__(self, root: Path, database: str) -> None:
        self.root, self.database = root, database
        # throwaway credentials for the throwaway S3 server, for this process's client and the children
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        )
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), self.env.get("PYTHONPATH", "")])
        self.env.setdefault("OMP_NUM_THREADS", "1")
        self.procs: list[subprocess.Popen] = []
        self.submitted: list[str] = []  # every job of the run (the bucket should hold their outputs only)

    def start(self) -> Cluster:
        from kinema.pipelines.model_folder import create_random_model_folder

        s3_port = free_port()
        self.s3_url = f"http://127.0.0.1:{s3_port}"
        moto = Path(sys.executable).with_name("moto_server")
        self.moto = self._spawn([str(moto), "-H", "127.0.0.1", "-p", str(s3_port)], "moto.log")
        wait_http(self.s3_url, "moto_server", self.moto)
        self.bucket = f"kinema-bench-{uuid.uuid4().hex[:8]}"
        self.s3().create_bucket(Bucket=self.bucket)
        self.storage = f"s3://{self.bucket}/bench"
        self.models = self.root / "models"
        create_random_model_folder(self.models / "kinema-tiny", preset="tiny")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.api = self._spawn(
            [sys.executable, "-m", "kinema.cli", "serve", "--port", str(port), "--workers", "0", "--no-auth",
             *self._common(self.root / "api")],
            "api.log",
        )  # fmt: skip
        wait_http(self.url + "/healthz", "kinema serve", self.api)
        return self

    def _common(self, data_dir: Path) -> list[str]:
        return [
            "--database", self.database, "--storage", self.storage, "--s3-endpoint-url", self.s3_url,
            "--data-dir", str(data_dir), "--models-dir", str(self.models), "--lease-seconds", "4",
            "--heartbeat-seconds", "0.5", "--max-attempts", "5", "--no-c2pa",
        ]  # fmt: skip

    def _spawn(self, cmd: list[str], log: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd, env=self.env, cwd=REPO, stdout=(self.root / log).open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def worker(self, machine: int) -> subprocess.Popen:
        data_dir = self.root / f"machine{machine}"
        cmd = [sys.executable, "-m", "kinema.cli", "worker", *self._common(data_dir)]
        return self._spawn(cmd, f"machine{machine}.log")

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1")

    def submit(self, n: int, tag: str) -> list[str]:
        with httpx.Client(base_url=self.url, timeout=60) as c:
            ids = [
                c.post("/v1/videos", json={"prompt": f"a red ball {tag} {i}"}).json()["id"] for i in range(n)
            ]
        self.submitted += ids
        return ids

    def statuses(self, ids: list[str]) -> dict[str, str]:
        with httpx.Client(base_url=self.url, timeout=60) as c:
            return {vid: c.get(f"/v1/videos/{vid}").json()["status"] for vid in ids}

    def wait_done(self, ids: list[str], timeout: float = 1800) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(s in ("completed", "failed") for s in self.statuses(ids).values()):
                return time.time()
            time.sleep(0.5)
        raise RuntimeError("jobs did not finish")

    def stop(self) -> None:
        for proc in self.procs:
            kill(proc)


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_ready(cluster: Cluster, machine: int) -> None:
    log = cluster.root / f"machine{machine}.log"
    deadline = time.time() + 300
    while " ready (models" not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.time() > deadline:
            raise RuntimeError(f"worker {machine} did not start")
        time.sleep(0.2)


def holds_lease(store, pid: int) -> bool:
    from sqlalchemy import select

    from kinema.serving.job_store import jobs

    with store.reading() as conn:
        owners = conn.execute(select(jobs.c.lease_owner).where(jobs.c.status == "in_progress")).scalars()
        return any(o and o.split(":")[1] == str(pid) for o in owners)


def throughput(cluster: Cluster, workers: int, n: int) -> float:
    procs = []
    for m in range(workers):
        (cluster.root / f"machine{m}.log").unlink(missing_ok=True)
        procs.append(cluster.worker(m))
    for m in range(workers):
        wait_ready(cluster, m)
    start = time.time()
    ids = cluster.submit(n, f"tp{workers}")
    end = cluster.wait_done(ids)
    for proc in procs:
        kill(proc)
    return n / (end - start)


def kill_scenario(cluster: Cluster, n: int, kills_each: int) -> dict[str, int]:
    from kinema.io.video import probe_video
    from kinema.serving.store import JobStore

    store = JobStore(cluster.database)
    procs = [cluster.worker(0), cluster.worker(1)]
    for m in (0, 1):
        wait_ready(cluster, m)
    ids = cluster.submit(n, "kill")
    kills = 0
    for _ in range(kills_each):
        for m in (0, 1):
            deadline = time.time() + 600
            while not holds_lease(store, procs[m].pid):  # kill it mid-job, while it holds a lease
                if time.time() > deadline:
                    raise RuntimeError(f"worker {m} never took a job")
                time.sleep(0.02)
            time.sleep(0.2)
            kill(procs[m])
            kills += 1
            procs[m] = cluster.worker(m)
    cluster.wait_done(ids)
    # let the restarted workers finish their start-up sweep of the scratch folders, then stop them
    for m in (0, 1):
        wait_ready(cluster, m)
    for proc in procs:
        kill(proc)
    statuses = cluster.statuses(ids)
    rows = {vid: store.get(vid) for vid in ids}
    reruns = sum(r.attempts - 1 for r in rows.values())
    bad = 0
    with httpx.Client(base_url=cluster.url, timeout=60) as c, tempfile.TemporaryDirectory() as tmp:
        for vid in ids:
            if statuses[vid] != "completed":
                continue
            path = Path(tmp) / f"{vid}.mp4"
            path.write_bytes(c.get(f"/v1/videos/{vid}/content").content)
            try:
                bad += probe_video(path).num_frames != 9
            except Exception:
                bad += 1
    s3 = cluster.s3()
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster.bucket)
            for o in page.get("Contents", [])}  # fmt: skip
    finished = cluster.statuses(cluster.submitted)  # the throughput runs' jobs too
    expected = {f"bench/videos/{vid}/{name}" for vid, st in finished.items() if st == "completed"
                for name in ("video.mp4", "thumbnail.jpg", "spritesheet.jpg")}  # fmt: skip
    uploads = s3.list_multipart_uploads(Bucket=cluster.bucket).get("Uploads", [])
    scratch = [p for m in (0, 1) for top in ("inputs", "videos")
               for p in (cluster.root / f"machine{m}" / top).rglob("*") if p.is_file()]  # fmt: skip
    store.dispose()
    return {
        "jobs": n,
        "kills": kills,
        "completed": sum(s == "completed" for s in statuses.values()),
        "lost": sum(s != "completed" for s in statuses.values()),
        "re-runs after a kill": reruns,
        "duplicated": max(0, reruns - kills),
        "bad outputs": bad,
        "missing objects": len(expected - keys),
        "orphaned objects": len(keys - expected) + len(uploads),
        "scratch files left": len(scratch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("KINEMA_TEST_POSTGRES_URL"))
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--throughput-jobs", type=int, default=20)
    parser.add_argument("--kills-each", type=int, default=2)
    args = parser.parse_args()
    if not args.postgres:
        raise SystemExit("needs PostgreSQL: --postgres URL or KINEMA_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="kinema-bench-workers-") as tmp:
        root = Path(tmp)
        cluster = Cluster(root, fresh_pg(args.postgres))
        try:
            cluster.start()  # inside the try: a failed start still stops what it started
            one = throughput(cluster, 1, args.throughput_jobs)
            two = throughput(cluster, 2, args.throughput_jobs)
            counts = kill_scenario(cluster, args.jobs, args.kills_each)
        finally:
            cluster.stop()
    print(f"device: CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared); "
          "model: kinema tiny random (32x32, 9 frames, 2 steps); PostgreSQL + moto_server S3 on loopback\n")  # fmt: skip
    print("| workers | jobs | jobs/s | ratio to one worker |\n|---|---|---|---|")
    print(f"| 1 | {args.throughput_jobs} | {one:.2f} | 1.00 |")
    print(f"| 2 | {args.throughput_jobs} | {two:.2f} | {two / one:.2f} |\n")
    print("| " + " | ".join(counts) + " |")
    print("|" + "---|" * len(counts))
    print("| " + " | ".join(str(v) for v in counts.values()) + " |")


if __name__ == "__main__":
    main()
