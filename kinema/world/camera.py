"""A virtual pinhole camera over the world plane, driven by Kling's six camera axes.

Each axis takes a value in -10..10 (Kling's `camera_control.config`); the value sets a constant **speed**,
linear in the value, reaching these rates at |value| = 10 (t = seconds since the first frame):

| axis       | Kling meaning (their docs)                 | positive value does             | rate at 10            |
|------------|--------------------------------------------|---------------------------------|-----------------------|
| horizontal | move along x; - left, + right              | camera moves right → scene slides left   | 0.25 frame heights/s |
| vertical   | move along y; - down, + up                 | camera moves up → scene slides down      | 0.25 frame heights/s |
| pan        | rotate about the x axis; - down, + up      | camera pitches up → scene slides down    | 5 degrees/s          |
| tilt       | rotate about the y axis; - left, + right   | camera yaws right → scene slides left    | 5 degrees/s          |
| roll       | rotate about the z axis; - ccw, + cw       | camera rolls clockwise → scene turns ccw | 15 degrees/s         |
| zoom       | focal length; - narrower, + wider view     | wider view (zoom out) → scene shrinks    | ×2 field of view per 2 s |

Kling's own words call the x-axis rotation "pan" and the y-axis rotation "tilt" (the reverse of film usage);
Kinema follows Kling so that its API values mean what Kling's users expect. Rotation rates are small
enough that, at 16:9, every pixel's ray still meets the world plane for 5 s of motion.

The axis names, their range and the presets (compositions of the axes) are the shared vocabulary in
`kinema.camera_vocab`; `PRESETS` here is that module's `PRESET_COMPOSITIONS`.

Geometry. Normalised image coordinates are `u = (x_px - (W-1)/2) / (H/2)`, `v = (y_px - (H-1)/2) / (H/2)`
(v down). At rest, the world plane sits at depth 1 and exactly fills the frame. At time t the camera is at
`C = (cx, cy, 0)` with rotation `R = R_yaw(tilt) R_pitch(pan) R_roll(roll)` and focal factor `f`, so a plane
point `(u, v, 1)` lands at `f · R^T (P - C)` after perspective division. The per-frame transform returned
is the 3x3 homography from world coordinates `(x, y, 1)` to pixel coordinates (`x_px, y_px`).
"""

from __future__ import annotations

import math

import numpy as np

from kinema.camera_vocab import CAMERA_AXES
from kinema.camera_vocab import PRESET_COMPOSITIONS as PRESETS
from kinema.world.spec import CameraSpec

# Rates at |value| = 10, in the units of the table above (normalised units are half a frame height).
TRANSLATION_RATE = 0.5  # normalised units per second (= 0.25 frame heights per second)
PITCH_YAW_RATE = math.radians(5.0)  # radians per second
ROLL_RATE = math.radians(15.0)  # radians per second
ZOOM_RATE = math.log(2.0) / 2.0  # log focal change per second (×2 per 2 s)


def camera_axes(camera: CameraSpec | None) -> np.ndarray:
    """The six Kling values (-10..10) in CONTRACTS order; a preset is expanded to its composition."""
    if camera is None:
        return np.zeros(6)
    if camera.preset is not None:
        comp = PRESETS[camera.preset]
        return np.array([comp.get(a, 0.0) for a in CAMERA_AXES], dtype=np.float64)
    return np.array([getattr(camera, a) for a in CAMERA_AXES], dtype=np.float64)


def camera_vector(camera: CameraSpec | None, num_frames: int) -> np.ndarray:
    """The `(T, 6)` float32 conditioning vector: Kling values / 10, constant over the clip; zeros if static."""
    return np.tile((camera_axes(camera) / 10.0).astype(np.float32), (num_frames, 1))


def rest_homography(world_size: tuple[float, float], width: int, height: int) -> np.ndarray:
    """World `(x, y, 1)` → pixel for the camera at rest: the world rectangle fills the frame, y flipped."""
    to_norm, to_pix = _normaliser(world_size, width, height)
    return to_pix @ to_norm


def _normaliser(world_size: tuple[float, float], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(world → normalised plane coords, normalised image coords → pixels)."""
    ww, wh = world_size
    to_norm = np.array([[2.0 / wh, 0.0, -ww / wh], [0.0, -2.0 / wh, 1.0], [0.0, 0.0, 1.0]])
    to_pix = np.array(
        [[height / 2.0, 0.0, (width - 1) / 2.0], [0.0, height / 2.0, (height - 1) / 2.0], [0, 0, 1.0]]
    )
    return to_norm, to_pix


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation in camera axes (x right, y down, z forward)."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    r_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])  # forward turns toward +x (right)
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])  # forward turns toward -y (up)
    r_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])  # right vector turns clockwise
    return r_yaw @ r_pitch @ r_roll


def plane_to_image(axes: np.ndarray, t: float) -> np.ndarray:
    """Homography from normalised plane coordinates to normalised image coordinates at time t (seconds)."""
    k = np.asarray(axes, dtype=np.float64) / 10.0
    horizontal, vertical, pan, tilt, roll, zoom = k
    cx = TRANSLATION_RATE * horizontal * t
    cy = -TRANSLATION_RATE * vertical * t  # v points down, so "up" is -v
    rot = _rotation(PITCH_YAW_RATE * tilt * t, PITCH_YAW_RATE * pan * t, ROLL_RATE * roll * t)
    focal = math.exp(-ZOOM_RATE * zoom * t)  # positive zoom = wider view = shorter focal length
    shift = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    return np.diag([focal, focal, 1.0]) @ rot.T @ shift


def camera_homographies(
    camera: CameraSpec | None,
    num_frames: int,
    fps: float,
    world_size: tuple[float, float],
    width: int,
    height: int,
) -> np.ndarray:
    """Per-frame world → pixel homographies `(T, 3, 3)` float64 (normalised so that H[2, 2] = 1)."""
    to_norm, to_pix = _normaliser(world_size, width, height)
    axes = camera_axes(camera)
    out = np.empty((num_frames, 3, 3))
    for i in range(num_frames):
        h = to_pix @ plane_to_image(axes, i / fps) @ to_norm
        out[i] = h / h[2, 2]
    return out


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points `(..., 2)` through homographies `(..., 3, 3)` (broadcast); returns `(..., 2)`."""
    ph = np.concatenate([points, np.ones_like(points[..., :1])], axis=-1)
    q = np.einsum("...ij,...j->...i", h, ph)
    return q[..., :2] / q[..., 2:3]
