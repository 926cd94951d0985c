"""CogVideoX diffusers folders (tiny random weights, saved and loaded back): the shared suite for the T2V
and I2V folders, agreement with diffusers, v2v and the T2V folder's prefix-latent extension."""

from __future__ import annotations

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import FirstFrameSuite, diffusers_frames
from tiny_diffusers import cogvideox_folder

from kinema.backends import GenerationSpec, load_backend, read_facts


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cogvideox")
    return {"t2v": cogvideox_folder(root / "t2v"), "i2v": cogvideox_folder(root / "i2v", i2v=True)}


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestCogVideoX(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, folders):
        return load_backend(folders["t2v"])


class TestCogVideoXI2V(FirstFrameSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, folders):
        return load_backend(folders["i2v"])


def test_facts(folders):
    t2v, i2v = read_facts(folders["t2v"]), read_facts(folders["i2v"])
    assert (t2v.backend, t2v.modes, i2v.backend, i2v.modes) == (
        "cogvideox",
        ("t2v", "t2i", "v2v", "extend"),
        "cogvideox-i2v",
        ("i2v", "extend"),
    )
    assert (t2v.size_multiple, t2v.temporal_compression) == (16, 4)


def test_text_to_video_is_exactly_diffusers(folders):
    backend = load_backend(folders["t2v"])
    ours = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    theirs = diffusers_frames(
        backend.pipeline("t2v"),
        seed=5,
        prompt="a red ball",
        height=48,
        width=48,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        max_sequence_length=16,
    )
    np.testing.assert_array_equal(ours, theirs)


def test_t2v_extension_holds_the_chunk_start(folders):
    """DDIM's add_noise at each next timestep, x0 after the last: the chunk's first latent frames end as
    the video end's own latents (checked in latent space: CogVideoX's decoder is not causal in time)."""
    import torch

    from kinema.backends.cogvideox import cogvideox_latents
    from kinema.backends.diffusers_base import Progress

    backend = load_backend(folders["t2v"])
    tail = clip(5, 48, 48)
    req = backend.request(GenerationSpec(task="extend", num_inference_steps=2), 8.0, like=(48, 48))
    task, inputs = backend.continue_inputs(tail, req)
    final = {}
    hook = inputs["step_hook"]

    def keep(pipe, i, t, tensors):
        tensors = hook(pipe, i, t, tensors)
        final["latents"] = tensors["latents"]
        return tensors

    backend.call(task, req, Progress(None, 2 + 1), step_hook=keep)
    expected = cogvideox_latents(backend.pipeline("extend"), tail)  # (1, 2, 4, 6, 6)
    torch.testing.assert_close(final["latents"][:, :2], expected)
