"""The shipped model `models/kinema-world` makes what the prompt says: in one short generation per prompt
(seed 0), the paper's parser finds the prompt's colour in most frames, more often than the other paper
colour, and the object travels the way the prompt says.

This is a regression check on the committed weights, not a measure of reliability: across seeds 0-3 the
direction holds for 3 of 4 "red ... right" and 2 of 4 "blue ... left" generations (models/kinema-world/README.md
has the numbers and the commands that measure them). In physics mode (the simulator decides the motion) both
prompts hold on every one of seeds 0-3; at 16:9 the red ball is drawn and moves right on 3 of those 4 seeds.
Camera control is not asserted: the model does not move the background yet (the model card's camera row)."""

from __future__ import annotations

import numpy as np
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
    ("prompt", "color", "other", "sign"),
    [
        ("a red ball moves to the right", "red", "blue", 1.0),
        ("a blue ball moves to the left", "blue", "red", -1.0),
    ],
)
def test_generation_has_the_prompts_colour_and_direction(shipped, prompt, color, other, sign):
    frames = shipped(prompt=prompt, seed=0).frames[0]  # (T, H, W, 3) at the model's native size
    assert frames.shape[1:] == (64, 64, 3) and frames.shape[0] >= 32
    tracks = parse_video(frames)
    seen = tracks[color].visible
    assert seen.mean() >= 0.7, f"the {color} object is missing in {int((~seen).sum())} of {len(seen)} frames"
    assert tracks[other].visible.mean() < seen.mean(), f"{prompt!r} drew more {other} than {color}"
    speed = tracks[color].drift_px(0)  # px per frame, + = rightwards
    assert sign * speed > 0.3, f"{prompt!r}: the {color} object moves {speed:+.2f} px/frame horizontally"


@pytest.fixture(scope="module")
def backend():
    from kinema.backends import load_backend

    try:
        path = default_model_path()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    return load_backend(path)


def _found_and_speed(frames: np.ndarray, color: str) -> tuple[float, float]:
    """Share of frames where the shape-aware tracker finds the colour's object; its fitted horizontal speed
    in px/frame (+ = rightwards)."""
    from kinema.world.parser import track_objects

    best = track_objects(frames, colors=(color,)).most_seen()
    if best is None or best.visible.sum() < 2:
        return 0.0, 0.0
    return float(best.visible.mean()), best.drift_px(0)


@pytest.mark.parametrize(
    ("prompt", "color", "sign"),
    [("a red ball moves to the right", "red", 1.0), ("a blue ball moves to the left", "blue", -1.0)],
)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_physics_mode_moves_the_object_the_prompts_way(backend, prompt, color, sign, seed):
    from kinema.backends import GenerationSpec

    frames = backend.generate(GenerationSpec(prompt=prompt, physics=True, seed=seed)).frames
    found, speed = _found_and_speed(frames, color)
    assert found >= 0.5, f"seed {seed}: the {color} object is found in only {found:.0%} of frames"
    assert sign * speed > 0.3, f"seed {seed}: {prompt!r} moves {speed:+.2f} px/frame horizontally"


def test_16_9_generation_draws_the_object_and_moves_it(backend):
    from kinema.backends import GenerationSpec

    passed = []
    for seed in range(4):
        frames = backend.generate(
            GenerationSpec(prompt="a red ball moves to the right", aspect_ratio="16:9", seed=seed)
        ).frames
        assert frames.shape[1:] == (48, 80, 3)  # 16:9 at the native 64x64 area
        found, speed = _found_and_speed(frames, "red")
        passed.append(found >= 0.5 and speed > 0.3)
    assert sum(passed) >= 3, f"16:9: the red ball is drawn and moves right on seeds {passed}"


# v0.2's VAE loses purple entirely and breaks large cyan / yellow / orange objects (issue 25, measured with
# `kinema eval codec --model models/kinema-world`); the codec of kinema-world v1 must keep every named colour.
# Strict: the day the shipped VAE keeps them all, this test reports XPASS as a failure, and the mark goes.
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="v0.2's VAE loses purple and large cyan/yellow/orange (issue 25)",
)
def test_the_shipped_vae_keeps_every_named_colour():
    from kinema.eval import codec
    from kinema.world.spec import COLORS

    settings = codec.CodecSettings(
        n=0, shapes=("circle",), sizes=(0.8, 1.6), backgrounds=("plain",), motions=("static", "moving")
    )
    summary = codec.run_codec(str(default_model_path()), settings, progress=False)["summary"]
    cells = summary["cells"]
    assert {c["color"] for c in cells} == set(COLORS)
    lost = [f"{c['color']} r={c['size']}: {100 * c['survival']:.0f} %" for c in cells if c["survival"] < 0.98]
    assert not lost, f"colours the shipped VAE does not keep in >= 98 % of frames: {lost}"
