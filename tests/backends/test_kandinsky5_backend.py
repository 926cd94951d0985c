"""Kandinsky 5 diffusers folders (tiny random weights, saved and loaded back): the shared suite on the
text→video and image→video folders, agreement with diffusers, and a processor tokenizer without
torchvision refused with the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import FirstFrameSuite, diffusers_frames
from tiny_diffusers import kandinsky5_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.errors import InvalidInputError, MissingDependencyError


@pytest.fixture(scope="module")
def t2v_folder(tmp_path_factory):
    return kandinsky5_folder(tmp_path_factory.mktemp("kandinsky5") / "t2v")


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return kandinsky5_folder(tmp_path_factory.mktemp("kandinsky5") / "i2v", i2v=True)


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestKandinsky5(BackendSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, t2v_folder):
        return load_backend(t2v_folder)

    @pytest.mark.slow  # ~20-40 s on 2 shared cores: chunks of 9-65 frames, 26+ of them
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)


class TestKandinsky5I2V(FirstFrameSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, i2v_folder):
        return load_backend(i2v_folder)

    @pytest.mark.slow  # ~20-40 s on 2 shared cores: chunks of 9-65 frames, 26+ of them
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)

    def test_size_frames_fps_as_asked(self, backend, fast, tmp_path):
        """Sizes as asked; lengths from 17 frames (the shared check asks for 9: refused, not NaN)."""
        image = clip(1, 32, 32)[0]
        out = backend.generate(
            GenerationSpec(task="i2v", image=image, width=32, height=16, num_frames=21, fps=7, **fast)
        )
        assert out.frames.shape == (21, 16, 32, 3) and out.fps == 7
        assert np.isfinite(out.frames).all() and out.frames.std() > 0
        with pytest.raises(InvalidInputError, match="needs at least 17 frames"):
            backend.generate(GenerationSpec(task="i2v", image=image, num_frames=9, **fast))


def test_facts(t2v_folder, i2v_folder):
    t2v, i2v = read_facts(t2v_folder), read_facts(i2v_folder)
    assert (t2v.backend, t2v.modes, t2v.size_multiple, t2v.temporal_compression) == (
        "kandinsky5",
        ("t2v", "t2i", "extend"),
        16,  # VAE 8× × patch 2
        4,
    )
    assert (i2v.backend, i2v.modes) == ("kandinsky5-i2v", ("i2v", "extend"))


def test_text_to_video_is_exactly_diffusers(t2v_folder):
    backend = load_backend(t2v_folder)
    ours = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=5)).frames
    theirs = diffusers_frames(
        backend.pipeline("t2v"), seed=5, prompt="a red ball", height=32, width=32, num_frames=9,
        num_inference_steps=2, guidance_scale=5.0,
    )  # fmt: skip
    np.testing.assert_array_equal(ours, theirs)


def test_image_to_video_is_exactly_diffusers(i2v_folder):
    from PIL import Image

    backend = load_backend(i2v_folder)
    picture = clip(1, 32, 32, seed=4)[0]
    ours = backend.generate(
        GenerationSpec(task="i2v", image=picture, prompt="a red ball", num_inference_steps=2, seed=5)
    ).frames
    theirs = diffusers_frames(
        backend.pipeline("i2v"), seed=5, image=Image.fromarray(picture), prompt="a red ball", height=32,
        width=32, num_frames=17, num_inference_steps=2, guidance_scale=5.0,
    )  # fmt: skip
    np.testing.assert_array_equal(ours, theirs)
    assert ours.std() > 0


def test_processor_tokenizer_without_torchvision_is_a_clear_error(t2v_folder, tmp_path, monkeypatch):
    import importlib.util
    import shutil

    folder = shutil.copytree(t2v_folder, tmp_path / "k5")
    index = json.loads((folder / "model_index.json").read_text())
    index["tokenizer"] = ["transformers", "Qwen2VLProcessor"]  # as the released folders have it
    (folder / "model_index.json").write_text(json.dumps(index))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torchvision" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match="pip install torchvision"):
        load_backend(folder).generate(GenerationSpec(prompt="a", num_inference_steps=1))
