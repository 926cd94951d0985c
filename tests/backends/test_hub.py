"""Models named by Hugging Face Hub id (`org/name[@revision]`) through huggingface_hub's own resolution,
offline, against a cache the tests lay out (hub_cache.py) holding tiny Wan pipelines saved with
`save_pretrained`; single-file transformer checkpoints; which files a download takes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from hub_cache import put_snapshot
from single_file import original_wan_state, write_gguf
from tiny_diffusers import wan_folder

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.backends.hub import choose_files, parse_hub_id, weight_variant
from kinema.cli import main
from kinema.errors import ModelNotFoundError
from kinema.io import read_video

REPO = Path(__file__).resolve().parents[2]
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40
WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two revisions of one tiny Wan T2V model: B's transformer is A's, perturbed."""
    root = tmp_path_factory.mktemp("wan")
    a = wan_folder(root / "a", "t2v")
    b = shutil.copytree(a, root / "b")
    state = safetensors.torch.load_file(b / WEIGHTS)
    gen = torch.Generator().manual_seed(3)
    state = {k: v + 0.2 * torch.randn(v.shape, generator=gen) for k, v in state.items()}
    safetensors.torch.save_file(state, b / WEIGHTS)
    return a, b


def frames(backend, **fields) -> np.ndarray:
    spec = {"prompt": "a red ball", "num_inference_steps": 2, "seed": 1, **fields}
    return backend.generate(GenerationSpec(**spec)).frames


@pytest.fixture(scope="module")
def frames_a(folders):
    return frames(load_backend(folders[0]))


@pytest.fixture(scope="module")
def frames_b(folders):
    return frames(load_backend(folders[1]))


def test_a_hub_id_runs_from_the_cache_offline(folders, hf_cache, frames_a, tmp_path):
    snapshot = put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[0], COMMIT_A)
    facts = read_facts("kinema-test/wan-tiny")
    assert facts.name == "kinema-test/wan-tiny" and facts.path == snapshot.resolve()
    backend = load_backend("kinema-test/wan-tiny")
    assert backend.model_name == "kinema-test/wan-tiny"
    np.testing.assert_array_equal(frames(backend), frames_a)
    out = tmp_path / "cat.mp4"  # and from the command line
    argv = ["generate", "a cat", "--model", "kinema-test/wan-tiny", "--steps", "2", "--seed", "1"]
    assert main([*argv, "--quiet", "--no-sign", "-o", str(out)]) == 0
    video, fps = read_video(out)
    assert video.shape == (9, 48, 48, 3) and fps == 8


def test_a_revision_pin_loads_that_snapshot(folders, hf_cache, frames_a, frames_b):
    put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[0], COMMIT_A, refs=("main",))
    put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[1], COMMIT_B, refs=("v2",))
    assert not np.array_equal(frames_a, frames_b)  # the two revisions differ
    for name, want in (
        (f"kinema-test/wan-tiny@{COMMIT_B}", frames_b),  # a commit
        ("kinema-test/wan-tiny@v2", frames_b),  # a branch or tag: refs/v2
        ("kinema-test/wan-tiny@main", frames_a),
        ("kinema-test/wan-tiny", frames_a),  # no pin: main
    ):
        backend = load_backend(name)
        assert backend.model_name == name
        np.testing.assert_array_equal(frames(backend), want, err_msg=name)
    with pytest.raises(
        ModelNotFoundError, match="kinema-test/wan-tiny at revision v3: .* not \\(whole\\) in the Hugging"
    ):
        read_facts("kinema-test/wan-tiny@v3")


def test_a_missing_id_offline_names_the_id_the_cache_and_the_command(hf_cache, tmp_path):
    """Run as a user runs it: a fresh process whose environment says offline and where the cache is."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "kinema.cli", "generate", "a cat", "--model", "nobody/nothing@v1"]
    proc = subprocess.run(
        [*cmd, "--no-sign", "-o", str(tmp_path / "x.mp4")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("kinema generate: error: nobody/nothing at revision v1: ")
    assert (
        f"not (whole) in the Hugging Face cache at {hf_cache}" in message
        and "HF_HUB_OFFLINE is set" in message
    )
    assert (
        "`kinema pull nobody/nothing@v1`" in message and "hf download nobody/nothing --revision v1" in message
    )


@pytest.mark.parametrize(
    "name", ["no-such-folder", "./models/nothing", "a/b/c", "org/na me", "org/name@", "org/name@../../x"]
)
def test_neither_a_folder_nor_an_id_is_a_clear_error(name, hf_cache):
    assert parse_hub_id(name) is None
    with pytest.raises(ModelNotFoundError, match="not a Hugging Face Hub id"):
        read_facts(name)


def test_a_folder_keeps_working_and_wins_over_an_id(folders, hf_cache, monkeypatch):
    root = folders[0].parent
    monkeypatch.chdir(root)  # "wan/a"-style relative paths: a folder here is a folder, not an id
    os.makedirs("org", exist_ok=True)
    if not os.path.exists("org/a"):
        os.symlink(folders[0], "org/a")
    assert read_facts("org/a").path == folders[0].resolve()


# A Wan repo as the hub holds it: full-precision and fp16 copies, pickles, a sharded transformer, extras.
REPO_FILES = [
    "README.md", "assets/demo.gif", "model_index.json", "Wan2.1_VAE.pth", "diffusion_pytorch_model.onnx",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/model.safetensors.index.json",
    "text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors",
    "text_encoder/model.safetensors.index.fp16.json", "text_encoder/model.fp16-00001-of-00001.safetensors",
    "text_encoder/pytorch_model.bin",
    "tokenizer/special_tokens_map.json", "tokenizer/spiece.model", "tokenizer/tokenizer_config.json",
    "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
    "transformer/diffusion_pytorch_model.bf16.safetensors", "transformer/diffusion_pytorch_model.bin",
    "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.onnx",
    "image_encoder/model.safetensors",
]  # fmt: skip
INDEX = {
    "_class_name": "WanPipeline", "_diffusers_version": "0.33.0", "scheduler": ["diffusers", "UniPCMultistepScheduler"],
    "text_encoder": ["transformers", "UMT5EncoderModel"], "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "WanTransformer3DModel"], "transformer_2": [None, None],
    "vae": ["diffusers", "AutoencoderKLWan"], "boundary_ratio": None,
}  # fmt: skip
COMMON = [
    "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
    "tokenizer/special_tokens_map.json", "tokenizer/spiece.model", "tokenizer/tokenizer_config.json",
    "transformer/config.json", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
]  # fmt: skip
FULL_TEXT = [
    "text_encoder/model.safetensors.index.json", "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors",
]  # fmt: skip


@pytest.mark.parametrize(
    "dtype, want",
    [
        (None, [*FULL_TEXT, "transformer/diffusion_pytorch_model.safetensors"]),
        ("fp32", [*FULL_TEXT, "transformer/diffusion_pytorch_model.safetensors"]),
        ("bf16", [*FULL_TEXT, "transformer/diffusion_pytorch_model.bf16.safetensors"]),
        ("fp16", ["text_encoder/model.safetensors.index.fp16.json", "text_encoder/model.fp16-00001-of-00001.safetensors", "transformer/diffusion_pytorch_model.safetensors"]),
    ],
)  # fmt: skip
def test_a_download_takes_the_components_in_one_format_and_one_variant(dtype, want):
    assert sorted(choose_files(INDEX, REPO_FILES, dtype)) == sorted(COMMON + want)


def test_a_folder_of_variant_files_loads_with_its_variant(folders, frames_a, tmp_path):
    """A folder holding only fp16 files for its transformer (as `kinema pull --dtype fp16` leaves one):
    diffusers needs `variant="fp16"` to find them, and takes the plain files of the other components."""
    folder = shutil.copytree(folders[0], tmp_path / "wan")
    (folder / WEIGHTS).rename(folder / "transformer/diffusion_pytorch_model.fp16.safetensors")
    assert weight_variant(folder, None) == "fp16" and weight_variant(folders[0], None) is None
    np.testing.assert_array_equal(frames(load_backend(folder)), frames_a)


# ---- single-file transformer checkpoints ------------------------------------------------------------------
@pytest.fixture(scope="module")
def single_files(folders, tmp_path_factory):
    """Revision B's transformer as a ComfyUI-style file: the original release's key names, .safetensors
    and .gguf."""
    root = tmp_path_factory.mktemp("single")
    state = original_wan_state(safetensors.torch.load_file(folders[1] / WEIGHTS))
    safetensors.torch.save_file(state, root / "wan_b.safetensors")
    return root / "wan_b.safetensors", write_gguf(state, root / "wan_b_q8_0.gguf")


def test_a_single_file_transformer_replaces_the_folders(folders, single_files, frames_a, frames_b):
    """B's weights, converted by diffusers. Tolerance: one uint8 level in at most 1 of 10,000 values (weights
    read from a fresh file can take another SIMD path in the CPU kernels, as with offloading to disk: the
    benchmark saw one such value); A's frames are 1.3 levels away on average."""
    got = frames(load_backend(folders[0], transformer=single_files[0])).astype(int)
    diff = np.abs(got - frames_b)
    assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 10_000
    assert np.abs(got - frames_a).mean() > 1.0


def test_a_gguf_transformer_over_a_hub_id_stays_quantized(
    folders, hf_cache, single_files, frames_a, frames_b, tmp_path
):
    """Q8_0 (8-bit blocks of 32 with one scale) on the matrices whose rows split into blocks. Tolerance
    against B's full-precision frames, in levels of 255: mean ≤ 1, max ≤ 51 (diffusers' own bound, 0.2 of
    the range); measured with these random weights: mean 0.14, max 26. A's frames are far further away."""
    from diffusers.quantizers.gguf.utils import GGUFParameter

    put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[0], COMMIT_A)
    backend = load_backend("kinema-test/wan-tiny", transformer=single_files[1])
    ffn = backend.pipeline("t2v").transformer.blocks[0].ffn.net[2].weight
    assert isinstance(ffn, GGUFParameter) and ffn.quant_type == 8  # GGMLQuantizationType.Q8_0
    got = frames(backend).astype(int)
    diff = np.abs(got - frames_b)
    assert diff.mean() <= 1 and diff.max() <= 51, (diff.mean(), diff.max())
    assert np.abs(got - frames_a).mean() > 4 * diff.mean()  # measured: 1.29 against 0.14
    out = tmp_path / "q8.mp4"  # the command line's --transformer
    argv = ["generate", "a cat", "--model", "kinema-test/wan-tiny", "--transformer", str(single_files[1])]
    assert main([*argv, "--steps", "2", "--quiet", "--no-sign", "-o", str(out)]) == 0
    assert read_video(out)[0].shape == (9, 48, 48, 3)


def test_a_transformer_file_that_is_not_one_is_refused(folders, tmp_path):
    from kinema.errors import InvalidInputError

    (tmp_path / "notes.txt").write_text("x")
    for bad in (tmp_path / "notes.txt", tmp_path / "missing.gguf"):
        with pytest.raises(InvalidInputError, match="is not a .safetensors or .gguf file"):
            load_backend(folders[0], transformer=bad)


def test_a_lora_named_by_hub_id_is_taken_from_the_cache(folders, hf_cache, tmp_path):
    """A LoRA repo (one `pytorch_lora_weights.safetensors`, no model_index.json) pinned to a branch."""
    pytest.importorskip("peft")
    from diffusers import WanPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = WanPipeline.from_pretrained(folders[0], local_files_only=True)
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"]))
    torch.manual_seed(0)
    for name, p in pipe.transformer.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.5)  # peft starts B at zero (a no-op adapter)
    lora = tmp_path / "lora"
    WanPipeline.save_lora_weights(lora, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer))
    put_snapshot(hf_cache, "kinema-test/style-lora", lora, COMMIT_B, refs=("v1",))
    by_file = frames(load_backend(folders[0], loras=((str(lora / "pytorch_lora_weights.safetensors"), 0.8),)))
    by_id = frames(load_backend(folders[0], loras=(("kinema-test/style-lora@v1", 0.8),)))
    np.testing.assert_array_equal(by_id, by_file)
    assert not np.array_equal(by_id, frames(load_backend(folders[0])))
    with pytest.raises(
        ModelNotFoundError,
        match="kinema-test/style-lora at revision v2: .*`kinema pull kinema-test/style-lora@v2 --lora`",
    ):
        load_backend(folders[0], loras=(("kinema-test/style-lora@v2", 1.0),)).pipeline("t2v")


def test_pull_offline_finds_the_cached_snapshot_or_says_what_is_missing(folders, hf_cache, capsys):
    snapshot = put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[0], COMMIT_A)
    assert main(["pull", "kinema-test/wan-tiny"]) == 0
    assert capsys.readouterr().out.strip() == f"kinema-test/wan-tiny is at {snapshot} (commit {COMMIT_A})"
    assert main(["pull", "kinema-test/absent"]) == 2
    assert "kinema-test/absent: it is not (whole) in the Hugging Face cache" in capsys.readouterr().err
    assert main(["pull", "not-an-id"]) == 2
    assert "'not-an-id' is not a Hugging Face Hub id" in capsys.readouterr().err


def test_with_no_route_to_the_hub_a_cached_model_is_used_and_a_missing_one_is_named(
    folders, hf_cache, monkeypatch
):
    """HF_HUB_OFFLINE unset, the hub unreachable (its endpoint a closed local port): huggingface_hub's
    look-up fails to connect, the cached snapshot serves; an uncached id is the error with the cause."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    snapshot = put_snapshot(hf_cache, "kinema-test/wan-tiny", folders[0], COMMIT_A)
    assert read_facts("kinema-test/wan-tiny").path == snapshot.resolve()
    with pytest.raises(ModelNotFoundError, match=r"the hub could not be reached \(ConnectError") as err:
        read_facts("kinema-test/absent")
    assert "`kinema pull kinema-test/absent`" in str(err.value)


# ---- online: a hub on loopback ------------------------------------------------------------------------------
@pytest.fixture
def fake_hub(hf_cache, monkeypatch):
    """huggingface_hub online (HF_HUB_OFFLINE unset) against a hub on 127.0.0.1 (fake_hub.py)."""
    from fake_hub import FakeHub
    from huggingface_hub import constants

    hub = FakeHub().start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def hub_repo(folders, tmp_path_factory):
    """A repo as the hub holds one: A's pipeline, plus a bf16 copy of the transformer (B's weights, so the
    test can tell which was loaded), a README and an original-format checkpoint at the top."""
    repo = shutil.copytree(folders[0], tmp_path_factory.mktemp("repo") / "wan")
    state = safetensors.torch.load_file(folders[1] / WEIGHTS)
    bf16 = {k: v.to(torch.bfloat16) for k, v in state.items()}
    safetensors.torch.save_file(bf16, repo / "transformer" / "diffusion_pytorch_model.bf16.safetensors")
    (repo / "README.md").write_text("# wan-tiny\n")
    safetensors.torch.save_file(original_wan_state(state), repo / "wan_t2v_original.safetensors")
    return repo, bf16


def downloaded(hub) -> set[str]:
    return {f.split("/", 2)[2] for f in hub.downloaded}


def test_online_only_the_pipelines_files_come_down_in_one_variant(fake_hub, hub_repo, frames_a, capsys):
    repo, _ = hub_repo
    fake_hub.add("kinema-test/wan-tiny", repo, COMMIT_A)
    backend = load_backend("kinema-test/wan-tiny")
    got = downloaded(fake_hub)
    assert "transformer/diffusion_pytorch_model.safetensors" in got and "vae/config.json" in got
    assert not got & {
        "transformer/diffusion_pytorch_model.bf16.safetensors",
        "README.md",
        "wan_t2v_original.safetensors",
    }
    assert got == set(fake_hub.files("kinema-test/wan-tiny")) - {
        "transformer/diffusion_pytorch_model.bf16.safetensors", "README.md", "wan_t2v_original.safetensors"
    }  # fmt: skip
    np.testing.assert_array_equal(frames(backend), frames_a)
    assert "kinema: fetching kinema-test/wan-tiny" in capsys.readouterr().err
    fake_hub.downloaded.clear()  # a second run downloads nothing
    assert read_facts("kinema-test/wan-tiny").name == "kinema-test/wan-tiny" and not fake_hub.downloaded
    asked = fake_hub.requests  # a cached commit is immutable: no look-up at all
    assert read_facts(f"kinema-test/wan-tiny@{COMMIT_A}").path == backend.facts.path
    assert fake_hub.requests == asked


def test_online_bf16_takes_the_bf16_copy_and_loads_it(fake_hub, hub_repo):
    repo, bf16 = hub_repo
    fake_hub.add("kinema-test/wan-tiny", repo, COMMIT_A)
    backend = load_backend("kinema-test/wan-tiny", dtype="bf16")
    got = downloaded(fake_hub)
    assert "transformer/diffusion_pytorch_model.bf16.safetensors" in got
    assert "transformer/diffusion_pytorch_model.safetensors" not in got
    weight = backend.pipeline("t2v").transformer.state_dict()["blocks.0.attn1.to_q.weight"]
    assert torch.equal(weight, bf16["blocks.0.attn1.to_q.weight"])  # the bf16 file's, not A's


def test_online_an_unknown_id_is_named(fake_hub, hub_repo):
    fake_hub.add("kinema-test/wan-tiny", hub_repo[0], COMMIT_A)
    with pytest.raises(
        ModelNotFoundError,
        match="no folder 'kinema-test/absent' here and no model 'kinema-test/absent' on the Hugging Face Hub",
    ):
        read_facts("kinema-test/absent")


def test_online_a_kinema_model_by_id_comes_down_whole_and_runs(fake_hub, tmp_path):
    from kinema.pipelines.model_folder import create_random_model_folder

    folder = create_random_model_folder(tmp_path / "kinema-tiny", preset="tiny", seed=0)
    fake_hub.add("kinema-test/kinema-tiny", folder, COMMIT_B)
    backend = load_backend("kinema-test/kinema-tiny")
    assert backend.model_name == "kinema-test/kinema-tiny" and backend.name == "kinema"
    assert downloaded(fake_hub) == set(fake_hub.files("kinema-test/kinema-tiny"))
    want = load_backend(folder).generate(GenerationSpec(prompt="a red ball", seed=1)).frames
    np.testing.assert_array_equal(backend.generate(GenerationSpec(prompt="a red ball", seed=1)).frames, want)


def test_issue_27_done_when_a_cached_hub_id_with_a_memory_budget_prints_its_plan_and_writes_the_video(
    folders, hf_cache, tmp_path
):
    """The issue's closing command, at tiny scale: a model by hub id from the cache, offline, `--memory 8GB`
    → the plan's table on the terminal, then the video."""
    put_snapshot(hf_cache, "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", folders[0], COMMIT_A)
    out = tmp_path / "cat.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "kinema.cli", "generate", "a cat", "--model", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
         "--memory", "8GB", "--no-sign", "-o", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = proc.stdout + proc.stderr
    assert "8.0 GB" in printed or "8 GB" in printed or "8.00 GB" in printed, printed[-2000:]
    assert "offload" in printed and "peak" in printed.lower(), printed[-2000:]  # the plan's table
    from kinema.io import probe_video

    info = probe_video(out)
    assert info.num_frames >= 1 and info.width > 0


def test_online_plan_fetches_only_configs_and_a_later_run_still_gets_the_weights(
    fake_hub, hub_repo, folders, frames_a, capsys
):
    """`kinema plan` on a hub id reads configs, not weights (a 14B model planned in kilobytes); the
    config-only snapshot it leaves is not taken for the model when it runs - online, by commit, offline."""
    from huggingface_hub import constants

    repo, _ = hub_repo
    fake_hub.add("kinema-test/wan-tiny", repo, COMMIT_A)
    argv = ["plan", "--memory", "8GB", "--device", "cpu", "--size", "48x48", "--frames", "9"]
    assert main([*argv, "--model", "kinema-test/wan-tiny"]) == 0
    from_hub = capsys.readouterr().out
    got = downloaded(fake_hub)
    assert got and all(name.endswith(".json") for name in got), got  # no weights came down
    assert "transformer/config.json" in got and "model_index.json" in got
    assert from_hub.startswith("memory plan: kinema-test/wan-tiny at 48x48x9")  # named as the user named it
    assert main([*argv, "--model", str(folders[0])]) == 0
    from_folder = capsys.readouterr().out.replace(
        f"plan: {folders[0].name} at", "plan: kinema-test/wan-tiny at"
    )
    assert from_hub == from_folder  # the same plan as from the whole folder
    fake_hub.downloaded.clear()
    constants.HF_HUB_OFFLINE = True  # offline, the configs alone are not the model
    with pytest.raises(ModelNotFoundError, match="not \\(whole\\) in the Hugging Face cache"):
        load_backend(f"kinema-test/wan-tiny@{COMMIT_A}")
    constants.HF_HUB_OFFLINE = False
    backend = load_backend(f"kinema-test/wan-tiny@{COMMIT_A}")  # by commit: not fooled by the configs
    assert "transformer/diffusion_pytorch_model.safetensors" in downloaded(fake_hub)
    np.testing.assert_array_equal(frames(backend), frames_a)
