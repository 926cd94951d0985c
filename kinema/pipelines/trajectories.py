"""Trajectories (motion brush): user paths or ground-truth tracks → the `(B, 3, t, h, w)` map the DiT reads.

A user picks an object in the first frame (a point, or a mask whose centre is used) and draws a path: a list
of `(time, x, y)` points in output pixels, time in seconds or frames. `paths_to_tracks` interpolates that to
one position per frame, the same `(K, T, 3)` `[x_px, y_px, visible]` tracks that the physics world hands
training as ground truth, and `rasterize_trajectories` turns either into the map of docs/CONTRACTS.md:
channel 0 = presence (a Gaussian blob, peak 1, centred on the object in each latent frame), channels 1, 2 =
the object's displacement to the next latent frame in frame widths / heights, written where its blob is
(the motion-brush encoding of DragNUWA / MotionCtrl, arXiv 2308.08089 / 2312.03641, at latent resolution).

Tracks may carry five more columns, the object's looks: `(K, T, 8)` `[x_px, y_px, visible, r, g, b,
radius_px, shape]` with r, g, b in [0, 1] and shape 1-4 = circle, square, triangle, ring (0 = not given;
the physics world knows them all; a user's path may not; tracks of 7 columns have no shape). A model with the
trajectory adapter reads a 7-channel map: channels 3-5 = the colour as 2c - 1 and channel 6 = the radius in
latent cells, written where the object's blob is; zeros there mean "not given" (mid grey is no world colour).
An adapter that reads shapes (`trajectory_adapter_channels=11`) reads an 11-channel map: channels 7-10
one-hot the shape in that order where the blob is (all zero = not given).

JSON accepted by `load_trajectories` (the CLI's `--trajectory FILE`):
    {"trajectories": [{"point": [x, y], "path": [[t, x, y], ...], "unit": "seconds"},
                      {"mask": "mask.png", "path": [{"frame": 8, "x": 30, "y": 40}]},
                      {"point": [8, 32], "path": [[3, 56, 32]], "color": "purple", "radius": 7,
                       "shape": "square"}]}
(a bare list of those objects works too). `color` (a named world colour, "#rrggbb" or [r, g, b] 0-255),
`radius` (pixels) and `shape` (circle, square, triangle or ring) are the object's looks: a model with the
trajectory adapter draws that object there (the looks physics mode hands it); a path without them leaves its
looks "not given", and a model without the adapter reads the motion only (one whose map has no shape
channels reads colour and radius only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from kinema.errors import InvalidInputError

BLOB_SIGMA = 1.0  # latent cells; a blob about 2 × 8 px wide at the default 8× VAE
BLOB_FLOOR = 0.1  # displacement is written where the blob is at least this strong
MOTION_CHANNELS = 3  # presence, dx, dy
MAP_CHANNELS_WITH_LOOKS = 7  # + colour (3) and radius (1): the trajectory adapter's map
MAP_CHANNELS_WITH_SHAPE = 11  # + the shape one-hot (4): an adapter that reads shapes
MAP_CHANNELS = (MOTION_CHANNELS, MAP_CHANNELS_WITH_LOOKS, MAP_CHANNELS_WITH_SHAPE)
TRACK_COLUMNS = (3, 7, 8)  # motion; + colour and radius; + shape code


@dataclass
class TrajectoryPath:
    """One object's path. Times are in `unit` (seconds or frames); x, y in output pixels."""

    points: list[tuple[float, float, float]]
    start: tuple[float, float] | None = None
    mask: np.ndarray | None = field(default=None, repr=False)  # bool (H, W) over the first frame
    unit: Literal["seconds", "frames"] = "seconds"
    color: tuple[float, float, float] | None = None  # the object's colour, 0-1
    radius: float | None = None  # the object's radius in output pixels
    shape: str | None = None  # circle, square, triangle or ring

    @property
    def has_looks(self) -> bool:
        return self.color is not None or self.radius is not None or self.shape is not None


def _mask_centre(mask: np.ndarray, width: int, height: int) -> tuple[float, float]:
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.max(axis=-1)
    if mask.ndim != 2:
        raise InvalidInputError(f"A trajectory mask must be a 2-D image, got shape {mask.shape}.")
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise InvalidInputError("A trajectory mask is empty; paint the object to move in the mask image.")
    # A mask at another resolution than the video is scaled onto it.
    sx, sy = width / mask.shape[1], height / mask.shape[0]
    return float((xs.mean() + 0.5) * sx - 0.5), float((ys.mean() + 0.5) * sy - 0.5)


def _check_inside(x: float, y: float, width: int, height: int, what: str) -> None:
    if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise InvalidInputError(
            f"Trajectory {what} ({x:g}, {y:g}) is outside the {width}x{height} frame; "
            f"use pixel coordinates with 0 <= x <= {width - 1} and 0 <= y <= {height - 1}."
        )


def paths_to_tracks(
    paths: Sequence[TrajectoryPath], num_frames: int, fps: float, width: int, height: int
) -> torch.Tensor:
    """User paths → tracks `(K, T, 3)` `[x_px, y_px, visible]`, linearly interpolated over frames, or
    `(K, T, 8)` with the looks `[r, g, b, radius_px, shape]` when any path gives them (mid grey, radius 0
    and shape 0, the map's "not given", for a path that does not).

    Before its first point an object holds its start; after its last point it stays where it stopped.
    """
    from kinema.world.spec import shape_code  # noqa: PLC0415

    frames = np.arange(num_frames, dtype=np.float64)
    looks = any(path.has_looks for path in paths)
    tracks = torch.zeros(len(paths), num_frames, 8 if looks else 3)
    for k, path in enumerate(paths):
        if looks:
            tracks[k, :, 3:6] = torch.tensor(path.color if path.color is not None else (0.5, 0.5, 0.5))
            if path.shape is not None:
                tracks[k, :, 7] = float(shape_code(_shape_name(path.shape, k)))
            if path.radius is not None:
                if path.radius > max(width, height):
                    raise InvalidInputError(
                        f"Trajectory {k} radius {path.radius:g} px is larger than the {width}x{height} frame; "
                        "give the object's radius in pixels of the output."
                    )
                tracks[k, :, 6] = float(path.radius)
        keys: list[tuple[float, float, float]] = []
        if path.mask is not None:
            keys.append((0.0, *_mask_centre(path.mask, width, height)))
        elif path.start is not None:
            keys.append((0.0, float(path.start[0]), float(path.start[1])))
        if not path.points and not keys:
            raise InvalidInputError(f"Trajectory {k} has no points; give a start point and a path.")
        for t, x, y in path.points:
            frame = float(t) * fps if path.unit == "seconds" else float(t)
            if frame < 0 or frame > num_frames - 1 + 1e-6:
                end = (num_frames - 1) / fps if path.unit == "seconds" else num_frames - 1
                raise InvalidInputError(
                    f"Trajectory {k} has a point at {t:g} {path.unit}, outside the video (0…{end:g} {path.unit})."
                )
            keys.append((frame, float(x), float(y)))
        for _, x, y in keys:
            _check_inside(x, y, width, height, f"{k} point")
        keys.sort(key=lambda key: key[0])
        times = np.array([key[0] for key in keys])
        if np.any(np.diff(times) == 0) and len(keys) > 1:
            raise InvalidInputError(
                f"Trajectory {k} has two points at the same time; give one point per time."
            )
        tracks[k, :, 0] = torch.from_numpy(np.interp(frames, times, [key[1] for key in keys]))
        tracks[k, :, 1] = torch.from_numpy(np.interp(frames, times, [key[2] for key in keys]))
        tracks[k, :, 2] = 1.0
    return tracks  # (K, T, 3 or 8)


def looks_from_prompt(
    paths: Sequence[TrajectoryPath], prompt: str, width: int, height: int, num_frames: int, fps: float
) -> list[TrajectoryPath]:
    """Paths given without looks take them from the prompt, as physics mode hands them to the adapter: when
    the prompt names as many objects as there are paths, path k gets the k-th object's colour, radius (its
    size word, or the reader's medium) and shape (a ball is a circle), where the prompt says that object's
    colour. Paths that give looks, a prompt naming another number of objects, or one the reader cannot read
    leave them as given."""
    if not paths or any(path.has_looks for path in paths):
        return list(paths)
    from kinema.world.prompt import parse_world_prompt  # noqa: PLC0415

    try:
        parse = parse_world_prompt(
            prompt, width=width, height=height, num_frames=num_frames, fps=fps, require_objects=False
        )
    except InvalidInputError:
        return list(paths)
    scene = parse.spec
    if len(scene.objects) != len(paths):
        return list(paths)
    out = []
    for k, (path, said) in enumerate(zip(paths, parse.colors_said)):
        if said:
            *color, radius, _ = scene.object_looks(k)
            path = replace(path, color=tuple(color), radius=radius, shape=scene.objects[k].shape)
        out.append(path)
    return out


def latent_frame_indices(num_frames: int, num_latent_frames: int, temporal_compression: int = 4) -> list[int]:
    """Pixel frame that each latent frame stands for: frame 0, then the last frame of each group of 4."""
    return [min(j * temporal_compression, num_frames - 1) for j in range(num_latent_frames)]


def rasterize_trajectories(
    paths: torch.Tensor | np.ndarray | Sequence[TrajectoryPath],
    num_frames: int,
    height: int,
    width: int,
    latent_size: tuple[int, int, int] | None = None,
    temporal_compression: int = 4,
    spatial_compression: int = 8,
    fps: float | None = None,
    sigma: float = BLOB_SIGMA,
    channels: int = MOTION_CHANNELS,
) -> torch.Tensor:
    """Tracks `(K, T, 3 | 7 | 8)` or `(B, K, T, 3 | 7 | 8)` `[x_px, y_px, visible(, r, g, b, radius_px(,
    shape))]`, or user paths (give `fps`), → the trajectory map `(B, channels, t, h, w)` float32, `channels`
    3 (motion), 7 (+ colour and radius) or 11 (+ shape; zeros where the tracks do not have them).
    `latent_size = (t, h, w)` defaults to the VAE's geometry `(1 + (T − 1) // 4, H // 8, W // 8)`. Tracks
    may leave the frame (the blob is clipped)."""
    if channels not in MAP_CHANNELS:
        raise InvalidInputError(
            f"A trajectory map has 3, 7 or 11 channels (motion; + colour and radius; + shape), not {channels}."
        )
    if latent_size is None:
        latent_size = (
            1 + (num_frames - 1) // temporal_compression,
            height // spatial_compression,
            width // spatial_compression,
        )
    t, h, w = latent_size
    if isinstance(paths, (torch.Tensor, np.ndarray)):
        tracks = torch.as_tensor(np.asarray(paths) if isinstance(paths, np.ndarray) else paths).float()
    else:
        if fps is None:
            raise InvalidInputError("rasterize_trajectories needs fps to place user paths given in seconds.")
        tracks = paths_to_tracks(list(paths), num_frames, fps, width, height)
    if tracks.dim() == 3:
        tracks = tracks[None]
    if tracks.dim() != 4 or tracks.shape[-1] not in TRACK_COLUMNS or tracks.shape[2] != num_frames:
        raise InvalidInputError(
            f"Trajectory tracks must be (K, {num_frames}, 3, 7 or 8) or (B, K, {num_frames}, 3, 7 or 8); "
            f"got {tuple(tracks.shape)}."
        )
    looks = channels > MOTION_CHANNELS and tracks.shape[-1] > MOTION_CHANNELS
    shapes = channels == MAP_CHANNELS_WITH_SHAPE and tracks.shape[-1] == 8
    B, K = tracks.shape[:2]
    picked = tracks[:, :, latent_frame_indices(num_frames, t, temporal_compression)]  # (B, K, t, 3, 7 or 8)
    # Pixel → latent cell coordinates: cell i covers pixels [i·s, (i+1)·s), its centre is pixel (i + ½)·s.
    cx = (picked[..., 0] + 0.5) * (w / width) - 0.5  # (B, K, t)
    cy = (picked[..., 1] + 0.5) * (h / height) - 0.5
    visible = picked[..., 2] > 0.5  # (B, K, t)
    # Displacement to the next latent frame, in frame widths / heights; zero for the last frame.
    dx = torch.zeros_like(cx)
    dy = torch.zeros_like(cy)
    dx[..., :-1] = (picked[..., 1:, 0] - picked[..., :-1, 0]) / width
    dy[..., :-1] = (picked[..., 1:, 1] - picked[..., :-1, 1]) / height
    moving = visible.clone()
    moving[..., :-1] &= visible[..., 1:]
    moving[..., -1] = False

    gy = torch.arange(h, dtype=torch.float32).view(1, 1, 1, h, 1)
    gx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, 1, w)
    blobs = torch.exp(
        -((gx - cx[..., None, None]) ** 2 + (gy - cy[..., None, None]) ** 2) / (2 * sigma**2)
    )  # (B, K, t, h, w)
    blobs = blobs * visible[..., None, None]

    if looks:
        # Colour as 2c - 1 (0 = not given) and radius in latent cells, per object and latent frame.
        colour = picked[..., 3:6] * 2 - 1  # (B, K, t, 3)
        radius = picked[..., 6:7] * (w / width)  # (B, K, t, 1)
        parts = [colour, radius]
        if channels == MAP_CHANNELS_WITH_SHAPE:  # one-hot of codes 1-4; code 0 (not given) is all zeros
            code = picked[..., 7].round().long() if shapes else torch.zeros_like(picked[..., 0]).long()
            parts.append(F.one_hot(code.clamp(0, 4), 5)[..., 1:].float())  # (B, K, t, 4)
        attributes = torch.cat(parts, dim=-1).permute(0, 1, 3, 2)  # (B, K, channels - 3, t)

    out = torch.zeros(B, channels, t, h, w)
    for k in range(K):  # objects in order; where blobs overlap the stronger one writes its motion
        blob = blobs[:, k]  # (B, t, h, w)
        wins = (blob > out[:, 0]) & (blob >= BLOB_FLOOR)
        if looks:
            out[:, 3:] = torch.where(
                wins[:, None], attributes[:, k, :, :, None, None].expand(-1, -1, -1, h, w), out[:, 3:]
            )
        out[:, 0] = torch.maximum(out[:, 0], blob)
        write = wins & moving[:, k, :, None, None]
        out[:, 1] = torch.where(write, dx[:, k, :, None, None].expand_as(blob), out[:, 1])
        out[:, 2] = torch.where(write, dy[:, k, :, None, None].expand_as(blob), out[:, 2])
        clear = wins & ~moving[:, k, :, None, None]
        out[:, 1:3] = out[:, 1:3].masked_fill(clear[:, None], 0.0)
    return out  # (B, channels, t, h, w)


def _point(value: Any, what: str) -> tuple[float, float, float] | tuple[float, float]:
    try:
        if isinstance(value, Mapping):
            if "t" in value or "frame" in value or "time" in value:
                t = value.get("t", value.get("time", value.get("frame")))
                return float(t), float(value["x"]), float(value["y"])
            return float(value["x"]), float(value["y"])
        return tuple(float(v) for v in value)  # type: ignore[return-value]
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError(
            f"Trajectory {what} {value!r} must be numbers like [t, x, y] or [x, y]."
        ) from None


_PATH_KEYS = frozenset({"point", "mask", "path", "unit", "color", "radius", "shape"})


def _colour(value: Any, k: int) -> tuple[float, float, float]:
    """A named world colour, "#rrggbb" or [r, g, b] in 0-255 → (r, g, b) in 0-1."""
    from kinema.world.spec import COLORS  # noqa: PLC0415

    rgb: Any = None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in COLORS:
            rgb = COLORS[text]
        elif len(text) == 7 and text.startswith("#"):
            try:
                rgb = tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
            except ValueError:
                rgb = None
    elif isinstance(value, Sequence) and len(value) == 3:
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
            rgb = tuple(value)
    if rgb is None:
        raise InvalidInputError(
            f"Trajectory {k} color {value!r} must be a colour name ({', '.join(COLORS)}), "
            '"#rrggbb" or [r, g, b] with each 0-255.'
        )
    return tuple(float(c) / 255.0 for c in rgb)  # type: ignore[return-value]


def _radius(value: Any, k: int) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0:
        return float(value)
    raise InvalidInputError(f"Trajectory {k} radius {value!r} must be a positive number of pixels.")


def _shape_name(value: Any, k: int) -> str:
    """A world shape's name, any case → its lower-case name (a user error otherwise)."""
    from kinema.world.spec import SHAPES  # noqa: PLC0415

    if isinstance(value, str) and value.strip().lower() in SHAPES:
        return value.strip().lower()
    raise InvalidInputError(f"Trajectory {k} shape {value!r} must be one of {', '.join(SHAPES)}.")


def _load_mask(value: Any, base: Path | None) -> np.ndarray:
    if isinstance(value, (list, np.ndarray)):
        return np.asarray(value).astype(bool)
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    path = Path(value) if base is None or Path(value).is_absolute() else base / value
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L")) > 127
    except (OSError, UnidentifiedImageError):
        raise InvalidInputError(
            f"Cannot read the trajectory mask {str(path)!r}; give a PNG or JPEG."
        ) from None


def load_trajectories(source: str | Path | Mapping[str, Any] | Sequence[Any]) -> list[TrajectoryPath]:
    """Trajectories from a JSON file path, a JSON string, or the parsed object (see the module doc)."""
    base: Path | None = None
    data: Any = source
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        path = Path(source)
        try:
            data = json.loads(path.read_text())
        except OSError:
            raise InvalidInputError(
                f"Cannot read the trajectory file {str(path)!r}; check the path."
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"Trajectory file {str(path)!r} is not valid JSON: {exc}.") from None
        base = path.parent
    elif isinstance(source, str):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"Trajectories are not valid JSON: {exc}.") from None
    if isinstance(data, Mapping):
        data = data.get("trajectories")
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise InvalidInputError(
            'Trajectories must be a non-empty list: {"trajectories": [{"point": ..., "path": ...}]}.'
        )
    paths = []
    for k, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise InvalidInputError(f"Trajectory {k} must be an object with a point or mask and a path.")
        unknown = sorted(set(item) - _PATH_KEYS)
        if unknown:
            raise InvalidInputError(
                f"Trajectory {k} has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"a trajectory takes {', '.join(sorted(_PATH_KEYS))}."
            )
        unit = item.get(
            "unit",
            "frames"
            if any(isinstance(p, Mapping) and "frame" in p for p in item.get("path", []))
            else "seconds",
        )
        if unit not in ("seconds", "frames"):
            raise InvalidInputError(f"Trajectory {k} unit {unit!r} must be 'seconds' or 'frames'.")
        points = [_point(p, "path point") for p in item.get("path", [])]
        if any(len(p) != 3 for p in points):
            raise InvalidInputError(f"Trajectory {k} path points need a time and a position: [t, x, y].")
        start = _point(item["point"], "point") if "point" in item else None
        if start is not None and len(start) != 2:
            raise InvalidInputError(f"Trajectory {k} point must be [x, y] in pixels of the first frame.")
        mask = _load_mask(item["mask"], base) if "mask" in item else None
        color = _colour(item["color"], k) if item.get("color") is not None else None
        radius = _radius(item["radius"], k) if item.get("radius") is not None else None
        shape = _shape_name(item["shape"], k) if item.get("shape") is not None else None
        paths.append(
            TrajectoryPath(
                points=points,
                start=start,
                mask=mask,
                unit=unit,  # type: ignore[arg-type]
                color=color,
                radius=radius,
                shape=shape,
            )
        )
    return paths
