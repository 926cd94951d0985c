"""The physical-law benchmark (phyworld protocol, arXiv 2411.02385).

Test cases come from the world simulator with the paper's parameter ranges (`kinema.world.paper`): uniform
motion, elastic collision, parabola; in distribution (ID) or out of it (OOD, with the collision's OOD
levels). The model sees the first 3 frames (and the caption, if it reads text) and makes the 32-frame clip;
`kinema.world.parser` turns the result into tracks; the error is measured against the simulator's truth.

Metrics per clip (world units; `fully visible` = the whole ball inside the frame, in the truth *and* in the
parse; only generated frames, `t >= 3`; for collisions only after the collision, so that the finite
difference at frame t does not straddle it):
- `velocity_error`: mean |v − v̂| (Euclidean) over balls and valid frames — the paper's metric. v̂ is the
  parser's finite difference (central, or three-point one-sided at track ends), v the simulator's exact
  velocity. (The paper's code compares forward differences of parsed and true x positions; on our renders
  that rule gives a ~1.3x larger floor, so the gap to the paper's floor is the renderer/parser's centroid
  noise, not this formula.)
- `position_error`: mean |p − p̂| over the same frames;
- `detected`: share of (ball, frame) pairs truly fully visible where the parse found that ball;
- collisions: `momentum_error` = mean |Σ m v̂ − Σ m v| / Σ m |v| and `energy_error` = mean |Ê − E| / E over
  frames where both balls are valid (m = the truth's mass: density × area).

Every run also feeds the ground-truth renders through the *same* code (the oracle model), which gives the
parser floor at the same resolution: the smallest error this measurement can report.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.errors import InvalidInputError
from kinema.eval.model_under_test import GroundTruthModel, VideoModel
from kinema.eval.report import Table, nanmean
from kinema.world.spec import SceneSpec

SCENARIOS: tuple[str, ...] = ("uniform", "collision", "parabola")
SPLITS: tuple[str, ...] = ("id", "ood")
NUM_FRAMES = 32  # the paper's clip: 32 frames at 0.1 s
COND_FRAMES = 3  # the paper conditions on the first 3 frames


@dataclass(frozen=True)
class PhysicsSettings:
    """Everything that decides a physics run (saved in the report's JSON; rerunning it gives the same cases)."""

    scenarios: tuple[str, ...] = SCENARIOS
    splits: tuple[str, ...] = SPLITS
    n: int = 32  # clips per (scenario, split)
    size: int = 128
    num_frames: int = NUM_FRAMES
    cond_frames: int = COND_FRAMES
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [s for s in self.scenarios if s not in SCENARIOS]
        if bad:
            raise InvalidInputError(f"unknown scenario {bad[0]!r}; use one of {', '.join(SCENARIOS)} or all")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad:
            raise InvalidInputError(f"unknown split {bad[0]!r}; use id, ood or all")
        if self.n < 1:
            raise InvalidInputError(f"--n must be at least 1, got {self.n}")
        if not 1 <= self.cond_frames < self.num_frames:
            raise InvalidInputError("cond_frames must be at least 1 and fewer than num_frames")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhysicsSettings:
        """Settings from a report's `settings` (other keys there, like pipeline options, are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})


@dataclass
class PhysicsCase:
    """One test clip with its truth."""

    index: int
    scenario: str
    split: str
    ood_level: int | None  # OOD level: how many of the scene's parameters are out of range; None for ID
    params: dict[str, Any]
    spec: SceneSpec
    states: np.ndarray  # (T, K, 6): x, y, vx, vy, angle, angular velocity (world units, y up)
    video: np.ndarray  # (T, H, W, 3) uint8, the world renderer's clip
    caption: str
    seed: int  # the seed the model gets for this clip

    @property
    def masses(self) -> np.ndarray:
        return np.array([o.density * math.pi * o.size**2 for o in self.spec.objects])

    @property
    def initial_speed(self) -> float:
        """|v0| of the first ball (the x axis of the paper's error-vs-velocity figures)."""
        return float(np.hypot(*self.states[0, 0, 2:4]))

    def collision_frame(self) -> int | None:
        """First frame whose true velocity differs from the initial one (None if nothing collides)."""
        if self.scenario != "collision":
            return None
        changed = np.abs(self.states[:, :, 2:4] - self.states[:1, :, 2:4]).max(axis=(1, 2)) > 1e-6
        return int(np.argmax(changed)) if changed.any() else None


# --- the world, through kinema.world's public functions ----------------------------------------------------


def render_spec(spec: SceneSpec, states: np.ndarray | None = None) -> np.ndarray:
    """Render a spec with the world renderer; `states` default to the world simulator's."""
    from kinema.world.render import render_scene

    if states is None:
        states = simulate_spec(spec)
    frames, _ = render_scene(spec, states)
    return frames


def simulate_spec(spec: SceneSpec) -> np.ndarray:
    """(T, K, 6) states from the world simulator."""
    from kinema.world.simulate import simulate

    result = simulate(spec)
    return np.asarray(getattr(result, "states", result), dtype=np.float64)


def build_cases(settings: PhysicsSettings) -> list[PhysicsCase]:
    """The test clips of a run, from the paper's parameter sampler (deterministic in `settings.seed`)."""
    cases: list[PhysicsCase] = []
    rng = np.random.default_rng(settings.seed)  # caption wording
    for s_i, scenario in enumerate(settings.scenarios):
        for p_i, split in enumerate(settings.splits):
            sub_seed = settings.seed * 1000 + 10 * s_i + p_i  # each (scenario, split) its own stream
            for spec, states, video, params in paper_clips(scenario, split, settings, sub_seed):
                cases.append(
                    PhysicsCase(
                        index=len(cases),
                        scenario=scenario,
                        split=split,
                        ood_level=int(params["ood_level"]) if split == "ood" else None,
                        params=params,
                        spec=spec,
                        states=states,
                        video=video,
                        caption=_caption(spec, rng),
                        seed=settings.seed + len(cases),
                    )
                )
    return cases


def paper_clips(scenario: str, split: str, settings: PhysicsSettings, seed: int):
    """(spec, states (T,K,6), video (T,H,W,3) uint8, params) for `n` clips of one scenario and split, from
    kinema.world.paper's sampler, closed-form paths and renderer."""
    from kinema.world import paper
    from kinema.world.render import to_uint8

    params = paper.sample_paper_params(scenario, split, settings.n, generator=seed)
    states = paper.simulate_paper(params, num_frames=settings.num_frames)  # (n, T, K, 6)
    videos = to_uint8(paper.render_paper(states, params.radius, settings.size, settings.size))  # (n,T,H,W,3)
    for i in range(len(params)):
        spec = paper.paper_spec(params, i, settings.size, settings.size)
        spec = spec.model_copy(update={"num_frames": settings.num_frames})
        yield spec, states[i], videos[i], params.clip(i)


def _caption(spec: SceneSpec, rng: np.random.Generator) -> str:
    from kinema.world.captions import caption

    return caption(spec, rng)


@dataclass
class ParsedTracks:
    """What the parser saw, lined up with the spec's objects (matched by colour)."""

    pos: np.ndarray  # (K, T, 2) world units, NaN where not found
    vel: np.ndarray  # (K, T, 2) world units / s, NaN where not measurable
    visible: np.ndarray  # (K, T) bool: found and fully inside the frame
    pixels: np.ndarray  # (K, T, 3) x_px, y_px, found (for drawing)


def parse_tracks(video: np.ndarray, spec: SceneSpec) -> ParsedTracks:
    """Parse a clip with the paper's parser (`kinema.world.parser.parse_video`), one track per spec object."""
    from kinema.world.parser import parse_video

    colors = tuple(o.color for o in spec.objects)
    tracks = parse_video(video, world_size=spec.world_size, fps=spec.fps, colors=colors)
    objs = [tracks[c] for c in colors]
    return ParsedTracks(
        pos=np.stack([o.centre_world for o in objs]),
        vel=np.stack([o.velocity_world for o in objs]),
        visible=np.stack([o.fully_visible for o in objs]),
        pixels=tracks.as_array(list(colors)),
    )


# --- metrics -----------------------------------------------------------------------------------------------


def fully_visible(states: np.ndarray, radii: np.ndarray, world_size: tuple[float, float]) -> np.ndarray:
    """(K, T) bool: the whole object lies inside the world rectangle (camera at rest shows exactly that)."""
    x, y = states[:, :, 0].T, states[:, :, 1].T  # (K, T)
    r = radii[:, None]
    return (x - r >= 0) & (x + r <= world_size[0]) & (y - r >= 0) & (y + r <= world_size[1])


def case_metrics(case: PhysicsCase, parsed: ParsedTracks, cond_frames: int) -> dict[str, float]:
    """The per-clip numbers (see the module docstring)."""
    radii = np.array([o.size for o in case.spec.objects])
    truth_pos = case.states[:, :, 0:2].transpose(1, 0, 2)  # (K, T, 2)
    truth_vel = case.states[:, :, 2:4].transpose(1, 0, 2)  # (K, T, 2)
    k, t = truth_pos.shape[:2]
    scored = np.zeros((k, t), dtype=bool)
    scored[:, cond_frames:] = True
    hit = case.collision_frame()
    if hit is not None:
        scored[:, : hit + 1] = False  # the finite difference at `hit` straddles the collision
    truth_ok = scored & fully_visible(case.states, radii, case.spec.world_size)
    found = truth_ok & parsed.visible
    vel_ok = found & np.isfinite(parsed.vel).all(-1)
    pos_ok = found & np.isfinite(parsed.pos).all(-1)
    out = {
        "velocity_error": _masked_mean(np.linalg.norm(parsed.vel - truth_vel, axis=-1), vel_ok),
        "position_error": _masked_mean(np.linalg.norm(parsed.pos - truth_pos, axis=-1), pos_ok),
        "detected": float(found.sum() / truth_ok.sum()) if truth_ok.any() else float("nan"),
        "valid_frames": int(vel_ok.sum()),
    }
    if case.scenario == "collision":
        m = case.masses[:, None, None]  # (K, 1, 1)
        both = vel_ok.all(0)  # (T,)
        p_true, p_est = (m * truth_vel).sum(0), (m * np.nan_to_num(parsed.vel)).sum(0)  # (T, 2)
        p_scale = (m[:, :, 0] * np.linalg.norm(truth_vel, axis=-1)).sum(0)  # (T,)
        e_true = (0.5 * m[:, :, 0] * (truth_vel**2).sum(-1)).sum(0)  # (T,)
        e_est = (0.5 * m[:, :, 0] * (np.nan_to_num(parsed.vel) ** 2).sum(-1)).sum(0)
        out["momentum_error"] = _masked_mean(
            np.linalg.norm(p_est - p_true, axis=-1) / np.maximum(p_scale, 1e-6), both
        )
        out["energy_error"] = _masked_mean(np.abs(e_est - e_true) / np.maximum(e_true, 1e-6), both)
    return out


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


# --- the run -----------------------------------------------------------------------------------------------

METRICS = ("velocity_error", "position_error", "detected", "momentum_error", "energy_error")


def build_oracle(cases: list[PhysicsCase], oracle: GroundTruthModel | None = None) -> GroundTruthModel:
    oracle = oracle or GroundTruthModel()
    for case in cases:
        oracle.add_clip(case.video)
    return oracle


def evaluate_physics(
    model: VideoModel, cases: list[PhysicsCase], settings: PhysicsSettings, progress: bool = True
) -> tuple[list[dict[str, Any]], dict[int, tuple[np.ndarray, ParsedTracks]]]:
    """Run the model on every case. Returns per-clip records and, for the first clip of each scenario,
    (video, parse) to draw the sample strip."""
    records, samples = [], {}
    for case in tqdm(cases, desc=f"physics [{model.name}]", disable=not progress):
        prefix = case.video[: settings.cond_frames]
        video = model.continue_video(prefix, settings.num_frames, case.caption, seed=case.seed)
        if video.shape != case.video.shape:
            t, h, w, _ = video.shape
            raise InvalidInputError(
                f"model {model.name!r} made {t} frames of {w}x{h} where {case.video.shape[0]} frames of "
                f"{settings.size}x{settings.size} were asked; run with --size {w} if that is the size it makes"
            )
        parsed = parse_tracks(video, case.spec)
        records.append(
            {
                "index": case.index,
                "scenario": case.scenario,
                "split": case.split,
                "ood_level": case.ood_level,
                "initial_speed": case.initial_speed,
                "seed": case.seed,
                "params": case.params,
                **case_metrics(case, parsed, settings.cond_frames),
            }
        )
        if not any(cases[i].scenario == case.scenario for i in samples):
            samples[case.index] = (video, parsed)
    return records, samples


def group_key(record: dict[str, Any]) -> tuple[str, str, str]:
    level = record.get("ood_level")
    return record["scenario"], record["split"], "" if level is None else str(level)


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean metrics per (scenario, split) and, for collision OOD, per OOD level."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        scenario, split, level = group_key(r)
        groups.setdefault((scenario, split, ""), []).append(r)
        if level:
            groups.setdefault((scenario, split, level), []).append(r)
    rows = []
    for (scenario, split, level), rs in sorted(groups.items()):
        row: dict[str, Any] = {"scenario": scenario, "split": split, "ood_level": level or None, "n": len(rs)}
        for metric in METRICS:
            if any(metric in r for r in rs):
                row[metric] = nanmean(r.get(metric) for r in rs)
        rows.append(row)
    return rows


def summary_table(
    model_rows: list[dict[str, Any]], floor_rows: list[dict[str, Any]], model_name: str
) -> Table:
    floor = {(r["scenario"], r["split"], r["ood_level"]): r for r in floor_rows}
    table = Table(
        f"Physical-law benchmark: {model_name} vs parser floor (ground truth through the same evaluator)",
        [
            "scenario",
            "split",
            "OOD level",
            "n",
            "velocity err",
            "floor",
            "position err",
            "floor",
            "detected",
            "momentum err",
            "energy err",
        ],
    )
    for r in model_rows:
        f = floor.get((r["scenario"], r["split"], r["ood_level"]), {})
        table.rows.append(
            [
                r["scenario"],
                r["split"],
                r["ood_level"] or "all",
                r["n"],
                r["velocity_error"],
                f.get("velocity_error", float("nan")),
                r["position_error"],
                f.get("position_error", float("nan")),
                r["detected"],
                r.get("momentum_error", float("nan")),
                r.get("energy_error", float("nan")),
            ]
        )
    return table
