"""Trajectory following: given a path (the motion-brush input), how close does the model put the object?

Each case is one object (a named colour and shape, a radius inside the training range) thrown across a
walled box at a random heading; the world simulator gives its path, bounces included. The path's pixel
centres go to the model as the trajectory map (`GenerationSpec.trajectories`, tracks `(1, T, 3)`) with the
captioner's prompt; the generated clip is parsed with the world's shape-aware tracker and, frame by frame,
the distance between the asked centre and the parsed centre of the object's colour is measured.

Speeds come in three bands so that what training saw and what it did not are reported apart (the general
scenes of `configs/kinema_world_dit_v03.yaml` move at 1-4 world units/s; a 64-px frame is 10 units wide,
so 1 unit/s = 0.64 px/frame at 10 fps):

- `slow`: 0.3-0.9 units/s (below training);
- `trained`: 1-4 units/s;
- `fast`: 4.5-6 units/s (above training).

A frame where the object is not found counts as missing (`drawn` is the share found); the distance is the
mean over the frames where it is found, so read both. Ground truth through the same code is the floor.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.errors import InvalidInputError
from kinema.eval.model_under_test import GroundTruthModel, VideoModel
from kinema.eval.report import Table, nanmean
from kinema.world.spec import SHAPES, ObjectSpec, SceneSpec, WallsSpec

SPEED_BANDS: dict[str, tuple[float, float]] = {"slow": (0.3, 0.9), "trained": (1.0, 4.0), "fast": (4.5, 6.0)}
TRAJECTORY_COLORS: tuple[str, ...] = ("red", "blue", "green", "yellow", "purple", "orange")


@dataclass(frozen=True)
class TrajectorySettings:
    """Everything that decides a trajectory run (saved in the report)."""

    n: int = 8  # cases per speed band
    size: int = 64
    num_frames: int = 33
    bands: tuple[str, ...] = tuple(SPEED_BANDS)
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrajectoryCase:
    index: int
    band: str
    spec: SceneSpec
    prompt: str
    path_px: np.ndarray = field(repr=False)  # (T, 2) asked centres in pixels
    video: np.ndarray = field(repr=False)  # the world renderer's clip of the path (what the oracle answers)
    seed: int = 0

    @property
    def color(self) -> str:
        return self.spec.objects[0].color

    def tracks(self) -> np.ndarray:
        """The asked path as tracks `(1, T, 8)`: x_px, y_px, visible, then the object's looks (colour in
        0-1, radius in px, shape code), as physics mode hands them to the model (a model without the
        trajectory adapter reads only the first three; one whose map has no shape channels, the first seven)."""
        t = len(self.path_px)
        columns = [self.path_px, np.ones((t, 1)), np.tile(self.spec.object_looks(0), (t, 1))]
        return np.concatenate(columns, axis=1)[None].astype(np.float32)


def _case(rng: np.random.Generator, index: int, band: str, settings: TrajectorySettings) -> TrajectoryCase:
    from kinema.eval.physics import simulate_spec
    from kinema.world.captions import caption
    from kinema.world.render import render_scene

    low, high = SPEED_BANDS[band]
    size = float(rng.uniform(0.9, 1.3))
    speed = float(rng.uniform(low, high))
    heading = float(rng.uniform(0, 2 * math.pi))
    x, y = (float(v) for v in rng.uniform(size + 0.5, 10.0 - size - 0.5, size=2))
    obj = ObjectSpec(
        shape=str(rng.choice(SHAPES)),
        color=str(rng.choice(TRAJECTORY_COLORS)),
        size=size,
        position=(x, y),
        velocity=(speed * math.cos(heading), speed * math.sin(heading)),
    )
    spec = SceneSpec(
        objects=[obj],
        walls=WallsSpec(floor=True, ceiling=True, left=True, right=True),
        num_frames=settings.num_frames,
        width=settings.size,
        height=settings.size,
        scenario="trajectory",
        params={"band": band, "speed": speed},
    )
    video, truth = render_scene(spec, simulate_spec(spec))
    path = truth.pixels[:, 0, :].copy()
    return TrajectoryCase(index, band, spec, caption(spec, rng), path, video, settings.seed + index)


def build_cases(settings: TrajectorySettings) -> list[TrajectoryCase]:
    unknown = [b for b in settings.bands if b not in SPEED_BANDS]
    if unknown:
        raise InvalidInputError(f"unknown speed band(s) {unknown}; use {', '.join(SPEED_BANDS)}")
    rng = np.random.default_rng(settings.seed)
    cases: list[TrajectoryCase] = []
    for band in settings.bands:
        for _ in range(settings.n):
            cases.append(_case(rng, len(cases), band, settings))
    return cases


def build_oracle(cases: list[TrajectoryCase], oracle: GroundTruthModel | None = None) -> GroundTruthModel:
    oracle = oracle or GroundTruthModel()
    for case in cases:
        oracle.add_clip(case.video, prompt=case.prompt, trajectory=case.tracks())
    return oracle


def follow_errors(video: np.ndarray, case: TrajectoryCase) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: distance in pixels between the asked and the parsed centre (NaN where the object of the
    case's colour is not found), and whether it was found."""
    from kinema.world.parser import track_objects

    spec = case.spec
    track = track_objects(video, world_size=spec.world_size, fps=spec.fps).most_seen(case.color)
    t = len(video)
    if track is None:
        return np.full(t, np.nan), np.zeros(t, dtype=bool)
    seen = track.visible[:t].astype(bool)
    dist = np.linalg.norm(track.centre_px[:t] - case.path_px[:t], axis=1)
    return np.where(seen, dist, np.nan), seen


def evaluate_trajectory(
    model: VideoModel, cases: list[TrajectoryCase], settings: TrajectorySettings, progress: bool = True
) -> tuple[list[dict[str, Any]], dict[int, np.ndarray]]:
    records, samples = [], {}
    for case in tqdm(cases, desc=f"trajectory [{model.name}]", disable=not progress):
        video = model.trajectory_video(
            case.prompt, case.tracks(), settings.num_frames, settings.size, settings.size, seed=case.seed
        )
        dist, seen = follow_errors(video, case)
        if case.index % max(1, settings.n) == 0:
            samples[case.index] = video
        records.append(
            {
                "index": case.index,
                "band": case.band,
                "shape": case.spec.objects[0].shape,
                "color": case.color,
                "speed": case.spec.params["speed"],
                "prompt": case.prompt,
                "mean_distance_px": nanmean(dist),
                "drawn": float(seen.mean()),
            }
        )
    return records, samples


def summarize(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per band (and `all`): mean distance in pixels over the clips, the share of frames drawn."""
    out = {}
    for band in [*SPEED_BANDS, "all"]:
        rs = [r for r in records if band in ("all", r["band"])]
        if rs:
            out[band] = {
                "mean_distance_px": nanmean(r["mean_distance_px"] for r in rs),
                "drawn": nanmean(r["drawn"] for r in rs),
                "n": len(rs),
            }
    return out


def shape_table(records: dict[str, list[dict[str, Any]]]) -> Table:
    """Per shape, all bands: what the codec loses (thin rings, small triangles) shows here apart from how
    well the model follows the path with what it can draw."""
    shapes = [s for s in SHAPES if any(r.get("shape") == s for rs in records.values() for r in rs)]
    table = Table("By shape, all bands: mean distance, px (share of frames drawn; clips)", ["model", *shapes])
    for model, rs in records.items():
        cells = []
        for shape in shapes:
            mine = [r for r in rs if r.get("shape") == shape]
            dist = nanmean(r["mean_distance_px"] for r in mine)
            cells.append(f"{dist:.2f} ({nanmean(r['drawn'] for r in mine):.0%}; {len(mine)})")
        table.rows.append([model, *cells])
    return table


def summary_table(summaries: dict[str, dict[str, dict[str, float]]]) -> Table:
    bands = [b for b in [*SPEED_BANDS, "all"] if any(b in s for s in summaries.values())]
    table = Table(
        "Trajectory following at 64×64: mean distance asked → drawn centre, px (share of frames drawn)",
        ["model", *bands],
    )
    for model, s in summaries.items():
        table.rows.append(
            [
                model,
                *(f"{s[b]['mean_distance_px']:.2f} ({s[b]['drawn']:.0%})" if b in s else "—" for b in bands),
            ]
        )
    return table
