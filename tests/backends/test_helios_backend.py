"""Helios diffusers folders (tiny random weights, saved and loaded back): the shared suite, agreement with
diffusers, long video as whole windows trimmed to the asked length, extension through Helios' own video
continuation, and the pyramid pipeline's stages.

Helios makes 33-frame windows whatever the size, so each call decodes 33+ frames; the suite's extension
memory check (26 chunks) is marked slow (CI skips it; `-m slow` runs it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from backend_suite import BackendSuite, clip
from diffusers_suite import diffusers_frames
from tiny_diffusers import helios_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.errors import InvalidInputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return helios_folder(tmp_path_factory.mktemp("helios") / "base")


@pytest.fixture(scope="module")
def pyramid_folder(tmp_path_factory):
    return helios_folder(tmp_path_factory.mktemp("helios") / "pyramid", pyramid=True)


@pytest.fixture(scope="module")
def backend(folder):
    return load_backend(folder)


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestHelios(BackendSuite):
    @pytest.mark.slow  # ~20-40 s on 2 shared cores: chunks of 9-65 frames, 26+ of them
    def test_extension_memory_stays_flat(self, backend, fast, tmp_path):
        super().test_extension_memory_stays_flat(backend, fast, tmp_path)


def test_facts(folder, pyramid_folder):
    f, p = read_facts(folder), read_facts(pyramid_folder)
    assert (f.backend, f.modes, f.size_multiple, f.temporal_compression) == (
        "helios",
        ("t2v", "t2i", "i2v", "extend"),
        16,
        4,
    )
    assert (p.backend, p.size_multiple) == ("helios-pyramid", 32)  # 2 stages: the first at half size


def test_text_to_video_is_exactly_diffusers_trimmed_to_the_asked_length(backend):
    ours = backend.generate(GenerationSpec(prompt="a red ball", num_frames=21, num_inference_steps=2, seed=5))
    theirs = diffusers_frames(
        backend.pipeline("t2v"), seed=5, prompt="a red ball", height=32, width=32, num_frames=21,
        num_inference_steps=2, guidance_scale=5.0,
    )  # fmt: skip
    assert theirs.shape[0] == 33  # one whole window
    np.testing.assert_array_equal(ours.frames, theirs[:21])


def test_image_to_video_and_extension_keep_their_inputs(backend):
    picture = clip(1, 32, 32, seed=4)[0]
    a = backend.generate(
        GenerationSpec(task="i2v", image=picture, num_frames=9, num_inference_steps=2)
    ).frames
    b = backend.generate(
        GenerationSpec(task="i2v", image=255 - picture, num_frames=9, num_inference_steps=2)
    ).frames
    assert a.shape == (9, 32, 32, 3) and not np.array_equal(a, b)
    source = clip(33, 32, 32)
    out = backend.generate(GenerationSpec(task="extend", video=source, num_frames=12, num_inference_steps=2))
    assert out.frames.shape == (45, 32, 32, 3)
    np.testing.assert_array_equal(out.frames[:33], source)


def test_distilled_folder_is_unguided(folder, tmp_path):
    import shutil

    distilled = shutil.copytree(folder, tmp_path / "distilled")
    index = json.loads((distilled / "model_index.json").read_text())
    (distilled / "model_index.json").write_text(json.dumps({**index, "is_distilled": True}))
    (distilled / "kinema_defaults.json").write_text(json.dumps({"width": 32, "height": 32, "num_frames": 65}))
    facts = read_facts(distilled)
    assert (facts.config["guidance_scale"], facts.num_inference_steps) == (1.0, 2)
    with pytest.raises(InvalidInputError, match="step-distilled and runs without guidance"):
        load_backend(distilled).generate(GenerationSpec(prompt="a", guidance_scale=5))


def test_pyramid_runs_each_stage(pyramid_folder):
    backend = load_backend(pyramid_folder)
    seen = []
    out = backend.generate(
        GenerationSpec(prompt="a red ball", num_frames=9, num_inference_steps=1, seed=2,
                       callback=lambda s, t, stage: seen.append((s, t)))
    )  # fmt: skip
    theirs = diffusers_frames(
        backend.pipeline("t2v"), seed=2, prompt="a red ball", height=32, width=32, num_frames=9,
        pyramid_num_inference_steps_list=[1, 1], guidance_scale=5.0,
    )  # fmt: skip
    np.testing.assert_array_equal(out.frames, theirs[:9])
    assert seen[-1] == (2, 2)  # 1 step (per stage), then the decode
