"""LTX-Video diffusers folders (tiny random weights, saved and loaded back): the shared suite, agreement
with diffusers, conditions for keyframes / extension / v2v, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import diffusers_frames
from tiny_diffusers import ltx_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.cli import main
from kinema.errors import InvalidInputError
from kinema.io import read_aigc_label, read_video, write_video


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return ltx_folder(tmp_path_factory.mktemp("ltx") / "ltx")


@pytest.fixture(scope="module")
def ltx(folder):
    return load_backend(folder)


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestLTX(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, ltx):
        return ltx


def test_facts(folder):
    f = read_facts(folder)
    assert (f.backend, f.modes) == ("ltx", ("t2v", "t2i", "i2v", "keyframes", "extend", "v2v"))
    assert (f.width, f.height, f.num_frames, f.fps) == (64, 64, 9, 24.0)
    # the tiny VAE is 4x in space and time (2 of 4 blocks scale); LTX's pipelines want 32-px multiples
    assert (f.size_multiple, f.temporal_compression) == (32, 4)


def test_text_to_video_is_exactly_diffusers(ltx):
    ours = ltx.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    theirs = diffusers_frames(
        ltx.pipeline("t2v"),
        seed=5,
        prompt="a red ball",
        height=64,
        width=64,
        num_frames=9,
        frame_rate=24.0,
        num_inference_steps=2,
        guidance_scale=3.0,
    )
    np.testing.assert_array_equal(ours, theirs)


def test_modes_share_one_load(ltx):
    for task in ("t2v", "i2v", "extend"):
        ltx.pipeline(task)
    assert (
        ltx.pipeline("i2v").transformer
        is ltx.pipeline("t2v").transformer
        is ltx.pipeline("extend").transformer
    )


def test_keyframes_pin_pictures_at_their_frames(ltx):
    frames = clip(3, 64, 64, seed=1)
    spec = GenerationSpec(
        task="keyframes",
        prompt="a",
        image=frames[0],
        last_image=frames[2],
        keyframes=[(0.2, frames[1])],
        num_inference_steps=2,
    )
    out = ltx.generate(spec).frames
    assert out.shape == (9, 64, 64, 3)
    other = ltx.generate(spec.model_copy(update={"keyframes": []})).frames
    assert not np.array_equal(out, other)  # the in-between picture is used


def test_video_to_video_strength_moves_away_from_the_source(ltx, tmp_path):
    source = tmp_path / "src.mp4"
    write_video(source, clip(9, 64, 64), fps=24)
    src = read_video(source)[0].astype(int)
    weak, strong = (
        ltx.generate(GenerationSpec(task="v2v", video=str(source), strength=s, num_inference_steps=4)).frames
        for s in (0.25, 1.0)
    )
    assert weak.shape == strong.shape == (9, 64, 64, 3)
    assert np.abs(weak - src).mean() < np.abs(strong - src).mean()


def test_camera_is_refused_by_name(ltx):
    with pytest.raises(InvalidInputError, match="cannot take camera_control: diffusers' LTX-Video pipelines"):
        ltx.generate(GenerationSpec(prompt="a", camera_control={"type": "simple", "config": {"pan": 3}}))


@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_generate_command_writes_a_labelled_file(folder, tmp_path, capsys, task):
    from PIL import Image

    first = tmp_path / "first.png"
    Image.fromarray(clip(1, 32, 32, seed=1)[0]).save(first)
    out = tmp_path / "out.mp4"
    args = ["a red ball", "--width", "64", "--height", "32", "--frames", "13", "--fps", "12"]
    if task == "i2v":
        args += ["--image", str(first)]
    code = main(["generate", *args, "--model", str(folder), "--out", str(out), "--quiet", "--steps", "1"])
    assert code == 0, capsys.readouterr().err
    frames, fps = read_video(out)
    assert (frames.shape, fps) == ((13, 32, 64, 3), 12)
    assert read_aigc_label(out) is not None
