"""The shipped model (`models/kinema-world-v1` since issue 25; v0.2, `models/kinema-world`, before it) makes
what the prompt says.

Plain mode, one short generation per prompt on seeds 0-3: the paper's parser finds the prompt's colour in most
frames, more often than the other paper colour. Plain-mode direction is not asserted at 1:1 because neither
model has learned it: over seeds 0-15 "a red ball moves to the right" / "a blue ball moves to the left" go the
right way by > 0.3 px/frame on 8 + 6 of 32 (v0.2: 10 + 5). At 16:9 the red ball is drawn and moves right on
12 of seeds 0-15 (v0.2: 13), asserted as a majority. In physics mode (the simulator decides the motion) both
prompts hold on every one of seeds 0-3. Camera control is not asserted: neither model moves the background
(models/kinema-world-v1/README.md has the numbers and the commands that measure them)."""

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
    ("prompt", "color", "other"),
    [("a red ball moves to the right", "red", "blue"), ("a blue ball moves to the left", "blue", "red")],
)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_generation_has_the_prompts_colour(shipped, prompt, color, other, seed):
    frames = shipped(prompt=prompt, seed=seed).frames[0]  # (T, H, W, 3) at the model's native size
    assert frames.shape[1:] == (64, 64, 3) and frames.shape[0] >= 32
    tracks = parse_video(frames)
    seen = tracks[color].visible
    assert seen.mean() >= 0.7, f"the {color} object is missing in {int((~seen).sum())} of {len(seen)} frames"
    assert tracks[other].visible.mean() < seen.mean(), f"{prompt!r} drew more {other} than {color}"


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
    for seed in range(16):
        frames = backend.generate(
            GenerationSpec(prompt="a red ball moves to the right", aspect_ratio="16:9", seed=seed)
        ).frames
        assert frames.shape[1:] == (48, 80, 3)  # 16:9 at the native 64x64 area
        found, speed = _found_and_speed(frames, "red")
        passed.append(found >= 0.5 and speed > 0.3)
    assert sum(passed) >= 10, f"16:9: the red ball is drawn and moves right on seeds {passed}"


# v0.2's VAE lost purple entirely and broke large cyan / yellow / orange objects (issue 25, measured with
# `kinema eval codec --model models/kinema-world`); the shipped codec (kinema-world v1's) keeps every named colour.
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
