"""Prompt adherence: does a text-to-video clip show what its prompt asked for?

Scenes are drawn at random (1–3 objects, each a named colour and shape, each moving left, right, up or
down), captioned by the world's captioner (`kinema.world.captions`), and the caption is the prompt. The
result is parsed with the world's shape-aware tracker (`kinema.world.parser.track_objects`) and checked:

- `count_ok`: as many objects as the scene (tracks seen in at least a quarter of the frames);
- `color_ok`: the same multiset of colours;
- `shape_ok`: every object's colour is found with its shape;
- `direction_ok`: every object's track moves the asked way (its main axis of displacement, first to last
  sighting, at least a quarter of the asked distance).

Black is left out of the colours: a colour-swapping model could not get it wrong, so it would not test
anything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.eval.model_under_test import GroundTruthModel, VideoModel
from kinema.eval.report import Table, nanmean
from kinema.world.spec import COLORS, SHAPES, ObjectSpec, SceneSpec

DIRECTIONS: dict[str, tuple[float, float]] = {"right": (1, 0), "left": (-1, 0), "up": (0, 1), "down": (0, -1)}
ADHERENCE_COLORS: tuple[str, ...] = tuple(c for c in COLORS if c != "black")
CHECKS = ("count_ok", "color_ok", "shape_ok", "direction_ok", "all_ok")


@dataclass(frozen=True)
class AdherenceSettings:
    """Everything that decides an adherence run (saved in the report)."""

    n: int = 24
    size: int = 64
    num_frames: int = 17
    max_objects: int = 3
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AdherenceCase:
    index: int
    spec: SceneSpec
    directions: list[str]  # per object
    prompt: str
    seed: int


def random_scene(rng: np.random.Generator, settings: AdherenceSettings) -> tuple[SceneSpec, list[str]]:
    """1..max_objects objects with distinct colours. Several objects move sideways in their own lanes (so
    they never meet); a lone object may also move up or down."""
    count = int(rng.integers(1, settings.max_objects + 1))
    colors = rng.choice(ADHERENCE_COLORS, size=count, replace=False)
    duration = settings.num_frames / 10.0
    lanes = rng.permutation([2.0, 5.0, 8.0])[:count]
    objects, directions = [], []
    for color, lane in zip(colors, lanes):
        direction = str(rng.choice(list(DIRECTIONS) if count == 1 else ["left", "right"]))
        size = float(rng.uniform(0.9, 1.3))
        speed = float(rng.uniform(1.5, 2.5))
        travel = speed * duration
        start = 5.0 - travel / 2  # centred so the whole path stays in the frame
        dx, dy = DIRECTIONS[direction]
        along = start if dx + dy > 0 else 10.0 - start
        position = (along, lane) if dx else (lane, along)
        objects.append(
            ObjectSpec(
                shape=str(rng.choice(SHAPES)),
                color=str(color),
                size=size,
                position=position,
                velocity=(dx * speed, dy * speed),
            )
        )
        directions.append(direction)
    spec = SceneSpec(
        objects=objects,
        num_frames=settings.num_frames,
        width=settings.size,
        height=settings.size,
        scenario="adherence",
    )
    return spec, directions


def build_cases(settings: AdherenceSettings) -> list[AdherenceCase]:
    from kinema.world.captions import caption

    rng = np.random.default_rng(settings.seed)
    cases = []
    for i in range(settings.n):
        spec, directions = random_scene(rng, settings)
        cases.append(AdherenceCase(i, spec, directions, caption(spec, rng), settings.seed + i))
    return cases


def build_oracle(cases: list[AdherenceCase], oracle: GroundTruthModel | None = None) -> GroundTruthModel:
    from kinema.eval.physics import render_spec

    oracle = oracle or GroundTruthModel()
    for case in cases:
        oracle.add_clip(render_spec(case.spec), prompt=case.prompt)
    return oracle


def check_video(video: np.ndarray, case: AdherenceCase) -> dict[str, Any]:
    """The four checks (and their conjunction) for one clip."""
    from kinema.world.parser import track_objects

    spec = case.spec
    tracks = track_objects(video, world_size=spec.world_size, fps=spec.fps)
    t = video.shape[0]
    kept = [tr for tr in tracks if tr.visible.sum() >= max(2, t // 4)]
    found_colors = Counter(tr.color for tr in kept)
    want_colors = Counter(o.color for o in spec.objects)
    shape_ok = all(any(tr.color == o.color and tr.shape == o.shape for tr in kept) for o in spec.objects)
    direction_ok = True
    moved = []
    for obj, direction in zip(spec.objects, case.directions):
        mine = [tr for tr in kept if tr.color == obj.color]
        if not mine:
            direction_ok = False
            moved.append(None)
            continue
        tr = max(mine, key=lambda x: int(x.visible.sum()))
        seen = np.flatnonzero(tr.visible)
        dx_px, dy_px = tr.centre_px[seen[-1]] - tr.centre_px[seen[0]]
        dx, dy = dx_px, -dy_px  # world axes: y up
        asked = np.hypot(*obj.velocity) * (seen[-1] - seen[0]) / spec.fps * spec.pixels_per_unit
        ux, uy = DIRECTIONS[direction]
        along = dx * ux + dy * uy
        across = abs(dx * uy) + abs(dy * ux)
        ok = bool(along > 0.25 * asked and along > across)
        direction_ok &= ok
        moved.append([float(dx), float(dy)])
    out = {
        "count_ok": len(kept) == len(spec.objects),
        "color_ok": found_colors == want_colors,
        "shape_ok": bool(shape_ok),
        "direction_ok": bool(direction_ok),
        "found": [f"{tr.color} {tr.shape}" for tr in kept],
        "moved_px": moved,
    }
    out["all_ok"] = out["count_ok"] and out["color_ok"] and out["shape_ok"] and out["direction_ok"]
    return out


def evaluate_adherence(
    model: VideoModel, cases: list[AdherenceCase], settings: AdherenceSettings, progress: bool = True
) -> list[dict[str, Any]]:
    records = []
    for case in tqdm(cases, desc=f"adherence [{model.name}]", disable=not progress):
        video = model.text_to_video(
            case.prompt, settings.num_frames, settings.size, settings.size, seed=case.seed
        )
        records.append(
            {
                "index": case.index,
                "seed": case.seed,
                "prompt": case.prompt,
                "asked": [f"{o.color} {o.shape} {d}" for o, d in zip(case.spec.objects, case.directions)],
                **check_video(video, case),
            }
        )
    return records


def summarize(records: list[dict[str, Any]]) -> dict[str, float]:
    return {check: nanmean(float(r[check]) for r in records) for check in CHECKS}


def summary_table(summaries: dict[str, dict[str, float]]) -> Table:
    table = Table("Prompt adherence (share of videos that match the prompt)", ["model", *CHECKS])
    for model, s in summaries.items():
        table.rows.append([model, *(f"{s[c]:.0%}" for c in CHECKS)])
    return table
