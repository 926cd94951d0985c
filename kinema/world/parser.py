"""Object parser/tracker: frames → per-object tracks in pixel and world units.

Two detectors:

- **Paper** (`parse_video`, the default): the seed paper's colour thresholds (arXiv 2411.02385) — red is
  `R > 127 and G < 127 and B < 127`, blue is `B > 127 and R < 127 and G < 127`. All pixels of a colour form
  one object: centre = mean of the mask's pixel positions, radius = sqrt(area / π).
- **Shape-aware** (`detect_objects`, `track_objects`): every pixel is assigned to the nearest named colour
  (`kinema.world.spec.COLORS`) when it is close enough; connected components of each colour are objects;
  the shape is classified from the fill ratio `area / (π R²)` (R = farthest mask pixel from the centre;
  ≈1 circle, 2/π square, 0.41 triangle) and holes (a ring has one).

Pixel coordinates put pixel (row i, col j) at `(x_px, y_px) = (j, i)`. World coordinates assume the camera at
rest: the frame shows `[0, world_w] x [0, world_h]` with y up, so `x = (x_px + 0.5) · world_h / H`,
`y = world_h - (y_px + 0.5) · world_h / H`.

**Visibility.** `visible` = the object was found in the frame. `fully_visible` = found, its mask does not
touch the frame border, and its area is within 25 % of the track's median fully-inside area (so a ball
partly hidden behind another is not trusted). Positions are NaN where not found — a missing object is
reported as missing, never interpolated. Velocities (finite differences of the centre) use only
fully-visible frames: central differences where both neighbours are fully visible, else the three-point
one-sided formula (exact for constant acceleration, like the central one), else NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from kinema.errors import InvalidInputError
from kinema.world.spec import COLORS

PAPER_COLORS: tuple[str, ...] = ("red", "blue")
THRESHOLD = 127
AREA_TOLERANCE = 0.25  # fully visible: area within 25 % of the track's median
MIN_AREA = 2  # pixels; smaller blobs are noise
# Shape classification by fill ratio area / (π (reach + pad)²): ideal values are 1 (circle), 2/π = 0.64
# (square), 0.41 (triangle); the thresholds sit between the ranges measured on renders of 4-20 px shapes.
MIN_SHAPE_REACH = 3.5  # px; smaller blobs are "unknown" (a 3-px disc and a 3-px square look alike)
REACH_PAD = 0.35
CIRCLE_FILL = 0.80
SQUARE_FILL = 0.58


@dataclass
class ObjectTrack:
    """One object over T frames. NaN / False where the object was not found."""

    name: str
    color: str
    shape: str | None
    centre_px: np.ndarray  # (T, 2)
    radius_px: np.ndarray  # (T,) sqrt(area / π)
    area_px: np.ndarray  # (T,)
    visible: np.ndarray  # (T,) bool, found
    fully_visible: np.ndarray  # (T,) bool
    centre_world: np.ndarray  # (T, 2)
    radius_world: np.ndarray  # (T,)
    velocity_world: np.ndarray  # (T, 2) world units / s
    velocity_px: np.ndarray  # (T, 2) pixels / s

    def drift_px(self, axis: int = 0) -> float:
        """Least-squares speed along an image axis (0 = x rightwards, 1 = y downwards) in px per frame, over
        the frames where the object was found; NaN when it was found in fewer than 2."""
        t = np.flatnonzero(self.visible)
        if len(t) < 2:
            return float("nan")
        return float(np.polyfit(t, self.centre_px[t, axis], 1)[0])


@dataclass
class Tracks:
    """All tracks of a clip, by name (for the paper parser: "red", "blue")."""

    objects: dict[str, ObjectTrack]
    fps: float
    world_size: tuple[float, float]
    width: int
    height: int
    num_frames: int
    shapes: dict[str, str | None] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ObjectTrack:
        return self.objects[name]

    def __contains__(self, name: str) -> bool:
        return name in self.objects

    def __iter__(self):
        return iter(self.objects.values())

    def __len__(self) -> int:
        return len(self.objects)

    def most_seen(self, color: str | None = None) -> ObjectTrack | None:
        """The track (of `color`, if given) found in the most frames; None when there is none."""
        mine = [tr for tr in self if color is None or tr.color == color]
        return max(mine, key=lambda tr: int(tr.visible.sum()), default=None)

    def as_array(self, names: list[str] | None = None) -> np.ndarray:
        """`(K, T, 3)` float32 [x_px, y_px, visible] (0, 0, 0 where missing) in the order of `names`."""
        names = list(self.objects) if names is None else names
        out = np.zeros((len(names), self.num_frames, 3), dtype=np.float32)
        for k, n in enumerate(names):
            if n in self.objects:
                tr = self.objects[n]
                out[k, :, :2] = np.nan_to_num(tr.centre_px)
                out[k, :, 2] = tr.visible
        return out


# --- input ----------------------------------------------------------------------------------------------


def as_frames(video) -> np.ndarray:
    """Accept uint8 `(T, H, W, 3)` (numpy or torch), a float tensor `(3, T, H, W)` in [-1, 1], or a video path."""
    if isinstance(video, (str, Path)):
        from kinema.io.video import read_video

        frames, _ = read_video(str(video))
        return np.asarray(frames)
    if isinstance(video, torch.Tensor):
        if video.dtype == torch.uint8:
            video = video.cpu().numpy()
        elif video.ndim == 4 and video.shape[0] == 3:
            x = ((video.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            video = x.permute(1, 2, 3, 0).numpy()  # (T, H, W, 3)
        else:
            raise InvalidInputError(
                f"a float video tensor must be (3, T, H, W) in [-1, 1], got shape {tuple(video.shape)}"
            )
    video = np.asarray(video)
    if video.ndim == 3 and video.shape[-1] == 3:
        video = video[None]
    if video.ndim != 4 or video.shape[-1] != 3:
        raise InvalidInputError(f"frames must be uint8 (T, H, W, 3), got shape {video.shape}")
    if video.dtype != np.uint8:
        raise InvalidInputError(f"frames must be uint8 (T, H, W, 3), got dtype {video.dtype}")
    return video


# --- masks ----------------------------------------------------------------------------------------------


def paper_mask(frames: np.ndarray, color: str) -> np.ndarray:
    """The paper's threshold mask `(T, H, W)` bool for "red" or "blue"."""
    r, g, b = (frames[..., i].astype(np.int16) for i in range(3))
    if color == "red":
        return (r > THRESHOLD) & (g < THRESHOLD) & (b < THRESHOLD)
    if color == "blue":
        return (b > THRESHOLD) & (r < THRESHOLD) & (g < THRESHOLD)
    raise InvalidInputError(f"the paper parser knows only red and blue, got {color!r}")


def color_labels(frames: np.ndarray, colors: tuple[str, ...] | None = None) -> np.ndarray:
    """Nearest named colour per pixel → `(..., H, W)` int (index into `colors`, -1 = none/background)."""
    names = tuple(COLORS) if colors is None else colors
    palette = np.array([COLORS[c] for c in names], dtype=np.float32)  # (C, 3)
    gaps = np.linalg.norm(palette[:, None] - palette[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    radius = min(70.0, 0.45 * float(gaps.min())) if len(names) > 1 else 70.0
    px = frames.astype(np.float32)
    dist = np.linalg.norm(px[..., None, :] - palette, axis=-1)  # (..., H, W, C)
    best = dist.argmin(-1)
    return np.where(np.take_along_axis(dist, best[..., None], -1)[..., 0] < radius, best, -1)


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a 2D bool mask → (labels (H, W) int, 0 = background, count)."""
    h, w = mask.shape
    big = h * w + 1
    lab = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), big)
    while True:  # propagate the minimum label until stable (≈ object diameter iterations)
        new = lab.copy()
        new[1:] = np.minimum(new[1:], lab[:-1])
        new[:-1] = np.minimum(new[:-1], lab[1:])
        new[:, 1:] = np.minimum(new[:, 1:], lab[:, :-1])
        new[:, :-1] = np.minimum(new[:, :-1], lab[:, 1:])
        new = np.where(mask, new, big)
        if np.array_equal(new, lab):
            break
        lab = new
    uniq, inv = np.unique(lab, return_inverse=True)
    inv = inv.reshape(h, w)
    n = len(uniq) - (1 if uniq[-1] == big else 0)
    return np.where(mask, inv + 1, 0), n


def count_holes(mask: np.ndarray) -> int:
    """Holes in one blob: background components not connected to the (padded) border."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return 0
    sub = np.pad(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 1)
    _, n = connected_components(~sub)
    return n - 1


def classify_shape(mask: np.ndarray) -> str:
    """circle / square / triangle / ring from one blob's mask (rotation-invariant); "unknown" when the blob
    is too small to tell (farthest pixel < MIN_SHAPE_REACH px from its centre)."""
    ys, xs = np.nonzero(mask)
    if len(ys) < MIN_AREA:
        return "unknown"
    cy, cx = ys.mean(), xs.mean()
    reach = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2).max()
    if reach < MIN_SHAPE_REACH:
        return "unknown"
    if count_holes(mask) >= 1:
        return "ring"
    # + REACH_PAD: from the farthest pixel centre to the shape's edge (calibrated on renders, 4-20 px)
    fill = len(ys) / (np.pi * (reach + REACH_PAD) ** 2)
    if fill > CIRCLE_FILL:
        return "circle"
    if fill > SQUARE_FILL:
        return "square"
    return "triangle"


# --- tracks ---------------------------------------------------------------------------------------------


def _finite_difference(pos: np.ndarray, ok: np.ndarray, dt: float) -> np.ndarray:
    """Velocity `(T, 2)` from positions `(T, 2)` trusted where `ok`; NaN where no usable neighbours."""
    t = len(pos)
    vel = np.full_like(pos, np.nan)
    for i in range(t):
        if not ok[i]:
            continue
        prev1, next1 = i >= 1 and ok[i - 1], i + 1 < t and ok[i + 1]
        if prev1 and next1:
            vel[i] = (pos[i + 1] - pos[i - 1]) / (2 * dt)
        elif next1 and i + 2 < t and ok[i + 2]:
            vel[i] = (-3 * pos[i] + 4 * pos[i + 1] - pos[i + 2]) / (2 * dt)
        elif prev1 and i >= 2 and ok[i - 2]:
            vel[i] = (3 * pos[i] - 4 * pos[i - 1] + pos[i - 2]) / (2 * dt)
        elif next1:
            vel[i] = (pos[i + 1] - pos[i]) / dt
        elif prev1:
            vel[i] = (pos[i] - pos[i - 1]) / dt
    return vel


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def build_track(
    name: str,
    color: str,
    shape: str | None,
    masks: list[np.ndarray | None],
    fps: float,
    world_size: tuple[float, float],
    weights: np.ndarray | None = None,
) -> ObjectTrack:
    """Track from one mask per frame (None or empty = not found). With `weights (T, H, W)` (soft coverage in
    [0, 1]) the centre is the coverage-weighted mean over the mask grown by one pixel, and the radius comes
    from the summed coverage; visibility still comes from the masks."""
    t = len(masks)
    h = next((m.shape[0] for m in masks if m is not None), 1)
    centre = np.full((t, 2), np.nan)
    area = np.zeros(t)
    inside = np.zeros(t, dtype=bool)
    for i, m in enumerate(masks):
        if m is None:
            continue
        ys, xs = np.nonzero(m)
        if len(ys) < MIN_AREA:
            continue
        centre[i] = xs.mean(), ys.mean()
        area[i] = len(ys)
        inside[i] = not _touches_border(m)
        if weights is not None:
            grown = m.copy()  # the edge pixels (coverage < 0.5) sit just outside the threshold mask
            grown[1:] |= m[:-1]
            grown[:-1] |= m[1:]
            grown[:, 1:] |= m[:, :-1]
            grown[:, :-1] |= m[:, 1:]
            wy, wx = np.nonzero(grown)
            wt = weights[i][wy, wx]
            soft = wt.sum()
            if soft > 0:
                centre[i] = (wt * wx).sum() / soft, (wt * wy).sum() / soft
                area[i] = soft
    visible = area > 0
    full = inside.copy()
    if full.any():
        median = np.median(area[full])
        full &= np.abs(area - median) <= AREA_TOLERANCE * median
    radius = np.where(visible, np.sqrt(area / np.pi), np.nan)
    scale = world_size[1] / h  # world units per pixel (camera at rest)
    world = np.stack([(centre[:, 0] + 0.5) * scale, world_size[1] - (centre[:, 1] + 0.5) * scale], -1)
    v_px = _finite_difference(centre, full, 1.0 / fps)
    v_world = v_px * np.array([scale, -scale])
    return ObjectTrack(
        name=name,
        color=color,
        shape=shape,
        centre_px=centre,
        radius_px=radius,
        area_px=np.where(visible, area, np.nan),
        visible=visible,
        fully_visible=full,
        centre_world=world,
        radius_world=radius * scale,
        velocity_world=v_world,
        velocity_px=v_px,
    )


def parse_video(
    video,
    world_size: tuple[float, float] = (10.0, 10.0),
    fps: float = 10.0,
    colors: tuple[str, ...] = PAPER_COLORS,
    centre: str = "mask",
) -> Tracks:
    """The paper's parser: one track per colour ("red", "blue") from the colour-threshold masks.

    `centre="mask"` (default, the paper's): centre = mean of the mask's pixels, radius = sqrt(area / π).
    `centre="soft"`: sub-pixel centre from each pixel's colour strength (red: (R − max(G, B)) / 255), valid
    on a white background; it removes most of the binary mask's quantisation jitter."""
    if centre not in ("mask", "soft"):
        raise InvalidInputError(f"centre must be 'mask' or 'soft', got {centre!r}")
    frames = as_frames(video)
    t, h, w, _ = frames.shape
    objects = {}
    rgb = frames.astype(np.float32) if centre == "soft" else None
    for color in colors:
        mask = paper_mask(frames, color)  # (T, H, W)
        weights = None
        if rgb is not None:
            on = 0 if color == "red" else 2
            off = np.maximum(rgb[..., 1], rgb[..., 2 - on])
            weights = np.clip((rgb[..., on] - off) / 255.0, 0.0, 1.0)  # (T, H, W) coverage on white
        objects[color] = build_track(color, color, "circle", list(mask), fps, world_size, weights)
    return Tracks(objects, fps, tuple(world_size), w, h, t, {c: "circle" for c in colors})


@dataclass
class Detection:
    """One blob in one frame."""

    color: str
    shape: str
    centre_px: tuple[float, float]
    area_px: int
    size_px: float  # sqrt(area / π)
    touches_border: bool
    mask: np.ndarray = field(repr=False)


def detect_objects(frame: np.ndarray, colors: tuple[str, ...] | None = None) -> list[Detection]:
    """Shape-aware detection in one uint8 `(H, W, 3)` frame: connected blobs of each named colour."""
    names = tuple(COLORS) if colors is None else colors
    labels = color_labels(frame, names)  # (H, W)
    out = []
    for ci, cname in enumerate(names):
        mask = labels == ci
        if mask.sum() < MIN_AREA:
            continue
        comp, n = connected_components(mask)
        for j in range(1, n + 1):
            blob = comp == j
            ys, xs = np.nonzero(blob)
            if len(ys) < MIN_AREA:
                continue
            out.append(
                Detection(
                    color=cname,
                    shape=classify_shape(blob),
                    centre_px=(float(xs.mean()), float(ys.mean())),
                    area_px=int(len(ys)),
                    size_px=float(np.sqrt(len(ys) / np.pi)),
                    touches_border=_touches_border(blob),
                    mask=blob,
                )
            )
    return out


def track_objects(
    video,
    world_size: tuple[float, float] = (10.0, 10.0),
    fps: float = 10.0,
    colors: tuple[str, ...] | None = None,
    max_jump_px: float | None = None,
) -> Tracks:
    """Shape-aware tracking: detections linked frame to frame by colour and nearest centre.

    Each track is named "<colour> <shape>" (with " 2", " 3"… for repeats); its shape is the most common
    classification over frames where it is fully inside the frame. A detection farther than `max_jump_px`
    (default a quarter of the frame height) from every live track of its colour starts a new track.
    """
    frames = as_frames(video)
    t, h, w, _ = frames.shape
    jump = max_jump_px if max_jump_px is not None else h / 4
    tracks: list[dict] = []  # {"color", "masks": [T], "last": (x, y), "shapes": []}
    for i in range(t):
        dets = detect_objects(frames[i], colors)
        used: set[int] = set()
        # greedy: closest (track, detection) pairs first
        pairs = []
        for ti, tr in enumerate(tracks):
            for di, d in enumerate(dets):
                if d.color == tr["color"]:
                    dist = float(np.hypot(d.centre_px[0] - tr["last"][0], d.centre_px[1] - tr["last"][1]))
                    if dist <= jump:
                        pairs.append((dist, ti, di))
        taken_tracks: set[int] = set()
        for _, ti, di in sorted(pairs):
            if ti in taken_tracks or di in used:
                continue
            taken_tracks.add(ti)
            used.add(di)
            tr, d = tracks[ti], dets[di]
            tr["masks"][i] = d.mask
            tr["last"] = d.centre_px
            if not d.touches_border:
                tr["shapes"].append(d.shape)
        for di, d in enumerate(dets):
            if di not in used:
                masks: list[np.ndarray | None] = [None] * t
                masks[i] = d.mask
                tracks.append(
                    {
                        "color": d.color,
                        "masks": masks,
                        "last": d.centre_px,
                        "shapes": [d.shape] * (not d.touches_border),
                    }
                )
    objects: dict[str, ObjectTrack] = {}
    shapes: dict[str, str | None] = {}
    for tr in tracks:
        shape = max(set(tr["shapes"]), key=tr["shapes"].count) if tr["shapes"] else None
        base = f"{tr['color']} {shape or 'object'}"
        name, n = base, 2
        while name in objects:
            name, n = f"{base} {n}", n + 1
        objects[name] = build_track(name, tr["color"], shape, tr["masks"], fps, world_size)
        shapes[name] = shape
    return Tracks(objects, fps, tuple(world_size), w, h, t, shapes)


@dataclass
class AlignedTracks:
    """Parser output lined up with a spec's objects (row k = `spec.objects[k]`); NaN / False where missing."""

    centre_world: np.ndarray  # (K, T, 2)
    velocity_world: np.ndarray  # (K, T, 2)
    radius_world: np.ndarray  # (K, T)
    visible: np.ndarray  # (K, T) found
    fully_visible: np.ndarray  # (K, T)
    names: list[str | None]  # the track each object was matched to (None = never found)


def align_to_spec(tracks: Tracks, spec) -> AlignedTracks:
    """Match each spec object to a track of its colour (and shape, when the track has one): the closest
    initial position wins; each track serves one object. `spec` is a `SceneSpec`."""
    k, t = len(spec.objects), tracks.num_frames
    out = AlignedTracks(
        centre_world=np.full((k, t, 2), np.nan),
        velocity_world=np.full((k, t, 2), np.nan),
        radius_world=np.full((k, t), np.nan),
        visible=np.zeros((k, t), dtype=bool),
        fully_visible=np.zeros((k, t), dtype=bool),
        names=[None] * k,
    )
    used: set[str] = set()
    for j, obj in enumerate(spec.objects):
        best, best_d = None, np.inf
        for name, tr in tracks.objects.items():
            if name in used or tr.color != obj.color or (tr.shape not in (None, "unknown", obj.shape)):
                continue
            seen = np.flatnonzero(tr.visible)
            if len(seen) == 0:
                continue
            d = float(np.hypot(*(tr.centre_world[seen[0]] - np.asarray(obj.position))))
            if d < best_d:
                best, best_d = name, d
        if best is None:
            continue
        used.add(best)
        tr = tracks.objects[best]
        out.names[j] = best
        out.centre_world[j], out.velocity_world[j], out.radius_world[j] = (
            tr.centre_world,
            tr.velocity_world,
            tr.radius_world,
        )
        out.visible[j], out.fully_visible[j] = tr.visible, tr.fully_visible
    return out
