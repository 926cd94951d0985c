"""Batched renderer: soft-edged shapes over flat or textured backgrounds, seen through the virtual camera.

Every pixel is mapped back to the world plane through the inverse of its frame's homography
(`kinema.world.camera`), so camera motion, any resolution and any aspect ratio come for free. Shapes are
drawn from signed distance functions with a 1-pixel linear ramp (`alpha = clamp(0.5 - d / pixel, 0, 1)`),
which approximates exact area coverage: a disc's alpha-weighted centroid equals its centre to well under a
tenth of a pixel. Objects are composited in order (later ones on top).

The core, `render_batch`, works on torch tensors for a batch of clips at once; `render_scene` is the
one-clip convenience that takes a `SceneSpec` and simulated states and returns uint8 frames + ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kinema.world.camera import apply_homography, camera_homographies, camera_vector
from kinema.world.spec import SHAPES, BackgroundSpec, CameraSpec, SceneSpec

SHAPE_IDS: dict[str, int] = {name: i for i, name in enumerate(SHAPES)}
RING_INNER = 0.55  # a ring's inner radius as a fraction of its outer radius
BG_KINDS: dict[str, int] = {"flat": 0, "checker": 1, "grid": 2, "noise": 3}
GRID_LINE = 0.08  # grid line width as a fraction of the cell
WALL_COLOR = (90, 90, 90)  # far from every object colour (kinema.world.spec.COLORS) and from the textures


@dataclass
class Background:
    """Batched background parameters (one row per clip); colours in 0..1."""

    kind: torch.Tensor  # (B,) long, values of BG_KINDS
    color: torch.Tensor  # (B, 3)
    color2: torch.Tensor  # (B, 3)
    cell: torch.Tensor  # (B,)
    seed: torch.Tensor  # (B,) long
    walls: torch.Tensor | None = None  # (B, 4) bool: floor, ceiling, left, right (drawn outside the world)
    world: torch.Tensor | None = None  # (B, 2) world width, height

    @property
    def has_walls(self) -> bool:
        return self.walls is not None and bool(self.walls.any())

    def to(self, device: torch.device | str) -> Background:
        fields = ("kind", "color", "color2", "cell", "seed", "walls", "world")
        return Background(
            *(None if getattr(self, f) is None else getattr(self, f).to(device) for f in fields)
        )

    @classmethod
    def from_specs(cls, specs: list[BackgroundSpec], scenes: list[SceneSpec] | None = None) -> Background:
        """From background specs; with `scenes`, the walls of scenes whose camera moves are drawn (with a
        camera at rest the walls lie exactly on the frame border, out of view)."""
        walls = world = None
        if scenes is not None:
            flags = [
                [s.walls.floor, s.walls.ceiling, s.walls.left, s.walls.right]
                if not s.camera.is_static
                else [False] * 4
                for s in scenes
            ]
            walls = torch.tensor(flags, dtype=torch.bool)
            world = torch.tensor([s.world_size for s in scenes], dtype=torch.float32)
        return cls(
            kind=torch.tensor([BG_KINDS[s.kind] for s in specs], dtype=torch.long),
            color=torch.tensor([s.color for s in specs], dtype=torch.float32) / 255.0,
            color2=torch.tensor([s.color2 for s in specs], dtype=torch.float32) / 255.0,
            cell=torch.tensor([s.cell for s in specs], dtype=torch.float32),
            seed=torch.tensor([s.seed for s in specs], dtype=torch.long),
            walls=walls,
            world=world,
        )


def _hash01(i: torch.Tensor, j: torch.Tensor, seed: torch.Tensor) -> torch.Tensor:
    """A deterministic integer hash of lattice points → [0, 1) (same bytes on every machine)."""
    h = (i * 73856093) ^ (j * 19349663) ^ (seed * 83492791 + 12345)
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFF).to(torch.float32) / 65536.0


def _texture(kind: int, x, y, upp, cell, seed) -> torch.Tensor:
    """Mix factor in [0, 1] of one texture kind at world points `(b, T, H, W)`; cell, seed `(b, 1, 1, 1)`."""
    gx, gy = x / cell, y / cell
    fx, fy = gx - torch.floor(gx), gy - torch.floor(gy)
    border = torch.minimum(torch.minimum(fx, 1 - fx), torch.minimum(fy, 1 - fy)) * cell  # world units
    if kind == 1:  # checker: alternate cells, softened over one pixel across each border
        parity = (torch.floor(gx) + torch.floor(gy)).remainder(2.0)
        return 0.5 + (parity - 0.5) * (2 * border / upp).clamp(0, 1)
    if kind == 2:  # grid: thin anti-aliased lines on the cell borders
        return (0.5 + (GRID_LINE * cell / 2 - border) / upp).clamp(0, 1)
    # noise: smooth bilinear value noise on the cell lattice
    ix, iy = torch.floor(gx).long(), torch.floor(gy).long()
    n00, n10 = _hash01(ix, iy, seed), _hash01(ix + 1, iy, seed)
    n01, n11 = _hash01(ix, iy + 1, seed), _hash01(ix + 1, iy + 1, seed)
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    return (n00 * (1 - sx) + n10 * sx) * (1 - sy) + (n01 * (1 - sx) + n11 * sx) * sy


def _background(bg: Background, x: torch.Tensor, y: torch.Tensor, upp: torch.Tensor) -> torch.Tensor:
    """Background colour at world points `x, y (B, T, H, W)`; `upp` = world units per pixel. → (B,T,H,W,3).

    Each texture is evaluated only on the clips that use it."""
    b = x.shape[0]
    c1 = bg.color.view(b, 1, 1, 1, 3)
    c2 = bg.color2.view(b, 1, 1, 1, 3)
    img = c1.expand(*x.shape, 3).clone()
    for kind in (1, 2, 3):
        idx = (bg.kind == kind).nonzero().flatten()
        if len(idx) == 0:
            continue
        cell = bg.cell[idx].view(-1, 1, 1, 1)
        seed = bg.seed[idx].view(-1, 1, 1, 1)
        mix = _texture(kind, x[idx], y[idx], upp[idx], cell, seed).unsqueeze(-1)
        img[idx] = c1[idx] + (c2[idx] - c1[idx]) * mix
    if bg.has_walls:  # solid walls beyond the world's borders, anti-aliased over one pixel
        idx = bg.walls.any(1).nonzero().flatten()
        ww = bg.world[idx, 0].view(-1, 1, 1, 1)
        wh = bg.world[idx, 1].view(-1, 1, 1, 1)
        xs, ys = x[idx], y[idx]
        beyond = torch.stack(
            [-ys, ys - wh, -xs, xs - ww], dim=-1
        )  # (n, T, H, W, 4) world units past each wall
        flags = bg.walls[idx].view(-1, 1, 1, 1, 4)
        cover = ((0.5 + beyond / upp[idx].unsqueeze(-1)).clamp(0, 1) * flags).amax(-1, keepdim=True)
        wall = torch.tensor(WALL_COLOR, dtype=img.dtype, device=img.device) / 255.0
        img[idx] = img[idx] + (wall - img[idx]) * cover
    return img  # (B, T, H, W, 3)


def shape_sdf(shape: torch.Tensor, px: torch.Tensor, py: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Signed distance (world units, negative inside) of each shape in its own frame (centred, unrotated).

    `shape` and `size` broadcast against `px, py`; `size` is the circumradius. Only the shapes present are
    evaluated (the paper's scenes are all circles).
    """
    present = set(torch.unique(shape).tolist())
    r = torch.sqrt(px * px + py * py)
    out = r - size  # circle
    if 1 in present:  # square with circumradius `size` (half side size/sqrt 2)
        half = size / np.sqrt(2.0)
        qx, qy = px.abs() - half, py.abs() - half
        outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
        out = torch.where(shape == 1, outside + torch.maximum(qx, qy).clamp(max=0), out)
    if 2 in present:  # equilateral triangle, apex up, centroid at the origin, half side = size*sqrt3/2
        k = np.sqrt(3.0)
        hs = size * k / 2
        tx = px.abs() - hs
        ty = py + hs / k
        fold = tx + k * ty > 0
        tx, ty = torch.where(fold, (tx - k * ty) / 2, tx), torch.where(fold, (-k * tx - ty) / 2, ty)
        tx = tx - torch.minimum(torch.maximum(tx, -2 * hs), torch.zeros_like(tx))
        out = torch.where(shape == 2, -torch.sqrt(tx * tx + ty * ty) * torch.sign(ty), out)
    if 3 in present:  # ring: annulus between RING_INNER*size and size
        mid = size * (1 + RING_INNER) / 2
        out = torch.where(shape == 3, (r - mid).abs() - size * (1 - RING_INNER) / 2, out)
    return out


def _pixel_to_world_matrices(
    homographies: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 matrices `(B, T, 3, 3)` from frame-centred pixel coordinates to homogeneous world points, and
    `|det|` `(B, T)` of the pixel → world map. Centring keeps float32 precise to well under a millipixel."""
    inv = torch.linalg.inv(homographies)  # (B, T, 3, 3) float64
    cx, cy = (width - 1) / 2, (height - 1) / 2
    shift = torch.tensor(
        [[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]], dtype=inv.dtype, device=inv.device
    )
    return (inv @ shift).float(), torch.linalg.det(inv).abs().float()


def _world_at(
    m: torch.Tensor, det: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """World `(x, y)`, world units per pixel and ray validity at frame-centred pixel coordinates.

    m (n, T, 3, 3), det (n, T); xs (.., 1, S) and ys (.., S, 1) broadcast to (n, T, S_y, S_x). Each pixel's
    value depends only on its own coordinates, so any window over the frame gives the same bytes."""
    n, t = m.shape[:2]

    def row(i: int) -> torch.Tensor:
        c = m[:, :, i].reshape(n, t, 1, 1, 3)
        return c[..., 0] * xs + c[..., 1] * ys + c[..., 2]

    w = row(2)
    valid = w > 1e-6
    w_safe = torch.where(valid, w, torch.ones_like(w))
    x, y = row(0) / w_safe, row(1) / w_safe
    # |det| of the projective map's Jacobian is det(inv) / w^3 (homogeneous pixel with last coord 1)
    upp = torch.sqrt(det.view(n, t, 1, 1) / w_safe.abs() ** 3)
    return x, y, upp, valid


def pixel_grid_to_world(homographies: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, ...]:
    """World coordinates of every pixel centre: `homographies (B, T, 3, 3)` world→pixel →
    `(x, y, upp, valid)` each `(B, T, H, W)`; `upp` = world units per pixel, `valid` = the ray meets the plane."""
    m, det = _pixel_to_world_matrices(homographies, width, height)
    dev = homographies.device
    ys = torch.arange(height, dtype=torch.float32, device=dev).view(1, 1, height, 1) - (height - 1) / 2
    xs = torch.arange(width, dtype=torch.float32, device=dev).view(1, 1, 1, width) - (width - 1) / 2
    return _world_at(m, det, xs, ys)


def _object_window(
    homographies: torch.Tensor, centers: torch.Tensor, sizes: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, int]:
    """Top-left pixel `(n, T, 2)` long and side S of a square window that holds each object in every frame.

    homographies (n, T, 3, 3) float64, centers (n, T, 2) float64 world, sizes (n,) circumradius.
    An object that would cover more than the frame (a strong zoom, or a tilted camera that puts it near
    the horizon, where pixels per world unit grow without bound) gets the frame itself as its window:
    only pixels inside the frame are drawn, so a bigger window would cost memory and draw nothing more.
    """
    ph = torch.cat([centers, torch.ones_like(centers[..., :1])], -1)  # (n, T, 3)
    q = torch.einsum("ntij,ntj->nti", homographies, ph)
    pc = q[..., :2] / q[..., 2:3]  # (n, T, 2) pixel centre
    ppu = torch.sqrt(torch.linalg.det(homographies).abs() / q[..., 2].abs() ** 3)  # pixels per world unit
    radius = (sizes.double().view(-1, 1) * ppu).max().item()
    perspective = bool((homographies[..., 2, :2].abs() > 1e-12).any())
    margin = 1.3 if perspective else 1.0  # a tilted plane stretches objects away from the centre
    frame = max(width, height)
    if not math.isfinite(radius) or margin * radius + 2 >= frame:
        return torch.zeros_like(pc, dtype=torch.long), frame
    side = 2 * math.ceil(margin * radius + 2) + 1  # + 2 px for the 1-px edge ramp and rounding
    origin = torch.round(pc).long() - side // 2
    return origin, side


def render_batch(
    centers: torch.Tensor,
    angles: torch.Tensor,
    sizes: torch.Tensor,
    shapes: torch.Tensor,
    colors: torch.Tensor,
    present: torch.Tensor,
    background: Background,
    homographies: torch.Tensor,
    width: int,
    height: int,
) -> torch.Tensor:
    """Render a batch of clips. Returns float32 `(B, T, H, W, 3)` in [0, 1].

    centers (B, T, K, 2) world; angles (B, T, K) radians ccw; sizes (B, K) circumradius; shapes (B, K) long
    (SHAPE_IDS); colors (B, K, 3) in [0, 1]; present (B, K) bool; homographies (B, T, 3, 3) world → pixel.
    Objects are drawn in a window around each one only (a ball covers a few percent of the frame). The
    result may be a non-contiguous view; call `.contiguous()` if you need one.
    """
    b, t = centers.shape[:2]
    hw = height * width
    dev = homographies.device  # every input on one device (CPU or GPU); the output is there too
    homographies = homographies.double()
    # one spare pixel per frame receives every window pixel that falls outside the frame
    canvas = torch.empty(b, t, hw + 1, 3, device=dev)
    if bool((background.kind == 0).all()) and not background.has_walls:
        # flat: every pixel is the first colour (rays that miss the plane show it too)
        canvas[:, :, :hw] = background.color.view(b, 1, 1, 3)
    else:
        x, y, upp, valid = pixel_grid_to_world(homographies, width, height)  # (B, T, H, W) each
        img = _background(background, x, y, upp)  # (B, T, H, W, 3)
        # rays that miss the plane (only with strong rotations) show the background's first colour
        img = torch.where(valid.unsqueeze(-1), img, background.color.view(-1, 1, 1, 1, 3))
        canvas[:, :, :hw] = img.view(b, t, hw, 3)
    canvas = canvas.view(-1, 3)  # (B * T * (HW + 1), 3)
    m_all, det_all = _pixel_to_world_matrices(homographies, width, height)
    for k in range(centers.shape[2]):
        idx = present[:, k].nonzero().flatten()  # only the clips that have an object k
        if len(idx) == 0:
            continue
        n = len(idx)
        origin, side = _object_window(
            homographies[idx], centers[idx, :, k].double(), sizes[idx, k], width, height
        )
        steps = torch.arange(side, device=dev)
        px = origin[..., 0].view(n, t, 1, 1) + steps.view(1, 1, 1, side)  # (n, T, 1, S) absolute
        py = origin[..., 1].view(n, t, 1, 1) + steps.view(1, 1, side, 1)  # (n, T, S, 1)
        x, y, upp, valid = _world_at(
            m_all[idx], det_all[idx], (px - (width - 1) / 2).float(), (py - (height - 1) / 2).float()
        )  # (n, T, S, S) each
        cx = centers[idx, :, k, 0].float().view(n, t, 1, 1)
        cy = centers[idx, :, k, 1].float().view(n, t, 1, 1)
        a = angles[idx, :, k].float().view(n, t, 1, 1)
        dx, dy = x - cx, y - cy
        ca, sa = torch.cos(a), torch.sin(a)
        lx, ly = ca * dx + sa * dy, -sa * dx + ca * dy  # into the object's frame (rotate by -angle)
        view = (n, 1, 1, 1)
        sdf = shape_sdf(shapes[idx, k].view(view), lx, ly, sizes[idx, k].float().view(view))  # (n, T, S, S)
        alpha = ((0.5 - sdf / upp).clamp(0, 1) * valid).reshape(-1, 1)  # (n * T * S * S, 1)
        inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)  # (n, T, S, S)
        lin = torch.where(inside, py * width + px, torch.full_like(py * px, hw))
        frame = (idx.view(n, 1) * t + torch.arange(t, device=dev).view(1, t)).view(n, t, 1, 1)  # (n, T, 1, 1)
        rows = (frame * (hw + 1) + lin).reshape(-1)  # (n * T * S * S,)
        color = colors[idx, k].view(n, 1, 3).expand(n, t * side * side, 3).reshape(-1, 3)
        old = canvas.index_select(0, rows)
        canvas.index_copy_(0, rows, old + (color - old) * alpha)
    return canvas.view(b, t, hw + 1, 3)[:, :, :hw].unflatten(2, (height, width))  # a view, no copy


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """float [0, 1] → uint8 with rounding (numpy)."""
    return (img * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class GroundTruth:
    """Per-frame truth of one clip. `states (T, K, 6)` = x, y, vx, vy, angle, angular velocity (world units,
    y up); `pixels (T, K, 2)` = object centres in pixels; `homographies (T, 3, 3)` world → pixel;
    `camera (T, 6)` = Kling axes / 10."""

    states: np.ndarray
    pixels: np.ndarray
    homographies: np.ndarray
    camera: np.ndarray

    def to_json(self) -> dict:
        return {
            k: np.round(getattr(self, k), 5).tolist() for k in ("states", "pixels", "homographies", "camera")
        }


def empty_objects(b: int, t: int, k: int) -> dict[str, torch.Tensor]:
    """render_batch's object inputs for `b` clips of `t` frames with room for `k` objects, none present yet:
    centers (b, t, k, 2) float64, angles (b, t, k), sizes (b, k) ones, shapes (b, k) long, colors (b, k, 3),
    present (b, k) bool."""
    return {
        "centers": torch.zeros(b, t, k, 2, dtype=torch.float64),
        "angles": torch.zeros(b, t, k),
        "sizes": torch.ones(b, k),
        "shapes": torch.zeros(b, k, dtype=torch.long),
        "colors": torch.zeros(b, k, 3),
        "present": torch.zeros(b, k, dtype=torch.bool),
    }


def specs_to_tensors(
    specs: list[SceneSpec], states: list[np.ndarray], device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Stack several same-size specs + their simulated states `(T, K_i, 6)` into render_batch inputs
    (on `device`: rendering on a GPU is the same code)."""
    b, t = len(specs), specs[0].num_frames
    k = max(1, max(len(s.objects) for s in specs))
    out = empty_objects(b, t, k)
    centers, angles, sizes, shapes, colors, present = out.values()
    homs = torch.zeros(b, t, 3, 3, dtype=torch.float64)
    for i, (spec, st) in enumerate(zip(specs, states)):
        n = len(spec.objects)
        if n:
            centers[i, :, :n] = torch.from_numpy(np.asarray(st[:, :n, :2], dtype=np.float64))
            angles[i, :, :n] = torch.from_numpy(np.asarray(st[:, :n, 4], dtype=np.float32))
        for j, obj in enumerate(spec.objects):
            sizes[i, j] = obj.size
            shapes[i, j] = SHAPE_IDS[obj.shape]
            colors[i, j] = torch.tensor(obj.rgb, dtype=torch.float32) / 255.0
            present[i, j] = True
        h = camera_homographies(spec.camera, t, spec.fps, spec.world_size, spec.width, spec.height)
        homs[i] = torch.from_numpy(h)
    out["background"] = Background.from_specs([s.background for s in specs], specs)
    out["homographies"] = homs
    return {k: v.to(device) for k, v in out.items()}


def render_scene(
    spec: SceneSpec, states: np.ndarray, camera: CameraSpec | None = None
) -> tuple[np.ndarray, GroundTruth]:
    """Render one clip: `states (T, K, 6)` from a simulator → (uint8 `(T, H, W, 3)`, GroundTruth).

    `camera` overrides `spec.camera` when given.
    """
    if camera is not None:
        spec = spec.model_copy(update={"camera": camera})
    states = np.asarray(states, dtype=np.float64)
    inputs = specs_to_tensors([spec], [states])
    img = render_batch(**inputs, width=spec.width, height=spec.height)  # (1, T, H, W, 3)
    homs = inputs["homographies"][0].numpy()
    pixels = (
        apply_homography(homs[:, None], states[..., :2]) if states.shape[1] else np.zeros((len(homs), 0, 2))
    )
    truth = GroundTruth(
        states=states, pixels=pixels, homographies=homs, camera=camera_vector(spec.camera, spec.num_frames)
    )
    return to_uint8(img[0]), truth
