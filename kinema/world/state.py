"""Frames → scene state: where each object is, how big and how fast, at the last given frame.

For image-to-video and extension: `estimate_state(frames, fps=…)` finds the objects of the last frame
(`parser.detect_objects`, fragments of one colour that touch merged, so a thin ring broken by the colour
threshold stays one object), follows each back through up to four frames before it, and measures it with
**coverage weights**: on a flat background a pixel's colour is `α·object + (1 − α)·background`, so α is the
pixel's projection onto the object-to-background colour line, and the α-weighted mean and sum give a
sub-pixel centre and the true area. (The binary mask's centroid jitters by ~0.1 px and the three-point
difference `(3 p₀ − 4 p₋₁ + p₋₂) / 2dt` has a noise gain of 2.5 / dt: on 12 renders at 64x64, 10 fps,
mask centroids gave velocity errors up to 1.1 world units/s, mean 0.5; coverage weights, mean 0.05.
On a textured background the texture leaks into the weights: up to 0.5 from 3 frames.) Velocity (`_velocity_px`): from 4–5 frames the slope of a
least-squares parabola, from 3 that three-point difference (both exact for constant acceleration), from
2 a backward difference; measured at 64x64 on white, at most 0.12 world units/s from 5 frames and 0.28 from
3 (tests/world/test_state.py). With one frame, or an object cut by the border, the matching prompt
object's velocity (`prompt_parse`), else zero.

Sizes are circumradii (`ObjectSpec.size`): area / (π · fill) with the shape's fill ratio (the renderer's
shapes). Coordinates assume the camera at rest, like the parser: world `(10·W/H, 10)`, y up. An object
cut by the frame border is measured from its visible part (its centre is biased inward).

`scene_from_state(states, …)` turns the result into a `SceneSpec` starting at that state, with gravity,
walls and camera from the prompt when one is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world.parser import as_frames, classify_shape, color_labels, detect_objects
from kinema.world.prompt import PromptParse
from kinema.world.render import RING_INNER
from kinema.world.spec import COLORS, ObjectSpec, SceneSpec

# area / (π circumradius²) of each rendered shape
FILL: dict[str, float] = {
    "circle": 1.0,
    "square": 2.0 / math.pi,
    "triangle": 3.0 * math.sqrt(3.0) / (4.0 * math.pi),
    "ring": 1.0 - RING_INNER**2,
}
EDGE_PX = 2  # the soft edge: pixels this far outside the colour mask still carry coverage
MAX_STEP = 1.0  # world heights per second: how far an object may move between frames when followed back
MIN_CONTRAST = 60.0  # RGB distance object ↔ background under which coverage weights are not trusted
FIT_FRAMES = 5  # frames a velocity fit may use
FIT_RESIDUAL_PX = 0.25  # a worse quadratic fit means a contact inside the window: use the last 3 frames


@dataclass
class ObjectState:
    """One object at the last given frame, in world units (y up). `velocity_from` says where the
    velocity came from: "frames", "prompt" or "rest"."""

    color: str
    shape: str
    size: float  # circumradius
    position: tuple[float, float]
    velocity: tuple[float, float]
    velocity_from: str = "frames"


@dataclass
class _Measure:
    centre: np.ndarray  # (2,) x_px, y_px
    area: float  # px²
    core: np.ndarray  # (H, W) bool, the colour mask
    touches_border: bool


def _grow(mask: np.ndarray, n: int) -> np.ndarray:
    for _ in range(n):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def _measure(frame: np.ndarray, labels: np.ndarray, color: str, core: np.ndarray) -> _Measure:
    """Coverage-weighted centre and area of one object from its colour mask `core` (see the docstring)."""
    region = _grow(core, EDGE_PX) & ((labels == -1) | core)  # its soft edge, never another object
    ring = _grow(core, EDGE_PX + 3) & ~_grow(core, EDGE_PX) & (labels == -1)
    rgb = frame.astype(np.float64)
    background = np.median(rgb[ring], axis=0) if ring.any() else np.full(3, 255.0)
    line = background - np.asarray(COLORS[color], dtype=np.float64)
    ys, xs = np.nonzero(region if float(np.linalg.norm(line)) >= MIN_CONTRAST else core)
    if float(np.linalg.norm(line)) >= MIN_CONTRAST:
        alpha = np.clip(((background - rgb[ys, xs]) @ line) / (line @ line), 0.0, 1.0)
    else:  # an object the colour of its background: fall back to the binary mask
        alpha = np.ones(len(ys))
    total = float(alpha.sum())
    centre = np.array([(alpha * xs).sum(), (alpha * ys).sum()]) / max(total, 1e-9)
    border = bool(core[0].any() or core[-1].any() or core[:, 0].any() or core[:, -1].any())
    return _Measure(centre, total, core, border)


def _merge_fragments(frame: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Blobs of the last frame as (colour, mask), fragments of one colour within 2·EDGE_PX merged."""
    blobs: list[tuple[str, np.ndarray]] = []
    for det in detect_objects(frame):
        for k, (color, mask) in enumerate(blobs):
            if color == det.color and (_grow(mask, 2 * EDGE_PX) & det.mask).any():
                blobs[k] = (color, mask | det.mask)
                break
        else:
            blobs.append((det.color, det.mask))
    return blobs


def _follow(
    labels: np.ndarray, colors: list[str], centres: list[np.ndarray], reach: list[float], step: float
) -> list[np.ndarray | None]:
    """Each object's mask in an earlier frame: pixels of its colour within reach + step px of its predicted
    centre, each pixel given to the nearest object of that colour (None where under 2 pixels)."""
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w]
    dist = [np.hypot(xx - c[0], yy - c[1]) for c in centres]  # (H, W) each
    out: list[np.ndarray | None] = []
    for k, color in enumerate(colors):
        mask = (labels == tuple(COLORS).index(color)) & (dist[k] <= reach[k] + step)
        for j, other in enumerate(colors):
            if j != k and other == color:
                mask &= dist[k] <= dist[j]
        out.append(mask if mask.sum() >= 2 else None)
    return out


def _velocity_px(centres: np.ndarray, fps: float) -> np.ndarray:
    """Velocity (px/s) at the first of `centres (n, 2)` (last frame first, n >= 2). n >= 4: the slope of a
    least-squares parabola (exact for constant acceleration; at 5 frames its noise gain is 1.1 against the
    three-point formula's 2.5), unless its residual shows a contact inside the window; n = 3: the
    three-point one-sided difference; n = 2: the backward difference."""
    n = len(centres)
    if n >= 4:
        t = -np.arange(n) / fps  # seconds, 0 at the last frame
        basis = np.stack([np.ones(n), t, t * t], 1)  # (n, 3)
        coef, *_ = np.linalg.lstsq(basis, centres, rcond=None)  # (3, 2)
        if np.abs(basis @ coef - centres).max() <= FIT_RESIDUAL_PX:
            return coef[1]
    if n >= 3:
        return (3 * centres[0] - 4 * centres[1] + centres[2]) * fps / 2
    return (centres[0] - centres[1]) * fps


def _prompt_objects(prompt_parse: PromptParse | None, states: list[ObjectState]) -> list[ObjectSpec | None]:
    """The prompt object each state matches: same colour and shape first, then same colour; each once."""
    if prompt_parse is None:
        return [None] * len(states)
    free = list(prompt_parse.spec.objects)
    out: list[ObjectSpec | None] = [None] * len(states)
    for same_shape in (True, False):
        for k, st in enumerate(states):
            if out[k] is not None:
                continue
            for obj in free:
                if obj.color == st.color and (obj.shape == st.shape or not same_shape):
                    out[k] = obj
                    free.remove(obj)
                    break
    return out


def estimate_state(
    frames: np.ndarray, *, fps: float, prompt_parse: PromptParse | None = None
) -> list[ObjectState]:
    """Objects at the last of `frames` (uint8 `(T, H, W, 3)`, or anything `parser.as_frames` takes), in
    the order `detect_objects` finds them (by colour, then blob). See the module docstring."""
    frames = as_frames(frames)
    t, h, _, _ = frames.shape
    scale = 10.0 / h  # world units per pixel (the world is 10 high)
    used = frames[max(0, t - FIT_FRAMES) :][::-1]  # last frame first
    labels = [color_labels(f) for f in used]
    blobs = _merge_fragments(used[0])
    tracks: list[list[_Measure | None]] = [[_measure(used[0], labels[0], c, m)] for c, m in blobs]
    colors = [c for c, _ in blobs]
    # the farthest a shape's pixel can be from its centre, from its area (the triangle is the thinnest)
    reach = [math.sqrt(tr[0].area / math.pi / FILL["triangle"]) + 1.0 for tr in tracks]
    for i in range(1, len(used)):
        centres = []
        for tr in tracks:  # predicted centres: the last one, moved on by the last step when there is one
            seen = [m.centre for m in tr if m is not None]
            centres.append(seen[-1] if len(seen) < 2 else 2 * seen[-1] - seen[-2])
        masks = _follow(labels[i], colors, centres, reach, MAX_STEP * h / fps)
        for tr, color, mask in zip(tracks, colors, masks):
            found = mask is not None and tr[-1] is not None  # a lost object is not picked up again
            tr.append(_measure(used[i], labels[i], color, mask) if found else None)

    states = []
    for (color, _), tr in zip(blobs, tracks):
        whole = [m for m in tr if m is not None and not m.touches_border]
        votes = [s for s in (classify_shape(m.core) for m in whole) if s != "unknown"]
        # the most common shape, a tie going to the latest frame (votes run from the last frame back)
        shape = max(votes, key=lambda v: (votes.count(v), -votes.index(v))) if votes else None
        best = max(whole, key=lambda m: m.area) if whole else tr[0]
        size = math.sqrt(best.area / math.pi / FILL[shape or "circle"]) * scale
        cx, cy = tr[0].centre
        position = ((cx + 0.5) * scale, 10.0 - (cy + 0.5) * scale)
        # a border-cut object's visible centre moves differently from the object: not trusted
        trusted = []
        for m in tr:
            if m is None or m.touches_border:
                break
            trusted.append(m.centre)
        velocity = _velocity_px(np.array(trusted), fps) if len(trusted) >= 2 else None
        states.append(
            ObjectState(
                color=color,
                shape=shape or "unknown",
                size=size,
                position=(float(position[0]), float(position[1])),
                velocity=(0.0, 0.0)
                if velocity is None
                else (float(velocity[0] * scale), float(-velocity[1] * scale)),
                velocity_from="frames" if velocity is not None else "rest",
            )
        )
    # the prompt fills in what the frames could not tell: a shape too small to classify, a velocity
    for st, obj in zip(states, _prompt_objects(prompt_parse, states)):
        if st.shape == "unknown":
            st.shape = obj.shape if obj is not None else "circle"
            st.size = st.size * math.sqrt(FILL["circle"] / FILL[st.shape])
        if st.velocity_from == "rest" and obj is not None:
            st.velocity, st.velocity_from = tuple(obj.velocity), "prompt"
    return states


def scene_from_state(
    states: list[ObjectState],
    *,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    prompt_parse: PromptParse | None = None,
) -> SceneSpec:
    """A `SceneSpec` whose frame 0 is the estimated state; gravity, walls, camera and background from the
    prompt's scene when given (else none), and a matched prompt object's spin."""
    base = prompt_parse.spec if prompt_parse is not None else SceneSpec(width=width, height=height)
    objects = []
    for st, obj in zip(states, _prompt_objects(prompt_parse, states)):
        objects.append(
            ObjectSpec(
                shape=st.shape if st.shape != "unknown" else "circle",
                color=st.color,
                size=float(np.clip(st.size, 0.06, 5.0)),
                position=st.position,
                velocity=tuple(float(np.clip(v, -1e3, 1e3)) for v in st.velocity),
                angular_velocity=obj.angular_velocity if obj is not None else 0.0,
            )
        )
    if len(objects) > 16:
        raise InvalidInputError(
            f"The frames show {len(objects)} objects; a scene holds at most 16, so give frames with fewer."
        )
    return SceneSpec(
        objects=objects,
        world_size=(10.0 * width / height, 10.0),
        gravity=base.gravity,
        walls=base.walls,
        num_frames=num_frames,
        fps=fps,
        width=width,
        height=height,
        background=base.background,
        camera=base.camera,
        scenario="state",
        params={"prompt": prompt_parse.prompt} if prompt_parse is not None else {},
    )
