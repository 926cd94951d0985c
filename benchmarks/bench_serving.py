"""Benchmark: the video API under load, and the rate at which the durable queue hands out jobs.

Scenarios (declared here, printed with the tables):

1. API: `kinema serve --workers 0` on 127.0.0.1 (SQLite WAL, synchronous=FULL, auth off, a model folder
   with only kinema.json — no generation runs, so this measures the server and its database). `--clients`
   concurrent clients (default 100, one HTTP connection each) loop for `--seconds`: create a video
   (POST /v1/videos, committed to disk before the answer), then retrieve it (GET /v1/videos/{id}, which
   also computes the queue position). Peer row: GET /healthz (no database) under the same load — the cost
   of uvicorn + FastAPI alone on this machine. Reported: requests/s, p50 and p99 latency per operation.
2. Queue: `--jobs` queued jobs, then `--claimers` threads each claim (lease) + complete until the queue is
   empty; jobs/s handed out. SQLite (one file, BEGIN IMMEDIATE) and PostgreSQL (FOR UPDATE SKIP LOCKED) when
   KINEMA_TEST_POSTGRES_URL (or --postgres URL) names a server; a fresh database is made there.

The load generator runs on the same (shared, 2-core) machine as the server, so the numbers are lower bounds.

    python benchmarks/bench_serving.py                     # prints Markdown tables
    python benchmarks/bench_serving.py --clients 100 --seconds 10 --jobs 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from kinema.serving.store import JobStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    models = root / "models" / "bench-tiny"
    models.mkdir(parents=True)
    (models / "kinema.json").write_text(json.dumps({"width": 32, "height": 32, "num_frames": 9, "fps": 8}))
    port = free_port()
    cmd = [
        sys.executable, "-m", "kinema.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "0", "--no-auth", "--data-dir", str(root / "data"), "--models-dir", str(root / "models"),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("kinema serve did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def load(url: str, clients: int, seconds: float, create: bool) -> dict[str, list[float]]:
    """`clients` concurrent loops over one connection pool of `clients` connections, opened before timing."""
    latencies: dict[str, list[float]] = {"create": [], "retrieve": [], "health": []}
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        await asyncio.gather(*(c.get("/healthz") for _ in range(clients)))  # open the connections
        stop_at = time.perf_counter() + seconds

        async def client_loop(n: int) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                if create:
                    t0 = time.perf_counter()
                    r = await c.post("/v1/videos", json={"prompt": f"client {n} clip"})
                    latencies["create"].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        errors += 1
                        continue
                    t0 = time.perf_counter()
                    r = await c.get(f"/v1/videos/{r.json()['id']}")
                    latencies["retrieve"].append(time.perf_counter() - t0)
                    errors += r.status_code != 200
                else:
                    t0 = time.perf_counter()
                    r = await c.get("/healthz")
                    latencies["health"].append(time.perf_counter() - t0)
                    errors += r.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(n) for n in range(clients)))
        latencies["elapsed"] = [time.perf_counter() - t0]
    if errors:
        print(f"warning: {errors} requests failed", file=sys.stderr)
    return latencies


def bench_api(clients: int, seconds: float) -> list[tuple[str, int, float, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            for create in (False, True):
                lat = asyncio.run(load(url, clients, seconds, create))
                elapsed = lat.pop("elapsed")[0]  # the last requests finish after the deadline
                total = sum(len(v) for v in lat.values())
                for op, values in lat.items():
                    if values:
                        rows.append(
                            (
                                op,
                                len(values),
                                total / elapsed,
                                percentile(values, 0.5),
                                percentile(values, 0.99),
                            )
                        )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def bench_queue(url: str, jobs: int, claimers: int) -> float:
    store = JobStore(url)
    with store.writing() as conn:
        for i in range(jobs):
            store.insert_job(
                conn, tenant="bench", model="m", task="text", priority=i % 3, prompt="p",
                params={}, seconds="1", size="32x32", max_attempts=3,
            )  # fmt: skip
    done = [0] * claimers

    def run(n: int) -> None:
        owner = f"bench-{n}"
        while True:
            claim = store.claim(owner, 60)
            if claim is None:
                return
            store.complete(claim.job.id, owner, 60)
            done[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(claimers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    store.dispose()
    assert sum(done) == jobs, (sum(done), jobs)
    return jobs / elapsed


def fresh_pg(url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"kb_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--claimers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--postgres", default=os.environ.get("KINEMA_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--skip-queue", action="store_true")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    if not args.skip_api:
        rows = bench_api(args.clients, args.seconds)
        print(f"### API on 127.0.0.1, {args.clients} concurrent clients, {args.seconds:g} s per phase\n")
        print("| operation | requests | phase requests/s | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        names = {
            "health": "GET /healthz (peer: no database)",
            "create": "POST /v1/videos",
            "retrieve": "GET /v1/videos/{id}",
        }
        for op, n, rps, p50, p99 in rows:
            print(f"| {names[op]} | {n} | {rps:.0f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} |")
        print()

    if args.skip_queue:
        return 0
    print(f"### Queue hand-out, {args.jobs} jobs, claim + complete per job\n")
    print("| database | claimers | jobs/s |")
    print("|---|---:|---:|")
    for claimers in args.claimers:
        with tempfile.TemporaryDirectory() as tmp:
            rate = bench_queue(f"sqlite:///{tmp}/jobs.db", args.jobs, claimers)
        print(f"| SQLite (WAL, synchronous=FULL) | {claimers} | {rate:.0f} |")
    if args.postgres:
        for claimers in args.claimers:
            rate = bench_queue(fresh_pg(args.postgres), args.jobs, claimers)
            print(f"| PostgreSQL (SKIP LOCKED) | {claimers} | {rate:.0f} |")
    else:
        print("| PostgreSQL | – | not run: set KINEMA_TEST_POSTGRES_URL or --postgres |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
