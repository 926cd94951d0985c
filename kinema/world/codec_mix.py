"""Clips for training a codec: everything the world can draw, and more, rendered on the fly.

A VAE is generic: it must keep whatever a generator will ask it to draw, so its data is wider than any
benchmark's training split (the rule that keeps the physical-law benchmark's out-of-distribution radii and
speeds out of training binds the DiT, not the codec; the seed paper's VAE was trained on general video).
Each clip holds 1-6 objects of every shape, sizes from 0.22 to 2.4 world units (log-uniform, so small objects
are as common as large ones), named colours and random RGB colours, speeds up to 7 units/s in any direction,
spin, gravity, bounces off the frame's walls, on white, flat coloured or textured backgrounds, with a moving
virtual camera in some clips. No simulator: paths are closed form (straight, or parabolic under gravity, folded
back at the walls), so a clip costs only its render.

Every clip is a pure function of ``(seed, index)``, like ``kinema.world.dataset``: the stream is
deterministic, resumable by position, and shardable across DDP ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import IterableDataset

from kinema.errors import InvalidInputError
from kinema.world.camera import camera_homographies
from kinema.world.dataset import TEXTURE_PAIRS, WorldDataConfig, plan_clip, render_plans
from kinema.world.paper import SCENARIOS as PAPER_SCENARIOS
from kinema.world.render import BG_KINDS, SHAPE_IDS, Background, empty_objects, render_batch
from kinema.world.spec import CAMERA_AXES, CAMERA_PRESETS, COLORS, CameraSpec

NAMED = np.array(list(COLORS.values()), dtype=np.float32) / 255.0  # (8, 3)


@dataclass
class CodecMixConfig:
    """What the codec clips span (one typed place; saved with a training run under ``data.codec``)."""

    width: int = 64
    height: int = 64
    num_frames: int = 9
    fps: float = 10.0
    max_objects: int = 6
    size_range: tuple[float, float] = (0.22, 2.4)  # world units (10-unit-high world), log-uniform
    max_speed: float = 7.0  # world units / s
    named_color_prob: float = 0.65  # else a uniformly random RGB colour
    texture_prob: float = 0.4
    flat_color_prob: float = 0.15  # a flat background of a random colour (else white)
    camera_prob: float = 0.25
    gravity_prob: float = 0.3
    walls_prob: float = 0.5  # paths fold back at the frame's edges (elastic bounces)
    # A share of clips that are the physical-law benchmark's own scenes (uniform / collision / parabola, ID
    # and OOD alike, as `kinema.world.dataset` simulates and renders them): the codec must return their
    # centres at the parser's floor, and a mix of generic clips alone under-weights those red/blue balls.
    paper_prob: float = 0.0
    seed: int = 0
    start: int = 0
    chunk: int = 8  # clips rendered per batched call

    def validate(self) -> None:
        lo, hi = self.size_range
        if not 0.05 < lo <= hi <= 5.0:
            raise InvalidInputError(
                f"codec size_range must satisfy 0.05 < lo <= hi <= 5, got {self.size_range}"
            )
        if self.max_objects < 1:
            raise InvalidInputError(f"codec max_objects must be >= 1, got {self.max_objects}")
        for name in (
            "named_color_prob",
            "texture_prob",
            "flat_color_prob",
            "camera_prob",
            "gravity_prob",
            "walls_prob",
            "paper_prob",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidInputError(f"codec {name} must be a probability, got {getattr(self, name)}")


def _fold(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reflect positions into [lo, hi] (a triangle wave): elastic bounces off walls at lo and hi."""
    span = np.maximum(hi - lo, 1e-6)
    u = np.mod(x - lo, 2 * span)
    return lo + np.where(u > span, 2 * span - u, u)


def plan(index: int, cfg: CodecMixConfig) -> dict[str, np.ndarray]:
    """Draw clip ``index``: per-object paths and looks, background and camera (numpy; see ``render``)."""
    rng = np.random.default_rng([cfg.seed, index, 25])
    t = np.arange(cfg.num_frames) / cfg.fps
    world = np.array([10.0 * cfg.width / cfg.height, 10.0])
    # mostly one or two objects (geometric), sometimes a crowd
    crowd = rng.random() >= 0.8
    k = int(rng.integers(1, cfg.max_objects + 1)) if crowd else int(min(cfg.max_objects, rng.geometric(0.45)))
    lo, hi = np.log(cfg.size_range[0]), np.log(cfg.size_range[1])
    sizes = np.exp(rng.uniform(lo, hi, k))
    shapes = rng.integers(0, len(SHAPE_IDS), k)
    named = rng.random(k) < cfg.named_color_prob
    colors = np.where(named[:, None], NAMED[rng.integers(0, len(NAMED), k)], rng.random((k, 3)))
    p0 = rng.uniform(0, 1, (k, 2)) * world
    speed = rng.uniform(0, cfg.max_speed, k) * (rng.random(k) > 0.15)
    heading = rng.uniform(0, 2 * math.pi, k)
    v = np.stack([np.cos(heading), np.sin(heading)], -1) * speed[:, None]  # (K, 2)
    g = -rng.uniform(1.0, 6.0) if rng.random() < cfg.gravity_prob else 0.0
    pos = p0[None] + v[None] * t[:, None, None]  # (T, K, 2)
    pos[..., 1] += 0.5 * g * t[:, None] ** 2
    if rng.random() < cfg.walls_prob:
        r = sizes[None, :, None]
        pos = _fold(pos, r, world[None, None] - r)
    spin = rng.normal(0, 1.5, k) * (rng.random(k) < 0.5)
    angles = rng.uniform(-math.pi, math.pi, k)[None] + spin[None] * t[:, None]  # (T, K)
    # background: kind, two colours, cell, seed
    u = rng.random()
    if u < cfg.texture_prob:
        kind = ("checker", "grid", "noise")[int(rng.integers(3))]
        if rng.random() < 0.7:
            c1, c2 = (
                np.array(c, dtype=np.float32) / 255
                for c in TEXTURE_PAIRS[int(rng.integers(len(TEXTURE_PAIRS)))]
            )
        else:
            c1, c2 = rng.random(3), rng.random(3)
    elif u < cfg.texture_prob + cfg.flat_color_prob:
        kind, c1 = "flat", rng.random(3)
        c2 = c1
    else:
        kind, c1, c2 = "flat", np.ones(3), np.ones(3)
    background = {
        "kind": BG_KINDS[kind],
        "color": c1,
        "color2": c2,
        "cell": float(rng.uniform(0.6, 2.0)),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }
    camera = CameraSpec()
    if rng.random() < cfg.camera_prob:
        if rng.random() < 0.25:
            camera = CameraSpec(preset=CAMERA_PRESETS[int(rng.integers(len(CAMERA_PRESETS)))])
        else:
            axes = rng.choice(len(CAMERA_AXES), size=1 + int(rng.random() < 0.3), replace=False)
            camera = CameraSpec(
                **{CAMERA_AXES[a]: float(np.round(rng.uniform(2, 10) * rng.choice([-1, 1]), 1)) for a in axes}
            )
    homographies = camera_homographies(camera, cfg.num_frames, cfg.fps, tuple(world), cfg.width, cfg.height)
    return {
        "centers": pos,
        "angles": angles,
        "sizes": sizes,
        "shapes": shapes,
        "colors": colors,
        "background": background,
        "homographies": homographies,
    }


def render(plans: Sequence[dict], cfg: CodecMixConfig) -> torch.Tensor:
    """Render planned clips in one batched call → float32 (B, 3, T, H, W) in [-1, 1]."""
    b, t, k = len(plans), cfg.num_frames, max(len(p["sizes"]) for p in plans)
    objects = empty_objects(b, t, k)
    centers, angles, sizes, shapes, colors, present = objects.values()
    for i, p in enumerate(plans):
        n = len(p["sizes"])
        centers[i, :, :n] = torch.from_numpy(p["centers"])
        angles[i, :, :n] = torch.from_numpy(p["angles"]).float()
        sizes[i, :n] = torch.from_numpy(p["sizes"]).float()
        shapes[i, :n] = torch.from_numpy(p["shapes"])
        colors[i, :n] = torch.from_numpy(np.asarray(p["colors"], dtype=np.float32))
        present[i, :n] = True
    bg = [p["background"] for p in plans]
    background = Background(
        kind=torch.tensor([x["kind"] for x in bg], dtype=torch.long),
        color=torch.tensor(np.array([x["color"] for x in bg]), dtype=torch.float32),
        color2=torch.tensor(np.array([x["color2"] for x in bg]), dtype=torch.float32),
        cell=torch.tensor([x["cell"] for x in bg], dtype=torch.float32),
        seed=torch.tensor([x["seed"] for x in bg], dtype=torch.long),
    )
    homs = torch.from_numpy(np.stack([p["homographies"] for p in plans]))
    img = render_batch(
        **objects, background=background, homographies=homs, width=cfg.width, height=cfg.height
    )
    return (img * 2 - 1).permute(0, 4, 1, 2, 3).contiguous()  # (B, 3, T, H, W)


def is_paper(index: int, cfg: CodecMixConfig) -> bool:
    """Whether clip ``index`` is one of the benchmark's scenes (a pure function of ``(seed, index)``)."""
    return cfg.paper_prob > 0 and np.random.default_rng([cfg.seed, index, 26]).random() < cfg.paper_prob


def _paper_split(index: int, cfg: CodecMixConfig) -> str:
    return "ood" if np.random.default_rng([cfg.seed, index, 27]).random() < 0.5 else "id"


def _render_paper(indices: Sequence[int], cfg: CodecMixConfig, split: str) -> list[torch.Tensor]:
    """The benchmark's scenes as the world dataset makes them (white or textured backgrounds, no camera)."""
    world = WorldDataConfig(
        scenarios=PAPER_SCENARIOS, width=cfg.width, height=cfg.height, num_frames=cfg.num_frames, fps=cfg.fps,
        split=split, texture_prob=cfg.texture_prob / 2, seed=cfg.seed,
    )  # fmt: skip
    return [item["video"] for item in render_plans([plan_clip(i, world) for i in indices], world.max_objects)]


class CodecMixDataset(IterableDataset):
    """On-the-fly codec clips (``{"video": (3, T, H, W)}``); ``rank`` / ``world_size`` shard the indices."""

    def __init__(self, rank: int = 0, world_size: int = 1, **options) -> None:
        super().__init__()
        unknown = set(options) - set(CodecMixConfig.__dataclass_fields__)
        if unknown:
            raise InvalidInputError(
                f"unknown data.codec option(s) {sorted(unknown)}; known: {sorted(CodecMixConfig.__dataclass_fields__)}"
            )
        if "size_range" in options:
            options["size_range"] = tuple(options["size_range"])
        self.config = CodecMixConfig(**options)
        self.config.validate()
        self.rank, self.world_size = rank, world_size

    def render(self, indices: Sequence[int]) -> list[dict[str, torch.Tensor]]:
        """Clips ``indices`` in order: paper scenes where ``is_paper(i)``, the generic mix elsewhere."""
        cfg = self.config
        paper_ids = [i for i in indices if is_paper(i, cfg)]
        mix_ids = [i for i in indices if not is_paper(i, cfg)]
        out: dict[int, torch.Tensor] = {}
        if mix_ids:
            out.update(zip(mix_ids, render([plan(i, cfg) for i in mix_ids], cfg)))
        for split in ("id", "ood"):
            ids = [i for i in paper_ids if _paper_split(i, cfg) == split]
            if ids:
                out.update(zip(ids, _render_paper(ids, cfg, split)))
        return [{"video": out[i]} for i in indices]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        i = self.config.start + self.rank
        while True:
            chunk = [i + j * self.world_size for j in range(self.config.chunk)]
            yield from self.render(chunk)
            i += self.config.chunk * self.world_size

    def describe(self) -> dict:
        return asdict(self.config)
