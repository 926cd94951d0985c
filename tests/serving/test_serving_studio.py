"""The web studio in a real headless Chromium: submit a prompt, watch the queue, play the finished video."""

from __future__ import annotations

import shutil

import pytest

from kinema.serving.auth import create_key

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def page():
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        yield page
        browser.close()


def test_studio_submits_a_prompt_and_plays_the_finished_video(real_server, page):
    key = create_key(real_server.store, "studio", "pro")[1]
    page.goto(real_server.url + "/")
    # the visible AI-generated notice is on the page before anything is made
    assert "AI-generated" in page.inner_text("header")
    page.fill("#api-key", key)
    page.dispatch_event("#api-key", "change")
    page.wait_for_function("document.querySelector('#model').options.length > 0")
    assert page.input_value("#model") == "kinema-tiny"
    page.fill("#prompt", "a red ball rolls to the right")
    page.fill("#seconds", "1")
    page.select_option("#camera-type", "simple")
    page.select_option("#camera-axis", "zoom")
    page.click("#submit")
    # the queue shows the job and follows it to the end
    page.wait_for_selector("#job-list li", timeout=10_000)
    page.wait_for_selector("#job-list li[data-status='completed']", timeout=60_000)
    assert page.eval_on_selector("#job-list li progress", "p => p.value") == 100
    # the gallery shows it with the visible mark and plays it
    page.wait_for_selector("#gallery .card video[src^='blob:']", timeout=20_000)
    card = page.query_selector("#gallery .card")
    assert card.query_selector(".ai-mark").inner_text() == "AI-generated"
    assert card.query_selector(".ai-mark").is_visible()
    # ... and its content credential, read back and validated by the server
    page.wait_for_function(
        "!document.querySelector('#gallery .card .credential').innerText.includes('checking')", timeout=10_000
    )
    credential = card.query_selector(".credential").inner_text()
    assert (
        "C2PA trusted" in credential
        and "model kinema-tiny" in credential
        and "AIGC label present" in credential
    )
    played = page.evaluate(
        """async () => {
            const v = document.querySelector('#gallery .card video');
            if (v.readyState < 2) await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
            await v.play();
            await new Promise(r => setTimeout(r, 400));
            return {w: v.videoWidth, h: v.videoHeight, t: v.currentTime, d: v.duration, paused: v.paused};
        }"""
    )
    assert played["w"] == 32 and played["h"] == 32 and not played["paused"]
    assert played["t"] > 0 and 1.0 <= played["d"] <= 1.25
    # the job the browser made is a real job of this key, made with the camera control it chose
    with real_server.client(key) as c:
        videos = c.get("/v1/videos").json()["data"]
    assert [v["status"] for v in videos] == ["completed"] and videos[0][
        "prompt"
    ] == "a red ball rolls to the right"
    assert videos[0]["physics"] is False  # physics mode was offered, not chosen
    job = real_server.store.get(videos[0]["id"])
    assert job.params["camera_control"] == {"type": "simple", "config": {**dict.fromkeys(
        ("horizontal", "vertical", "pan", "tilt", "roll"), 0.0), "zoom": 5.0}}  # fmt: skip
    # "extend this" switches the form to extension of that video
    card.query_selector("button.extend").click()
    assert page.input_value("#mode") == "extend" and page.input_value("#source") == videos[0]["id"]
    assert page.js_errors == []


def test_studio_shows_the_servers_error_message(server_factory, page):
    server = server_factory(start_webhooks=False)
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('#model').options.length > 0")
    page.fill("#prompt", "x")
    page.fill("#seconds", "19")  # more frames than the model makes in one pass
    page.click("#submit")
    page.wait_for_function("document.querySelector('#form-error').textContent.length > 0")
    assert "extend the video for more" in page.inner_text("#form-error")


def test_studio_builds_its_form_from_the_models_capabilities_and_submits_a_physics_job(
    server_factory, page, tmp_path
):
    from serving_helpers import fake_and_plain_registry

    from kinema.serving.job_spec import JobSpec

    server = server_factory(start_webhooks=False, registry=fake_and_plain_registry(tmp_path))
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('#mode').options.length > 0")
    assert page.input_value("#model") == "fake-tiny"
    modes = page.eval_on_selector_all("#mode option", "os => os.map(o => o.value)")
    assert modes == ["text", "image", "keyframes", "extend", "remix"]  # the model's modes, the table's order
    assert page.is_visible("#physics") and page.is_visible("#camera-type")
    assert not page.is_visible("#physics-candidates")  # until physics mode is chosen
    # physics mode only where the table lets it start the task: not for keyframes
    page.select_option("#mode", "keyframes")
    assert not page.is_visible("#physics") and page.is_visible("#image-tail")
    page.select_option("#mode", "text")
    # a model without physics mode (or camera control) shows neither; choosing it rebuilds the form
    page.select_option("#model", "plain-tiny")
    assert page.input_value("#mode") == "text"
    assert not page.is_visible("#physics") and not page.is_visible("#camera-type")
    assert page.is_visible("#trajectory") and page.is_visible("#seconds")
    page.select_option("#model", "fake-tiny")
    assert page.is_visible("#physics") and page.is_visible("#camera-type")
    # choose physics mode with two candidates, and submit
    page.fill("#prompt", "a ball falls onto a table")
    page.check("#physics")
    page.fill("#physics-candidates", "2")
    page.click("#submit")
    page.wait_for_selector("#job-list li", timeout=10_000)
    assert page.inner_text("#form-error") == ""
    with server.client() as c:
        videos = c.get("/v1/videos").json()["data"]
    assert [(v["prompt"], v["model"], v["mode"], v["physics"]) for v in videos] == [
        ("a ball falls onto a table", "fake-tiny", "text", True)
    ]
    stored = JobSpec.load(server.store.get(videos[0]["id"])).generation
    assert (stored.task, stored.physics, stored.physics_candidates) == ("t2v", True, 2)
    assert stored.camera_control is None and stored.trajectories is None
    assert page.js_errors == []
