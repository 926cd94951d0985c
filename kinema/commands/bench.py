"""`kinema bench`: run the declared benchmark scenarios in `benchmarks/` (a checkout of the repository).

Each scenario is a script `benchmarks/bench_<name>.py` that prints a Markdown table with Kinema and its peer
side by side, measured in the same run. Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from kinema.errors import InvalidInputError


def find_benchmarks_dir() -> Path | None:
    """The `benchmarks/` folder of the checkout: from $KINEMA_BENCHMARKS, the working directory, or the source tree."""
    candidates = []
    if os.environ.get("KINEMA_BENCHMARKS"):
        candidates.append(Path(os.environ["KINEMA_BENCHMARKS"]))
    candidates.append(Path.cwd() / "benchmarks")
    candidates.append(Path(__file__).resolve().parents[2] / "benchmarks")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def list_scenarios(folder: Path) -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(folder.glob("bench_*.py"))}


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser("bench", help=help_text, description=__doc__)
    parser.add_argument("scenario", nargs="?", help="scenario name (omit to list them)")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="arguments passed to the scenario script")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = find_benchmarks_dir()
    if folder is None:
        raise InvalidInputError(
            "no benchmarks/ folder found; run `kinema bench` from a checkout of the Kinema repository "
            "or set KINEMA_BENCHMARKS to its benchmarks/ folder."
        )
    scenarios = list_scenarios(folder)
    if not args.scenario:
        for name, path in scenarios.items():
            print(f"{name:20s} {path}")
        return 0
    if args.scenario not in scenarios:
        raise InvalidInputError(
            f"unknown benchmark scenario {args.scenario!r}; choose one of: {', '.join(scenarios) or '(none)'}."
        )
    return subprocess.call([sys.executable, str(scenarios[args.scenario]), *args.extra])
