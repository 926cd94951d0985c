"""Video with sound through a real server (uvicorn on loopback) serving tiny LTX-2 and LTX-Video folders:
the official `openai` client downloads an MP4 whose file has sound, a video-only model asked for sound is a
400, and the studio in headless Chromium plays the sound (issue 28)."""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import pytest
from tiny_diffusers import ltx2_folder, ltx_folder

from kinema.io import probe_audio, read_aigc_label, read_audio, read_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos.* deprecated


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from serving_helpers import Server

    from kinema.backends import BackendCache
    from kinema.serving.settings import ServeSettings

    root = tmp_path_factory.mktemp("sound")
    ltx2_folder(root / "models" / "ltx2-tiny")
    ltx2_folder(root / "models" / "ltx2-up", upsampler=True)
    ltx_folder(root / "models" / "ltx-tiny")
    settings = ServeSettings(
        data_dir=root / "data", models_dir=root / "models", default_model="ltx2-tiny", auth="auto",
        lease_seconds=60.0, heartbeat_seconds=1.0, poll_seconds=0.05, visible_label=False,
    )  # fmt: skip
    server = Server(settings).start()
    server.start_worker(BackendCache())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(server):
    from kinema.serving.auth import create_key

    return create_key(server.store, "sound", "pro")[1]


def test_openai_client_downloads_a_video_with_sound(server, key, tmp_path):
    import openai

    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {m.id: m for m in client.models.list()}
        assert (models["ltx2-tiny"].audio, models["ltx-tiny"].audio) == (True, False)
        video = client.videos.create_and_poll(
            prompt="a drummer plays on a rooftop", model="ltx2-tiny", seconds="1", size="32x32",
            extra_body={"seed": 7, "num_inference_steps": 1}, poll_interval_ms=100,
        )  # fmt: skip
        assert video.status == "completed", video.error
        assert video.has_audio is True  # the video object says its file has sound
        mp4 = tmp_path / "drums.mp4"
        mp4.write_bytes(client.videos.download_content(video.id).content)
    frames, fps = read_video(mp4)
    assert frames.shape == (25, 32, 32, 3) and fps == 24  # 1 s at 24 fps: 1 + 2k frames
    info = probe_audio(mp4)
    assert (info.codec, info.sample_rate, info.channels) == ("aac", 24_000, 2)
    assert info.duration == pytest.approx(25 / 24, abs=1e-3)
    samples, _ = read_audio(mp4)
    assert abs(samples.shape[1] - 25_000) <= 8 and abs(samples).max() > 1e-3
    assert read_aigc_label(mp4).ProduceID == video.id


def test_sound_can_be_left_out_and_a_video_only_model_refuses_it(server, key):
    with server.client(key) as c:
        r = c.post("/v1/videos", json={"prompt": "a red ball", "model": "ltx-tiny", "audio": True})
        assert r.status_code == 400 and r.json()["error"]["param"] == "audio"
        assert "makes video without sound; leave out `audio`" in r.json()["error"]["message"]
        caps = {m["id"]: m for m in c.get("/v1/config").json()["models"]}
        create = lambda m: next(x for x in caps[m]["modes"] if x["mode"] == "text")  # noqa: E731
        assert "audio" in create("ltx2-tiny")["params"] and "audio" not in create("ltx-tiny")["params"]
        silent = c.post(
            "/v1/videos", json={"prompt": "a", "audio": False, "seconds": 1, "size": "32x32"}
        ).json()
        loud = c.post("/v1/videos", json={"prompt": "a", "seconds": 1, "size": "32x32"}).json()
    assert (silent["has_audio"], loud["has_audio"]) == (False, True)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_studio_plays_the_sound_with_the_players_controls(server, key):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.fill("#api-key", key)
            page.dispatch_event("#api-key", "change")
            page.wait_for_function("document.querySelector('#model').options.length > 0")
            page.select_option("#model", "ltx2-tiny")
            page.dispatch_event("#model", "change")
            assert page.is_visible("#audio") and page.is_checked("#audio")  # the model makes sound
            page.fill("#prompt", "a drummer plays on a rooftop")
            page.fill("#seconds", "1")
            page.click("#submit")
            page.wait_for_selector("#gallery .card video.has-audio[src^='blob:']", timeout=120_000)
            card = page.query_selector("#gallery .card:has(video.has-audio)")
            assert card.query_selector(".sound-mark").is_visible()
            played = page.evaluate(
                """async () => {
                    const v = document.querySelector('#gallery .card video.has-audio');
                    if (v.readyState < 2) await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
                    await v.play();
                    await new Promise(r => setTimeout(r, 600));
                    return {controls: v.controls, muted: v.muted, paused: v.paused,
                            audioBytes: v.webkitAudioDecodedByteCount, duration: v.duration};
                }"""
            )
            # the player has controls, is not muted, and Chromium decodes its sound track as it plays
            assert played["controls"] and not played["muted"] and not played["paused"]
            assert played["audioBytes"] > 0 and played["duration"] == pytest.approx(25 / 24, abs=0.05)
            # a model without sound: no Sound control
            page.select_option("#model", "ltx-tiny")
            page.dispatch_event("#model", "change")
            assert not page.is_visible("#audio")
            assert errors == []
        finally:
            browser.close()


def test_upscale_through_the_api_only_where_the_folder_has_an_upsampler(server, key):
    with server.client(key) as c:
        options = {m["id"]: m["options"] for m in c.get("/v1/models").json()["data"]}
        assert "upscale" in options["ltx2-up"] and "upscale" not in options["ltx2-tiny"]
        r = c.post("/v1/videos", json={"prompt": "a drummer", "model": "ltx2-tiny", "upscale": 2})
        assert r.status_code == 400 and r.json()["error"]["param"] == "upscale", r.text
        assert "no latent upsampler" in r.json()["error"]["message"]
        r = c.post("/v1/videos", json={"prompt": "a drummer", "model": "ltx2-up", "upscale": 3})
        assert r.status_code == 400  # only 2 exists
        r = c.post(
            "/v1/videos",
            json={"prompt": "a drummer", "model": "ltx2-up", "upscale": 2, "size": "64x64", "seconds": "1",
                  "seed": 3, "num_inference_steps": 1},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        video = server.wait_for(r.json()["id"], key=key, timeout=240)
        assert video["status"] == "completed", video
        content = c.get(f"/v1/videos/{video['id']}/content")
    mp4 = Path(server.settings.data_dir) / "upscaled.mp4"
    mp4.write_bytes(content.content)
    frames, _ = read_video(mp4)
    assert frames.shape[1:3] == (64, 64)  # generated at 32x32, upsampled x2 in latent space
