"""A serve models file (`kinema serve --models models.yaml`): a model listed by hub id, with its own load
settings, appears in `/v1/models` with its modes and settings and runs a job to completion through a real
server on loopback; mistakes in the file stop start-up with a sentence naming the key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hub_cache import put_snapshot
from tiny_diffusers import wan_folder

from kinema.errors import InvalidInputError
from kinema.io import read_video
from kinema.serving.registry import ModelRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
COMMIT = "c" * 40


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return wan_folder(tmp_path_factory.mktemp("wan") / "t2v", "t2v")


def test_a_hub_id_in_the_models_file_is_listed_with_its_settings_and_runs_a_job(folder, hf_cache, tmp_path):
    from serving_helpers import Server

    from kinema.backends import BackendCache
    from kinema.serving.settings import ServeSettings

    snapshot = put_snapshot(hf_cache, "kinema-test/wan-tiny", folder, COMMIT)
    models = tmp_path / "models.yaml"
    models.write_text(
        "default: wan-hub\n"
        "models:\n"
        "  - model: kinema-test/wan-tiny@main\n"
        "    name: wan-hub\n"
        "    offload: group\n"
        "    vae_tiling: true\n"
        f"  - model: {folder}\n"  # a folder, as it is, with no settings
    )
    settings = ServeSettings(
        data_dir=tmp_path / "data", models_file=models, auth="off", lease_seconds=30.0, heartbeat_seconds=1.0,
        poll_seconds=0.05, visible_label=False,
    )  # fmt: skip
    server = Server(settings).start()
    backends = BackendCache(load=server.registry.load_options())  # as the worker process builds it
    server.start_worker(backends)
    try:
        with server.client() as c:
            listed = {m["id"]: m for m in c.get("/v1/models").json()["data"]}
            hub = listed["wan-hub"]
            assert hub["source"] == "kinema-test/wan-tiny@main" and hub["default"]
            assert hub["settings"] == {"offload": "group", "vae_tiling": True}
            assert {"t2v", "extend"} <= set(hub["modes"])
            assert listed["t2v"]["settings"] == {} and listed["t2v"]["source"] == str(folder)
            body = {"prompt": "a red ball", "seconds": "1", "size": "48x48", "num_inference_steps": 2}
            video_id = c.post("/v1/videos", json=body).json()["id"]
        done = server.wait_for(video_id, timeout=120)
        assert done["status"] == "completed", done.get("error")
        assert done["model"] == "wan-hub"
        with server.client() as c:
            mp4 = tmp_path / "out.mp4"
            mp4.write_bytes(c.get(f"/v1/videos/{video_id}/content").content)
        assert read_video(mp4)[0].shape == (9, 48, 48, 3)
        backend = backends.get(snapshot)  # the one the job ran on: the snapshot, with the file's settings
        assert backend.load.offload == "group" and backend.load.vae_tiling
        transformer = backend.pipeline("t2v").transformer
        assert transformer._diffusers_hook.get_hook("group_offloading") is not None
    finally:
        server.stop()


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            "    dtpye: bf16\n",
            "unknown setting 'dtpye'; a model takes model, name and the load settings dtype, ",
        ),
        ("    offload: disk\n", "offload='disk' is not one of model, sequential, group"),
        ("    vae_tiling: maybe\n", "vae_tiling: Input should be a valid boolean"),
        ("    transformer: /nowhere/t.gguf\n", "'/nowhere/t.gguf' is not a .safetensors or .gguf file"),
    ],
)
def test_a_mistake_in_the_models_file_names_the_model_and_the_key(folder, tmp_path, entry, message):
    models = tmp_path / "models.yaml"
    models.write_text(f"models:\n  - model: {folder}\n    name: mine\n{entry}")
    with pytest.raises(InvalidInputError, match=f"{models}, model 'mine': .*") as err:
        ModelRegistry.discover(None, [], models_file=models)
    assert message in str(err.value)


def test_two_models_with_one_name_are_refused(folder, tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text(f"models:\n  - model: {folder}\n  - model: {folder}\n    name: t2v\n")
    with pytest.raises(InvalidInputError, match="Two models are named 't2v'"):
        ModelRegistry.discover(None, [], models_file=models)


def test_a_models_file_without_models_is_refused(tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text("default: x\n")
    with pytest.raises(InvalidInputError, match="models: Field required"):
        ModelRegistry.discover(None, [], models_file=models)


def test_serve_passes_the_models_file_to_its_workers(tmp_path):
    import argparse

    from kinema.commands.serve import register, worker_command
    from kinema.commands.worker import settings_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), "serve")
    models = tmp_path / "models.yaml"
    args = parser.parse_args(["serve", "--models", str(models), "--model", "org/name@v1"])
    settings = settings_from_args(args)
    assert settings.models_file == models and [str(m) for m in settings.models] == ["org/name@v1"]
    cmd = worker_command(args, settings)
    assert cmd[cmd.index("--models") + 1] == str(models) and cmd[cmd.index("--model") + 1] == "org/name@v1"
