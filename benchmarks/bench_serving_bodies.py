"""Benchmark: the API process's memory under large request bodies (issue 29, defect 2).

Scenario (declared here, printed with the table): `kinema serve --workers 0` (the API alone) on 127.0.0.1,
SQLite, auth auto with no keys (the local tenant, no limits), the defaults (`max_upload_bytes` 20 MiB, so a
create body may be ~54 MB; `max_body_bytes_in_flight` 64 MiB). `--clients` threads each POST one JSON create
of `--mb` MB at once (a base64 `input_reference` that is not an image: it is read, parsed and refused, as the
probe's were). The API's resident set is read from /proc before (VmRSS) and after (VmHWM, the peak; reset
before the burst). Then the same burst from a key at its concurrency limit: its bodies must be refused
unread. Prints a Markdown table.

    python benchmarks/bench_serving_bodies.py                # 10 clients x 50 MB
    python benchmarks/bench_serving_bodies.py --clients 4 --mb 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "serving"))

from serving_helpers import serve_process, write_fake_model  # noqa: E402


def rss_mb(pid: int, field: str) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def start_api(root: Path) -> tuple[subprocess.Popen, str]:
    write_fake_model(root / "models", "bench-tiny")
    args = ["--workers", "0", "--data-dir", str(root / "data"), "--models-dir", str(root / "models")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return serve_process(args, root, env)


def burst(url: str, body: bytes, clients: int, key: str | None = None) -> Counter:
    codes: Counter = Counter()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}

    def send() -> None:
        try:
            with httpx.Client(timeout=300) as c:
                codes[c.post(url + "/v1/videos", content=body, headers=headers).status_code] += 1
        except httpx.HTTPError as exc:  # a refused body may close the connection under the client's feet
            codes[type(exc).__name__] += 1

    threads = [threading.Thread(target=send) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def measure(proc: subprocess.Popen, url: str, body: bytes, clients: int, key: str | None) -> tuple:
    time.sleep(0.5)
    with open(f"/proc/{proc.pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = rss_mb(proc.pid, "VmRSS")
    started = time.time()
    codes = burst(url, body, clients, key)
    return before, rss_mb(proc.pid, "VmHWM"), codes, time.time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--mb", type=float, default=50.0, help="size of each JSON body in MB")
    args = parser.parse_args()
    payload = "A" * int(args.mb * 1_000_000)
    body = json.dumps({"prompt": "x", "input_reference": {"image_url": "data:image/png;base64," + payload}})
    body_bytes = body.encode()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        proc, url = start_api(root)
        try:
            rows.append(("local tenant (no limits)", *measure(proc, url, body_bytes, args.clients, None)))
            # a free key (1 job at a time) that already has a job queued: every body is refused unread
            out = subprocess.run(
                [sys.executable, "-m", "kinema.cli", "keys", "create", "--name", "bench", "--tier", "free",
                 "--data-dir", str(root / "data")],
                capture_output=True, text=True, cwd=REPO, check=True,
            )  # fmt: skip
            key = out.stdout.strip().splitlines()[-1]
            first = httpx.post(
                url + "/v1/videos", json={"prompt": "one"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert first.status_code == 200, first.text
            rows.append(("free key at its limit", *measure(proc, url, body_bytes, args.clients, key)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"Scenario: kinema serve --workers 0 on 127.0.0.1 (defaults), {args.clients} concurrent JSON creates of "
        f"{len(body_bytes) / 1e6:.0f} MB; {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}.\n"
    )
    print("| who | RSS before (MB) | peak RSS (MB) | answers | seconds |")
    print("|---|---|---|---|---|")
    for who, before, peak, codes, seconds in rows:
        answers = ", ".join(f"{n}x {c}" for c, n in sorted(codes.items(), key=str))
        print(f"| {who} | {before:.0f} | {peak:.0f} | {answers} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
