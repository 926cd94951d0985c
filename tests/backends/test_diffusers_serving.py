"""A real server (uvicorn on loopback) serving a tiny Wan diffusers folder, driven by the official openai
client: the API reads the folder's facts without torch, the worker's BackendCache runs the backend."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from tiny_diffusers import wan_folder

from kinema.io import read_aigc_label, read_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos.* deprecated


@pytest.fixture
def server(tmp_path):
    from serving_helpers import Server

    from kinema.backends import BackendCache
    from kinema.serving.settings import ServeSettings

    folder = wan_folder(tmp_path / "models" / "wan-tiny", "t2v")
    settings = ServeSettings(
        data_dir=tmp_path / "data", models=[folder], auth="auto", lease_seconds=30.0, heartbeat_seconds=1.0,
        poll_seconds=0.05, visible_label=False,
    )  # fmt: skip
    server = Server(settings).start()
    server.start_worker(BackendCache())
    yield server
    server.stop()


def test_openai_client_makes_a_video_with_a_diffusers_folder(server, tmp_path):
    import openai

    from kinema.serving.auth import create_key

    key = create_key(server.store, "client", "pro")[1]
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {m.id: m for m in client.models.list()}
        assert "wan-tiny" in models
        video = client.videos.create_and_poll(
            prompt="a red ball moves to the right", seconds="1", size="48x48",
            extra_body={"seed": 7, "num_inference_steps": 2}, poll_interval_ms=100,
        )  # fmt: skip
        assert video.status == "completed", video.error
        assert (video.model, video.size) == ("wan-tiny", "48x48")
        mp4 = tmp_path / "out.mp4"
        mp4.write_bytes(client.videos.download_content(video.id).content)
    frames, fps = read_video(mp4)
    assert frames.shape == (9, 48, 48, 3) and fps == 8  # 1 s at the folder's 8 fps: 1 + 4k = 9 frames
    assert read_aigc_label(mp4).ProduceID == video.id


def test_models_dir_finds_diffusers_folders_and_refuses_their_missing_modes(tmp_path):
    from serving_helpers import Server

    from kinema.serving.settings import ServeSettings

    wan_folder(tmp_path / "models" / "wan-i2v", "i2v")  # image→video only: no text→video
    settings = ServeSettings(data_dir=tmp_path / "data", models_dir=tmp_path / "models", auth="auto")
    server = Server(settings).start()
    try:
        with server.client() as c:
            listed = {m["id"]: m for m in c.get("/v1/models").json()["data"]}
            assert "wan-i2v" in listed and "t2v" not in listed["wan-i2v"]["modes"]
            r = c.post("/v1/videos", json={"prompt": "a red ball", "model": "wan-i2v"})
            assert r.status_code == 400 and r.json()["error"]["param"] == "model"
            assert "cannot do text (t2v); it does: i2v" in r.json()["error"]["message"]
    finally:
        server.stop()
