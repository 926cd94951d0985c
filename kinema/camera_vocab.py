"""The camera's vocabulary, shared by the pipelines (a request → the DiT's camera vector) and the world
(rendering and captioning training clips): Kling's six axis names, their value range, and the presets.

Words only, no behaviour: what the axes mean on screen and how fast they move is `kinema.world.camera`'s
(the renderer), how a request becomes a vector is `kinema.pipelines.camera`'s. Both read the names and
numbers from here, so neither layer imports the other for them.

Axes, in the order of docs/CONTRACTS.md (the order of the `(B, t, 6)` camera vector). Kling calls the
rotation about x "pan" and the one about y "tilt", the reverse of film usage; Kinema follows Kling so that
its API values mean what Kling's users expect.

Presets are compositions of the axes (Kling describes them in words only; these values are ours):

| preset              | Kling's description                    | composition                   |
|---------------------|----------------------------------------|-------------------------------|
| down_back           | descends and moves backward            | vertical -5, zoom +5          |
| forward_up          | moves forward and tilts up             | zoom -5, pan +5               |
| right_turn_forward  | rotates right and moves forward        | tilt +5, zoom -5              |
| left_turn_forward   | rotates left and moves forward         | tilt -5, zoom -5              |

("forward"/"backward" on a flat scene look the same as a narrower/wider field of view, so they use zoom.)
"""

from __future__ import annotations

CAMERA_AXES: tuple[str, ...] = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

CAMERA_RANGE = 10.0  # Kling's values run -10..10 on every axis; the model reads value / CAMERA_RANGE

PRESET_COMPOSITIONS: dict[str, dict[str, float]] = {
    "down_back": {"vertical": -5.0, "zoom": 5.0},
    "forward_up": {"zoom": -5.0, "pan": 5.0},
    "right_turn_forward": {"tilt": 5.0, "zoom": -5.0},
    "left_turn_forward": {"tilt": -5.0, "zoom": -5.0},
}
CAMERA_PRESETS: tuple[str, ...] = tuple(PRESET_COMPOSITIONS)  # the names, in the order above
