"""Text prompt → `SceneSpec`: the words of a prompt placed as a scene the physics world can simulate.

`parse_world_prompt("a red ball is thrown to the right and bounces twice", width=64, height=64,
num_frames=17, fps=10)` returns a `PromptParse`: the spec, the events the prompt asked for, and what it
understood and did not (`report()` → "understood: red ball thrown right, red ball bounces off the floor
twice; not understood: nothing").

Reading. The words and phrases the reader knows, and what each says, are `kinema.world.vocabulary`'s
tables. Matching is longest phrase first, so "up and to the right" beats "up" and "the camera descends
and pulls back" is the preset, not two axes. Words after "camera" are read with the camera table until a
clause ends. Words the tables do not list are read by meaning (`kinema.world.phrases`: MiniLM against
prototype phrasings, one encoder call per prompt, none when every word is listed): "travels leftward",
"to the west", "toward the left edge". A span the encoder leaves unclear is read once more through its
unlisted words' WordNet definitions (`kinema.world.lexicon`; `_read_glosses`): "climbs" → "go upward …" →
moves up, "sinks" → "fall or descend …" → falls. A motion word read as no one motion ("sideways", "wiggles"), or a
verb read as "moves" with no direction anywhere ("drifts"), leaves its object's motion undetermined: no
default is drawn, the report says "motion not understood" and `PromptParse.check_motion` (physics
grounding) refuses it (issue #25).

Meaning.
- An object is `[count] [size] [colour] shape` ("two small blue squares"); `the <noun>` refers back to an
  object already named; "it" / "they" / "both" to the last one / all of them. A shape without a colour
  takes the first colour not yet used; a colour without a shape is not understood.
- Motion words apply to the objects named since the previous verb: a direction (8 sectors) and a speed
  word set the initial velocity (speed: the class centre; none → "medium"); "moves" / "rolls" without a
  direction move right. "falls" / "drops" turn gravity on with zero initial velocity; "is thrown" /
  "flies" / "parabola" / "under gravity" turn it on and keep the direction. Gravity is the paper's
  (`paper.GRAVITY`) and, as in the training data, always comes with a floor.
- "bounces [twice] [off the floor / the left wall / …]" turns that wall on (no wall named: the floor under
  gravity, else all four) and, for floor bounces under gravity, places the object at the height (raising
  gravity when that height would be under `MIN_DROP` of the world) that gives exactly that many bounces in
  the clip. "walls" / "in a box" → all four walls.
- "collide" / "hit each other" pair the objects named together; "hits" / "bumps into" pair the subject
  with the next object named (which stays at rest unless told to move; "collide" without directions sends
  the two head-on). A pair is placed on a collision course that meets at `CONTACT_TIME` of the clip.
- Camera words set `CameraSpec` axes (magnitude: "slowly" 2.5, none 5, "quickly" 8.5, the centres of the
  captioner's classes for the dataset's 2–10 range) or a preset; background words set `BackgroundSpec`.

Placement is deterministic (no randomness): each object's start is the point of a grid whose straight
(gravity-bent, wall-folded) path over the clip stays inside the world, misses the others and is most
central; no two objects overlap at t = 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import lexicon
from kinema.world.captions import SHAPE_WORDS, direction_index
from kinema.world.paper import GRAVITY
from kinema.world.phrases import ACCEPT, DIRECTIONS, PhraseMatch, match_phrases
from kinema.world.spec import (
    COLORS,
    BackgroundSpec,
    CameraSpec,
    ObjectSpec,
    SceneSpec,
    WallsSpec,
)
from kinema.world.vocabulary import CAMERA_TABLE, SCENE_TABLE, Entry, Phrase, short_direction

# Class ranges as fractions of the world height; the bounds between classes are the captioner's
# (`captions.size_class` / `speed_class`), the outer bounds the dataset's ranges. A word maps to the centre.
SIZE_RANGES: dict[str, tuple[float, float]] = {
    "tiny": (0.03, 0.05),
    "small": (0.05, 0.09),
    "medium": (0.09, 0.14),
    "large": (0.14, 0.20),
}
SPEED_RANGES: dict[str, tuple[float, float]] = {  # per second; under 0.02 the captioner says "stays still"
    "slow": (0.02, 0.10),
    "medium": (0.10, 0.42),
    "fast": (0.42, 0.60),
}
CAMERA_RANGES: dict[str, tuple[float, float]] = {
    "slow": (2.0, 3.0),
    "medium": (3.0, 7.0),
    "fast": (7.0, 10.0),
}
SPIN_RATE = 2.0  # rad/s; the captioner says "spinning" above 0.5
CONTACT_TIME = 0.5  # a collision pair meets at this fraction of the clip
MIN_DROP = 0.15  # a bouncing object falls at least this fraction of the world height
GAP = 0.05  # clearance between objects at t = 0, fraction of the world height (the dataset's)
GRID = 21  # candidate start points per axis

_LONGEST = max(len(p) for p in (*SCENE_TABLE, *CAMERA_TABLE))
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[.,;:!?]")


# --- the result ---------------------------------------------------------------------------------------


@dataclass
class PromptParse:
    """What a prompt asked for. `events` are the asked-for contacts, in `simulate.Event.to_json` keys
    without the frame: `{"kind": "collision", "a", "b"}` / `{"kind": "bounce", "a", "wall", "count"}`
    (object indices into `spec.objects`)."""

    prompt: str
    spec: SceneSpec
    events: list[dict[str, Any]] = field(default_factory=list)
    understood: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    unclear_motion: dict[str, list[str]] = field(default_factory=dict)  # noun → its motion words not read
    colors_said: list[bool] = field(default_factory=list)  # per spec.objects: its colour is the prompt's

    def report(self) -> str:
        """'understood: red ball moving right; not understood: 'wobbly'' ("nothing" for an empty side)."""
        said = ", ".join(self.understood) or "nothing"
        missed = ", ".join(f"'{p}'" for p in self.not_understood) or "nothing"
        return f"understood: {said}; not understood: {missed}"

    def check_motion(self) -> None:
        """Raise `InvalidInputError` when an object's motion word was not understood, so no motion is
        invented for it (issue #25: "travels leftward" once became a ball going right)."""
        if not self.unclear_motion:
            return
        said = " and ".join(
            f"the {noun} from {' '.join(repr(w) for w in words)}"
            for noun, words in self.unclear_motion.items()
        )
        raise InvalidInputError(
            f"Physics mode cannot tell how to move {said} ({self.report()}) and will not guess; say it with a "
            'direction (left, right, up, down: "moves to the left") or a verb it knows ("moves to the '
            'right", "falls", "is thrown", "stays still").'
        )


@dataclass
class _Mention:
    """One object as the prompt describes it."""

    color: str
    shape: str
    noun: str  # "small green triangle", as written (singular)
    size: str  # size class
    motion: str | None = None  # "move" | "throw" | "fall" | "still"
    direction: int | None = None
    speed: str | None = None
    speed_word: str | None = None
    gravity: bool = False
    spin: bool = False
    unclear: list[str] = field(default_factory=list)  # motion words about it that were not understood
    color_said: bool = True  # False when the reader picked an unused colour for "a ball"

    @property
    def undetermined(self) -> bool:
        """A motion word was not understood and nothing else gives a direction: its motion is not known
        (and no default is drawn for it)."""
        return bool(self.unclear) and self.direction is None and self.motion not in ("still", "fall")


@dataclass
class _Item:
    kind: str
    value: Any
    start: int
    end: int
    by_meaning: bool = False  # read by `phrases.match_phrases`, not from a table


# --- reading ------------------------------------------------------------------------------------------


def _longest(table: dict[Phrase, Entry], tokens: list[str], i: int) -> tuple[Entry, int] | None:
    for n in range(min(_LONGEST, len(tokens) - i), 0, -1):
        entry = table.get(tuple(tokens[i : i + n]))
        if entry is not None:
            return entry, i + n
    return None


def _scan(tokens: list[str]) -> list[_Item]:
    """Tokens → matched items, longest phrase first; camera tables from "camera" to the clause's end."""
    items: list[_Item] = []
    i, camera = 0, False
    while i < len(tokens):
        if camera:
            hit = _longest(CAMERA_TABLE, tokens, i)
            # glue continues the camera clause only if camera words follow ("pans left and rises")
            if hit is not None and hit[0][0] == "glue":
                after = _longest(CAMERA_TABLE, tokens, hit[1])
                if after is None:
                    hit = None
            if hit is None:
                camera = False
                continue
            (kind, value), end = hit
            items.append(_Item("camera_" + kind, value, i, end))
            i = end
            continue
        hit = _longest(SCENE_TABLE, tokens, i)
        if hit is None:
            items.append(_Item("unknown", tokens[i], i, i + 1))
            i += 1
            continue
        (kind, value), end = hit
        items.append(_Item(kind, value, i, end))
        camera = kind == "camera"
        i = end
    return items


def _phrase_runs(tokens: list[str], items: list[_Item]) -> list[tuple[int, int]]:
    """Index ranges into `items` of the spans to read by meaning: runs of unknown words, articles, "of" and
    listed directions with at least one unknown word ("to the west", "toward the left edge", "drifts
    leftward"), without articles at their ends."""

    def joins(item: _Item) -> bool:
        return item.kind in ("unknown", "article", "direction") or (
            item.kind == "glue" and tokens[item.start] == "of"
        )

    runs, i = [], 0
    while i < len(items):
        if not joins(items[i]):
            i += 1
            continue
        j = i
        while j < len(items) and joins(items[j]):
            j += 1
        a, b = i, j
        while a < b and items[a].kind in ("article", "glue"):
            a += 1
        while b > a and items[b - 1].kind in ("article", "glue"):
            b -= 1
        if any(it.kind == "unknown" for it in items[a:b]):
            runs.append((a, b))
        i = j
    return runs


def _read_phrases(tokens: list[str], items: list[_Item]) -> list[_Item]:
    """The spans the tables did not cover, read by meaning (`phrases.match_phrases`, one encoder call for
    the whole prompt, none when nothing is unknown): each span, and each unknown word of a span with more
    than one or with a listed direction. Readings that agree give motion / direction items and the words
    count as understood; a listed direction wins over the encoder's. A span that reads like a motion but
    as no one class (or as two) becomes "unclear", so its object gets no invented motion."""
    runs = _phrase_runs(tokens, items)
    if not runs:
        return items
    queries: dict[str, PhraseMatch | None] = {}
    for a, b in runs:
        unknown = [it for it in items[a:b] if it.kind == "unknown"]
        queries[" ".join(tokens[items[a].start : items[b - 1].end])] = None
        if len(unknown) > 1 or any(it.kind == "direction" for it in items[a:b]):
            queries.update((tokens[it.start], None) for it in unknown)
    queries.update((m.phrase, m) for m in match_phrases(list(queries)))
    queries.update(_read_glosses([p for p, m in queries.items() if m.label == "unclear"]))

    out: list[_Item] = []
    last = 0
    for a, b in runs:
        out.extend(items[last:a])
        last = b
        start, end = items[a].start, items[b - 1].end
        whole = queries[" ".join(tokens[start:end])]
        unknown = [it for it in items[a:b] if it.kind == "unknown"]
        own = {it.start: queries.get(tokens[it.start]) or whole for it in unknown}
        listed = {it.value for it in items[a:b] if it.kind == "direction"}
        read = [m for m in (whole, *own.values()) if m.label not in (None, "unclear")]
        directions = {m.direction for m in read if m.direction is not None}
        motions = {m.motion for m in read if m.motion is not None}
        conflict = len(motions) > 1 or len(directions) > 1 or bool(listed and directions - listed)
        if conflict:  # readings that disagree are not a reading
            read, directions, motions = [], set(), set()
        if (
            read
            and whole in read
            or (listed and DIRECTIONS.get(whole.best) in listed and whole.score >= ACCEPT)
        ):  # the span as a whole ("to the west", "toward the left edge")
            absorbed = set(own)
        else:
            absorbed = {i for i, m in own.items() if m in read}
        if motions:
            motion = motions.pop()
            out.append(_Item("motion", motion, start, end, by_meaning=True))
            if motion == "move" and not directions and not listed:  # "drifts": which way is not said
                out.append(_Item("vague", " ".join(tokens[start:end]), start, end, by_meaning=True))
        if directions and not listed:
            out.append(_Item("direction", directions.pop(), start, end, by_meaning=True))
        unclear = (
            not read
            and not listed
            and (conflict or whole.label == "unclear" or any(m.label == "unclear" for m in own.values()))
        )
        for it in items[a:b]:
            if it.start in absorbed:
                continue
            if unclear and it.kind == "unknown":
                out.append(_Item("unclear", tokens[it.start], it.start, it.end, by_meaning=True))
            else:
                out.append(it)
    out.extend(items[last:])
    return out


def _read_glosses(phrases: list[str]) -> dict[str, PhraseMatch]:
    """Phrases the encoder left unclear, read through their unlisted words' dictionary glosses
    (`kinema.world.lexicon`): each gloss with the tables first ("climbs" → "go upward with gradual or
    continuous progress" → moves up; "sinks" → "fall or descend …" → falls), the encoder second ("skyward"
    → "toward the sky"), one encoder call for all. A phrase is read when its words' readings agree on one
    motion and at most one of the four directions and none of them is unclear; else it stays unclear."""
    words = {
        w: g
        for p in phrases
        for w in p.split()
        if _longest(SCENE_TABLE, [w], 0) is None and (g := lexicon.gloss(w)) is not None
    }
    tables: dict[str, tuple[set[str], set[int]]] = {}  # word → the motions and directions its gloss says
    for w, g in words.items():
        items = _scan(_TOKEN.findall(g.lower()))
        motions = {it.value for it in items if it.kind == "motion"}
        directions = {it.value for it in items if it.kind == "direction"}
        if motions:  # a gloss that names a motion the tables know: "travel up", "drop sharply"
            tables[w] = motions, directions
    rest = [w for w in words if w not in tables]
    by_encoder = dict(zip(rest, match_phrases([words[w] for w in rest])))
    for w in rest:
        m = by_encoder[w]
        if m.label is not None:  # None: the definition is about something else, so the word says nothing
            tables[w] = ({m.label} if m.label == "unclear" else {m.motion} - {None}), {m.direction} - {None}
    out = {}
    for p in phrases:
        read = [w for w in p.split() if w in tables]
        motions = set().union(*(tables[w][0] for w in read))
        label = _one_reading(motions, set().union(*(tables[w][1] for w in read))) if read else None
        if label is not None:
            out[p] = PhraseMatch(p, label, label, 1.0, 1.0, gloss="; ".join(f"{w}: {words[w]}" for w in read))
    return out


def _one_reading(motions: set[str], directions: set[int]) -> str | None:
    """The one phrase class that motions and directions read together say ("move" + up → "up", "fall" +
    down → "fall"), or None: an unclear part, two motions or directions, a diagonal, or a motion with a
    direction the one class cannot carry ("is thrown" + up)."""
    if "unclear" in motions or len(motions) > 1 or len(directions) > 1:
        return None
    motion = next(iter(motions), None)
    if not directions:
        return motion
    direction = {d: name for name, d in DIRECTIONS.items()}.get(next(iter(directions)))
    if direction is not None and motion in (None, "move"):
        return direction
    return motion if motion == "fall" and direction == "down" else None


class _Reader:
    """Walks the items once, building mentions, events and scene flags (see the module docstring)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.mentions: list[_Mention] = []
        self.group: list[int] = []  # the objects the next motion words apply to
        self.previous: list[int] = []  # the group before it ("… and a blue ball hits it")
        self.group_done = False  # a verb has been applied to the group: the next noun starts a new one
        self.pending: list[_Item] = []  # noun modifiers waiting for a shape
        self.hit_from: tuple[list[int], _Item] | None = None  # "hits": subjects waiting for a partner
        self.bounce: dict[str, Any] | None = None  # the open "bounces …", for "off the floor" / "twice"
        self.events: list[dict[str, Any]] = []
        self.hitter: dict[tuple[int, int], int | None] = {}  # collision pair → who hits (None: "collide")
        self.scene_bounces: list[dict[str, Any]] = []  # "bounces" with no object named
        self.gravity = False
        self.walls: set[str] = set()
        self.camera_items: list[_Item] = []
        self.background: tuple[str, tuple[int, int, int], str] | None = None
        self.unknown: set[int] = set()
        self.notes: list[str] = []  # understood scene-level phrases
        self.noun_end = -1  # the token after the last noun: where its verb stands

    def text(self, item: _Item) -> str:
        return " ".join(self.tokens[item.start : item.end])

    def read(self, items: list[_Item]) -> None:
        for item in items:
            if item.kind in ("article", "count", "size", "color") or (
                item.kind in ("speed", "spin") and self.pending
            ):
                self.pending.append(item)  # "a fast red ball", "a spinning ring": they belong to the noun
            elif item.kind == "unknown":
                self.unknown.add(item.start)
                if item.start == self.noun_end and self.group and not self.group_done:
                    # the word where the group's verb stands ("a green ball zigzags"), read as nothing: its
                    # motion is not known, so none is drawn - not "at rest", nor a default heading
                    for m in self.subjects():
                        m.unclear.append(self.tokens[item.start])
            elif item.by_meaning and self.pending:  # "two wobbling red balls": a modifier, not a verb
                self.unknown.update(range(item.start, item.end))
            elif item.kind in ("shape", "object"):
                self.noun(item)
            else:
                self.flush_pending()
                if item.kind not in ("wall", "times", "glue"):
                    self.bounce = None
                getattr(self, "on_" + item.kind, self.on_glue)(item)
        self.flush_pending()
        if self.hit_from is not None:  # "a red ball and a blue ball hit"
            subjects, item = self.hit_from
            if len(subjects) >= 2:
                self.pair(subjects)
            else:
                self.unknown.update(range(item.start, item.end))
        if self.camera_items and not any(
            i.kind in ("camera_axis", "camera_preset") for i in self.camera_items
        ):
            self.unknown.update(i.start for i in self.camera_items if i.kind == "camera")

    # nouns -----------------------------------------------------------------------------------------

    def flush_pending(self) -> None:
        """Modifiers that met no shape: colours, sizes, speeds and counts alone are not understood."""
        for item in self.pending:
            if item.kind != "article":
                self.unknown.update(range(item.start, item.end))
        self.pending = []

    def noun(self, item: _Item) -> None:
        self.noun_end = item.end
        mods = {m.kind: m for m in self.pending}
        self.pending = []
        if item.kind == "object" and "color" not in mods:  # "two objects on a white background: …"
            return
        shape, word = item.value if item.kind == "shape" else ("circle", self.text(item))
        color = mods["color"].value if "color" in mods else None
        size = mods["size"].value if "size" in mods else None
        is_ref = "article" in mods and self.text(mods["article"]) == "the" and "count" not in mods
        found = self.resolve(color, shape, size) if is_ref else []
        for _ in range(0 if found else mods["count"].value if "count" in mods else 1):
            used = {m.color for m in self.mentions}
            pick = color or next((c for c in COLORS if c not in used), "red")
            words = [self.text(mods["size"])] if "size" in mods else []
            mention = _Mention(pick, shape, " ".join([*words, pick, word]), size or "medium")
            mention.color_said = color is not None
            if "speed" in mods:
                mention.speed, mention.speed_word = mods["speed"].value, self.text(mods["speed"])
            mention.spin = "spin" in mods
            self.mentions.append(mention)
            found.append(len(self.mentions) - 1)
        if self.hit_from is not None:  # "the red ball bumps into the blue ball"
            subjects, _ = self.hit_from
            self.hit_from = None
            for s in subjects:
                self.add_collision(s, found[0], together=False)
            self.previous, self.group, self.group_done = self.group, found, True  # "… moving left" still fits
        elif self.group_done or not self.group:
            self.previous, self.group, self.group_done = self.group, found, False
        else:  # "a red ball and a blue ball move right"
            self.group = [*self.group, *(f for f in found if f not in self.group)]

    def resolve(self, color: str | None, shape: str, size: str | None) -> list[int]:
        """'the small red ball' → the first earlier object of that colour, shape (and size class), one not
        already in the group if there is one ("the red ball and the red ball")."""
        fits = [
            j
            for j, m in enumerate(self.mentions)
            if (color is None or m.color == color) and m.shape == shape and size in (None, m.size)
        ]
        fresh = [j for j in fits if j not in self.group] or fits
        return fresh[:1]

    # motion ----------------------------------------------------------------------------------------

    def subjects(self) -> list[_Mention]:
        self.group_done = bool(self.group)
        return [self.mentions[j] for j in self.group]

    def on_motion(self, item: _Item) -> None:
        targets = self.subjects()
        falls = item.value in ("throw", "fall")
        if falls:
            self.gravity = True
            if not targets:
                self.notes.append("gravity")
        elif not targets:
            self.unknown.update(range(item.start, item.end))
        for m in targets:
            m.gravity |= falls
            if m.motion in (None, "still"):
                m.motion = item.value
            elif falls and m.motion in ("move", "fall"):  # "rolls right and falls", "falls … thrown"
                m.motion = "throw" if m.motion == "move" or item.value == "throw" else "fall"

    def on_direction(self, item: _Item) -> None:
        targets = self.subjects()
        if not targets:
            self.unknown.update(range(item.start, item.end))
        for m in targets:
            m.direction = item.value

    def on_unclear(self, item: _Item) -> None:
        """A word that reads like a motion but as no one class: reported, and its objects get no
        invented motion (`_Mention.undetermined`)."""
        self.unknown.update(range(item.start, item.end))
        for m in self.subjects():
            m.unclear.append(item.value)

    def on_vague(self, item: _Item) -> None:
        """A verb read by meaning as "moves" with no direction: understood, but the default heading the
        listed verbs get ("moves" → right) is not drawn for it; a direction word later settles it."""
        for m in [self.mentions[j] for j in self.group]:
            m.unclear.append(item.value)

    def on_speed(self, item: _Item) -> None:
        targets = self.subjects()
        if not targets:
            self.unknown.update(range(item.start, item.end))
        for m in targets:
            m.speed, m.speed_word = item.value, self.text(item)

    def on_spin(self, item: _Item) -> None:
        targets = self.subjects()
        if not targets:
            self.unknown.update(range(item.start, item.end))
        for m in targets:
            m.spin = True

    def on_gravity(self, item: _Item) -> None:
        self.gravity = True
        targets = self.subjects()
        if not targets:
            self.notes.append("gravity")
        for m in targets:
            m.gravity = True

    # events ----------------------------------------------------------------------------------------

    def add_collision(self, hitter: int, target: int, together: bool) -> None:
        if hitter == target:
            return
        a, b = sorted((hitter, target))
        if (a, b) not in self.hitter:
            self.hitter[(a, b)] = None if together else hitter
            self.events.append({"kind": "collision", "a": a, "b": b})

    def pair(self, group: list[int]) -> None:
        for a, b in zip(group, group[1:]):
            self.add_collision(a, b, together=True)

    def on_collide(self, item: _Item) -> None:
        group = list(self.group)
        self.group_done = True
        if item.value == "together" and len(group) >= 2:
            self.pair(group)
        elif group:
            self.hit_from = (group, item)
        else:
            self.unknown.update(range(item.start, item.end))

    def on_bounce(self, item: _Item) -> None:
        self.group_done = bool(self.group)
        events = [{"kind": "bounce", "a": a, "wall": None, "count": 1} for a in self.group]
        self.events.extend(events)
        self.bounce = {"events": events, "wall": None}
        if not events:
            self.scene_bounces.append(self.bounce)

    def on_wall(self, item: _Item) -> None:
        if self.bounce is not None and self.bounce["wall"] is None:  # "bounces off the floor"
            self.bounce["wall"] = item.value
            for e in self.bounce["events"]:
                e["wall"] = item.value
            return
        self.walls.add(item.value)
        self.notes.append("walls" if item.value in ("all", "any") else self.text(item).removeprefix("the "))

    def on_times(self, item: _Item) -> None:
        if self.bounce is None or not self.bounce["events"]:
            self.unknown.update(range(item.start, item.end))
        for e in self.bounce["events"] if self.bounce else []:
            e["count"] = item.value

    # the rest --------------------------------------------------------------------------------------

    def on_it(self, item: _Item) -> None:
        if self.hit_from is not None:  # "a blue ball hits it": the object named before the subject
            subjects, _ = self.hit_from
            target = next((j for j in reversed(self.previous) if j not in subjects), None)
            if target is None:
                return
            self.hit_from = None
            for s in subjects:
                self.add_collision(s, target, together=False)
        self.group_done = False

    def on_all(self, item: _Item) -> None:
        if self.mentions:
            self.group, self.group_done = list(range(len(self.mentions))), False

    def on_background(self, item: _Item) -> None:
        self.background = item.value

    def on_camera(self, item: _Item) -> None:
        self.camera_items.append(item)

    on_camera_preset = on_camera_axis = on_camera_adverb = on_camera_glue = on_camera

    def on_boundary(self, item: _Item) -> None:
        if self.text(item) != ",":  # a sentence ends its subject; a comma may list more ("a, b and c")
            self.group_done = bool(self.group)

    def on_glue(self, item: _Item) -> None:
        pass


def _camera(reader: _Reader) -> tuple[CameraSpec, list[str]]:
    """Camera items → CameraSpec; an adverb applies to the axis after it, or else to the one before."""
    items = reader.camera_items
    values: dict[str, float] = {}
    preset = None
    phrases: list[str] = []
    for k, item in enumerate(items):
        if item.kind == "camera_preset":
            preset = item.value
            phrases.append("camera " + reader.text(item))
        elif item.kind == "camera_axis":
            axis, sign = item.value
            before = items[k - 1] if k else None
            after = items[k + 1] if k + 1 < len(items) else None
            after_next_is_axis = k + 2 < len(items) and items[k + 2].kind == "camera_axis"
            cls = "medium"
            if before is not None and before.kind == "camera_adverb":
                cls = before.value
            elif after is not None and after.kind == "camera_adverb" and not after_next_is_axis:
                cls = after.value
            values[axis] = sign * class_centre(CAMERA_RANGES, cls)
            adverb = {"slow": "slowly ", "medium": "", "fast": "quickly "}[cls]
            phrases.append(f"camera {adverb}{reader.text(item)}")
    if preset is not None:
        return CameraSpec(preset=preset), phrases
    return CameraSpec(**values), phrases


def _unknown_runs(tokens: list[str], unknown: set[int]) -> list[str]:
    """Unknown tokens as phrases: consecutive ones, or ones apart only by articles ("past a fluffy cloud")."""
    runs: list[list[str]] = []
    last = -2
    for i in sorted(unknown):
        between = tokens[last + 1 : i]
        if runs and all(t in ("a", "an", "the") for t in between):
            runs[-1].extend([*between, tokens[i]])
        else:
            runs.append([tokens[i]])
        last = i
    return [" ".join(r) for r in runs]


# --- velocities and placement ------------------------------------------------------------------------


def class_centre(ranges: dict[str, tuple[float, float]], cls: str) -> float:
    """The centre of a class range (SIZE_RANGES, SPEED_RANGES, CAMERA_RANGES)."""
    low, high = ranges[cls]
    return (low + high) / 2


def _velocity(m: _Mention, wh: float) -> np.ndarray:
    """Direction word × speed class centre; no direction: right for "moves" / "is thrown" / a speed word,
    down for "falls quickly", at rest for "falls", "falls down", "stays still" or no verb; none at all for
    an undetermined object (a motion word not understood: no default is drawn)."""
    if m.undetermined:
        return np.zeros(2)
    direction = m.direction
    if direction is None and m.motion != "still":
        if m.motion == "fall":
            direction = 6 if m.speed is not None else None
        elif m.motion in ("move", "throw") or m.speed is not None:
            direction = 0
    if (
        direction is None
        or m.motion == "still"
        or (m.motion == "fall" and direction == 6 and m.speed is None)
    ):
        return np.zeros(2)
    speed = class_centre(SPEED_RANGES, m.speed or "medium") * wh
    angle = direction * math.pi / 4
    return np.array([speed * math.cos(angle), speed * math.sin(angle)])


def _bounce_directions(mentions: list[_Mention], events: list[dict[str, Any]], gravity: bool) -> None:
    """An object told to bounce off a wall, with no direction of its own, heads for that wall (all walls:
    right; under gravity the floor needs no push)."""
    toward = {"right": 0, "ceiling": 2, "left": 4, "floor": 6, "any": 0, "all": 0}
    for e in events:
        m = mentions[e["a"]]
        if e["kind"] == "bounce" and m.direction is None and m.motion in (None, "move"):
            if not (gravity and e["wall"] == "floor"):
                m.direction = toward[e["wall"]]


def _collision_velocities(
    mentions: list[_Mention],
    velocity: list[np.ndarray],
    events: list[dict[str, Any]],
    hitter: dict[tuple[int, int], int | None],
    wh: float,
) -> None:
    """Each pair must approach: with no direction given the hitter (for "collide", the first named)
    moves right and a "collide" partner comes head-on (left), a "hits" target stays where it is; a pair on
    one heading at one speed gets ±15 % so the first catches up (both stay in their speed class)."""
    for e in events:
        if e["kind"] != "collision":
            continue
        who = hitter[(e["a"], e["b"])]
        a, b = (e["a"], e["b"]) if who in (None, e["a"]) else (e["b"], e["a"])
        ma, mb = mentions[a], mentions[b]
        if ma.direction is None and ma.motion in (None, "move", "still"):
            ma.direction, ma.motion = 0, "move"
            velocity[a] = _velocity(ma, wh)
        if mb.direction is None and mb.motion is None and who is None:
            mb.direction, mb.motion = 4, "move"
            velocity[b] = _velocity(mb, wh)
        if not velocity[a].any() and not velocity[b].any():  # "a red ball falls and hits a blue ball"
            ma.direction = 6 if ma.motion == "fall" else 0
            ma.speed = ma.speed or "medium"
            velocity[a] = _velocity(ma, wh)
        va, vb = velocity[a], velocity[b]
        if np.linalg.norm(va - vb) < 0.2 * max(np.linalg.norm(va), np.linalg.norm(vb)):
            velocity[a], velocity[b] = va * 1.15, vb * 0.85


@dataclass
class _Scene:
    """What placement needs to know of the scene."""

    world: tuple[float, float]
    times: np.ndarray  # (T,) seconds
    g: float  # vertical gravity
    walls: WallsSpec

    @property
    def duration(self) -> float:
        return float(self.times[-1])


def _paths(p0: np.ndarray, v: np.ndarray, r: float, scene: _Scene, fold: bool = True) -> np.ndarray:
    """Predicted centres `(N, T, 2)` from starts `(N, 2)`: ballistic, folded once at the walls that are on
    (`fold`)."""
    ww, wh = scene.world
    t = scene.times
    p = p0[:, None] + v[None, None] * t[None, :, None]  # (N, T, 2)
    p[..., 1] += 0.5 * scene.g * t[None] ** 2
    if fold:
        w = scene.walls
        for on, axis, bound, sign in (
            (w.floor, 1, r, 1),
            (w.ceiling, 1, wh - r, -1),
            (w.left, 0, r, 1),
            (w.right, 0, ww - r, -1),
        ):
            x = p[..., axis]
            p[..., axis] = np.where(on & (sign * (x - bound) < 0), 2 * bound - x, x)
    return p


@dataclass
class _Placed:
    radius: float
    path: np.ndarray  # (T, 2)


def _cost(
    p0: np.ndarray, v: np.ndarray, r: float, placed: list[_Placed], scene: _Scene, exits: Collection[str] = ()
) -> np.ndarray:
    """Cost of each candidate start `(N, 2)`: inf if it overlaps a placed object at t = 0 (GAP clearance);
    10 × the share of frames its path spends outside the world; for a wall it should bounce off ("any":
    one of the four), 10 if it never gets there, else the distance of that moment from CONTACT_TIME in
    clips; 3 if it passes within GAP of another path (an unasked collision); plus the distance of its
    middle from the world's centre, in world heights (so paths are centred)."""
    ww, wh = scene.world
    gap = GAP * wh
    paths = _paths(p0, v, r, scene)  # (N, T, 2)
    free = _paths(p0, v, r, scene, fold=False)
    x, y = paths[..., 0], paths[..., 1]
    outside = (x < r) | (x > ww - r) | (y < r) | (y > wh - r)
    cost = 10.0 * outside.mean(axis=1)
    fx, fy = free[..., 0], free[..., 1]
    reach = {"left": fx < r, "right": fx > ww - r, "floor": fy < r, "ceiling": fy > wh - r}
    reach["any"] = reach["left"] | reach["right"] | reach["floor"] | reach["ceiling"]
    for side in exits:
        hits = reach[side]  # (N, T)
        when = hits.argmax(axis=1) / max(len(scene.times) - 1, 1)
        cost += np.where(hits.any(axis=1), np.abs(when - CONTACT_TIME), 10.0)
    for other in placed:
        d = np.linalg.norm(paths - other.path[None], axis=-1)  # (N, T)
        cost = np.where(d[:, 0] < r + other.radius + gap, np.inf, cost)
        cost += 3.0 * (d.min(axis=1) < r + other.radius + gap)
    middle = paths[:, paths.shape[1] // 2]
    return cost + np.linalg.norm(middle - np.array([ww / 2, wh / 2]), axis=-1) / wh


def _grid(world: tuple[float, float], r: float) -> np.ndarray:
    """GRID x GRID candidate centres `(N, 2)` that keep a radius-r object inside the world."""
    ww, wh = world
    xs = np.linspace(r, ww - r, GRID) if ww > 2 * r else np.array([ww / 2])
    ys = np.linspace(r, wh - r, GRID) if wh > 2 * r else np.array([wh / 2])
    return np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)


def _drop_height(vy: float, n: int, g: float, duration: float) -> float:
    """Height above the floor (of the object's lowest point) that gives exactly n elastic bounces in
    `duration`: the n-th contact half a bounce period before the end. With impact speed s the first contact
    is at (vy + s) / g and the period 2 s / g, so (vy + s) / g + (2n − 1) s / g = duration, s = (g·duration
    − vy) / 2n. Returns −1 when the throw is too steep for that."""
    s = (g * duration - vy) / (2 * n)
    if s < abs(vy):
        return -1.0
    return (s * s - vy * vy) / (2 * g)


def _bounce_gravity(vy: float, n: int, duration: float, low: float, high: float) -> float:
    """The gravity nearest the paper's (on a log scale) whose drop height for n bounces is in [low, high];
    a short clip needs a stronger pull to bounce twice from a visible height."""
    ok = [g for g in np.geomspace(0.5, 100.0, 400) if low <= _drop_height(vy, n, g, duration) <= high]
    if not ok:
        return 100.0
    return float(min(ok, key=lambda g: abs(math.log(g / abs(GRAVITY)))))


def _walls(reader: _Reader, gravity: bool) -> WallsSpec:
    """Walls asked for, plus those bounced off. An unnamed wall ("bounces", "off a wall") is the floor
    under gravity, else any of the four (all are turned on)."""
    unnamed = "floor" if gravity else "any"
    bounces = [e for e in reader.events if e["kind"] == "bounce"] + reader.scene_bounces
    for e in bounces:
        if e["wall"] in (None, "any"):
            e["wall"] = unnamed
    for b in reader.scene_bounces:
        reader.notes.append(f"bounces off {_WALL_PHRASES.get(b['wall'], 'the walls')}")
    walls = reader.walls | {e["wall"] for e in bounces}
    if walls & {"all", "any"}:
        walls |= {"floor", "ceiling", "left", "right"}
    # gravity always comes with a floor, as in the training data (dataset.plan_clip)
    return WallsSpec(
        floor="floor" in walls or gravity,
        ceiling="ceiling" in walls,
        left="left" in walls,
        right="right" in walls,
    )


_WALL_PHRASES = {
    "floor": "the floor",
    "ceiling": "the ceiling",
    "left": "the left wall",
    "right": "the right wall",
}


def _place(
    mentions: list[_Mention],
    velocity: list[np.ndarray],
    radius: list[float],
    events: list[dict[str, Any]],
    bouncers: dict[int, int],
    scene: _Scene,
) -> list[np.ndarray]:
    """Start positions: collision pairs first (on a course that meets at CONTACT_TIME), then floor
    bouncers (at their drop height), then the rest, each at its cheapest grid point (`_cost`)."""
    world, g = scene.world, scene.g
    ww, wh = world
    positions: dict[int, np.ndarray] = {}
    placed: list[_Placed] = []

    def put(j: int, p0: np.ndarray) -> None:
        positions[j] = p0
        placed.append(_Placed(radius[j], _paths(p0[None], velocity[j], radius[j], scene)[0]))

    def crowded() -> InvalidInputError:
        return InvalidInputError(
            f"Cannot place {len(mentions)} objects of these sizes in the scene without overlap; ask for "
            "fewer or smaller objects."
        )

    def inside(p: np.ndarray, r: float) -> np.ndarray:
        return (p[:, 0] >= r) & (p[:, 0] <= ww - r) & (p[:, 1] >= r) & (p[:, 1] <= wh - r)

    tc = CONTACT_TIME * scene.duration
    for e in events:
        if e["kind"] != "collision" or e["a"] in positions or e["b"] in positions:
            continue
        a, b = e["a"], e["b"]
        rel = velocity[a] - velocity[b]
        u = rel / np.linalg.norm(rel)  # a meets b head-on in b's frame
        contact = _grid(world, min(radius[a], radius[b]))
        fall = np.array([0.0, 0.5 * g * tc * tc])
        pa = contact - u * radius[a] - velocity[a] * tc - fall
        pb = contact + u * radius[b] - velocity[b] * tc - fall
        cost = _cost(pa, velocity[a], radius[a], placed, scene) + _cost(
            pb, velocity[b], radius[b], placed, scene
        )
        cost += 100.0 * ~(inside(pa, radius[a]) & inside(pb, radius[b]))
        if not np.isfinite(cost).any():
            raise crowded()
        k = int(np.argmin(cost))
        put(a, pa[k])
        put(b, pb[k])
    for j in [*bouncers, *range(len(mentions))]:
        if j in positions:
            continue
        grid = _grid(world, radius[j])
        if j in bouncers:
            h = _drop_height(velocity[j][1], bouncers[j], abs(g), scene.duration)
            xs = np.unique(grid[:, 0])
            grid = np.stack([xs, np.full(len(xs), np.clip(radius[j] + h, radius[j], wh - radius[j]))], -1)
        exits = {
            "any" if e["wall"] == "all" else e["wall"]
            for e in events
            if e["kind"] == "bounce" and e["a"] == j and not (e["wall"] == "floor" and g < 0)
        }
        cost = _cost(grid, velocity[j], radius[j], placed, scene, exits)
        if not np.isfinite(cost).any():
            raise crowded()
        put(j, grid[int(np.argmin(cost))])
    return [positions[j] for j in range(len(mentions))]


# --- the entry point ---------------------------------------------------------------------------------


def parse_world_prompt(
    prompt: str,
    *,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    require_objects: bool = True,
) -> PromptParse:
    """Read `prompt` into a scene of `width` x `height` pixels, `num_frames` frames at `fps`, in the world
    `(10·width/height, 10)` the dataset uses. Raises `InvalidInputError` (quoting `report()`) when no
    object can be placed; `require_objects=False` returns the scene flags (gravity, walls, camera) even
    without objects, for a prompt that only says how given frames go on."""
    # 1. words → mentions, events, flags
    tokens = _TOKEN.findall(prompt.lower())
    reader = _Reader(tokens)
    reader.read(_read_phrases(tokens, _scan(tokens)))
    mentions = reader.mentions
    if len(mentions) > 16:
        raise InvalidInputError(
            f"The prompt names {len(mentions)} objects; a scene holds at most 16, so ask for fewer."
        )
    world = (10.0 * width / height, 10.0)
    wh = world[1]
    duration = (num_frames - 1) / fps
    gravity = reader.gravity or any(m.gravity for m in mentions)
    walls = _walls(reader, gravity)

    # 2. velocities and sizes: class centres; collision pairs made to approach
    _bounce_directions(mentions, reader.events, gravity)
    velocity = [_velocity(m, wh) for m in mentions]
    _collision_velocities(mentions, velocity, reader.events, reader.hitter, wh)
    radius = [class_centre(SIZE_RANGES, m.size) * wh for m in mentions]

    # 3. gravity: the paper's, or stronger where a floor bounce count needs it
    in_pair = {e[k] for e in reader.events if e["kind"] == "collision" for k in ("a", "b")}
    bouncers = {
        e["a"]: e["count"]
        for e in reader.events
        if e["kind"] == "bounce" and e["wall"] == "floor" and gravity and e["a"] not in in_pair
    }
    g = GRAVITY if gravity else 0.0
    if bouncers and duration > 0:
        g = -max(
            _bounce_gravity(velocity[j][1], n, duration, MIN_DROP * wh, wh - 2 * radius[j] - GAP * wh)
            for j, n in bouncers.items()
        )

    # 4. placement
    scene = _Scene(world, np.arange(num_frames) / fps, g, walls)
    positions = _place(mentions, velocity, radius, reader.events, bouncers, scene)

    # 5. the spec and the report
    camera, camera_phrases = _camera(reader)
    background = BackgroundSpec()
    if reader.background is not None:
        kind, rgb, _ = reader.background
        background = BackgroundSpec(kind=kind, color=rgb) if kind == "flat" else BackgroundSpec(kind=kind)
    objects = [
        ObjectSpec(
            shape=m.shape,
            color=m.color,
            size=round(radius[j], 4),
            position=(round(float(positions[j][0]), 4), round(float(positions[j][1]), 4)),
            velocity=(round(float(velocity[j][0]), 4), round(float(velocity[j][1]), 4)),
            angular_velocity=SPIN_RATE if m.spin else 0.0,
            static=m.motion == "still" and gravity and not velocity[j].any(),  # else it would fall
        )
        for j, m in enumerate(mentions)
    ]
    spec = SceneSpec(
        objects=objects,
        world_size=world,
        gravity=(0.0, g),
        walls=walls,
        num_frames=num_frames,
        fps=fps,
        width=width,
        height=height,
        background=background,
        camera=camera,
        scenario="prompt",
        params={"prompt": prompt},
    )
    understood = _understood(mentions, velocity, gravity, reader, camera_phrases)
    unclear = {m.noun: m.unclear for m in mentions if m.undetermined}
    parse = PromptParse(
        prompt,
        spec,
        reader.events,
        understood,
        _unknown_runs(tokens, reader.unknown),
        unclear,
        [m.color_said for m in mentions],
    )
    if require_objects and not mentions:
        shapes = ", ".join(words[0] for words in SHAPE_WORDS.values())
        raise InvalidInputError(
            f"No object could be placed from the prompt ({parse.report()}); name an object with a colour and "
            f'a shape, like "a red ball moves to the right" (colours: {", ".join(COLORS)}; shapes: {shapes}).'
        )
    return parse


def _understood(
    mentions: list[_Mention],
    velocity: list[np.ndarray],
    gravity: bool,
    reader: _Reader,
    camera_phrases: list[str],
) -> list[str]:
    """Short phrases of what was placed: 'red ball moving left quickly', 'red ball bounces off the floor'."""
    out = []
    for m, v in zip(mentions, velocity):
        if m.undetermined:
            motion = "moving, direction not understood" if m.motion == "move" else "motion not understood"
        elif v.any():
            verb = "falling" if m.motion == "fall" else "thrown" if gravity and m.gravity else "moving"
            motion = f"{verb} {short_direction(direction_index(*v))}" + (
                f" {m.speed_word}" if m.speed_word else ""
            )
        else:
            motion = "falling" if gravity and m.motion != "still" else "at rest"
        out.append(f"{m.noun} {motion}" + (" spinning" if m.spin else ""))
    for e in reader.events:
        a = mentions[e["a"]].noun
        if e["kind"] == "collision":
            out.append(f"{a} and {mentions[e['b']].noun} collide")
        else:
            times = {1: "", 2: " twice"}.get(e["count"], f" {e['count']} times")
            out.append(f"{a} bounces off {_WALL_PHRASES.get(e['wall'], 'the walls')}{times}")
    out.extend(dict.fromkeys(reader.notes))
    out.extend(camera_phrases)
    if reader.background is not None:
        out.append(reader.background[2].removeprefix("a "))
    return out
