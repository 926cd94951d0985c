"""Benchmark: schemathesis over `kinema serve`'s /openapi.json at depth (issue 15's fuzzing scenario).

Scenario (declared here, printed with the table): `kinema serve` on 127.0.0.1 (SQLite WAL, auth auto with
no keys = the local tenant, one supervised worker running the tests' fake backend, so jobs complete and
their content, remix and extension paths are reachable; event streams end after 1 s). Phase 1: for every
operation of the spec, `--examples` positive cases (valid per the spec) and as many negative ones
(invalid on purpose). Phase 2 (stateful): `--stateful-examples` sequences of up to 10 calls that follow the
spec's links (create → retrieve / remix / download / delete the video it made). Every response is checked:
no 5xx; status code, Content-Type, headers and body as the spec declares for that operation.

The suite runs the same code bounded (tests/serving/test_serving_openapi.py, ~300 cases); this is the
deep run. Prints a Markdown table of cases and status codes per operation, then the totals.

    python benchmarks/bench_serving_fuzz.py                          # 1000 per operation and mode, 200 sequences
    python benchmarks/bench_serving_fuzz.py --examples 100 --stateful-examples 20
    python benchmarks/bench_serving_fuzz.py --examples 100 --stateful-examples 20 --st-checks-all 20

`--st-checks-all N` then runs schemathesis' own CLI (`st run --checks all`, phases examples, coverage,
fuzzing and stateful, N examples each) as a pro key against the same server, as the outside probe did:
this is where schema disagreements show (ST202 "schema-valid request rejected", ST205 unsupported method).

Measured 2026-12-02 on the team's shared 2-core x86_64 box (schemathesis 4.32.5, defaults): 19,904 cases —
18,002 single-operation in 202 s and 1,902 stateful calls in 30 s — answered 200 / 400 / 404 / 409 / 415;
no 5xx, no check failure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests" / "serving"
sys.path.insert(0, str(TESTS))

from serving_fuzz import FuzzReport, fuzz_operations, fuzz_stateful  # noqa: E402
from serving_helpers import serve_process, write_fake_model  # noqa: E402


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    write_fake_model(root / "models", "bench-tiny")  # kinema.json only: 32x32, 9 frames (33 at most), 8 fps
    args = [
        "--workers", "1", "--backends", "serving_fakes:make_backends",
        "--data-dir", str(root / "data"), "--models-dir", str(root / "models"),
    ]  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(REPO), env.get("PYTHONPATH", "")])
    env.update(KINEMA_EVENTS_MAX_SECONDS="1", KINEMA_FAKE_STEPS="1", KINEMA_FAKE_STEP_SECONDS="0")
    return serve_process(args, root, env)


def st_checks_all(url: str, root: Path, examples: int) -> str:
    """schemathesis' CLI with every check, as a pro key (a key closes the key-less server: `--auth auto`);
    its summary (failures by check code, cases generated)."""
    out = subprocess.run(
        [sys.executable, "-m", "kinema.cli", "keys", "create", "--name", "fuzz", "--tier", "pro",
         "--data-dir", str(root / "data")],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    key = out.stdout.strip().splitlines()[-1]
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", url + "/openapi.json", "-H", f"Authorization: Bearer {key}", "--checks", "all",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(examples),
         "--request-timeout", "30", "--no-color"],
        capture_output=True, text=True, cwd=root,  # st keeps a cache folder in its working directory
    )  # fmt: skip
    text = run.stdout
    summary = text[text.find("Failures:") if "Failures:" in text else text.find("Test cases:") :]
    return summary.strip()


def table(report: FuzzReport) -> str:
    per_op = report.by_operation
    codes = sorted({c for counts in per_op.values() for c in counts})
    lines = [
        "| operation | cases | " + " | ".join(str(c) for c in codes) + " |",
        "|---|---|" + "---|" * len(codes),
    ]
    for op in sorted(per_op):
        counts = per_op[op]
        cells = " | ".join(str(counts.get(c, 0)) for c in codes)
        lines.append(f"| {op} | {report.cases[op]} | {cells} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="cases per operation and mode")
    parser.add_argument("--stateful-examples", type=int, default=200, help="stateful sequences")
    parser.add_argument("--st-checks-all", type=int, default=0, help="then `st run --checks all`, N examples")
    args = parser.parse_args()
    import schemathesis

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            started = time.time()
            report = fuzz_operations(url, args.examples)
            phase1 = time.time() - started
            fuzz_stateful(url, args.stateful_examples, report)
            phase2 = time.time() - started - phase1
            st_summary = st_checks_all(url, Path(tmp), args.st_checks_all) if args.st_checks_all else ""
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"Scenario: kinema serve on 127.0.0.1, SQLite, 1 fake worker; schemathesis {schemathesis.__version__}, "
        f"{args.examples} positive + {args.examples} negative cases per operation, "
        f"{args.stateful_examples} stateful sequences (<= 10 calls); {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.\n"
    )
    print(table(report))
    stateful = sum(n for op, n in report.cases.items() if op.startswith("stateful"))
    print(
        f"\ncases: {report.total} ({report.total - stateful} single-operation in {phase1:.0f} s, "
        f"{stateful} stateful calls in {phase2:.0f} s); 5xx: {report.server_errors}; "
        f"check failures: {len(report.failures)}"
    )
    for op, message in report.failures[:10]:
        print(f"\n--- {op}\n{message}")
    if st_summary:
        print(f"\nst run --checks all (a pro key, {args.st_checks_all} examples per phase):\n{st_summary}")
    return 1 if report.failures or report.server_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
