"""The API's own behaviour against a real server (fake generator): shapes, lists, deletes, models, SSE."""

from __future__ import annotations

import json
import time

import numpy as np

from kinema.io.label import read_aigc_label
from kinema.io.video import read_video


def test_create_retrieve_download_json(server):
    with server.client() as c:
        r = c.post("/v1/videos", json={"prompt": "a red ball", "seconds": "2", "size": "48x32", "seed": 3})
        assert r.status_code == 200, r.text
        video = r.json()
        assert video["object"] == "video" and video["status"] == "queued" and video["model"] == "fake-tiny"
        assert video["size"] == "48x32" and video["seconds"] == "2" and video["queue_position"] >= 1
        done = server.wait_for(video["id"])
        assert done["status"] == "completed" and done["progress"] == 100 and done["error"] is None
        assert done["completed_at"] >= done["created_at"] and done["expires_at"] > done["completed_at"]
        r = c.get(f"/v1/videos/{video['id']}/content")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        path = server.settings.data_dir / "videos" / video["id"] / "video.mp4"
        frames, fps = read_video(path)
        # 2 s at the model's 8 fps = 1 + 16 frames, at the requested size.
        assert frames.shape == (17, 32, 48, 3) and fps == 8
        label = read_aigc_label(path)
        assert label is not None and label.Label == "1" and label.ProduceID == video["id"]
        for variant, magic in (("thumbnail", b"\xff\xd8"), ("spritesheet", b"\xff\xd8")):
            r = c.get(f"/v1/videos/{video['id']}/content", params={"variant": variant})
            assert r.status_code == 200 and r.content[:2] == magic


def test_list_pagination_and_order(server_factory):
    server = server_factory()  # no worker: jobs stay queued
    with server.client() as c:
        ids = [c.post("/v1/videos", json={"prompt": f"clip {i}"}).json()["id"] for i in range(5)]
        page = c.get("/v1/videos", params={"limit": 2}).json()
        assert page["object"] == "list" and [v["id"] for v in page["data"]] == ids[::-1][:2]
        assert page["has_more"] is True and page["last_id"] == ids[3]
        page2 = c.get("/v1/videos", params={"limit": 2, "after": page["last_id"]}).json()
        assert [v["id"] for v in page2["data"]] == [ids[2], ids[1]]
        asc = c.get("/v1/videos", params={"order": "asc", "limit": 100}).json()
        assert [v["id"] for v in asc["data"]] == ids and asc["has_more"] is False
        # queue positions follow submission order at equal priority
        positions = [c.get(f"/v1/videos/{i}").json()["queue_position"] for i in ids]
        assert positions == [1, 2, 3, 4, 5]


def test_delete_queued_running_and_finished(server_factory):
    server = server_factory()
    with server.client() as c:
        queued = c.post("/v1/videos", json={"prompt": "to cancel"}).json()["id"]
        r = c.delete(f"/v1/videos/{queued}")
        assert r.json() == {"id": queued, "object": "video.deleted", "deleted": True}
        assert c.get(f"/v1/videos/{queued}").status_code == 404
        assert c.delete(f"/v1/videos/{queued}").status_code == 404

        from serving_fakes import FakeGenerator

        gen = FakeGenerator(steps=200, step_seconds=0.02)
        server.start_worker(gen)
        running = c.post("/v1/videos", json={"prompt": "long one"}).json()["id"]
        server.wait_for(running, ("in_progress",))
        assert c.delete(f"/v1/videos/{running}").status_code == 200
        deadline = time.time() + 10
        while time.time() < deadline:
            job = server.store.get(running, include_deleted=True)
            if job.status == "cancelled":
                break
            time.sleep(0.05)
        assert job.status == "cancelled" and job.progress < 100  # the worker stopped early
        assert not (server.settings.data_dir / "videos" / running / "video.mp4").exists()
        # the cancelled job was never handed out again
        assert gen.calls.count(running) == 1 and queued not in gen.calls


def test_failed_job_reports_error(server):
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "please explode"}).json()["id"]
        done = server.wait_for(vid)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "generation_failed" and "explode" in done["error"]["message"]
        r = c.get(f"/v1/videos/{vid}/content")
        assert r.status_code == 409 and "failed" in r.json()["error"]["message"]


def test_models_endpoint(server):
    with server.client() as c:
        body = c.get("/v1/models").json()
    assert body["object"] == "list"
    assert [(m["id"], m["width"], m["height"], m["fps"]) for m in body["data"]] == [("fake-tiny", 32, 32, 8)]


def test_config_says_what_each_model_can_be_asked(server_factory, tmp_path):
    from serving_helpers import fake_and_plain_registry

    server = server_factory(start_webhooks=False, registry=fake_and_plain_registry(tmp_path))
    with server.client() as c:
        models = {m["id"]: m for m in c.get("/v1/config").json()["models"]}
    fake, plain = models["fake-tiny"], models["plain-tiny"]
    assert (fake["default"], fake["physics"], fake["camera_control"], fake["trajectories"]) == (True,) * 4
    assert (plain["default"], plain["physics"], plain["camera_control"], plain["trajectories"]) == (
        False,
        False,
        False,
        True,
    )
    # the API's modes, each a row of the task table with the route that asks for it
    modes = {m["mode"]: m for m in fake["modes"]}
    assert [(m["mode"], m["task"], m["given"], m["path"]) for m in fake["modes"]] == [
        ("text", "t2v", [], "/v1/videos"),
        ("image", "i2v", ["image"], "/v1/videos"),
        ("keyframes", "keyframes", ["image", "last_image"], "/v1/videos"),
        ("extend", "extend", ["video"], "/v1/videos/extensions"),
        ("remix", "v2v", ["video"], "/v1/videos/{video_id}/remix"),
    ]
    # physics mode where the table lets it start the task and the route takes it; pictures where given
    physics = {name for name, m in modes.items() if "physics" in m["params"]}
    assert physics == {"text", "image"}  # keyframes: not in the table; extend: its route takes no physics
    assert "input_reference" not in modes["text"]["params"] and "image_tail" in modes["keyframes"]["params"]
    assert "strength" in modes["remix"]["params"] and "strength" not in modes["text"]["params"]
    assert "seconds" in modes["extend"]["params"] and "seconds" not in modes["remix"]["params"]
    assert not any("physics" in m["params"] or "camera_control" in m["params"] for m in plain["modes"])


def test_sse_stream_reports_progress_until_completed(server_factory):
    from serving_fakes import FakeGenerator

    server = server_factory()
    server.start_worker(FakeGenerator(steps=20, step_seconds=0.05))
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "stream me"}).json()["id"]
        events = []
        with c.stream("GET", f"/v1/videos/{vid}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
    names = [n for n, _ in events]
    progress = [d["progress"] for _, d in events]
    assert names[-1] == "video.completed" and events[-1][1]["progress"] == 100
    assert "video.in_progress" in names
    assert (
        progress == sorted(progress) and len(set(progress)) >= 3
    )  # several distinct progress values, rising


def test_remix_and_extend_over_json(server):
    with server.client() as c:
        src = c.post("/v1/videos", json={"prompt": "a ball", "seconds": "1"}).json()["id"]
        server.wait_for(src)
        remix = c.post(f"/v1/videos/{src}/remix", json={"prompt": "a blue ball"}).json()
        assert remix["remixed_from_video_id"] == src and remix["seconds"] == "1" and remix["mode"] == "remix"
        ext = c.post(
            "/v1/videos/extensions", json={"prompt": "it keeps going", "seconds": "1", "video": {"id": src}}
        )
        assert ext.status_code == 200, ext.text
        ext = ext.json()
        assert ext["extended_from_video_id"] == src and ext["seconds"] == "2"
        assert server.wait_for(remix["id"])["status"] == "completed"
        assert server.wait_for(ext["id"])["status"] == "completed"
    frames, _ = read_video(server.settings.data_dir / "videos" / ext["id"] / "video.mp4")
    src_frames, _ = read_video(server.settings.data_dir / "videos" / src / "video.mp4")
    assert frames.shape[0] == 17 and src_frames.shape[0] == 9
    # the extension starts with the source video, frame for frame (up to H.264 error)
    assert np.abs(frames[:9].astype(int) - src_frames.astype(int)).mean() < 3


def test_keyframes_upload_reaches_the_generator_at_the_output_size(server_factory):
    import io

    from PIL import Image
    from serving_fakes import FakeGenerator

    server = server_factory(start_webhooks=False)
    gen = FakeGenerator(steps=1)
    server.start_worker(gen)

    def png(color, size=(64, 40)):
        buf = io.BytesIO()
        Image.new("RGB", size, color).save(buf, format="PNG")
        return buf.getvalue()

    with server.client() as c:
        r = c.post(
            "/v1/videos",
            data={
                "prompt": "from red to blue",
                "aspect_ratio": "16:9",
                "camera_control": '{"type": "down_back"}',
            },
            files={"input_reference": ("a.png", png((255, 0, 0))), "image_tail": ("b.png", png((0, 0, 255)))},
        )
        assert r.status_code == 200, r.text
        video = r.json()
        assert video["mode"] == "keyframes" and video["size"] == "48x32"  # 16:9 at the 32x32 model's area
        server.wait_for(video["id"])
    req = gen.requests[-1]
    assert req.task == "keyframes" and (req.width, req.height) == (48, 32)  # the spec's task name
    assert req.image.shape == (32, 48, 3) and req.last_image.shape == (32, 48, 3)
    assert tuple(req.image[16, 24]) == (255, 0, 0) and tuple(req.last_image[16, 24]) == (0, 0, 255)
    assert req.camera_control == {"type": "down_back"}


def test_expired_outputs_are_gone(server):
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "short-lived"}).json()["id"]
        done = server.wait_for(vid)
        service = server.app.state.service
        # nothing expires before expires_at ...
        assert service.remove_expired_outputs(0, done["expires_at"] - 1) == 0
        assert c.get(f"/v1/videos/{vid}/content").status_code == 200
        # ... and after it the janitor removes the files and downloads say so
        assert service.remove_expired_outputs(0, done["expires_at"] + 1) == 1
        assert not (server.settings.data_dir / "videos" / vid).exists()
        from kinema.serving.store import jobs

        with server.store.writing() as conn:
            conn.execute(jobs.update().where(jobs.c.id == vid).values(expires_at=1.0))
        r = c.get(f"/v1/videos/{vid}/content")
        assert r.status_code == 404 and r.json()["error"]["code"] == "expired"
