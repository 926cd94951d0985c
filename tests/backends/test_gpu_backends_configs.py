"""benchmarks/gpu_backends.py's real-config pipelines, built on the meta device (no memory, no GPU): each
family's components at their published sizes, the facts Kinema reads from them, and the bare diffusers
call's arguments. The timed runs themselves need a GPU window."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from kinema.backends import read_facts

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_backends.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpu_backends", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def billions(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e9


# model → (pipeline class, Kinema backend, transformer size in billions of parameters, native W×H×T, steps key)
EXPECTED = {
    "hunyuan15": ("HunyuanVideo15Pipeline", "hunyuanvideo-1.5", (8.0, 8.6), (848, 480, 121), "num_inference_steps"),
    "kandinsky5": ("Kandinsky5T2VPipeline", "kandinsky5", (1.8, 2.2), (768, 512, 121), "num_inference_steps"),
    "helios": ("HeliosPipeline", "helios", (13.5, 15.5), (640, 384, 129), "num_inference_steps"),
    "helios-distilled": (
        "HeliosPyramidPipeline", "helios-pyramid", (13.5, 15.5), (640, 384, 129), "pyramid_num_inference_steps_list",
    ),
    "ltx2": ("LTX2Pipeline", "ltx2", (18.0, 20.0), (768, 512, 121), "num_inference_steps"),
    "ltx2-up": ("LTX2Pipeline", "ltx2", (18.0, 20.0), (768, 512, 121), "num_inference_steps"),
    "ltx-up": ("LTXPipeline", "ltx", (1.8, 2.1), (704, 512, 121), "num_inference_steps"),
}  # fmt: skip


@pytest.mark.parametrize("model", list(EXPECTED))
def test_real_config_builds_on_meta_and_reads_as_kinema_facts(bench, model, tmp_path):
    cls_name, backend, size, (width, height, frames), steps_key = EXPECTED[model]
    pipe, native = bench.build(model, torch.bfloat16, device="meta")
    assert type(pipe).__name__ == cls_name
    assert pipe.transformer.device.type == "meta" and pipe.transformer.dtype == torch.bfloat16
    assert size[0] < billions(pipe.transformer) < size[1], billions(pipe.transformer)
    assert (native["width"], native["height"], native["num_frames"]) == (width, height, frames)
    folder = bench.facts_folder(pipe, native, 4, tmp_path)
    facts = read_facts(folder)
    assert facts.backend == backend == bench.backend_class(model).name
    assert (facts.width, facts.height, facts.num_frames) == (width, height, frames)
    assert width % facts.size_multiple == 0 and height % facts.size_multiple == 0
    assert (frames - 1) % facts.temporal_compression == 0
    kwargs = bench.direct_kwargs(pipe, native, 3)
    assert steps_key in kwargs and (kwargs["num_frames"], kwargs["height"]) == (frames, height)


def test_kandinsky5_text_encoder_is_qwen25_vl_7b(bench):
    pipe, _ = bench.build("kandinsky5", torch.bfloat16, device="meta")
    assert 8.0 < billions(pipe.text_encoder) < 8.6  # Qwen2.5-VL-7B-Instruct: 8.3B with its vision tower


def test_helios_distilled_runs_unguided_in_stages(bench):
    pipe, native = bench.build("helios-distilled", torch.bfloat16, device="meta")
    assert pipe.config.is_distilled and native["guidance_scale"] == 1.0
    assert bench.direct_kwargs(pipe, native, 2)["pyramid_num_inference_steps_list"] == [2, 2, 2]


@pytest.mark.parametrize("model", ["ltx2-up", "ltx-up"])
def test_upscale_scenarios_carry_their_family_latent_upsampler(bench, model):
    _, native = bench.build(model, torch.bfloat16, device="meta")
    expected = "LTX2LatentUpsamplerModel" if model == "ltx2-up" else "LTXLatentUpsamplerModel"
    assert type(native["upsampler"]).__name__ == expected
