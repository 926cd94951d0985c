"""Extension continuity: extend a clip chunk after chunk; do the joins show?

A slow two-object scene (a red circle drifting right, a blue square drifting left, in separate lanes so
they never meet) is simulated for the whole extended length. The model gets the first `cond_frames`,
makes a `chunk_frames` clip, then is asked again and again to continue from the last `cond_frames` frames
of what it made (each call adds `chunk_frames − cond_frames` frames), `chunks` calls in all.

Reported, from the world's shape-aware tracker over the whole result:
- `join_velocity_error` vs `inside_velocity_error`: mean |v − v̂| (world units / s) on the frames whose
  finite difference touches a join (the last given frame and the first new one) against all other
  generated frames; a model with seams has a larger error at joins;
- `present_at_end`: share of the scene's objects found in the last frame with their colour and shape;
  `all_present_at_end`: all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.errors import InvalidInputError
from kinema.eval.model_under_test import GroundTruthModel, VideoModel
from kinema.eval.report import Table, nanmean
from kinema.world.spec import ObjectSpec, SceneSpec


@dataclass(frozen=True)
class ContinuitySettings:
    """Everything that decides a continuity run (saved in the report)."""

    n: int = 4  # clips
    chunks: int = 4  # model calls per clip
    chunk_frames: int = 17
    cond_frames: int = 3
    size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.cond_frames < self.chunk_frames:
            raise InvalidInputError("cond_frames must be at least 1 and fewer than chunk_frames")
        if self.chunks < 2:
            raise InvalidInputError("extension continuity needs at least 2 chunks (one join)")

    @property
    def total_frames(self) -> int:
        return self.chunk_frames + (self.chunks - 1) * (self.chunk_frames - self.cond_frames)

    def join_frames(self) -> list[int]:
        """First frame made by each extension call after the first."""
        step = self.chunk_frames - self.cond_frames
        return [self.chunk_frames + i * step for i in range(self.chunks - 1)]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ContinuityCase:
    index: int
    spec: SceneSpec
    states: np.ndarray  # (T_total, K, 6)
    video: np.ndarray  # (T_total, H, W, 3) uint8
    caption: str
    seed: int


def build_cases(settings: ContinuitySettings) -> list[ContinuityCase]:
    """Slow drifting objects that stay in the frame for the whole extended clip."""
    from kinema.eval.physics import render_spec, simulate_spec
    from kinema.world.captions import caption

    rng = np.random.default_rng(settings.seed)
    duration = settings.total_frames / 10.0
    cases = []
    for i in range(settings.n):
        speed = rng.uniform(0.3, 0.6, size=2)
        travel = speed * duration
        spec = SceneSpec(
            objects=[
                ObjectSpec(
                    shape="circle",
                    color="red",
                    size=float(rng.uniform(0.8, 1.1)),
                    position=(5.0 - travel[0] / 2, float(rng.uniform(2.5, 3.5))),
                    velocity=(float(speed[0]), 0.0),
                ),
                ObjectSpec(
                    shape="square",
                    color="blue",
                    size=float(rng.uniform(0.9, 1.2)),
                    position=(5.0 + travel[1] / 2, float(rng.uniform(6.5, 7.5))),
                    velocity=(-float(speed[1]), 0.0),
                ),
            ],
            num_frames=settings.total_frames,
            width=settings.size,
            height=settings.size,
            scenario="continuity",
        )
        states = simulate_spec(spec)
        cases.append(
            ContinuityCase(i, spec, states, render_spec(spec, states), caption(spec, rng), settings.seed + i)
        )
    return cases


def build_oracle(cases: list[ContinuityCase], oracle: GroundTruthModel | None = None) -> GroundTruthModel:
    oracle = oracle or GroundTruthModel()
    for case in cases:
        oracle.add_clip(case.video)
    return oracle


def extend_many(model: VideoModel, case: ContinuityCase, settings: ContinuitySettings) -> np.ndarray:
    """Chunked generation: (total_frames, H, W, 3)."""
    video = model.continue_video(
        case.video[: settings.cond_frames], settings.chunk_frames, case.caption, case.seed
    )
    for i in range(1, settings.chunks):
        prefix = video[-settings.cond_frames :]
        more = model.continue_video(prefix, settings.chunk_frames, case.caption, case.seed + 1000 * i)
        video = np.concatenate([video, more[settings.cond_frames :]])
    return video


def score(video: np.ndarray, case: ContinuityCase, settings: ContinuitySettings) -> dict[str, Any]:
    from kinema.world.parser import detect_objects, track_objects

    spec = case.spec
    tracks = track_objects(video, world_size=spec.world_size, fps=spec.fps)
    t = video.shape[0]
    join_mask = np.zeros(t, dtype=bool)
    for j in settings.join_frames():
        join_mask[j - 1 : j + 1] = True
    scored = np.zeros(t, dtype=bool)
    scored[settings.cond_frames :] = True
    join_err, inside_err = [], []
    for k, obj in enumerate(spec.objects):
        mine = [tr for tr in tracks if tr.color == obj.color]
        if not mine:
            continue
        # A track broken by a jump is several tracks: take each frame from whichever one saw it.
        vel = np.full((t, 2), np.nan)
        for tr in sorted(mine, key=lambda x: int(x.fully_visible.sum())):
            vel = np.where(np.isfinite(tr.velocity_world), tr.velocity_world, vel)
        err = np.linalg.norm(vel - case.states[:, k, 2:4], axis=-1)  # (T,)
        ok = np.isfinite(err) & scored
        join_err += err[ok & join_mask].tolist()
        inside_err += err[ok & ~join_mask].tolist()
    last = detect_objects(video[-1])
    present = [any(d.color == o.color and d.shape == o.shape for d in last) for o in spec.objects]
    return {
        "join_velocity_error": nanmean(join_err),
        "inside_velocity_error": nanmean(inside_err),
        "present_at_end": float(np.mean(present)),
        "all_present_at_end": bool(all(present)),
        "found_at_end": [f"{d.color} {d.shape}" for d in last],
    }


def evaluate_continuity(
    model: VideoModel, cases: list[ContinuityCase], settings: ContinuitySettings, progress: bool = True
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    records, videos = [], []
    for case in tqdm(cases, desc=f"continuity [{model.name}]", disable=not progress):
        video = extend_many(model, case, settings)
        records.append(
            {"index": case.index, "seed": case.seed, "caption": case.caption, **score(video, case, settings)}
        )
        videos.append(video)
    return records, videos


METRICS = ("join_velocity_error", "inside_velocity_error", "present_at_end", "all_present_at_end")


def summarize(records: list[dict[str, Any]]) -> dict[str, float]:
    return {m: nanmean(float(r[m]) for r in records) for m in METRICS}


def summary_table(summaries: dict[str, dict[str, float]]) -> Table:
    table = Table(
        "Extension continuity (velocity error in world units / s)",
        ["model", "at joins", "inside chunks", "objects present at end", "clips with all present"],
    )
    for model, s in summaries.items():
        table.rows.append(
            [
                model,
                s["join_velocity_error"],
                s["inside_velocity_error"],
                f"{s['present_at_end']:.0%}",
                f"{s['all_present_at_end']:.0%}",
            ]
        )
    return table
