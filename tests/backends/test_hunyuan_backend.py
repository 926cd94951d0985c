"""HunyuanVideo diffusers folders (tiny random weights, saved and loaded back): the shared suite on the
text→video and image→video folders, and agreement with diffusers."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import FirstFrameSuite, diffusers_frames
from tiny_diffusers import hunyuan_folder, hunyuan_i2v_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.errors import InvalidInputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return hunyuan_folder(tmp_path_factory.mktemp("hunyuan") / "t2v")


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestHunyuanVideo(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, folder):
        return load_backend(folder)


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return hunyuan_i2v_folder(tmp_path_factory.mktemp("hunyuan") / "i2v")


class TestHunyuanVideoI2V(FirstFrameSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, i2v_folder):
        return load_backend(i2v_folder)

    @pytest.mark.slow  # ~20 s on 2 shared cores
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)


def test_image_to_video_is_diffusers_with_the_dropped_frames_asked_for(i2v_folder):
    """A latent_concat folder drops the picture's 4 decoded frames: Kinema asks for 4 more, so the asked
    length comes back, and the frames are diffusers' own."""
    from PIL import Image

    backend = load_backend(i2v_folder)
    picture = clip(1, 64, 64, seed=4)[0]
    ours = backend.generate(
        GenerationSpec(task="i2v", image=picture, prompt="a red ball", num_inference_steps=2, seed=5)
    ).frames
    theirs = diffusers_frames(
        backend.pipeline("i2v"), seed=5, image=Image.fromarray(picture), prompt="a red ball", height=64,
        width=64, num_frames=13, num_inference_steps=2, guidance_scale=1.0,
    )  # fmt: skip
    assert ours.shape == (9, 64, 64, 3)
    np.testing.assert_array_equal(ours, theirs)
    assert read_facts(i2v_folder).modes == ("i2v", "extend")


def test_facts(folder):
    f = read_facts(folder)
    assert (f.backend, f.modes, f.size_multiple, f.temporal_compression) == (
        "hunyuanvideo",
        ("t2v", "t2i", "extend"),
        16,  # the pipeline's own grid (the tiny VAE x patch is 8)
        4,
    )


def test_text_to_video_is_exactly_diffusers(folder):
    backend = load_backend(folder)
    ours = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    theirs = diffusers_frames(
        backend.pipeline("t2v"),
        seed=5,
        prompt="a red ball",
        height=64,
        width=64,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
    )
    np.testing.assert_array_equal(ours, theirs)


def test_negative_prompt_is_refused_not_ignored(folder):
    with pytest.raises(InvalidInputError, match="does not support negative_prompt"):
        load_backend(folder).generate(
            GenerationSpec(prompt="a", negative_prompt="blur", num_inference_steps=1)
        )
