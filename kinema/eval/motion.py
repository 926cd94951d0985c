"""Global image motion between frames: patch phase correlation + a least-squares similarity fit.

Camera accuracy needs the motion of the *background*, including zoom and roll, which a single global
phase correlation cannot see. So each frame pair is cut into a grid of windowed patches; each patch's shift
comes from phase correlation (sub-pixel by a parabola through the peak); a similarity transform
`x' = a·x − b·y + tx, y' = b·x + a·y + ty` (coordinates centred on the image) is fitted to the patch
shifts by weighted least squares, with foreground outliers (the moving objects) dropped in a second pass.
Zoom is `log hypot(a, b)`, roll is `atan2(b, a)`.

Units used everywhere in camera accuracy: *edge displacement* — how far, as a fraction of the frame width,
the motion moves a point at the frame's edge in one frame: `tx/W`, `ty/H`, `½·log s`, `½·θ`. One unit for
the four kinds lets us say which kind dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOTION_KINDS = ("x", "y", "zoom", "roll")


@dataclass(frozen=True)
class Similarity:
    """Per-frame similarity motion of the image content, in pixels / log-scale / radians."""

    tx: float  # content moves right by tx pixels
    ty: float  # content moves down by ty pixels (image rows grow downwards)
    log_scale: float  # > 0: content grows (zoom in)
    angle: float  # > 0: content turns from +x towards +y (clockwise on screen)

    def edge_displacement(self, width: int, height: int) -> np.ndarray:
        """(4,) motion as the fraction of the frame an edge point moves: x, y, zoom, roll."""
        return np.array([self.tx / width, self.ty / height, 0.5 * self.log_scale, 0.5 * self.angle])


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def phase_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Shift (dx, dy) that moves patch `a` onto patch `b`, and the peak height (confidence, 0..1)."""
    h, w = a.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    fa = np.fft.fft2((a - a.mean()) * win)
    fb = np.fft.fft2((b - b.mean()) * win)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.ifft2(cross).real  # (h, w), peak at the shift
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    peak = float(corr[iy, ix])

    def refine(c_m: float, c_0: float, c_p: float) -> float:
        denom = c_m - 2.0 * c_0 + c_p
        return 0.0 if abs(denom) < 1e-12 else 0.5 * (c_m - c_p) / denom

    dy = iy + refine(corr[(iy - 1) % h, ix], corr[iy, ix], corr[(iy + 1) % h, ix])
    dx = ix + refine(corr[iy, (ix - 1) % w], corr[iy, ix], corr[iy, (ix + 1) % w])
    if dy > h / 2:
        dy -= h
    if dx > w / 2:
        dx -= w
    return float(dx), float(dy), peak


def _fit_similarity(pts: np.ndarray, disp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares for (a, b, tx, ty) from patch centres (N,2) and their shifts (N,2)."""
    x, y = pts[:, 0], pts[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    # x' = a x - b y + tx ; y' = b x + a y + ty
    rows = np.concatenate([np.stack([x, -y, ones, zeros], 1), np.stack([y, x, zeros, ones], 1)])  # (2N, 4)
    target = np.concatenate([x + disp[:, 0], y + disp[:, 1]])  # (2N,)
    sw = np.sqrt(np.concatenate([weights, weights]))
    params, *_ = np.linalg.lstsq(rows * sw[:, None], target * sw, rcond=None)
    return params


def estimate_similarity(frame_a: np.ndarray, frame_b: np.ndarray, grid: int = 4) -> Similarity:
    """Similarity motion of the content from `frame_a` (H,W,3 uint8) to `frame_b`."""
    ga, gb = _gray(frame_a), _gray(frame_b)
    h, w = ga.shape
    # Patches overlap by half: a grid x grid lattice of 2h/(grid+1)-sized windows.
    ph, pw = 2 * h // (grid + 1), 2 * w // (grid + 1)
    pts, disp, weights = [], [], []
    for i in range(grid):
        for j in range(grid):
            y0, x0 = i * ph // 2, j * pw // 2
            pa, pb = ga[y0 : y0 + ph, x0 : x0 + pw], gb[y0 : y0 + ph, x0 : x0 + pw]
            if pa.std() < 1.0:  # flat patch: no texture, no information
                continue
            dx, dy, peak = phase_correlation(pa, pb)
            pts.append((x0 + pw / 2 - w / 2, y0 + ph / 2 - h / 2))
            disp.append((dx, dy))
            weights.append(max(peak, 1e-3))
    if len(pts) < 3:
        return Similarity(0.0, 0.0, 0.0, 0.0)
    pts_a, disp_a, w_a = np.asarray(pts), np.asarray(disp), np.asarray(weights)
    params = _fit_similarity(pts_a, disp_a, w_a)
    # Second pass without the patches the fit explains worst (moving objects, aperture failures).
    a, b, tx, ty = params
    pred = (
        np.stack([a * pts_a[:, 0] - b * pts_a[:, 1] + tx, b * pts_a[:, 0] + a * pts_a[:, 1] + ty], 1) - pts_a
    )
    resid = np.linalg.norm(pred - disp_a, axis=1)
    keep = resid <= max(np.median(resid) * 2.5, 0.5)
    if keep.sum() >= 3:
        params = _fit_similarity(pts_a[keep], disp_a[keep], w_a[keep])
    a, b, tx, ty = params
    return Similarity(float(tx), float(ty), float(np.log(max(np.hypot(a, b), 1e-6))), float(np.arctan2(b, a)))


def video_motion(frames: np.ndarray, grid: int = 4, stride: int = 1) -> np.ndarray:
    """(N, 4) edge displacement per frame (x, y, zoom, roll) of a video (T,H,W,3) uint8, measured between
    frames `stride` apart (a longer stride gives a larger, easier-to-measure shift) and divided by it."""
    _, h, w, _ = frames.shape
    pairs = range(0, len(frames) - stride, stride)
    out = [
        estimate_similarity(frames[t], frames[t + stride], grid).edge_displacement(w, h) / stride
        for t in pairs
    ]
    return np.asarray(out).reshape(-1, 4)


def homography_similarity(h: np.ndarray, width: int, height: int, grid: int = 8) -> Similarity:
    """The similarity that best fits a pixel → pixel homography `h (3,3)` over the frame (the expected
    motion when the true camera transform is known)."""
    ys, xs = np.meshgrid(np.linspace(0, height - 1, grid), np.linspace(0, width - 1, grid), indexing="ij")
    pix = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], 1)  # (N, 3)
    q = pix @ h.T
    moved = q[:, :2] / q[:, 2:3]
    centre = np.array([width / 2, height / 2])
    a, b, tx, ty = _fit_similarity(pix[:, :2] - centre, moved - pix[:, :2], np.ones(len(pix)))
    return Similarity(float(tx), float(ty), float(np.log(max(np.hypot(a, b), 1e-6))), float(np.arctan2(b, a)))


def expected_video_motion(homographies: np.ndarray, width: int, height: int, stride: int = 1) -> np.ndarray:
    """(N, 4) expected edge displacement per frame, from per-frame world → pixel homographies (T,3,3),
    over the same frame pairs `video_motion` measures."""
    out = []
    for t in range(0, len(homographies) - stride, stride):
        step = homographies[t + stride] @ np.linalg.inv(homographies[t])  # pixel at t -> pixel at t+stride
        out.append(homography_similarity(step, width, height).edge_displacement(width, height) / stride)
    return np.asarray(out).reshape(-1, 4)
