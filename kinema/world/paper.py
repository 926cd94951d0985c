"""The seed paper's three scenes in closed form, batched (arXiv 2411.02385, "How Far is Video Generation from
World Model: A Physical Law Perspective").

World 10 x 10, 32 frames at 0.1 s, red (255, 0, 0) and blue (0, 0, 255) soft-edged balls on white.
Velocities are world units per second; gravity is -2.5 (downward).

- `uniform`: one red ball moving horizontally at constant speed.
- `collision`: a red ball (left, moving right) and a blue ball (right, moving left) on one horizontal line,
  perfectly elastic. Balls are 2D discs of equal density, so **mass ∝ r²**; after contact at time tc
  `u1' = ((m1 - m2) u1 + 2 m2 u2) / (m1 + m2)` and `u2' = ((m2 - m1) u2 + 2 m1 u1) / (m1 + m2)`, which
  conserve momentum and kinetic energy exactly.
- `parabola`: one red ball thrown horizontally, falling under gravity -2.5.

Parameter ranges. In distribution (ID): r ∈ [0.7, 1.5], speed ∈ [1, 4]. Out of distribution (OOD):
r ∈ [0.3, 0.6] ∪ [1.5, 2.0], speed ∈ [0, 0.8] ∪ [4.5, 6.0] (each OOD draw picks one of the two intervals with
probability 1/2, then a uniform value inside it). For an OOD clip a non-empty subset of the scene's
parameters (`r, v` for uniform/parabola; `r1, r2, v1, v2` for collision, the paper's OOD "levels") is
drawn from the OOD ranges and the rest from the ID ranges; the subset is recorded as `ood_params` and its
size as `ood_level`. Pass `ood_params=` to fix the subset.

Placement (our choice, the paper does not state it): uniform starts at x ∈ [1.5, 4] (mirrored when moving
left), y ∈ [3, 7]; collision happens at x_c ∈ [4, 6] at a time t_c ∈ [0.5, 1.5] s, earlier when needed so
both balls start inside the frame (never before 0.35 s: after the 3 conditioning frames and between two
frames, so no frame sits on the contact instant, where the velocity is ambiguous; fast OOD balls
may then start partly outside); parabola starts at x ∈ [1, 3] (mirrored when moving left), 0 to 1.5 units
below the top edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kinema.errors import InvalidInputError
from kinema.world.camera import rest_homography
from kinema.world.render import Background, render_batch
from kinema.world.spec import ObjectSpec, SceneSpec

SCENARIOS: tuple[str, ...] = ("uniform", "collision", "parabola")
WORLD_SIZE = (10.0, 10.0)
NUM_FRAMES = 32
DT = 0.1
GRAVITY = -2.5
RED = (1.0, 0.0, 0.0)
BLUE = (0.0, 0.0, 1.0)

EARLIEST_CONTACT = 0.35  # s
ID_RADIUS = ((0.7, 1.5),)
ID_SPEED = ((1.0, 4.0),)
OOD_RADIUS = ((0.3, 0.6), (1.5, 2.0))
OOD_SPEED = ((0.0, 0.8), (4.5, 6.0))

PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "uniform": ("r", "v"),
    "collision": ("r1", "r2", "v1", "v2"),
    "parabola": ("r", "v"),
}


@dataclass
class PaperParams:
    """Parameters of n clips of one scenario. Arrays are float64; K = 1 ball (2 for collision).

    radius (n, K); position (n, K, 2) at t = 0; velocity (n, K, 2) at t = 0; collision_time (n,) (NaN if not
    a collision); ood (n, P) bool over PARAM_NAMES[scenario].
    """

    scenario: str
    split: str
    radius: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    collision_time: np.ndarray
    ood: np.ndarray
    gravity: float = 0.0
    ood_level: np.ndarray | None = None  # (n,) how many parameters are OOD (0 for ID); filled in

    def __post_init__(self) -> None:
        self.ood_level = self.ood.sum(axis=1)

    def __len__(self) -> int:
        return self.radius.shape[0]

    def clip(self, i: int) -> dict:
        """JSON-ready parameters of clip i (what `SceneSpec.params` records)."""
        names = PARAM_NAMES[self.scenario]
        ood = [n for n, flag in zip(names, self.ood[i]) if flag]
        out = {
            "scenario": self.scenario,
            "split": self.split,
            "radius": self.radius[i].tolist(),
            "position": self.position[i].tolist(),
            "velocity": self.velocity[i].tolist(),
            "gravity": self.gravity,
            "ood_params": ood,
            "ood_level": len(ood),
        }
        if self.scenario == "collision":
            out["collision_time"] = float(self.collision_time[i])
        return out


def _rng(generator: int | np.random.Generator | torch.Generator | None) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
    return np.random.default_rng(generator)


def _draw(rng: np.random.Generator, intervals: tuple[tuple[float, float], ...], n: int) -> np.ndarray:
    pick = rng.integers(0, len(intervals), size=n)
    lo = np.array([intervals[p][0] for p in pick])
    hi = np.array([intervals[p][1] for p in pick])
    return lo + (hi - lo) * rng.random(n)


def _ood_mask(rng: np.random.Generator, split: str, names: tuple[str, ...], n: int, fixed) -> np.ndarray:
    if split == "id":
        return np.zeros((n, len(names)), dtype=bool)
    if fixed is not None:
        unknown = set(fixed) - set(names)
        if unknown or not fixed:
            raise InvalidInputError(f"ood_params {list(fixed)} must be a non-empty subset of {list(names)}")
        return np.tile(np.array([nm in fixed for nm in names]), (n, 1))
    mask = rng.random((n, len(names))) < 0.5
    empty = ~mask.any(axis=1)
    while empty.any():  # at least one parameter is out of distribution
        mask[empty] = rng.random((int(empty.sum()), len(names))) < 0.5
        empty = ~mask.any(axis=1)
    return mask


def sample_paper_params(
    scenario: str,
    split: str = "id",
    n: int = 1,
    generator: int | np.random.Generator | torch.Generator | None = None,
    ood_params: list[str] | None = None,
    seed: int | None = None,
) -> PaperParams:
    """Draw n clips' parameters for `scenario` in `split` ("id" | "ood"); same generator/seed → same draw.

    `seed=` is an alias of an integer `generator`.
    """
    if seed is not None:
        generator = seed
    if scenario not in SCENARIOS:
        raise InvalidInputError(f"scenario {scenario!r} is not a paper scene; use one of {list(SCENARIOS)}")
    if split not in ("id", "ood"):
        raise InvalidInputError(f"split {split!r} is unknown; use 'id' or 'ood'")
    if n < 1:
        raise InvalidInputError(f"n must be at least 1, got {n}")
    rng = _rng(generator)
    names = PARAM_NAMES[scenario]
    ood = _ood_mask(rng, split, names, n, ood_params)

    def value(name: str, kind: str) -> np.ndarray:
        col = ood[:, names.index(name)]
        idr, oodr = (ID_RADIUS, OOD_RADIUS) if kind == "r" else (ID_SPEED, OOD_SPEED)
        return np.where(col, _draw(rng, oodr, n), _draw(rng, idr, n))

    nan = np.full(n, np.nan)
    if scenario in ("uniform", "parabola"):
        r, v = value("r", "r"), value("v", "v")
        direction = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        if scenario == "uniform":
            x0 = rng.uniform(1.5, 4.0, n)
            y0 = rng.uniform(3.0, 7.0, n)
        else:
            x0 = rng.uniform(1.0, 3.0, n)
            y0 = WORLD_SIZE[1] - r - rng.uniform(0.0, 1.5, n)
        x0 = np.where(direction > 0, x0, WORLD_SIZE[0] - x0)
        pos = np.stack([x0, y0], -1)[:, None]  # (n, 1, 2)
        vel = np.stack([direction * v, np.zeros(n)], -1)[:, None]
        return PaperParams(
            scenario, split, r[:, None], pos, vel, nan, ood, GRAVITY if scenario == "parabola" else 0.0
        )
    # collision
    r1, r2, v1, v2 = value("r1", "r"), value("r2", "r"), value("v1", "v"), value("v2", "v")
    xc = rng.uniform(4.0, 6.0, n)
    wanted = rng.uniform(0.5, 1.5, n)
    with np.errstate(divide="ignore"):
        fit = np.minimum((xc - 2 * r1) / v1, (WORLD_SIZE[0] - xc - 2 * r2) / v2)
    tc = np.minimum(wanted, np.maximum(fit, EARLIEST_CONTACT))
    y = np.full(n, WORLD_SIZE[1] / 2)
    pos = np.stack([np.stack([xc - r1 - v1 * tc, y], -1), np.stack([xc + r2 + v2 * tc, y], -1)], 1)
    vel = np.stack([np.stack([v1, 0 * y], -1), np.stack([-v2, 0 * y], -1)], 1)
    return PaperParams(scenario, split, np.stack([r1, r2], 1), pos, vel, tc, ood, 0.0)


def elastic_velocities(r1, r2, u1, u2):
    """1D perfectly elastic collision of discs with mass ∝ r² → (u1', u2')."""
    m1, m2 = np.asarray(r1) ** 2, np.asarray(r2) ** 2
    return ((m1 - m2) * u1 + 2 * m2 * u2) / (m1 + m2), ((m2 - m1) * u2 + 2 * m1 * u1) / (m1 + m2)


def simulate_paper(params: PaperParams, num_frames: int = NUM_FRAMES, dt: float = DT) -> np.ndarray:
    """Closed-form states `(n, T, K, 6)` = x, y, vx, vy, angle (0), angular velocity (0), at t = k·dt."""
    t = np.arange(num_frames) * dt  # (T,)
    n, k = params.radius.shape
    out = np.zeros((n, num_frames, k, 6))
    p0 = params.position[:, None]  # (n, 1, K, 2)
    v0 = params.velocity[:, None]
    tt = t[None, :, None, None]  # (1, T, 1, 1)
    if params.scenario == "collision":
        tc = params.collision_time[:, None, None, None]  # (n, 1, 1, 1)
        u1n, u2n = elastic_velocities(
            params.radius[:, 0], params.radius[:, 1], params.velocity[:, 0, 0], params.velocity[:, 1, 0]
        )
        v_after = np.stack([np.stack([u1n, 0 * u1n], -1), np.stack([u2n, 0 * u2n], -1)], 1)[:, None]
        at_contact = p0 + v0 * tc
        before = tt < tc
        out[..., :2] = np.where(before, p0 + v0 * tt, at_contact + v_after * (tt - tc))
        out[..., 2:4] = np.where(before, v0, v_after)
        return out
    g = np.array([0.0, params.gravity])
    out[..., :2] = p0 + v0 * tt + 0.5 * g * tt**2
    out[..., 2:4] = v0 + g * tt
    return out


def paper_world(width: int, height: int) -> tuple[tuple[float, float], float]:
    """(world size, x offset) for a frame: the world is 10 high and 10·W/H wide; the paper's 10 x 10 scene
    is centred in it (offset added to every x), so non-square frames show the same scene with margins."""
    world = (WORLD_SIZE[1] * width / height, WORLD_SIZE[1])
    return world, (world[0] - WORLD_SIZE[0]) / 2


def paper_spec(
    params: PaperParams,
    i: int,
    width: int = 128,
    height: int = 128,
    num_frames: int = NUM_FRAMES,
    fps: float = 1.0 / DT,
) -> SceneSpec:
    """The SceneSpec of clip i (for captions, the pymunk path and the dataset writer)."""
    world, dx = paper_world(width, height)
    colors = ("red", "blue")
    objects = [
        ObjectSpec(
            shape="circle",
            color=colors[j],
            size=float(params.radius[i, j]),
            position=(float(params.position[i, j, 0] + dx), float(params.position[i, j, 1])),
            velocity=tuple(params.velocity[i, j]),
        )
        for j in range(params.radius.shape[1])
    ]
    return SceneSpec(
        objects=objects,
        world_size=world,
        gravity=(0.0, params.gravity),
        num_frames=num_frames,
        fps=fps,
        width=width,
        height=height,
        scenario=params.scenario,
        params=params.clip(i),
    )


def render_paper(states: np.ndarray, radius: np.ndarray, width: int = 128, height: int = 128) -> torch.Tensor:
    """Render closed-form states `(n, T, K, 6)` with radii `(n, K)` → float32 `(n, T, H, W, 3)` in [0, 1].

    Ball 0 is red, ball 1 blue, on white, camera at rest. For width != height see `paper_world`.
    """
    n, t, k, _ = states.shape
    world, dx = paper_world(width, height)
    hom = torch.from_numpy(rest_homography(world, width, height))
    hom[0, 2] += hom[0, 0] * dx  # shift the scene right by dx world units
    hom = hom.expand(n, t, 3, 3)
    colors = torch.tensor([RED, BLUE][:k], dtype=torch.float32).expand(n, k, 3)
    white = Background(
        kind=torch.zeros(n, dtype=torch.long),
        color=torch.ones(n, 3),
        color2=torch.ones(n, 3),
        cell=torch.ones(n),
        seed=torch.zeros(n, dtype=torch.long),
    )
    return render_batch(
        centers=torch.from_numpy(states[..., :2]),
        angles=torch.zeros(n, t, k),
        sizes=torch.from_numpy(radius).float(),
        shapes=torch.zeros(n, k, dtype=torch.long),
        colors=colors,
        present=torch.ones(n, k, dtype=torch.bool),
        background=white,
        homographies=hom,
        width=width,
        height=height,
    )
