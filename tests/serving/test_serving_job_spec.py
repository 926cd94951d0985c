"""The typed job: the API stores the spec's plain part once, the worker loads it back typed, and rows and
webhook deliveries written by the previous version still load and send."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kinema.errors import InvalidInputError
from kinema.runtime.tasks import API_MODES, api_task_given
from kinema.serving.job_spec import JobSpec
from kinema.serving.webhooks import _body

# A row's `params` as the previous version's service wrote it (None for what the request left out).
OLD_PARAMS = {
    "width": 32, "height": 32, "num_frames": 9, "fps": 8, "negative_prompt": None, "guidance_scale": 4.5,
    "num_inference_steps": None, "seed": None, "camera_control": {"type": "forward_up"},
    "trajectories": {"trajectories": [{"path": [[0.0, 1.0, 2.0], [1.0, 20.0, 20.0]]}]},
    "image": "image.png", "last_image": "last_image.png",
}  # fmt: skip


def test_a_row_of_the_previous_version_loads_typed_and_stores_back_the_same():
    stored = JobSpec.load(SimpleNamespace(task="keyframes", prompt="a ball", params=OLD_PARAMS))
    g = stored.generation
    assert (g.task, g.prompt, g.width, g.height, g.num_frames, g.fps) == (
        "keyframes",
        "a ball",
        32,
        32,
        9,
        8.0,
    )
    assert g.guidance_scale == 4.5 and g.num_inference_steps is None and g.seed == 0
    assert g.camera_control == {"type": "forward_up"} and g.trajectories == OLD_PARAMS["trajectories"]
    assert (stored.image, stored.last_image, stored.source_video_id) == ("image.png", "last_image.png", None)
    assert stored.params() == {k: v for k, v in OLD_PARAMS.items() if v is not None}


def test_the_pictures_a_create_request_gives_choose_its_task_from_the_table():
    modes = [api_task_given(p).api_mode for p in ([], ["image"], ["image", "last_image"], ["last_image"])]
    assert modes == ["text", "image", "keyframes", "keyframes"]  # a lone last frame: keyframes, refused later
    with pytest.raises(InvalidInputError, match="No task is given image, video together"):
        api_task_given(["video", "image"])
    # the API's modes, as `video.mode` and the jobs table have always named them
    assert {m: t.name for m, t in API_MODES.items()} == {
        "text": "t2v",
        "image": "i2v",
        "keyframes": "keyframes",
        "extend": "extend",
        "remix": "v2v",
    }


def test_the_worker_gets_the_spec_the_api_checked(server_factory):
    server = server_factory(start_webhooks=False)
    body = {
        "prompt": "a red ball", "seconds": "1", "size": "48x32", "cfg_scale": 3.5, "seed": 7, "mode": "pro",
        "camera_control": {"type": "simple", "config": {"zoom": 5}},
        "trajectories": [[{"x": 0, "y": 0}, {"x": 24, "y": 16}, {"x": 48, "y": 32}]],
    }  # fmt: skip
    with server.client() as c:
        r = c.post("/v1/videos", json=body)
        assert r.status_code == 200, r.text
    job = server.store.get(r.json()["id"])
    worker = server.start_worker()
    spec, model = worker.build_spec(job, lambda *a: True)
    assert (spec.task, spec.prompt, spec.width, spec.height, spec.num_frames, spec.fps) == (
        "t2v", "a red ball", 48, 32, 9, 8.0
    )  # fmt: skip
    assert spec.guidance_scale == 3.5 and spec.seed == 7 and spec.num_inference_steps == 2 * 30
    assert spec.camera_control["config"]["zoom"] == 5.0
    # Kling's points spread evenly over the clip's (9 - 1) / 8 = 1 s, in the motion-brush JSON
    assert spec.trajectories == {
        "trajectories": [{"path": [[0.0, 0.0, 0.0], [0.5, 24.0, 16.0], [1.0, 48.0, 32.0]]}]
    }
    assert spec.output_path == server.settings.data_dir / "videos" / job.id / "video.mp4"
    assert json.loads(json.dumps(job.params)) == job.params and "task" not in job.params


def test_a_delivery_queued_by_the_previous_version_is_sent_as_it_was_stored():
    payload = json.dumps({"type": "video.queued", "created_at": 5, "data": {"id": "video_1"}})
    row = {"payload": payload, "event": "video.queued", "created_at": 5.0}
    assert _body(row) == payload.encode()


def test_a_guidance_interval_reaches_the_spec_or_is_refused_with_what_to_fix(server_factory, tmp_path):
    import dataclasses

    from serving_helpers import fake_and_plain_registry

    from kinema.serving.registry import ModelRegistry

    both = fake_and_plain_registry(tmp_path)
    fake = both.models["fake-tiny"]
    always = dataclasses.replace(
        fake, name="always-guided", options=tuple(o for o in fake.options if o != "guidance_interval")
    )
    server = server_factory(start_webhooks=False, registry=ModelRegistry([fake, always], default="fake-tiny"))
    with server.client() as c:
        r = c.post("/v1/videos", json={"prompt": "a red ball", "guidance_interval": [0, 0.9]})
        assert r.status_code == 200, r.text
        # a multipart form sends it as JSON text, as it sends trajectories
        form = c.post("/v1/videos", data={"prompt": "a red ball", "guidance_interval": "[0.1, 1]"})
        assert form.status_code == 200, form.text
        refused = {
            "reversed": c.post("/v1/videos", json={"prompt": "x", "guidance_interval": [0.9, 0.1]}),
            "one level": c.post("/v1/videos", json={"prompt": "x", "guidance_interval": [0.5]}),
            "model": c.post(
                "/v1/videos", json={"prompt": "x", "model": "always-guided", "guidance_interval": [0, 0.9]}
            ),
        }
    worker = server.start_worker()
    for response, want in ((r, (0.0, 0.9)), (form, (0.1, 1.0))):
        spec, _ = worker.build_spec(server.store.get(response.json()["id"]), lambda *a: True)
        assert spec.guidance_interval == want
    for why, response in refused.items():
        assert response.status_code == 400, why
        error = response.json()["error"]
        assert error["param"] == "guidance_interval", (why, error)
    assert "low < high" in refused["reversed"].json()["error"]["message"]
    assert refused["model"].json()["error"]["code"] == "unsupported_option"
    assert "always-guided" in refused["model"].json()["error"]["message"]


def test_guide_trajectory_reaches_the_spec_or_is_refused_with_what_to_fix(server_factory, tmp_path):
    import dataclasses

    from serving_helpers import fake_and_plain_registry

    from kinema.serving.registry import ModelRegistry

    fake = fake_and_plain_registry(tmp_path).models["fake-tiny"]
    assert "guide_trajectory" in fake.options  # a Kinema model takes it
    without = dataclasses.replace(
        fake, name="no-map-guidance", options=tuple(o for o in fake.options if o != "guide_trajectory")
    )
    registry = ModelRegistry([fake, without], default="fake-tiny")
    server = server_factory(start_webhooks=False, registry=registry)
    with server.client() as c:
        asked = {
            True: c.post("/v1/videos", json={"prompt": "a red ball", "guide_trajectory": True}),
            False: c.post("/v1/videos", data={"prompt": "a red ball", "guide_trajectory": "false"}),  # a form
            None: c.post("/v1/videos", json={"prompt": "a red ball"}),
        }
        refused = c.post(
            "/v1/videos", json={"prompt": "x", "model": "no-map-guidance", "guide_trajectory": False}
        )
        # the model without it still serves a request that leaves it out
        plain = c.post("/v1/videos", json={"prompt": "x", "model": "no-map-guidance"})
    assert plain.status_code == 200, plain.text
    worker = server.start_worker()
    for want, response in asked.items():
        assert response.status_code == 200, response.text
        spec, _ = worker.build_spec(server.store.get(response.json()["id"]), lambda *a: True)
        assert spec.guide_trajectory is want
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["param"], error["code"]) == ("guide_trajectory", "unsupported_option")
    assert "no-map-guidance" in error["message"]
