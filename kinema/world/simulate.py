"""General scenes with pymunk (2D rigid bodies): any `SceneSpec` → per-frame states and events.

World units and axes are the spec's (y up), so pymunk's gravity is `spec.gravity` directly. Colliders: a
circle is a circle, a square / triangle a convex polygon with the same circumradius as the renderer draws,
a ring a solid circle of its outer radius (a ring is rigid and nothing fits inside it). Restitution and
friction combine by product (pymunk's rule), so restitution 1 on both sides is a perfectly elastic contact.
Each frame is `substeps` fixed steps (default: at least 600 steps per simulated second) with a tight
collision slop, which keeps the perfectly elastic paper collision within ~1e-2 world units of closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pymunk

from kinema.world.spec import ObjectSpec, SceneSpec

STEPS_PER_SECOND = 600
WALL_THICKNESS = 0.5  # world units; walls sit just outside the world rectangle


@dataclass
class Event:
    """A contact that began during the step into `frame`: `kind` is "collision" (two objects, indices
    `a`, `b`) or "bounce" (object `a` against wall `wall`)."""

    frame: int
    kind: str
    a: int
    b: int | None = None
    wall: str | None = None

    def to_json(self) -> dict:
        return {"frame": self.frame, "kind": self.kind, "a": self.a, "b": self.b, "wall": self.wall}


@dataclass
class SimulationResult:
    """`states (T, K, 6)` = x, y, vx, vy, angle, angular velocity at each frame; `events` in time order."""

    states: np.ndarray
    events: list[Event] = field(default_factory=list)


def polygon_vertices(obj: ObjectSpec) -> list[tuple[float, float]] | None:
    """Collider vertices in the body frame (None for round shapes); they match the renderer's SDFs."""
    r = obj.size
    if obj.shape == "square":
        a = r / math.sqrt(2.0)
        return [(-a, -a), (a, -a), (a, a), (-a, a)]
    if obj.shape == "triangle":  # apex up, centroid at the origin
        return [
            (r * math.cos(th), r * math.sin(th)) for th in (math.pi / 2, math.pi * 7 / 6, math.pi * 11 / 6)
        ]
    return None


def _body(obj: ObjectSpec) -> tuple[pymunk.Body, pymunk.Shape]:
    verts = polygon_vertices(obj)
    if verts is None:
        area = math.pi * obj.size**2
        mass = obj.density * area
        moment = pymunk.moment_for_circle(mass, 0.0, obj.size)
    else:
        area = abs(pymunk.area_for_poly(verts))
        mass = obj.density * area
        moment = pymunk.moment_for_poly(mass, verts)
    if obj.static:
        body = pymunk.Body(body_type=pymunk.Body.STATIC)
    else:
        body = pymunk.Body(mass, moment)
    body.position = obj.position
    body.angle = obj.angle
    if not obj.static:
        body.velocity = obj.velocity
        body.angular_velocity = obj.angular_velocity
    shape = pymunk.Circle(body, obj.size) if verts is None else pymunk.Poly(body, verts)
    shape.elasticity = obj.restitution
    shape.friction = obj.friction
    return body, shape


def _walls(spec: SceneSpec, space: pymunk.Space) -> dict[pymunk.Shape, str]:
    ww, wh = spec.world_size
    h = WALL_THICKNESS
    boxes = {
        "floor": (-h, -h, ww + h, 0.0),
        "ceiling": (-h, wh, ww + h, wh + h),
        "left": (-h, -h, 0.0, wh + h),
        "right": (ww, -h, ww + h, wh + h),
    }
    out = {}
    for name, (x0, y0, x1, y1) in boxes.items():
        if not getattr(spec.walls, name):
            continue
        poly = pymunk.Poly(space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        poly.elasticity = spec.walls.restitution
        poly.friction = spec.walls.friction
        space.add(poly)
        out[poly] = name
    return out


def simulate(spec: SceneSpec, substeps: int | None = None) -> SimulationResult:
    """Run pymunk over the spec's clip: states at t = k / fps for k = 0..T-1, plus contact events."""
    space = pymunk.Space()
    space.gravity = spec.gravity
    space.iterations = 30
    space.collision_slop = 1e-4
    bodies, owners = [], {}
    for i, obj in enumerate(spec.objects):
        body, shape = _body(obj)
        space.add(body, shape)
        bodies.append(body)
        owners[shape] = i
    walls = _walls(spec, space)
    events: list[Event] = []
    frame = [0]

    def begin(arbiter: pymunk.Arbiter, _space: pymunk.Space, _data) -> None:
        s1, s2 = arbiter.shapes
        if s1 in owners and s2 in owners:
            a, b = sorted((owners[s1], owners[s2]))
            events.append(Event(frame[0], "collision", a, b))
        elif s1 in owners or s2 in owners:
            obj, wall = (s1, s2) if s1 in owners else (s2, s1)
            events.append(Event(frame[0], "bounce", owners[obj], wall=walls.get(wall, "wall")))

    space.on_collision(begin=begin)
    n_sub = substeps or max(1, math.ceil(STEPS_PER_SECOND / spec.fps))
    dt = 1.0 / spec.fps / n_sub
    states = np.zeros((spec.num_frames, len(bodies), 6))
    for k in range(spec.num_frames):
        for j, body in enumerate(bodies):
            states[k, j] = (*body.position, *body.velocity, body.angle, body.angular_velocity)
        if k + 1 == spec.num_frames:
            break
        frame[0] = k + 1
        for _ in range(n_sub):
            space.step(dt)
    return SimulationResult(states, events)
