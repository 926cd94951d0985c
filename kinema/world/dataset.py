"""World clips for training, made on the fly (`WorldClipDataset`; `kinema.world.make` writes them to disk).

Every clip is a pure function of `(seed, index)`: its scenario, parameters, camera and background are drawn
from `np.random.default_rng([seed, index])`. So the stream is deterministic, resumable by index, and
shardable — DDP rank r of R and DataLoader worker w of W take the global indices
`start + (r·W + w) + k·(R·W)`, disjoint and together complete, whatever the number of workers.

Scenarios: the paper's `uniform`, `collision`, `parabola` (closed form, `kinema.world.paper`, with `split`
id/ood) and `general` (pymunk, `kinema.world.simulate`: 1..max_objects mixed shapes and colours, gravity or
not, walls, bounces, spin). Clips of one iteration chunk are rendered together in one batched call.

Item (CONTRACTS.md): `{"video": float32 (3, T, H, W) in [-1, 1], "caption": str, "camera": float32 (T, 6)
(Kling axes / 10, zeros when static), "tracks": float32 (K, T, 8) [x_px, y_px, visible, r, g, b, radius_px,
shape] (K = max_objects, padded with zeros; visible = the object's centre is inside the frame; colour in 0-1;
shape 1-4 = circle, square, triangle, ring;
`grounding.tracks_from_states`), "spec": dict (SceneSpec JSON with the simulator's events under
params["events"])}`. Use `collate_clips` to batch items (specs stay a list).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from kinema.errors import InvalidInputError
from kinema.world import paper
from kinema.world.camera import camera_vector
from kinema.world.captions import caption
from kinema.world.grounding import tracks_from_states
from kinema.world.render import render_batch, specs_to_tensors
from kinema.world.simulate import simulate
from kinema.world.spec import (
    CAMERA_AXES,
    CAMERA_PRESETS,
    COLORS,
    SHAPES,
    BackgroundSpec,
    CameraSpec,
    ObjectSpec,
    SceneSpec,
    WallsSpec,
)

ALL_SCENARIOS: tuple[str, ...] = ("uniform", "collision", "parabola", "general")
# Texture colour pairs: light greys, far from every object colour so the parser never mistakes them, and
# at least 40 levels apart so camera motion is visible.
TEXTURE_PAIRS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((255, 255, 255), (210, 210, 210)),
    ((255, 255, 255), (190, 190, 190)),
    ((235, 235, 235), (190, 190, 190)),
)


@dataclass
class WorldDataConfig:
    """Everything that decides the clips (one typed place; saved with a training run)."""

    scenarios: tuple[str, ...] = ALL_SCENARIOS
    width: int = 64
    height: int = 64
    num_frames: int = 17
    fps: float = 10.0
    split: str = "id"  # paper scenes: "id" or "ood"
    camera_prob: float = 0.0  # chance that a clip has a moving camera
    preset_prob: float = 0.25  # of those, the chance of a Kling preset instead of random axes
    texture_prob: float = 0.0  # chance of a textured background (else white)
    max_objects: int = 4  # K of "tracks"; general scenes have 1..max_objects objects
    # General scenes' object size (radius) and initial speed, as fractions of the world height (10 units):
    # the defaults span 0.4-1.2 units and 0-5 units/s. A recipe that must keep the paper benchmark's
    # out-of-distribution radii / speeds out of training narrows them to its in-distribution ranges
    # (r 0.7-1.5, v 1-4: DESIGN.md).
    general_size: tuple[float, float] = (0.04, 0.12)
    general_speed: tuple[float, float] = (0.0, 0.5)
    seed: int = 0
    num_clips: int | None = None  # None = endless
    start: int = 0  # first global index (resume without re-rendering)
    chunk: int = 8  # clips rendered per batched call

    def validate(self) -> None:
        bad = [s for s in self.scenarios if s not in ALL_SCENARIOS]
        if bad or not self.scenarios:
            raise InvalidInputError(
                f"scenarios {list(self.scenarios)} must be a non-empty subset of {list(ALL_SCENARIOS)}"
            )
        if self.split not in ("id", "ood"):
            raise InvalidInputError(f"split must be 'id' or 'ood', got {self.split!r}")
        for name in ("camera_prob", "preset_prob", "texture_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidInputError(f"{name} must be in 0..1, got {getattr(self, name)}")
        for name in ("general_size", "general_speed"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise InvalidInputError(
                    f"{name} must be a range [low, high] with 0 <= low <= high, got {[low, high]}"
                )
        if self.max_objects < 2:
            raise InvalidInputError(
                f"max_objects must be at least 2 (collisions have two), got {self.max_objects}"
            )
        if self.width < 8 or self.height < 8 or self.num_frames < 1 or self.fps <= 0 or self.chunk < 1:
            raise InvalidInputError(
                f"need width, height >= 8, num_frames >= 1, fps > 0, chunk >= 1; got {self.width}x{self.height}, "
                f"{self.num_frames} frames, fps {self.fps}, chunk {self.chunk}"
            )


@dataclass
class ClipPlan:
    """One clip before rendering: spec, states `(T, K, 6)`, events, caption."""

    index: int
    spec: SceneSpec
    states: np.ndarray
    events: list[dict] = field(default_factory=list)
    caption: str = ""


# --- drawing one clip ----------------------------------------------------------------------------------


def _camera(rng: np.random.Generator, cfg: WorldDataConfig) -> CameraSpec:
    if rng.random() >= cfg.camera_prob:
        return CameraSpec()
    if rng.random() < cfg.preset_prob:
        return CameraSpec(preset=CAMERA_PRESETS[int(rng.integers(len(CAMERA_PRESETS)))])
    n_axes = 1 if rng.random() < 0.7 else 2
    axes = rng.choice(len(CAMERA_AXES), size=n_axes, replace=False)
    values = {CAMERA_AXES[a]: float(np.round(rng.uniform(2, 10) * rng.choice([-1, 1]), 1)) for a in axes}
    return CameraSpec(**values)


def _background(rng: np.random.Generator, cfg: WorldDataConfig, world_h: float) -> BackgroundSpec:
    if rng.random() >= cfg.texture_prob:
        return BackgroundSpec()
    kind = ("checker", "grid", "noise")[int(rng.integers(3))]
    pair = TEXTURE_PAIRS[int(rng.integers(len(TEXTURE_PAIRS)))]
    c1, c2 = pair if rng.random() < 0.5 else pair[::-1]
    return BackgroundSpec(
        kind=kind,
        color=c1,
        color2=c2,
        cell=float(np.round(rng.uniform(0.06, 0.2) * world_h, 3)),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _general_objects(rng: np.random.Generator, cfg: WorldDataConfig, world: tuple[float, float], g: float):
    ww, wh = world
    n = int(rng.integers(1, cfg.max_objects + 1))
    colors = rng.choice(len(COLORS), size=n, replace=False)
    placed: list[tuple[float, float, float]] = []
    objects = []
    for k in range(n):
        size = float(rng.uniform(*cfg.general_size) * wh)
        for _ in range(50):  # rejection: no overlaps at t = 0
            x, y = float(rng.uniform(size, ww - size)), float(rng.uniform(size, wh - size))
            if all(math.hypot(x - px, y - py) > size + ps + 0.05 * wh for px, py, ps in placed):
                break
        else:
            continue
        placed.append((x, y, size))
        speed = float(rng.uniform(*cfg.general_speed) * wh)
        heading = float(rng.uniform(0, 2 * math.pi))
        objects.append(
            ObjectSpec(
                shape=SHAPES[int(rng.integers(len(SHAPES)))],
                color=list(COLORS)[int(colors[k])],
                size=round(size, 4),
                position=(round(x, 4), round(y, 4)),
                velocity=(round(speed * math.cos(heading), 4), round(speed * math.sin(heading), 4)),
                angle=round(float(rng.uniform(-math.pi, math.pi)), 4),
                angular_velocity=round(float(rng.normal(0, 1.0)), 4) if rng.random() < 0.5 else 0.0,
                restitution=round(float(rng.uniform(0.7, 1.0)), 3),
                friction=round(float(rng.uniform(0.0, 0.5)), 3),
            )
        )
    return objects


def _draw_scenario(rng: np.random.Generator, cfg: WorldDataConfig) -> str:
    return cfg.scenarios[int(rng.integers(len(cfg.scenarios)))]


def clip_scenario(index: int, cfg: WorldDataConfig) -> str:
    """The scenario of clip `index`, without drawing the rest of it (the first draw of `plan_clip`)."""
    return _draw_scenario(np.random.default_rng([cfg.seed, index]), cfg)


def plan_clip(index: int, cfg: WorldDataConfig) -> ClipPlan:
    """Draw and simulate clip `index` (deterministic in `(cfg.seed, index)`)."""
    rng = np.random.default_rng([cfg.seed, index])
    scenario = _draw_scenario(rng, cfg)
    camera = _camera(rng, cfg)
    events: list[dict] = []
    if scenario in paper.SCENARIOS:
        params = paper.sample_paper_params(scenario, cfg.split, 1, rng)
        _, dx = paper.paper_world(cfg.width, cfg.height)
        states = paper.simulate_paper(params, cfg.num_frames, 1.0 / cfg.fps)[0]
        states[..., 0] += dx
        spec = paper.paper_spec(params, 0, cfg.width, cfg.height, cfg.num_frames, cfg.fps)
        if scenario == "collision" and params.collision_time[0] < cfg.num_frames / cfg.fps:
            events.append(
                {
                    "frame": int(math.ceil(params.collision_time[0] * cfg.fps)),
                    "kind": "collision",
                    "a": 0,
                    "b": 1,
                }
            )
        spec = spec.model_copy(
            update={"camera": camera, "background": _background(rng, cfg, spec.world_size[1])}
        )
    else:
        world = (10.0 * cfg.width / cfg.height, 10.0)
        gravity = -float(rng.uniform(1.5, 5.0)) if rng.random() < 0.5 else 0.0
        boxed = rng.random() < 0.6
        walls = WallsSpec(floor=boxed or gravity < 0, ceiling=boxed, left=boxed, right=boxed, restitution=1.0)
        spec = SceneSpec(
            objects=_general_objects(rng, cfg, world, gravity),
            world_size=world,
            gravity=(0.0, gravity),
            walls=walls,
            num_frames=cfg.num_frames,
            fps=cfg.fps,
            width=cfg.width,
            height=cfg.height,
            background=_background(rng, cfg, world[1]),
            camera=camera,
            scenario="general",
        )
        result = simulate(spec)
        states = result.states
        events = [e.to_json() for e in result.events]
    spec = spec.model_copy(update={"params": {**spec.params, "events": events, "index": index}})
    return ClipPlan(index, spec, states, events, caption(spec, rng, events))


def render_plans(plans: Sequence[ClipPlan], max_objects: int) -> list[dict[str, Any]]:
    """Render same-size plans in one batched call → dataset items."""
    specs = [p.spec for p in plans]
    inputs = specs_to_tensors(specs, [p.states for p in plans])
    img = render_batch(**inputs, width=specs[0].width, height=specs[0].height)  # (B, T, H, W, 3) in [0, 1]
    video = (img * 2 - 1).permute(0, 4, 1, 2, 3).contiguous()  # (B, 3, T, H, W)
    homs = inputs["homographies"].numpy()
    items = []
    for b, plan in enumerate(plans):
        spec, t = plan.spec, plan.spec.num_frames
        tracks = tracks_from_states(spec, plan.states, max_objects, homographies=homs[b])
        items.append(
            {
                "video": video[b],
                "caption": plan.caption,
                "camera": torch.from_numpy(camera_vector(spec.camera, t)),
                "tracks": torch.from_numpy(tracks),
                "spec": spec.model_dump(mode="json"),
            }
        )
    return items


def collate_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors (`video (B, 3, T, H, W)`, `camera (B, T, 6)`, `tracks (B, K, T, 3)`); captions and
    specs stay lists."""
    return {
        "video": torch.stack([i["video"] for i in items]),
        "caption": [i["caption"] for i in items],
        "camera": torch.stack([i["camera"] for i in items]),
        "tracks": torch.stack([i["tracks"] for i in items]),
        "spec": [i["spec"] for i in items],
    }


def _shard() -> tuple[int, int]:
    """(this reader's shard, number of shards) over DDP ranks × DataLoader workers."""
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    info = get_worker_info()
    wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * nw + wid, world * nw


class WorldClipDataset(IterableDataset):
    """On-the-fly physics clips (see the module docstring). Keyword arguments are `WorldDataConfig`'s;
    `size=(W, H)` is accepted for `width`/`height`, and `rank`/`world_size` override torch.distributed.

    Batch with `DataLoader(ds, batch_size=B, collate_fn=WorldClipDataset.collate_fn)`: torch's default
    collate cannot stack specs with different numbers of objects."""

    collate_fn = staticmethod(collate_clips)

    def __init__(
        self,
        config: WorldDataConfig | None = None,
        *,
        size: tuple[int, int] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        **overrides: Any,
    ):
        super().__init__()
        base = asdict(config) if config is not None else {}
        if size is not None:
            base["width"], base["height"] = int(size[0]), int(size[1])
        unknown = set(overrides) - set(WorldDataConfig.__dataclass_fields__)
        if unknown:
            raise InvalidInputError(
                f"unknown WorldClipDataset option(s) {sorted(unknown)}; known: {sorted(WorldDataConfig.__dataclass_fields__)}"
            )
        base.update(overrides)
        if "scenarios" in base:
            base["scenarios"] = tuple(
                [base["scenarios"]] if isinstance(base["scenarios"], str) else base["scenarios"]
            )
        self.config = WorldDataConfig(**base)
        self.config.validate()
        self.rank, self.world_size = rank, world_size

    def _indices(self) -> Iterator[int]:
        shard, shards = _shard()
        if self.rank is not None and self.world_size is not None:
            info = get_worker_info()
            wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
            shard, shards = self.rank * nw + wid, self.world_size * nw
        cfg = self.config
        i = cfg.start + shard
        while cfg.num_clips is None or i < cfg.start + cfg.num_clips:
            yield i
            i += shards

    def __iter__(self) -> Iterator[dict[str, Any]]:
        chunk: list[int] = []
        for index in self._indices():
            chunk.append(index)
            if len(chunk) == self.config.chunk:
                yield from self.render(chunk)
                chunk = []
        if chunk:
            yield from self.render(chunk)

    def render(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Items for explicit global indices (map-style access, same bytes as iteration)."""
        plans = [plan_clip(i, self.config) for i in indices]
        return render_plans(plans, self.config.max_objects)

    def scenario(self, index: int) -> str:
        """The scenario of clip `index` (cheap: nothing is simulated or rendered)."""
        return clip_scenario(index, self.config)

    def __len__(self) -> int:
        if self.config.num_clips is None:
            raise TypeError("an endless WorldClipDataset has no length; set num_clips")
        return self.config.num_clips
