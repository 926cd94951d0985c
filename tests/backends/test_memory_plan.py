"""The memory plan (`kinema.backends.memory`): its estimate against the measured peak on tiny folders, its
choices for fixed budgets, the no-fit message, and the `kinema plan` / `generate --memory` command lines.

"Measured" is the high-water mark of live tensor bytes while the real backend generates (`live_tensors`, the
CPU's counterpart of `torch.cuda.max_memory_allocated`); the estimate runs the same components' code on the
meta device. Tolerance: within 15 % (issue 27); measured 0.93-0.99 on every tiny family
(benchmarks/bench_memory_plan.py)."""

from __future__ import annotations

import pytest
import torch
from tiny_diffusers import ltx_folder, wan_folder

from kinema.backends import GenerationSpec, load_backend
from kinema.backends.memory import (
    GB,
    Activations,
    ComponentWeights,
    ModelMemory,
    Request,
    live_tensors,
    make_plan,
    parse_memory,
)
from kinema.cli import main
from kinema.errors import InvalidInputError


@pytest.fixture(scope="module")
def wan(tmp_path_factory):
    return wan_folder(tmp_path_factory.mktemp("wan") / "t2v", "t2v")


@pytest.fixture(scope="module")
def ltx(tmp_path_factory):
    return ltx_folder(tmp_path_factory.mktemp("ltx") / "ltx")


def measured_peak(backend, request: Request) -> int:
    spec = GenerationSpec(
        prompt="a red ball", num_inference_steps=2, seed=0, width=request.width, height=request.height,
        num_frames=request.num_frames,
    )  # fmt: skip
    backend.generate(spec)  # warm: first-call caches are not the request's memory
    with live_tensors() as live:
        backend.generate(spec)
    return live.peak


@pytest.mark.parametrize("family", ["wan", "ltx"])
def test_the_estimate_is_within_15_percent_of_the_measured_peak(family, wan, ltx):
    folder = {"wan": wan, "ltx": ltx}[family]
    backend = load_backend(folder)
    request = Request(backend.facts.width, backend.facts.height, backend.facts.num_frames)
    estimate = ModelMemory.read(folder, "fp32").activations(request).peak(tiled=False)
    measured = measured_peak(backend, request)
    assert 0.85 <= estimate / measured <= 1.15, (estimate, measured)


def test_weights_are_counted_from_the_headers_without_loading(wan):
    memory = ModelMemory.read(wan, "fp32")
    pipe = load_backend(wan).pipeline("t2v")
    for name, weights in memory.weights.items():
        component = getattr(pipe, name)
        assert weights.params == sum(p.numel() for p in component.parameters()), name
        assert weights.linear == sum(
            m.weight.numel() for m in component.modules() if isinstance(m, torch.nn.Linear)
        )
    assert all(p.device.type == "meta" for c in memory.components.values() for p in c.parameters())


class FixedModel(ModelMemory):
    """A 14B-class model's shape with fixed activations: the plan's choices alone are under test."""

    def activations(self, request: Request) -> Activations:
        return Activations(text=1 * GB, denoise=3 * GB, decode=9 * GB, decode_tiled=2 * GB)


def fixed_model() -> FixedModel:
    b = 10**9
    weights = {
        "text_encoder": ComponentWeights("text_encoder", "text", int(5.7 * b), int(4.6 * b), 120_000_000, 10**9, 10**9, 0),
        "transformer": ComponentWeights("transformer", "denoiser", 14 * b, int(13.8 * b), 400_000_000, 10**8, 10**8, 0),
        "vae": ComponentWeights("vae", "vae", 127_000_000, 0, 10_000_000, 10**6, 10**6, 0),
    }  # fmt: skip
    return FixedModel(path=__import__("pathlib").Path("wan14b"), dtype="bf16", index={}, weights=weights)


@pytest.mark.parametrize(
    "budget, want",
    [
        (80, "as is"),  # 39.7 GB of bf16 weights + 9 GB at the decode
        (48, "VAE tiling"),  # the decode was the peak: tiling is the cheapest fix
        (40, "model offload"),  # one model resident at a time: the 28 GB transformer + 3 GB
        (24, "group offload"),  # two blocks + the rest resident; the untiled decode (9 GB) still fits
        (8, "group offload, VAE tiling"),
        (4, "nf4, group offload, VAE tiling"),  # only the smallest combination is left
    ],
)
def test_the_fastest_plan_that_fits_each_budget(budget, want):
    plan = make_plan(fixed_model(), Request(1280, 720, 81), budget * GB, "cuda")
    assert plan.chosen is not None and plan.chosen.describe() == want
    assert plan.chosen.peak <= plan.usable
    cheaper = [p for p in plan.plans if p.cost < plan.chosen.cost]
    assert all(p.peak > plan.usable for p in cheaper)  # nothing faster fits


def test_no_fit_says_what_is_missing():
    plan = make_plan(fixed_model(), Request(1280, 720, 81), 2 * GB, "cuda")
    assert plan.chosen is None
    message = plan.missing()
    assert (
        message.startswith("wan14b at 1280x720x81 needs 45.9 GB as is; with ")
        and "you have 2.0 GB" in message
    )
    assert f"with {plan.smallest.describe()}: 3.2 GB;" in message


def test_the_cpu_plans_only_what_runs_there():
    plan = make_plan(fixed_model(), Request(1280, 720, 81), 30 * GB, "cpu")
    assert {p.offload for p in plan.plans} == {None, "disk"} and "nf4" not in {p.quantize for p in plan.plans}


def test_memory_sizes():
    assert parse_memory("24GB") == 24 * GB and parse_memory("12000MB") == 12000 * 2**20
    assert parse_memory("auto") == "auto" and parse_memory("1.5 GiB") == int(1.5 * GB)
    with pytest.raises(InvalidInputError, match="write e.g. 24GB"):
        parse_memory("lots")


def test_kinema_plan_prints_the_table(wan, capsys):
    assert main(["plan", "--model", str(wan), "--memory", "24GB", "--size", "64x48", "--frames", "9"]) == 0
    out = capsys.readouterr().out
    assert "memory plan: t2v at 64x48x9 on cuda (bf16), budget 24.0 GB" in out
    assert "| transformer |" in out and "**chosen**" in out and "chosen: as is" in out


def test_kinema_plan_without_a_fit_exits_1(wan, capsys):
    assert main(["plan", "--model", str(wan), "--memory", "1MB"]) == 1
    assert "no plan fits: t2v at 48x48x9 needs" in capsys.readouterr().err


def test_generate_with_a_budget_prints_and_applies_the_plan(wan, tmp_path, capsys):
    out = tmp_path / "planned.mp4"
    args = [
        "generate",
        "a red ball",
        "--model",
        str(wan),
        "-o",
        str(out),
        "--steps",
        "2",
        "--quiet",
        "--no-sign",
    ]
    assert main([*args, "--memory", "4GB"]) == 0 and out.is_file()
    assert "memory plan: t2v at 48x48x9 on cpu (fp32), budget 4.0 GB" in capsys.readouterr().err
    assert main([*args, "--memory", "1MB"]) == 2
    assert "needs" in capsys.readouterr().err


def test_the_server_path_plans_at_load(wan):
    backend = load_backend(wan, memory="4GB")
    assert backend.memory_plan is not None and backend.memory_plan.chosen.describe() == "as is"
    assert backend.load.memory is None  # spent: the plan's options are the load options now


def test_the_worker_pool_plans_diffusers_folders_and_passes_kinema_models(wan, tmp_path):
    from kinema.backends import BackendCache
    from kinema.pipelines.model_folder import create_random_model_folder

    pool = BackendCache(defaults={"memory": "4GB", "quantize": "int8:transformer"})  # --memory / --quantize
    backend = pool.get(wan)
    assert backend.memory_plan.chosen.quantize == "int8:transformer"  # the hand-given option, kept
    assert backend.load.quantize == "int8:transformer" and backend.load.memory is None
    kinema_model = create_random_model_folder(tmp_path / "kinema")
    assert pool.get(kinema_model).name == "kinema"  # Kinema's own models load without diffusers options


def test_serve_hands_the_memory_options_to_its_workers():
    import argparse

    from kinema.commands.serve import register, worker_command
    from kinema.commands.worker import settings_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(), "serve")
    args = parser.parse_args(["serve", "--memory", "auto", "--quantize", "int8"])
    cmd = worker_command(args, settings_from_args(args))
    assert cmd[cmd.index("--memory") + 1] == "auto" and cmd[cmd.index("--quantize") + 1] == "int8"


def test_a_tight_budget_applies_disk_offloading_with_the_same_frames(ltx, tmp_path):
    """9 MB: LTX's as-is peak (9.6 MB, the decode) does not fit; group offloading to disk (5.6 MB) does. The
    frames match the plain load within disk offloading's own tolerance (test_diffusers_load_options.py)."""
    import numpy as np

    from kinema.backends.diffusers_base import LoadOptions

    backend = load_backend(ltx, memory="9MB")
    assert backend.memory_plan.chosen.describe() == "disk offload"
    assert backend.load.offload == "group" and backend.load.offload_dir is not None
    assert isinstance(backend.load, LoadOptions)
    spec = dict(prompt="a red ball", num_inference_steps=2, seed=1)
    got = backend.generate(GenerationSpec(**spec)).frames.astype(int)
    want = load_backend(ltx).generate(GenerationSpec(**spec)).frames.astype(int)
    assert np.abs(got - want).max() <= 1 and np.count_nonzero(got != want) <= want.size // 10_000


def test_a_models_file_setting_wins_over_the_command_line_defaults(wan):
    """`kinema serve --quantize int8 --models models.yaml`: a model's own `quantize:` is kept over the flag."""
    from kinema.backends import BackendCache

    pool = BackendCache(load={wan: {"quantize": "int8:transformer"}}, defaults={"quantize": "int8"})
    assert pool.get(wan).load.quantize == "int8:transformer"
