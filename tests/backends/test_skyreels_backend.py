"""SkyReels-V2 diffusion-forcing folders (tiny random weights, saved and loaded back): the shared suite,
agreement with diffusers, and extension through the video→video sibling."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import diffusers_frames
from tiny_diffusers import skyreels_folder

from kinema.backends import GenerationSpec, load_backend, read_facts


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return skyreels_folder(tmp_path_factory.mktemp("skyreels") / "df")


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestSkyReelsV2(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, folder):
        return load_backend(folder)


def test_facts(folder):
    f = read_facts(folder)
    assert (f.backend, f.modes, f.size_multiple, f.temporal_compression) == (
        "skyreels-v2",
        ("t2v", "t2i", "i2v", "extend"),
        16,
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
        base_num_frames=9,
        fps=8,
        num_inference_steps=2,
        guidance_scale=6.0,
    )
    np.testing.assert_array_equal(ours, theirs)


def test_extension_chunks_continue_from_the_overlap(folder):
    backend = load_backend(folder)
    source = clip(9, 64, 64)
    out = backend.generate(GenerationSpec(task="extend", video=source, num_frames=10, num_inference_steps=2))
    assert out.frames.shape == (19, 64, 64, 3)
    np.testing.assert_array_equal(out.frames[:9], source)
