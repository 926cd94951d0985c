"""The prompt reader's vocabulary: every word and phrase `prompt.parse_world_prompt` knows, and what each
one says. The parser (`kinema.world.prompt`) reads prompts with these tables; words they do not list are
read by meaning (`kinema.world.phrases`).

The words are the captioner's (`kinema.world.captions`: SHAPE_WORDS, SIZE_WORDS, SPEED_WORDS,
DIRECTION_WORDS, CAMERA_WORDS, PRESET_WORDS, BACKGROUND_WORDS, COUNT_WORDS; colours from `spec.COLORS`), so
every caption the training data carries parses back; the lists below add the verbs and glue words the
captioner writes inline, plus a handful of free-form synonyms ("up", "slow", "walls", "twice").

Two tables, phrase (a tuple of words) → (kind, value):
- `SCENE_TABLE`: article, count (n), times (n), size (class), color, shape ((shape, word)), object, speed
  (class), direction (sector 0-7, counter-clockwise from right), motion ("move" | "throw" | "fall" |
  "still"), gravity, spin, collide ("together" | "next"), bounce, wall (side, "any" or "all"), background
  ((kind, rgb, phrase)), it, all, camera, glue, boundary (punctuation).
- `CAMERA_TABLE`, read after "camera" until the clause ends: preset (name), axis ((axis, ±1)), adverb
  (speed class), glue.

A class is a word's meaning, not a number: the parser turns size, speed and camera-adverb classes into
magnitudes with `prompt.SIZE_RANGES`, `SPEED_RANGES` and `CAMERA_RANGES`.
"""

from __future__ import annotations

from typing import Any

from kinema.world.captions import (
    BACKGROUND_WORDS,
    CAMERA_WORDS,
    COUNT_WORDS,
    DIRECTION_WORDS,
    PRESET_WORDS,
    SHAPE_WORDS,
    SIZE_WORDS,
    SPEED_WORDS,
)
from kinema.world.spec import COLORS

# --- word lists: what the captioner writes inline, plus a few free-form words ---------------------------

MOTION_VERBS: dict[str, tuple[str, ...]] = {
    "move": (
        "moves", "move", "moving", "travels", "travel", "travelling", "traveling", "slides", "slide",
        "sliding", "rolls", "roll", "rolling", "goes", "go", "going", "heads", "heading", "glides", "gliding",
        "in motion",  # also WordNet's gloss of "drift" / "float": "be in motion due to some air or water current"
    ),
    "throw": (
        "is thrown", "thrown", "throw", "is launched", "launched", "flies", "fly", "flying", "is tossed",
        "tossed",
    ),
    "fall": ("falls", "fall", "falling", "drops", "drop", "dropping", "is dropped", "dropped"),
    "still": (
        "stays still", "rests in place", "does not move", "barely moves", "is still", "at rest", "still",
        "rests", "resting", "static",
    ),
}  # fmt: skip
GRAVITY_WORDS: tuple[str, ...] = (
    "falls in an arc", "curves down under gravity", "falls along a parabola", "along a parabola",
    "in a parabola", "parabola", "in an arc", "arcs", "under gravity", "gravity",
)  # fmt: skip
SPIN_WORDS: tuple[str, ...] = ("while spinning", "spinning", "spins", "spin", "rotates", "rotating", "rotate")
COLLIDE_WORDS: tuple[str, ...] = (  # the objects named together meet
    "collide", "colliding", "collision", "hit each other", "bump into each other", "crash into each other",
    "crash",
)  # fmt: skip
HIT_WORDS: tuple[str, ...] = (  # the subject meets the next object named
    "hits", "hit", "bumps into", "bump into", "collides with", "collide with", "collides", "crashes into",
    "crash into", "runs into", "strikes",
)  # fmt: skip
BOUNCE_WORDS: tuple[str, ...] = ("bounces", "bounce", "bouncing", "bounced", "rebounds", "rebound")
WALL_WORDS: dict[str, str] = {  # the captioner's "bounces off …" places, and walls named on their own
    "the floor": "floor", "floor": "floor", "the ground": "floor", "ground": "floor",
    "the ceiling": "ceiling", "ceiling": "ceiling", "the left wall": "left", "left wall": "left",
    "the right wall": "right", "right wall": "right", "a wall": "any", "the wall": "any", "wall": "any",
    "the walls": "all", "walls": "all", "in a box": "all", "inside a box": "all", "in the box": "all",
    "inside the box": "all", "in a closed box": "all",
}  # fmt: skip
TIMES_WORDS: dict[str, int] = {"once": 1, "twice": 2, "thrice": 3}
EXTRA_SIZES: dict[str, str] = {"medium": "medium", "huge": "large"}
EXTRA_SPEEDS: dict[str, str] = {"slow": "slow", "quick": "fast"}
EXTRA_DIRECTIONS: dict[str, int] = {"up": 2, "upwards": 2, "down": 6, "downwards": 6}
GLUE: tuple[str, ...] = (  # template and glue words that carry no scene fact
    "and", "that", "which", "of", "on", "over", "in", "into", "with", "while", "as", "is", "are", "then",
    "watch", "here", "this", "scene", "video", "clip", "showing", "footage", "off", "against", "at",
    "bounce apart", "bounces apart", "each other", "there",
)  # fmt: skip
BACKGROUND_COLORS: dict[str, tuple[int, int, int]] = {  # the captioner's luminance words
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "black": (20, 20, 20),
}
CAMERA_GLUE: tuple[str, ...] = ("and", "while", "then", "the", "camera")

Phrase = tuple[str, ...]
Entry = tuple[str, Any]  # (kind, value)


def _words(text: str) -> Phrase:
    return tuple(text.split())


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def short_direction(index: int) -> str:
    """'to the right' → 'right', 'up and to the left' → 'up and left' (free-form and report wording)."""
    return DIRECTION_WORDS[index].replace("to the ", "")


def _scene_table() -> dict[Phrase, Entry]:
    table: dict[Phrase, Entry] = {}

    def add(text: str, kind: str, value: Any = None) -> None:
        table.setdefault(_words(text), (kind, value))

    for text in ("a", "an", "the"):
        add(text, "article")
    for n, word in enumerate(COUNT_WORDS[1:], start=1):
        add(word.lower(), "count", n)
        add(f"{word.lower()} times", "times", n)
    for n in range(1, 100):  # more than 16 is refused with a message, not ignored
        add(str(n), "count", n)
        add(f"{n} times", "times", n)
    for cls, words in SIZE_WORDS.items():
        for w in words:
            if w:
                add(w, "size", cls)
    for w, cls in EXTRA_SIZES.items():
        add(w, "size", cls)
    for c in COLORS:
        add(c, "color", c)
    for shape, words in SHAPE_WORDS.items():
        for w in words:
            # the background's "over a checkerboard floor" / walls' "in a box" win by length
            add(w, "shape", (shape, w))
            add(_plural(w), "shape", (shape, w))
    add("object", "object")
    add("objects", "object")
    for cls, words in SPEED_WORDS.items():
        for w in words:
            if w:
                add(w, "speed", cls)
    for w, cls in EXTRA_SPEEDS.items():
        add(w, "speed", cls)
    for i in range(len(DIRECTION_WORDS)):
        add(DIRECTION_WORDS[i], "direction", i)
        add(short_direction(i), "direction", i)
    for w, i in EXTRA_DIRECTIONS.items():
        add(w, "direction", i)
    for kind, words in MOTION_VERBS.items():
        for w in words:
            add(w, "motion", kind)
    for w in GRAVITY_WORDS:
        add(w, "gravity")
    for w in SPIN_WORDS:
        add(w, "spin")
    for w in COLLIDE_WORDS:
        add(w, "collide", "together")
    for w in HIT_WORDS:
        add(w, "collide", "next")
    for w in BOUNCE_WORDS:
        add(w, "bounce")
    for w, wall in WALL_WORDS.items():
        add(w, "wall", wall)
    for w, n in TIMES_WORDS.items():
        add(w, "times", n)
    for kind, phrases in BACKGROUND_WORDS.items():
        for p in phrases:
            names = BACKGROUND_COLORS if "{color}" in p else {"white": BACKGROUND_COLORS["white"]}
            for cname, rgb in names.items():
                text = p.format(color=cname)
                bare = text.removeprefix("on ").removeprefix("over ")
                for t in (text, bare):
                    add(t, "background", (kind, rgb, bare))
    add("it", "it")
    for w in ("they", "both", "them"):
        add(w, "all")
    add("camera", "camera")
    for w in GLUE:
        add(w, "glue")
    for p in ".,;:!?":
        add(p, "boundary")
    return table


def _camera_table() -> dict[Phrase, Entry]:
    table: dict[Phrase, Entry] = {}
    for preset, phrases in PRESET_WORDS.items():
        for p in phrases:
            table[_words(p.removeprefix("the camera "))] = ("preset", preset)
    for axis, (positive, negative) in CAMERA_WORDS.items():
        for sign, phrases in ((1.0, positive), (-1.0, negative)):
            for p in phrases:
                table.setdefault(_words(p), ("axis", (axis, sign)))
    for cls, words in SPEED_WORDS.items():
        for w in words:
            if w:
                table.setdefault(_words(w), ("adverb", cls))
    for w in CAMERA_GLUE:
        table.setdefault(_words(w), ("glue", None))
    return table


SCENE_TABLE = _scene_table()
CAMERA_TABLE = _camera_table()
