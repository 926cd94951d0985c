"""`kinema world make`: write world clips to disk as MP4 shards + JSONL, deterministically and resumably.

Layout of `--out DIR`:

    DIR/manifest.json              the options (a rerun must use the same ones)
    DIR/shard-00000/000000.mp4     clips, `shard_size` per folder (H.264 via kinema.io.video, no AIGC label:
    DIR/shard-00000/000001.mp4     these are simulator renders, not AI-generated content)
    DIR/shard-00000.jsonl          one line per clip: video, caption, width, height, num_frames, fps, spec,
                                   events and per-frame ground truth (states, pixels, homographies, camera)
    DIR/captions.jsonl             every finished clip's line — the format `kinema.data.VideoFolderDataset` reads

Clip i is `kinema.world.dataset.plan_clip(i, config)`: the same clip `WorldClipDataset` yields for the same
options, so disk and on-the-fly data agree. A shard counts as done when its JSONL exists (written last,
atomically); an interrupted run resumes at the first unfinished shard.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.errors import InvalidInputError
from kinema.world.camera import apply_homography, camera_vector
from kinema.world.dataset import WorldDataConfig, plan_clip
from kinema.world.render import render_batch, specs_to_tensors, to_uint8

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != manifest:
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise InvalidInputError(
                f"{out} already holds a world dataset made with different options ({', '.join(diff)}); "
                "rerun with the same options to resume, or choose a new --out folder"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        _write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _round(a: np.ndarray, digits: int = 5) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def _write_shard(out: Path, shard: int, indices: list[int], config: WorldDataConfig, chunk: int) -> list[str]:
    from kinema.io.video import write_video

    folder = out / f"shard-{shard:05d}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for start in range(0, len(indices), chunk):
        plans = [plan_clip(i, config) for i in indices[start : start + chunk]]
        specs = [p.spec for p in plans]
        inputs = specs_to_tensors(specs, [p.states for p in plans])
        frames = to_uint8(render_batch(**inputs, width=config.width, height=config.height))  # (B, T, H, W, 3)
        homs = inputs["homographies"].numpy()
        for b, plan in enumerate(plans):
            rel = f"{folder.name}/{plan.index:06d}.mp4"
            write_video(out / rel, frames[b], fps=config.fps, label=None)
            pixels = apply_homography(homs[b][:, None], plan.states[..., :2]) if plan.states.shape[1] else []
            record = {
                "video": rel,
                "caption": plan.caption,
                "width": config.width,
                "height": config.height,
                "num_frames": config.num_frames,
                "fps": config.fps,
                "index": plan.index,
                "spec": plan.spec.model_dump(mode="json"),
                "events": plan.events,
                "ground_truth": {
                    "states": _round(plan.states),
                    "pixels": _round(pixels, 3),
                    "homographies": _round(homs[b], 7),
                    "camera": _round(camera_vector(plan.spec.camera, config.num_frames)),
                },
            }
            lines.append(json.dumps(record, sort_keys=True))
    _write_text_atomic(out / f"{folder.name}.jsonl", "\n".join(lines) + "\n")
    return lines


def make_dataset(
    out: str | Path,
    count: int,
    scenarios: tuple[str, ...] | list[str] = ("uniform", "collision", "parabola"),
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    num_frames: int = 32,
    fps: float = 10.0,
    split: str = "id",
    camera_prob: float = 0.0,
    texture_prob: float = 0.0,
    max_objects: int = 4,
    shard_size: int = 100,
    progress: bool = True,
) -> Path:
    """Write `count` clips under `out` (see the module docstring); returns the path of `captions.jsonl`."""
    if count < 1:
        raise InvalidInputError(f"--count must be at least 1, got {count}")
    if shard_size < 1:
        raise InvalidInputError(f"--shard-size must be at least 1, got {shard_size}")
    config = WorldDataConfig(
        scenarios=tuple(scenarios),
        width=int(size[0]),
        height=int(size[1]),
        num_frames=num_frames,
        fps=fps,
        split=split,
        camera_prob=camera_prob,
        texture_prob=texture_prob,
        max_objects=max_objects,
        seed=seed,
    )
    config.validate()
    out = Path(out)
    options = {k: v for k, v in asdict(config).items() if k not in ("num_clips", "start", "chunk")}
    manifest = {"format": FORMAT_VERSION, "count": count, "shard_size": shard_size, **options}
    manifest = json.loads(json.dumps(manifest))  # as stored: tuples become lists, so a rerun compares equal
    _check_manifest(out, manifest)
    n_shards = (count + shard_size - 1) // shard_size
    all_lines: list[str] = []
    bar = tqdm(total=count, unit="clip", desc="kinema world make", disable=not progress)
    for shard in range(n_shards):
        indices = list(range(shard * shard_size, min(count, (shard + 1) * shard_size)))
        done = out / f"shard-{shard:05d}.jsonl"
        if done.exists():  # resume: finished shards are kept as they are
            lines = [ln for ln in done.read_text(encoding="utf-8").splitlines() if ln.strip()]
        else:
            lines = _write_shard(out, shard, indices, config, chunk=8)
        all_lines.extend(lines)
        bar.update(len(indices))
    bar.close()
    captions = out / "captions.jsonl"
    _write_text_atomic(captions, "\n".join(all_lines) + "\n")
    return captions
