"""`models/kinema-world-v1` (issue 25's v1: the 16-channel codec, and the DiT + trajectory adapter trained on
it), checked the way a user meets it: its VAE keeps every named colour that v0.2's loses, and physics mode
draws a free-form prompt's purple object going the way the prompt says on every one of seeds 0-3 (v0.2 draws
no purple at all: `models/kinema-world-v1/README.md`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinema.backends import GenerationSpec, load_backend
from kinema.world.parser import track_objects

V1 = Path(__file__).resolve().parents[2] / "models" / "kinema-world-v1"


@pytest.fixture(scope="module")
def v1():
    if not (V1 / "kinema.json").is_file():  # a checkout always has it; an installed wheel may not
        pytest.skip(f"no {V1}")
    return load_backend(V1)


def test_the_v1_codec_keeps_every_named_colour_from_r_1_2():
    from kinema.eval import codec
    from kinema.world.spec import COLORS

    settings = codec.CodecSettings(
        n=0, shapes=("circle",), sizes=(1.2, 1.6), backgrounds=("plain",), motions=("static", "moving")
    )
    cells = codec.run_codec(str(V1), settings, progress=False)["summary"]["cells"]
    assert {c["color"] for c in cells} == set(COLORS)
    lost = [f"{c['color']} r={c['size']}: {100 * c['survival']:.0f} %" for c in cells if c["survival"] < 0.98]
    assert not lost, f"colours the v1 VAE does not keep in >= 98 % of frames: {lost}"


def _purple_tracks(frames):
    """The purple objects seen in at least 90 % of frames (step 22000 draws a second, static purple square
    beside the asked one on seed 0: the model card's count adherence, not what these tests check). Every
    colour is tracked: a tracker told to look for purple alone merges a stray purple blob into the asked
    object when they touch and loses it there (seed 3 with guidance towards the map: 88 % of frames, and
    100 % tracking every colour)."""
    found = track_objects(frames).objects.values()
    return [t for t in found if t.color == "purple" and t.visible.mean() >= 0.9]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_physics_mode_draws_a_purple_object_drifting_leftward(v1, seed):
    frames = v1.generate(
        GenerationSpec(prompt="a purple square drifts leftward", physics=True, seed=seed)
    ).frames
    speeds = [round(t.drift_px(0), 2) for t in _purple_tracks(frames)]
    assert speeds, f"seed {seed}: no purple object drawn in >= 90 % of frames"
    assert min(speeds) < -0.5, f"seed {seed}: the purple objects move {speeds} px/frame horizontally"


@pytest.mark.parametrize(
    ("seed", "looks"),
    [(0, {}), (1, {}), (2, {}), (3, {}), (0, {"color": "purple", "radius": 6})],
)
def test_a_user_path_is_followed_with_its_objects_looks(v1, seed, looks):
    # The adapter draws a path's object where it goes when it has the object's looks: from the JSON's
    # "color" / "radius", or else from the prompt (a path with none of them: v1 leaves it near its start).
    from kinema.pipelines.trajectories import load_trajectories

    path = load_trajectories([{"point": [12, 20], "path": [[3.2, 52, 44]], **looks}])
    frames = v1.generate(
        GenerationSpec(prompt="a purple ball moves down and to the right", seed=seed, trajectories=path)
    ).frames
    # The object is the purple one that starts where the path starts (within 6 px).
    starts = [t for t in _purple_tracks(frames) if np.hypot(*(t.centre_px[0] - (12, 20))) < 6]
    assert starts, f"seed {seed}: no purple object drawn at the path's start"
    # Asked: 40 px right and 24 px down over 32 frames = +1.25 / +0.75 px per frame.
    assert starts[0].drift_px(0) == pytest.approx(1.25, abs=0.25)
    assert starts[0].drift_px(1) == pytest.approx(0.75, abs=0.25)
