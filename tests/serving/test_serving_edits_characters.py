"""The rest of OpenAI's videos API (issue 29, item 2): `client.videos.edit`, `create_character` /
`get_character` and a character as a reference in `create`, and the truth of 404 / 405 on every path —
driven by the official `openai` client against a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import openai
import pytest

from kinema.io.video import read_video, write_video
from kinema.serving.registry import ModelRegistry, read_model_info

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos.* deprecated


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def _mp4(path, frames=9, size=(48, 40), fps=8, colour=(0, 200, 0)) -> bytes:
    video = np.zeros((frames, size[1], size[0], 3), np.uint8)
    video[:] = colour
    write_video(path, video, fps=fps, label=None)
    return path.read_bytes()


def _registry_without_edits(tmp_path) -> ModelRegistry:
    """`fake-tiny` (every mode) and `t2v-only` (the same folder's facts with text → video alone)."""
    from serving_helpers import write_fake_model

    fake = read_model_info(write_fake_model(tmp_path / "models"))
    return ModelRegistry([dataclasses.replace(fake, name="t2v-only", modes=("t2v",)), fake], "t2v-only")


def test_edit_an_uploaded_mp4_and_a_completed_video(server, tmp_path):
    client = _client(server)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        upload = _mp4(tmp_path / "in.mp4", frames=11, size=(48, 40), fps=8)
        edited = client.videos.edit(prompt="make it red", video=("in.mp4", upload, "video/mp4"))
        assert edited.status in ("queued", "in_progress") and edited.prompt == "make it red"
        assert edited.model_extra["mode"] == "remix"
        # 48x40 snapped down to the model's grid of 16; 11 frames trimmed to the causal grid 1 + 4k = 9
        assert (edited.size, edited.seconds) == ("48x32", "1")
        done = client.videos.poll(edited.id, poll_interval_ms=50)
        assert done.status == "completed", done.error
        out = tmp_path / "out.mp4"
        out.write_bytes(client.videos.download_content(done.id).content)
        frames, fps = read_video(out)
        assert frames.shape == (9, 32, 48, 3) and fps == 8

        # by id: a completed video of this server, answered as a remix of it
        again = client.post(
            "/videos/edits",
            cast_to=openai.types.Video,
            body={"prompt": "now blue", "video": {"id": done.id}},
        )
        assert again.remixed_from_video_id == done.id and again.size == "48x32"
        assert client.videos.poll(again.id, poll_interval_ms=50).status == "completed"
        # the source the worker was given is the uploaded clip (the fake generator records its requests)
        generator = server.workers[0][0].backends
        assert any(str(r.video).endswith("source.mp4") for r in generator.requests)


def test_edit_refusals_name_what_to_fix(server_factory, tmp_path):
    server = server_factory(registry=_registry_without_edits(tmp_path), start_webhooks=False)
    client = _client(server)
    clip = _mp4(tmp_path / "in.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(openai.BadRequestError) as exc:
            client.videos.edit(prompt="red", video=("in.mp4", clip, "video/mp4"))
        body = exc.value.body
        assert body["param"] == "model" and body["code"] == "model_not_supported"
        assert (
            "t2v-only cannot edit videos" in body["message"]
            and "models that can: fake-tiny" in body["message"]
        )
        # the model that can is accepted when named
        ok = client.videos.edit(
            prompt="red", video=("in.mp4", clip, "video/mp4"), extra_body={"model": "fake-tiny"}
        )
        assert ok.model == "fake-tiny"
        with pytest.raises(openai.BadRequestError) as exc:
            client.post("/videos/edits", cast_to=openai.types.Video, body={"prompt": "red"})
        assert exc.value.body["param"] == "video"
        with pytest.raises(openai.NotFoundError):
            client.post(
                "/videos/edits", cast_to=openai.types.Video, body={"prompt": "r", "video": {"id": "video_x"}}
            )
        with pytest.raises(openai.APIStatusError) as exc:
            client.videos.edit(prompt="red", video=("in.mp4", b"not a video at all", "video/mp4"),
                               extra_body={"model": "fake-tiny"})  # fmt: skip
        assert exc.value.status_code == 415 and exc.value.body["param"] == "video"
    # nothing of the refused uploads stays behind
    inputs = server.settings.data_dir / "inputs"
    assert sorted(p.name for p in inputs.iterdir()) == [ok.id]
    assert not any((server.settings.data_dir / "uploads").glob("*"))


def test_unknown_routes_and_methods_answer_the_truth(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        r = c.post("/v1/videos/nonsense/more")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert c.get("/v1/nothing").status_code == 404
        # a path with one template: its methods only (issue 29, defect 9: OPTIONS on /extensions named 4)
        for path in ("/v1/videos/extensions", "/v1/videos/edits", "/v1/videos/characters"):
            for method in ("OPTIONS", "PUT", "PATCH"):
                r = c.request(method, path)
                assert r.status_code == 405, (method, path, r.text)
                assert r.headers["allow"] == "POST", (method, path)
                assert "use DELETE or GET" not in r.json()["error"]["message"]
        r = c.post("/v1/videos/video_abc")  # names a video: it is read and deleted, not posted to
        assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET"
        r = c.delete("/v1/videos/video_abc/content")
        assert r.status_code == 405 and r.headers["allow"] == "GET"
        assert c.request("OPTIONS", "/v1/videos").headers["allow"] == "GET, POST"


def _registry_with_references(tmp_path) -> ModelRegistry:
    """`fake-tiny` (Kinema's facts: no reference pictures) and `vace-like` (the same facts plus VACE's
    `reference_images`, as a Wan VACE folder lists them); the fake generator runs both."""
    from serving_helpers import write_fake_model

    fake = read_model_info(write_fake_model(tmp_path / "models"))
    vace = dataclasses.replace(fake, name="vace-like", options=(*fake.options, "reference_images"))
    return ModelRegistry([fake, vace], "fake-tiny")


def test_a_character_from_a_video_is_a_reference_in_create(server_factory, tmp_path):
    server = server_factory(registry=_registry_with_references(tmp_path))
    worker = server.start_worker()
    client = _client(server)
    # a clip whose middle frame (of 9) is the only blue one: the character's picture is that frame
    frames = np.zeros((9, 32, 48, 3), np.uint8)
    frames[:] = (0, 200, 0)
    frames[4] = (0, 0, 230)
    write_video(tmp_path / "me.mp4", frames, fps=8, label=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = client.videos.create_character(
            name="Ada", video=("me.mp4", (tmp_path / "me.mp4").read_bytes(), "video/mp4")
        )
        assert made.name == "Ada" and made.id.startswith("char_") and made.created_at > 0
        got = client.videos.get_character(made.id)
        assert (got.id, got.name, got.created_at) == (made.id, "Ada", made.created_at)
        assert (got.model_extra["width"], got.model_extra["height"]) == (48, 32)

        video = client.videos.create(
            prompt="Ada waves", model="vace-like", extra_body={"characters": [{"id": made.id}]}
        )
        assert client.videos.poll(video.id, poll_interval_ms=50).status == "completed"
        spec = worker.backends.requests[-1]
        (picture,) = spec.reference_images  # decoded at the output size, as the worker does every picture
        assert picture.shape == (32, 32, 3)
        assert np.abs(picture.astype(int) - (0, 0, 230)).mean() < 12  # the middle frame, not the green ones

        # a model without reference pictures: a 400 naming the one that has them
        with pytest.raises(openai.BadRequestError) as exc:
            client.videos.create(prompt="Ada", extra_body={"characters": [{"id": made.id}]})
        assert (
            exc.value.body["param"] == "characters"
            and "models that can: vace-like" in exc.value.body["message"]
        )
        with pytest.raises(openai.NotFoundError) as exc:
            client.videos.create(
                prompt="x", model="vace-like", extra_body={"characters": [{"id": "char_nope"}]}
            )
        assert exc.value.body["param"] == "characters[0].id"
        with pytest.raises(openai.NotFoundError):
            client.videos.get_character("char_nope")
        with pytest.raises(openai.BadRequestError) as exc:
            client.videos.create_character(
                name="  ", video=("me.mp4", (tmp_path / "me.mp4").read_bytes(), "video/mp4")
            )
        assert exc.value.body["param"] == "name"
        with pytest.raises(openai.APIStatusError) as exc:
            client.videos.create_character(name="Bob", video=("me.mp4", b"not a video", "video/mp4"))
        assert exc.value.status_code == 415
    assert not any((server.settings.data_dir / "uploads").glob("*"))  # no spool file left behind


def test_edit_runs_on_the_real_tiny_model(real_server, tmp_path):
    """`client.videos.edit` end to end on a real model that can edit (the tiny random Kinema model's v2v
    pipeline), not the fake generator: the upload is redrawn at its own size and length."""
    client = _client(real_server)
    clip = _mp4(tmp_path / "in.mp4", frames=9, size=(32, 32), fps=8, colour=(200, 40, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edited = client.videos.edit(prompt="a blue ball", video=("in.mp4", clip, "video/mp4"))
        done = client.videos.poll(edited.id, poll_interval_ms=100)
        assert done.status == "completed", done.error
        out = tmp_path / "out.mp4"
        out.write_bytes(client.videos.download_content(done.id).content)
    frames, fps = read_video(out)
    assert frames.shape == (9, 32, 32, 3) and fps == 8
