"""Benchmark: does the prompt reader get a single object's direction from free-form phrasings?

Scenario (declared): FREE_FORM, 40 single-object prompts written for this probe (none of them in the
phrase lists below or in `kinema.world.phrases.PROTOTYPES`), each with the way its object must go: right,
left, up, down (an object falling from rest counts as down), or "refuse" where the motion word means no
direction the reader can know. A prompt passes when `parse_world_prompt` gives a velocity in that 90°
sector (or, for a faller, gravity with a velocity that is zero or downward), or, for "refuse", when
physics grounding refuses it. The prompt reader alone: no model, no video.

`--calibrate` also measures the phrase matcher on two phrase lists: TUNE (to choose ACCEPT / MARGIN /
LIKE) and HELD (written apart, to check them); a phrase is right when its label is the expected class
(None: about something else; "fall" for "down"), "unclear" is safe (no motion invented), "wrong" invents
one; then the phrases the encoder left unclear are read through their WordNet glosses as the prompt reader
reads them (`kinema.world.lexicon`), and the tally is given again.

    python benchmarks/bench_prompt_phrases.py [--calibrate]
"""

from __future__ import annotations

import argparse
import itertools
import math

import torch

from kinema.errors import InvalidInputError

FREE_FORM: tuple[tuple[str, str], ...] = (
    ("a red ball travels leftward", "left"),
    ("a blue square drifts leftward", "left"),
    ("a green ball heads westward", "left"),
    ("a red ball rolls to the west", "left"),
    ("a yellow ring moves toward the left edge", "left"),
    ("a purple ball slides over to the left-hand side", "left"),
    ("a blue ball glides leftwards", "left"),
    ("a red triangle makes its way to the left", "left"),
    ("a cyan ball cruises left", "left"),
    ("an orange ball scoots to the left", "left"),
    ("a red ball travels rightward", "right"),
    ("a blue ball drifts eastward", "right"),
    ("a green square rolls to the east", "right"),
    ("a yellow ball moves toward the right edge", "right"),
    ("a purple ring glides to the right side", "right"),
    ("a red ball heads eastwards", "right"),
    ("a cyan square creeps right", "right"),
    ("an orange ball zips to the right", "right"),
    ("a red ball climbs", "up"),
    ("a blue ball goes heavenward", "up"),
    ("a green ball floats upward", "up"),
    ("a yellow square ascends", "up"),
    ("a purple ball drifts up toward the top", "up"),
    ("a red ball moves skyward", "up"),
    ("a cyan ring goes up", "up"),
    ("a blue ball sinks", "down"),
    ("a red ball heads downhill", "down"),
    ("a green ball drops", "down"),
    ("a yellow ball plummets", "down"),
    ("a purple square moves toward the bottom", "down"),
    ("a red ball drifts downward", "down"),
    ("a cyan ball falls to the ground", "down"),
    ("an orange square slides down", "down"),
    ("a red ball heads south", "down"),
    ("a blue ball tumbles down", "down"),
    ("a green ball moves north", "up"),
    ("a red ball moves sideways", "refuse"),
    ("a blue ball wiggles", "refuse"),
    ("a green ball zigzags", "refuse"),
    ("a red ball spirals around", "refuse"),
)

# Phrase lists for --calibrate: expected class (PROTOTYPES' names) or None (about something else).
TUNE: dict[str, str | None] = {
    "rightward": "right", "to the east": "right", "towards the right edge": "right", "plummets": "fall",
    "sits still": "still", "wobbly": None, "stripes": None, "past a fluffy cloud": None, "cat": None,
    "toward the floor": "down", "in the direction of the left": "left", "dips": "down", "hovers": "still",
    "crawls": "move", "soars": "up", "goes higher and higher": "up", "eastbound": "right",
    "westbound": "left", "lies still": "still", "is hurled": "throw", "pretty": None, "glowing": None,
    "near a tree": None, "with polka dots": None, "heads upward": "up", "settles downward": "down",
    "moves along slowly": "move", "is pitched": "throw", "drops down": "fall", "remains motionless": "still",
}  # fmt: skip
HELD: dict[str, str | None] = {
    "leftward": "left", "westward": "left", "eastward": "right", "to the west": "left",
    "toward the left edge": "left", "to the left edge": "left", "toward the right-hand side": "right",
    "toward the top of the frame": "up", "toward the bottom edge": "down", "drifts": "move", "glides": "move",
    "sinks": "down", "climbs": "up", "ascends": "up", "creeps": "move", "scoots": "move", "shoots up": "up",
    "cruises": "move", "keeps still": "still", "is lobbed": "throw", "is hurled upward": "throw",
    "heads for the left side": "left", "very pretty": None, "made of glass": None, "shiny and new": None,
    "in a park": None, "with a smile": None, "wooden": None, "comes down": "down",
    "is motionless": "still",
}  # fmt: skip


def direction_ok(parse, want: str) -> bool:
    (obj,) = parse.spec.objects
    vx, vy = obj.velocity
    if want == "down" and parse.spec.gravity[1] < 0 and vy <= 0 and abs(vx) <= abs(vy) + 1e-9:
        return True  # falls from rest, or thrown down
    if math.hypot(vx, vy) == 0:
        return False
    angle = math.degrees(math.atan2(vy, vx)) % 360
    centre = {"right": 0, "up": 90, "left": 180, "down": 270}[want]
    return min(abs(angle - centre), 360 - abs(angle - centre)) < 45


def free_form() -> None:
    from kinema.world.grounding import plan_from_prompt

    ok = 0
    for prompt, want in FREE_FORM:
        try:
            plan = plan_from_prompt(prompt, width=64, height=64, num_frames=17, fps=10.0)
            got = want != "refuse" and direction_ok(plan.parse, want)
            said = plan.parse.report()
        except InvalidInputError as exc:
            got, said = want == "refuse", f"refused: {exc}"
        ok += got
        print(f"{'ok ' if got else 'BAD'} {want:6s} {prompt!r}: {said}")
    print(f"\nfree-form single-object direction: {ok}/{len(FREE_FORM)} ({100 * ok / len(FREE_FORM):.0f} %)")


def tally(matches, expected) -> tuple[int, int, int]:
    right = safe = wrong = 0
    for m, want in zip(matches, expected):
        # falling from rest is going down, as in the free-form scenario ("sinks": "fall or descend …")
        if m.label == want or (want is None and m.label is None) or (want == "down" and m.label == "fall"):
            right += 1
        elif m.label == "unclear" or (want is None and m.label is None):
            safe += 1
        else:
            wrong += 1
    return right, safe, wrong


def calibrate() -> None:
    from kinema.world import phrases
    from kinema.world.prompt import _read_glosses

    for name, table in (("TUNE", TUNE), ("HELD", HELD)):
        overlap = [p for p in table if any(p == t for ts in phrases.PROTOTYPES.values() for t in ts)]
        assert not overlap, f"{name} phrases among the prototypes: {overlap}"
    grid = list(itertools.product((0.35, 0.40, 0.45, 0.50, 0.55), (0.04, 0.06, 0.08), (0.20,)))
    print("| ACCEPT | MARGIN | LIKE | TUNE right/safe/wrong | HELD right/safe/wrong |")
    print("|---:|---:|---:|---|---|")
    for accept, margin, like in grid:
        cells = []
        for table in (TUNE, HELD):
            m = phrases.match_phrases(list(table), accept, margin, like)
            cells.append("/".join(map(str, tally(m, list(table.values())))))
        print(f"| {accept} | {margin} | {like} | {cells[0]} | {cells[1]} |")
    print("\nat the chosen thresholds, then the phrases left unclear read through their WordNet glosses:")
    for name, table in (("TUNE", TUNE), ("HELD", HELD)):
        matches = phrases.match_phrases(list(table))
        glossed = _read_glosses([m.phrase for m in matches if m.label == "unclear"])
        final = [glossed.get(m.phrase, m) for m in matches]
        for m, g, want in zip(matches, final, table.values()):
            flag = "ok " if tally([g], [want])[0] else "~  " if g.label == "unclear" else "BAD"
            via = f" -> {g.label} via {g.gloss!r}" if g is not m else ""
            print(
                f"{name} {flag} {m.phrase!r:32} want {want!s:6} got {m.label!s:8} {m.score:.2f} +{m.margin:.2f}{via}"
            )
        before, after = tally(matches, list(table.values())), tally(final, list(table.values()))
        print(
            f"{name} right/safe/wrong: encoder {'/'.join(map(str, before))}, with glosses {'/'.join(map(str, after))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="also sweep the phrase matcher's thresholds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.calibrate:
        calibrate()
    free_form()


if __name__ == "__main__":
    main()
