"""HunyuanVideo 1.5 diffusers folders (tiny random weights, saved and loaded back): the shared suite on the
text→video and image→video folders, agreement with diffusers, the guider carrying `guidance_scale`, and
image→video's sizes taken from the picture's bucket."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import FirstFrameSuite, diffusers_frames
from tiny_diffusers import hunyuan15_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.errors import InvalidInputError


@pytest.fixture(scope="module")
def t2v_folder(tmp_path_factory):
    return hunyuan15_folder(tmp_path_factory.mktemp("hunyuan15") / "t2v")


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return hunyuan15_folder(tmp_path_factory.mktemp("hunyuan15") / "i2v", i2v=True)


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestHunyuanVideo15(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, t2v_folder):
        return load_backend(t2v_folder)

    @pytest.mark.slow  # ~20-40 s on 2 shared cores: chunks of 9-65 frames, 26+ of them
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)


class TestHunyuanVideo15I2V(FirstFrameSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, i2v_folder):
        return load_backend(i2v_folder)

    @pytest.mark.slow  # ~20-40 s on 2 shared cores: chunks of 9-65 frames, 26+ of them
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)

    def test_size_frames_fps_as_asked(self, backend, fast, tmp_path):
        """The size is the picture's bucket (not any multiple): a wide picture makes the wide bucket, a
        size that is no bucket is refused with the one it would make; length and fps are as asked."""
        wide = clip(1, 24, 48)[0]
        out = backend.generate(
            GenerationSpec(task="i2v", image=wide, num_frames=5, fps=7, **fast)  # 1 + 4k frames
        )
        pipe = backend.pipeline("i2v")
        h, w = pipe.video_processor.calculate_default_height_width(24, 48, pipe.target_size)
        assert out.frames.shape == (5, h, w, 3) and out.fps == 7 and w > h
        bucket = backend.size_for(8, 8)  # 8×8 is on the size grid but is no bucket: 32×32 is
        assert bucket == (32, 32)
        with pytest.raises(InvalidInputError, match="makes a 32×32 video for a 8×8 request"):
            backend.generate(GenerationSpec(task="i2v", image=wide, width=8, height=8, **fast))


def test_facts(t2v_folder, i2v_folder):
    t2v, i2v = read_facts(t2v_folder), read_facts(i2v_folder)
    assert (t2v.backend, t2v.modes, t2v.size_multiple, t2v.temporal_compression) == (
        "hunyuanvideo-1.5",
        ("t2v", "t2i", "extend"),
        4,  # the tiny VAE's 4× in space × patch 1
        4,
    )
    assert (i2v.backend, i2v.modes) == ("hunyuanvideo-1.5-i2v", ("i2v", "extend"))
    assert t2v.config["guidance_scale"] == 6.0  # the saved guider's


def test_text_to_video_is_exactly_diffusers(t2v_folder):
    backend = load_backend(t2v_folder)
    ours = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    theirs = diffusers_frames(
        backend.pipeline("t2v"), seed=5, prompt="a red ball", height=32, width=32, num_frames=9,
        num_inference_steps=2,
    )  # fmt: skip
    np.testing.assert_array_equal(ours, theirs)


def test_guidance_scale_runs_through_the_guider(t2v_folder):
    backend = load_backend(t2v_folder)
    pipe = backend.pipeline("t2v")
    ours = backend.generate(
        GenerationSpec(prompt="a red ball", guidance_scale=2.5, num_inference_steps=2, seed=5)
    ).frames
    default = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    assert pipe.guider.guidance_scale == 6.0  # restored after the call
    pipe.guider = pipe.guider.new(guidance_scale=2.5)
    theirs = diffusers_frames(
        pipe, seed=5, prompt="a red ball", height=32, width=32, num_frames=9, num_inference_steps=2
    )
    np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(ours, default)


def test_image_to_video_starts_from_the_picture(i2v_folder):
    backend = load_backend(i2v_folder)
    picture = clip(1, 32, 32, seed=4)[0]
    out = backend.generate(GenerationSpec(task="i2v", image=picture, num_inference_steps=2, seed=1)).frames
    other = backend.generate(
        GenerationSpec(task="i2v", image=255 - picture, num_inference_steps=2, seed=1)
    ).frames
    assert out.shape == (9, 32, 32, 3) and not np.array_equal(out, other)
