"""Plot learning curves from training runs' `metrics.jsonl` (what `kinema train` logs) into one PNG.

Each run is `LABEL=RUN_DIR[+OFFSET]`: its metric against global step, shifted by OFFSET steps where a run
continues another (a warm start counts its parent's steps). A metric logged only at evaluations (the VAE's
`psnr_heldout`) is drawn with markers; a per-step one (`loss`) is smoothed with a running mean.

    python benchmarks/plot_learning_curve.py --metric psnr_heldout --out curve.png \
        "codec+paper=runs/v1c" "continued=runs/v1d+2130"
    python benchmarks/plot_learning_curve.py --metric loss --smooth 50 --out dit.png "DiT v1=runs/dit_v1"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_metric(run: Path, metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of `metric` in `run/metrics.jsonl`, in step order (rows without it are skipped)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path}: no metrics.jsonl there; give a `kinema train` run folder.")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    points = sorted((int(r["step"]), float(r[metric])) for r in rows if metric in r and "step" in r)
    return [s for s, _ in points], [v for _, v in points]


def running_mean(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def parse_run(text: str) -> tuple[str, Path, int]:
    label, _, rest = text.partition("=")
    if not rest:
        raise SystemExit(f"{text!r}: write runs as LABEL=RUN_DIR[+OFFSET]")
    folder, _, offset = rest.partition("+")
    return label, Path(folder), int(offset or 0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR[+OFFSET]")
    parser.add_argument("--metric", default="loss")
    parser.add_argument("--smooth", type=int, default=1, help="running-mean window (steps logged)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for label, folder, offset in map(parse_run, args.runs):
        steps, values = read_metric(folder, args.metric)
        if not steps:
            raise SystemExit(f"{folder}: no {args.metric!r} logged")
        sparse = len(steps) < 40
        shown = values if sparse else running_mean(values, args.smooth)
        ax.plot([s + offset for s in steps], shown, marker="o" if sparse else None, label=label)
        print(f"{label}: {len(steps)} points, {args.metric} {values[0]:.4g} (step {steps[0] + offset}) → "
              f"{values[-1]:.4g} (step {steps[-1] + offset})")  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel(args.metric)
    ax.set_title(args.title or args.metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
