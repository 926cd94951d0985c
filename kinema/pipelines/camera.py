"""Camera control: a Kling- or Jimeng-style request → the `(B, t, 6)` vector the DiT reads per latent frame.

Axes, in the order of docs/CONTRACTS.md, each −10…10 in the request and divided by 10 for the model. Their
meaning is Kling's (and `kinema.world.camera`'s, which renders the training clips), note that Kling calls
the rotation about x "pan" and the one about y "tilt", the reverse of film usage:

| axis         | motion                              | + means                  |
|--------------|-------------------------------------|--------------------------|
| `horizontal` | camera slides sideways              | to the right             |
| `vertical`   | camera slides up or down            | up                       |
| `pan`        | camera rotates about its x axis     | pitches up               |
| `tilt`       | camera rotates about its y axis     | yaws right               |
| `roll`       | camera rotates about its z axis     | clockwise                |
| `zoom`       | focal length                        | wider view (zoom out)    |

Two request styles are accepted (the vector is constant over time: both products move the camera at one
speed for the whole clip):
- Kling `camera_control = {"type": "simple", "config": {...}}` with exactly one non-zero axis, or one of the
  master-shot presets `down_back`, `forward_up`, `right_turn_forward`, `left_turn_forward` (no config), which
  are compositions of the axes defined once in `kinema.world.camera.PRESETS`:
  down_back = vertical −5 + zoom +5, forward_up = zoom −5 + pan +5, right_turn_forward = tilt +5 + zoom −5,
  left_turn_forward = tilt −5 + zoom −5. Kinema adds `"type": "custom"`: any mix of axes.
- Jimeng-style `{"type": "zoom_in", "speed": "slow"|"medium"|"fast"|0..1}`: one named move in film words
  (`CAMERA_MOVES`, mapped onto Kling's axes) or a preset, scaled by the speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from kinema.camera_vocab import CAMERA_AXES, CAMERA_RANGE
from kinema.camera_vocab import PRESET_COMPOSITIONS as CAMERA_PRESETS
from kinema.errors import InvalidInputError

# Jimeng-style named moves in film words → (Kling axis, sign). Film "pan" turns left/right, which is
# Kling's "tilt"; film "tilt" turns up/down, Kling's "pan"; zooming in narrows the view (Kling zoom < 0).
CAMERA_MOVES: dict[str, tuple[str, float]] = {
    "move_left": ("horizontal", -1.0),
    "move_right": ("horizontal", 1.0),
    "move_up": ("vertical", 1.0),
    "move_down": ("vertical", -1.0),
    "pan_left": ("tilt", -1.0),
    "pan_right": ("tilt", 1.0),
    "tilt_up": ("pan", 1.0),
    "tilt_down": ("pan", -1.0),
    "roll_clockwise": ("roll", 1.0),
    "roll_counterclockwise": ("roll", -1.0),
    "zoom_in": ("zoom", -1.0),
    "zoom_out": ("zoom", 1.0),
    "push_in": ("zoom", -1.0),
    "pull_out": ("zoom", 1.0),
}

# Jimeng speeds → Kling magnitude.
CAMERA_SPEEDS: dict[str, float] = {"slow": 3.0, "medium": 6.0, "fast": 10.0}


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Camera {what} must be a number, got {value!r}.") from None
    if not -CAMERA_RANGE <= number <= CAMERA_RANGE:
        raise InvalidInputError(f"Camera {what} = {number:g} is outside −10…10; use a value in that range.")
    return number


def _config_axes(config: Mapping[str, Any] | None) -> dict[str, float]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInputError("camera_control.config must be an object of axis → number.")
    unknown = set(config) - set(CAMERA_AXES)
    if unknown:
        raise InvalidInputError(
            f"Unknown camera axis {sorted(unknown)[0]!r}; the axes are {', '.join(CAMERA_AXES)}."
        )
    return {axis: _number(v, axis) for axis, v in config.items() if v is not None}


def _speed(value: Any) -> float:
    """Jimeng speed → Kling magnitude (0…10)."""
    if isinstance(value, str):
        if value not in CAMERA_SPEEDS:
            raise InvalidInputError(f"Unknown camera speed {value!r}; use {', '.join(CAMERA_SPEEDS)} or 0…1.")
        return CAMERA_SPEEDS[value]
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Camera speed must be slow, medium, fast or 0…1, got {value!r}.") from None
    if not 0.0 <= speed <= 1.0:
        raise InvalidInputError(f"Camera speed {speed:g} is outside 0…1; use slow, medium, fast or 0…1.")
    return speed * CAMERA_RANGE


def camera_axes(camera_control: Mapping[str, Any]) -> dict[str, float]:
    """Validate a camera request; return axis → Kling value (−10…10) for the non-zero axes."""
    if not isinstance(camera_control, Mapping):
        raise InvalidInputError('camera_control must be an object like {"type": "simple", "config": {...}}.')
    kind = camera_control.get("type", "simple" if "config" in camera_control else None)
    if kind is None:
        raise InvalidInputError("camera_control needs a type (simple, a preset, or a named move).")
    config = _config_axes(camera_control.get("config"))
    presets = CAMERA_PRESETS
    has_speed = camera_control.get("speed") is not None

    if kind in ("simple", "custom"):
        if has_speed:
            raise InvalidInputError(f"camera_control type {kind!r} takes config values, not a speed.")
        axes = {k: v for k, v in config.items() if v != 0}
        if kind == "simple" and len(axes) != 1:
            raise InvalidInputError(
                f"camera_control type 'simple' needs exactly one non-zero axis in config, got {len(axes)}; "
                "set one of horizontal, vertical, pan, tilt, roll, zoom (or use type 'custom' to mix axes)."
            )
        return axes
    if any(v != 0 for v in config.values()):
        raise InvalidInputError(f"camera_control type {kind!r} takes no config; use type 'simple' for axes.")
    if kind in presets:
        axes = dict(presets[kind])
        if has_speed:  # Jimeng-style: a preset at a speed scales its largest axis to that speed
            scale = _speed(camera_control["speed"]) / max(abs(v) for v in axes.values())
            axes = {k: max(-CAMERA_RANGE, min(CAMERA_RANGE, v * scale)) for k, v in axes.items()}
        return {k: v for k, v in axes.items() if v != 0}
    if kind in CAMERA_MOVES:
        axis, sign = CAMERA_MOVES[kind]
        magnitude = _speed(camera_control.get("speed", "medium"))
        return {axis: sign * magnitude} if magnitude else {}
    if kind == "static":
        return {}
    names = ["simple", "custom", *presets, *CAMERA_MOVES, "static"]
    raise InvalidInputError(f"Unknown camera_control type {kind!r}; use one of {', '.join(names)}.")


def camera_vector(
    camera_control: Mapping[str, Any] | None, num_latent_frames: int, batch_size: int = 1
) -> torch.Tensor | None:
    """A camera request → `(B, t, 6)` float32 (Kling value / 10 per axis), or None when there is none."""
    if camera_control is None:
        return None
    axes = camera_axes(camera_control)
    vector = torch.tensor([axes.get(a, 0.0) / CAMERA_RANGE for a in CAMERA_AXES], dtype=torch.float32)
    return vector.expand(batch_size, num_latent_frames, len(CAMERA_AXES)).clone()  # (B, t, 6)


def camera_control_from_args(axes: Iterable[str] = (), preset: str | None = None) -> dict[str, Any] | None:
    """CLI form (`--camera zoom=5 --camera pan=-2` or `zoom=5,pan=-2`, `--camera-preset forward_up[:fast]`)
    → a camera_control dict (simple for one axis, custom for several), or None."""
    config: dict[str, float] = {}
    for item in axes:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise InvalidInputError(f"Camera axis {part!r} must look like axis=value, e.g. zoom=5.")
            config.update(_config_axes({name.strip(): value.strip()}))
    if preset is not None:
        if config:
            raise InvalidInputError("Give either --camera axes or --camera-preset, not both.")
        name, _, speed = preset.partition(":")
        control: dict[str, Any] = {"type": name}
        if speed:
            control["speed"] = speed if speed in CAMERA_SPEEDS else _float_or_text(speed)
        camera_axes(control)
        return control
    if not config:
        return None
    control = {"type": "simple" if sum(v != 0 for v in config.values()) == 1 else "custom", "config": config}
    camera_axes(control)
    return control


def _float_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
