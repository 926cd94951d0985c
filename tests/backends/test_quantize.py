"""`--quantize` through diffusers' own configs on a tiny Wan T2V folder: the weights shrink, the frames stay
close, and what this CPU cannot run (bitsandbytes) says so before any weight is read.

Tolerance, in levels of 255, at 48x48x9 and 2 steps: mean |difference| ≤ 2, max ≤ 40. Measured with these
random weights: int8 mean 0.04 / max 15, fp8 mean 0.04 / max 13 (weight-only: the activations stay fp32)."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_diffusers import wan_folder

from kinema.backends import GenerationSpec, load_backend
from kinema.backends.diffusers_base import LoadOptions
from kinema.backends.quantize import Quantization, linear_bytes
from kinema.errors import InvalidInputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return wan_folder(tmp_path_factory.mktemp("wan") / "t2v", "t2v")


@pytest.fixture(scope="module")
def plain(folder):
    return load_backend(folder)


def frames(backend) -> np.ndarray:
    spec = GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=1)
    return backend.generate(spec).frames.astype(int)


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_torchao_weight_only_shrinks_the_weights_and_keeps_the_frames(folder, plain, kind):
    quantized = load_backend(folder, quantize=kind)
    pipe, ref = quantized.pipeline("t2v"), plain.pipeline("t2v")
    assert "torchao" in type(pipe.transformer.blocks[0].ffn.net[2].weight).__module__
    # fp32 → 1 byte per weight plus per-row scales: 0.48x measured at these tiny widths (24-64 wide, so the
    # scales weigh in; ~0.25x at real widths), so under half
    assert linear_bytes(pipe.transformer) < linear_bytes(ref.transformer) / 2
    assert linear_bytes(pipe.text_encoder) < linear_bytes(ref.text_encoder) / 2
    diff = np.abs(frames(quantized) - frames(plain))
    assert diff.mean() <= 2 and diff.max() <= 40, (diff.mean(), diff.max())
    assert diff.max() > 0  # the weights really changed


def test_one_component_only(folder, plain):
    import torch

    pipe = load_backend(folder, quantize="int8:transformer").pipeline("t2v")
    assert linear_bytes(pipe.transformer) < linear_bytes(plain.pipeline("t2v").transformer) / 2
    assert all(
        type(m.weight) is torch.nn.Parameter
        for m in pipe.text_encoder.modules()
        if isinstance(m, torch.nn.Linear)
    )


def test_bitsandbytes_on_the_cpu_says_it_needs_cuda(folder):
    with pytest.raises(InvalidInputError, match="nf4 is bitsandbytes, which runs on CUDA GPUs only"):
        load_backend(folder, quantize="nf4").pipeline("t2v")


def test_bad_choices_name_what_to_pick(folder):
    with pytest.raises(InvalidInputError, match="'int4' is not one of int8, fp8, nf4, bnb-int8"):
        LoadOptions(quantize="int4")
    with pytest.raises(InvalidInputError, match="this model has no transformer_3; its components are"):
        load_backend(folder, quantize="int8:transformer_3").pipeline("t2v")


def test_parse():
    assert Quantization.parse("nf4:transformer, text_encoder") == Quantization(
        "nf4", ("transformer", "text_encoder")
    )
    assert Quantization.parse("int8").components[0] == "transformer"


def test_the_cli_flag_reaches_the_loader(folder, tmp_path):
    from kinema.cli import main

    out = tmp_path / "q.mp4"
    code = main(["generate", "a red ball", "--model", str(folder), "-o", str(out), "--quantize", "int8",
                 "--steps", "2", "--quiet", "--no-sign"])  # fmt: skip
    assert code == 0 and out.stat().st_size > 0


def test_a_gguf_file_computes_in_the_pipeline_dtype():
    import torch
    from diffusers import GGUFQuantizationConfig

    from kinema.backends.quantize import gguf_quantization

    config = gguf_quantization(torch.bfloat16)
    assert isinstance(config, GGUFQuantizationConfig) and config.compute_dtype == torch.bfloat16
