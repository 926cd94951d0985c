"""Writing an evaluation's results: JSON (machine-readable, everything needed to rerun it), a Markdown
table, and PNG figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from kinema import __version__

# The paper's in-distribution velocity range (arXiv 2411.02385, §3): shaded in the error-vs-velocity plots.
ID_VELOCITY_BAND = (1.0, 4.0)


@dataclass
class Table:
    """One Markdown table: a title, column names, rows of cells (numbers are formatted)."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def markdown(self) -> str:
        head = f"### {self.title}\n\n| " + " | ".join(self.columns) + " |\n|" + "---|" * len(self.columns)
        body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join([head, *body])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def git_commit() -> str | None:
    """The commit of the Kinema checkout that ran the evaluation (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_header(benchmark: str, model: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What every report's JSON starts with: which benchmark, model, code and settings produced it."""
    return {
        "benchmark": benchmark,
        "model": model,
        "kinema_version": __version__,
        "git_commit": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "settings": settings,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; None reads as "not measurable"
    return value


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(payload), indent=2) + "\n")
    return path


def write_markdown(
    path: Path,
    title: str,
    header: dict[str, Any],
    tables: Iterable[Table],
    images: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Path:
    lines = [
        f"# {title}",
        "",
        f"- model: `{header['model']}`",
        f"- kinema {header['kinema_version']}, commit `{header['git_commit']}`, {header['created']}",
        "- settings: " + ", ".join(f"{k}={v}" for k, v in header["settings"].items()),
        "",
    ]
    lines += [f"> **Note:** {note}\n" for note in notes]
    for table in tables:
        lines += [table.markdown(), ""]
    for image in images:
        lines += [f"![{Path(image).stem}]({image})", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_error_vs_velocity(
    path: Path, series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], ylabel: str = "velocity error"
) -> Path:
    """One panel per scenario: error against initial velocity, one marker set per series (model, parser
    floor), the in-distribution band shaded as in the paper's figures."""
    plt = _pyplot()
    names = list(series)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, scenario in zip(axes[0], names):
        ax.axvspan(*ID_VELOCITY_BAND, color="tab:green", alpha=0.12, label="in distribution")
        for (label, (v0, err)), marker in zip(series[scenario].items(), "o^sD"):
            ok = np.isfinite(err)
            ax.scatter(v0[ok], np.maximum(err[ok], 1e-4), s=14, marker=marker, label=label)
        ax.set_title(scenario)
        ax.set_xlabel("initial velocity |v0| (world units / s)")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_frame_strip(
    path: Path,
    rows: list[tuple[str, np.ndarray, np.ndarray | None]],
    frame_ids: Sequence[int],
) -> Path:
    """A strip of sample frames per row (label, video (T,H,W,3), tracks (K,T,3) [x_px, y_px, visible] or
    None), with each object's parsed track up to that frame drawn on it.

    The frames are tiled into one mosaic image on one axes (many small axes make matplotlib slow)."""
    plt = _pyplot()
    h = max(v.shape[1] for _, v, _ in rows)
    w = max(v.shape[2] for _, v, _ in rows)
    gap = max(2, h // 16)
    mosaic = np.full((len(rows) * (h + gap), len(frame_ids) * (w + gap), 3), 160, dtype=np.uint8)  # grey gaps
    for r, (_, video, _) in enumerate(rows):
        for c, t in enumerate(frame_ids):
            frame = video[min(t, len(video) - 1)]
            y0, x0 = r * (h + gap), c * (w + gap)
            mosaic[y0 : y0 + frame.shape[0], x0 : x0 + frame.shape[1]] = frame
    fig, ax = plt.subplots(figsize=(len(frame_ids) * 1.4 + 1.2, len(rows) * 1.4 + 0.4))
    fig.subplots_adjust(left=0.13, right=0.99, top=0.93, bottom=0.01)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks(
        [(w + gap) * c + w / 2 for c in range(len(frame_ids))], [f"t={t}" for t in frame_ids], fontsize=7
    )
    ax.xaxis.tick_top()
    ax.set_yticks(
        [(h + gap) * r + h / 2 for r in range(len(rows))], [label for label, _, _ in rows], fontsize=7
    )
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for r, (_, _, tracks) in enumerate(rows):
        if tracks is None:
            continue
        for c, t in enumerate(frame_ids):
            y0, x0 = r * (h + gap), c * (w + gap)
            for k in range(tracks.shape[0]):
                seen = tracks[k, : t + 1, 2] > 0
                xs, ys = tracks[k, : t + 1, 0][seen] + x0, tracks[k, : t + 1, 1][seen] + y0
                ax.plot(xs, ys, "-", lw=0.8, color="black")
                if seen.size and seen[-1]:
                    ax.plot(tracks[k, t, 0] + x0, tracks[k, t, 1] + y0, "x", ms=4, color="black")
    ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_bars(
    path: Path, title: str, labels: Sequence[str], values: dict[str, Sequence[float]], ylabel: str
) -> Path:
    """Grouped bars: one group per label, one bar per series (e.g. model vs ground truth)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2), 3.2))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(labels))
    for i, (name, vals) in enumerate(values.items()):
        ax.bar(x + i * width, np.nan_to_num(np.asarray(vals, dtype=float)), width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def nanmean(values: Iterable[float]) -> float:
    """Mean of the finite values; NaN when there are none (nothing measurable)."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")
