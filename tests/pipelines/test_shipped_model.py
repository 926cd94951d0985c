"""The shipped model `models/kinema-world` makes what the prompt says: the parser finds the prompt's colour
in a short generation, and not the other paper colour as often.

The direction of motion is not asserted: the CPU-trained model (3000 steps) draws the prompt's object in
the prompt's colour but does not yet move it coherently (see models/kinema-world/README.md)."""

from __future__ import annotations

import pytest

from kinema.errors import ModelNotFoundError
from kinema.pipelines.loading import load_pipeline
from kinema.pipelines.model_folder import default_model_path
from kinema.world.parser import parse_video


@pytest.fixture(scope="module")
def shipped():
    try:
        path = default_model_path()
    except ModelNotFoundError as exc:  # a checkout always has it; an installed wheel may not
        pytest.skip(str(exc))
    return load_pipeline("t2v", path)


@pytest.mark.parametrize(
    ("prompt", "color", "other"),
    [("a red ball moves to the right", "red", "blue"), ("a blue ball moves to the left", "blue", "red")],
)
def test_generation_has_the_prompts_colour(shipped, prompt, color, other):
    frames = shipped(prompt=prompt, seed=0).frames[0]  # (T, H, W, 3) at the model's native size
    assert frames.shape[1:] == (64, 64, 3) and frames.shape[0] >= 32
    tracks = parse_video(frames)
    seen = tracks[color].visible
    assert seen.mean() >= 0.7, f"the {color} object is missing in {int((~seen).sum())} of {len(seen)} frames"
    assert tracks[other].visible.mean() < seen.mean(), f"{prompt!r} drew more {other} than {color}"
