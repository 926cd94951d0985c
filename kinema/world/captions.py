"""Natural-language captions generated from a `SceneSpec` (plus, optionally, the simulator's events).

Every fact a caption states comes from the spec: colour, shape, size word, direction, speed word, gravity,
collisions / bounces (from events, or for the paper's collision scene from its parameters), spin, the
background and the camera. Phrasing varies through several templates and synonyms drawn from `rng`, so a
text-to-video model sees varied language while prompt adherence can still be checked word by word (the
word tables below are public for that purpose).

Word rules (world units; sizes and speeds are relative to the world height, 10 in the paper's world):
- size: radius / height < 0.05 "tiny", < 0.09 "small", < 0.14 "medium-sized", else "large" (or synonyms);
- speed: |v| / height < 0.1 per second "slowly", < 0.42 (no word or "steadily"), else "quickly" (or synonyms);
- direction: the initial velocity's angle in 8 sectors ("to the right", "up and to the left", …);
- camera: each non-zero axis in Kling's meaning (`kinema.world.camera`), with "slowly" for |value| ≤ 3 and
  "quickly" for |value| > 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kinema.world.camera import camera_axes
from kinema.world.spec import CAMERA_AXES, ObjectSpec, SceneSpec

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("ball", "circle", "disc"),
    "square": ("square", "block", "box"),
    "triangle": ("triangle", "triangular block"),
    "ring": ("ring", "hoop"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "tiny": ("tiny",),
    "small": ("small", "little"),
    "medium": ("medium-sized", ""),
    "large": ("large", "big"),
}
SPEED_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slowly", "gently", "at a slow pace"),
    "medium": ("", "steadily", "at a steady pace"),
    "fast": ("quickly", "fast", "rapidly"),
}
DIRECTION_WORDS: tuple[str, ...] = (
    "to the right",
    "up and to the right",
    "upward",
    "up and to the left",
    "to the left",
    "down and to the left",
    "downward",
    "down and to the right",
)
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    "flat": ("on a plain background", "on a {color} background"),
    "checker": ("on a checkered background", "over a checkerboard floor"),
    "grid": ("on a grid background", "over a grid"),
    "noise": ("on a textured background", "over a mottled texture"),
}
# Kling axis → (words for a positive value, words for a negative value); meanings in kinema.world.camera.
CAMERA_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "horizontal": (("moves right", "trucks right"), ("moves left", "trucks left")),
    "vertical": (("moves up", "rises"), ("moves down", "descends")),
    "pan": (("tilts up", "turns upward"), ("tilts down", "turns downward")),
    "tilt": (("pans right", "turns right"), ("pans left", "turns left")),
    "roll": (("rolls clockwise",), ("rolls counterclockwise", "rolls anticlockwise")),
    "zoom": (("zooms out", "pulls back"), ("zooms in", "pushes in")),
}
PRESET_WORDS: dict[str, tuple[str, ...]] = {
    "down_back": ("the camera descends and pulls back", "the camera moves down and backward"),
    "forward_up": ("the camera pushes forward and tilts up", "the camera moves forward and turns upward"),
    "right_turn_forward": (
        "the camera turns right and moves forward",
        "the camera pans right while pushing in",
    ),
    "left_turn_forward": ("the camera turns left and moves forward", "the camera pans left while pushing in"),
}
COUNT_WORDS: tuple[str, ...] = ("No", "One", "Two", "Three", "Four", "Five", "Six")


def _choice(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def size_class(obj: ObjectSpec, world_height: float) -> str:
    rel = obj.size / world_height
    return "tiny" if rel < 0.05 else "small" if rel < 0.09 else "medium" if rel < 0.14 else "large"


def speed_class(speed: float, world_height: float) -> str:
    rel = speed / world_height
    return "slow" if rel < 0.1 else "medium" if rel < 0.42 else "fast"


def direction_index(vx: float, vy: float) -> int:
    """0 = right, counter-clockwise in 45° sectors (y up)."""
    return int(round(math.atan2(vy, vx) / (math.pi / 4))) % 8


def _background_color_word(rgb: tuple[int, int, int]) -> str:
    lum = sum(rgb) / 3
    return "white" if lum > 225 else "black" if lum < 40 else "gray"


def _object_noun(obj: ObjectSpec, world_height: float, rng: np.random.Generator) -> str:
    size = _choice(rng, SIZE_WORDS[size_class(obj, world_height)])
    shape = _choice(rng, SHAPE_WORDS[obj.shape])
    return " ".join(w for w in (size, obj.color, shape) if w)


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _motion_clause(obj: ObjectSpec, spec: SceneSpec, rng: np.random.Generator) -> str:
    """'moves quickly to the left', 'is thrown to the right and falls', 'rests', … (verb phrase)."""
    vx, vy = obj.velocity
    speed = math.hypot(vx, vy)
    falls = spec.gravity[1] < 0 and not obj.static
    wh = spec.world_size[1]
    if obj.static:
        return _choice(rng, ("stays still", "rests in place", "does not move"))
    if speed < 0.02 * wh:
        return _choice(rng, ("falls", "drops")) if falls else _choice(rng, ("stays still", "barely moves"))
    direction = DIRECTION_WORDS[direction_index(vx, vy)]
    adverb = _choice(rng, SPEED_WORDS[speed_class(speed, wh)])
    if falls:
        verb = _choice(rng, ("is thrown", "is launched", "flies"))
        tail = _choice(
            rng, ("and falls in an arc", "and curves down under gravity", "and falls along a parabola")
        )
        return " ".join(w for w in (verb, adverb, direction, tail) if w)
    verb = _choice(
        rng, ("moves", "travels", "slides", "rolls") if obj.shape == "circle" else ("moves", "slides")
    )
    return " ".join(w for w in (verb, adverb, direction) if w)


def camera_phrase(spec: SceneSpec, rng: np.random.Generator) -> str | None:
    """'the camera slowly zooms in' (one clause per non-zero axis) or the preset's words; None if static."""
    cam = spec.camera
    if cam.preset is not None:
        return _choice(rng, PRESET_WORDS[cam.preset])
    axes = camera_axes(cam)
    parts = []
    for name, value in zip(CAMERA_AXES, axes):
        if value == 0:
            continue
        words = _choice(rng, CAMERA_WORDS[name][0 if value > 0 else 1])
        mag = abs(value)
        adverb = "slowly " if mag <= 3 else "quickly " if mag > 7 else ""
        parts.append(adverb + words)
    if not parts:
        return None
    return "the camera " + " and ".join(parts)


def _event_phrases(spec: SceneSpec, nouns: list[str], events, rng: np.random.Generator) -> list[str]:
    out = []
    collided = set()
    events = list(events or [])
    if not events and spec.scenario == "collision" and len(spec.objects) == 2:
        events = [{"kind": "collision", "a": 0, "b": 1}]
    for ev in events:
        ev = ev if isinstance(ev, dict) else ev.to_json()
        if ev["kind"] == "collision":
            pair = (ev["a"], ev["b"])
            if pair in collided:
                continue
            collided.add(pair)
            a, b = nouns[pair[0]], nouns[pair[1]]
            out.append(
                _choice(
                    rng,
                    (
                        f"the {a} and the {b} collide",
                        f"the {a} bumps into the {b}",
                        f"the {a} and the {b} hit each other and bounce apart",
                    ),
                )
            )
        elif ev["kind"] == "bounce":
            wall = {
                "floor": "the floor",
                "ceiling": "the ceiling",
                "left": "the left wall",
                "right": "the right wall",
            }
            where = wall.get(ev.get("wall") or "", "a wall")
            phrase = f"the {nouns[ev['a']]} bounces off {where}"
            if phrase not in out:
                out.append(phrase)
    return out


def caption(spec: SceneSpec, rng: np.random.Generator | int | None = None, events=None) -> str:
    """A caption for `spec`; `events` (from `simulate`) adds collisions and bounces. Same rng → same text."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    wh = spec.world_size[1]
    nouns = [_object_noun(o, wh, rng) for o in spec.objects]
    clauses = []
    for obj, noun in zip(spec.objects, nouns):
        motion = _motion_clause(obj, spec, rng)
        if abs(obj.angular_velocity) > 0.5 and not obj.static:
            motion += _choice(rng, (" while spinning", ", spinning", " and rotates"))
        clauses.append((noun, motion))
    bg = spec.background
    bg_phrase = _choice(rng, BACKGROUND_WORDS[bg.kind]).format(color=_background_color_word(bg.color))
    events_txt = _event_phrases(spec, nouns, events, rng)
    cam = camera_phrase(spec, rng)

    if not clauses:
        body = _choice(rng, ("An empty scene", "Nothing moves")) + f" {bg_phrase}"
        sentences = [body]
    else:
        template = int(rng.integers(5))
        listed = [f"{_article(n)} {m}" for n, m in clauses]
        if template == 0:  # "A small red ball moves to the right on a white background."
            first = f"{listed[0]} {bg_phrase}"
            sentences = [first[0].upper() + first[1:]] + [r[0].upper() + r[1:] for r in listed[1:]]
        elif template == 1:  # "On a white background, a small red ball moves to the right."
            lead = bg_phrase.removeprefix("on ").removeprefix("over ")
            sentences = [f"{'On' if bg_phrase.startswith('on') else 'Over'} {lead}, {', and '.join(listed)}"]
        elif template == 2:  # "A video of a small red ball that moves to the right, on a white background."
            objs = "; ".join(f"{_article(n)} that {m}" for n, m in clauses)
            sentences = [
                f"{_choice(rng, ('A video of', 'A clip showing', 'Footage of'))} {objs}, {bg_phrase}"
            ]
        elif template == 3:  # "Two objects on a white background: a small red ball moves ..., and ..."
            count = COUNT_WORDS[len(clauses)] if len(clauses) < len(COUNT_WORDS) else str(len(clauses))
            noun = "object" if len(clauses) == 1 else "objects"
            sentences = [f"{count} {noun} {bg_phrase}: {'; '.join(listed)}"]
        else:  # "Watch as a small red ball moves to the right on a white background."
            sentences = [
                f"{_choice(rng, ('Watch as', 'Here,', 'In this scene,'))} {', and '.join(listed)} {bg_phrase}"
            ]
        if cam and template == 0 and rng.random() < 0.5:  # "While the camera pans left, a red ball ..."
            first = sentences[0]
            sentences[0] = f"While {cam}, {first[0].lower() + first[1:]}"
            cam = None
    for phrase in events_txt:
        sentences.append(phrase[0].upper() + phrase[1:])
    if cam:
        sentences.append(cam[0].upper() + cam[1:])
    return ". ".join(sentences) + "."
