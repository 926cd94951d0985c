"""Issue 15: what a hostile outside tester found, one test per item, each reproducing the case against a
real server on loopback and asserting the fixed behaviour (status, the error's message and param, and
memory / bytes-on-disk bounds where the item is about memory or disk)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from serving_helpers import REPO, free_port, kill_hard, worker_env, write_fake_model

from kinema.io import write_video
from kinema.serving.auth import create_key

MB = 1024 * 1024


# ---- helpers ---------------------------------------------------------------------------------------


def make_fake_models(tmp_path: Path) -> Path:
    """The models folder `make_settings` uses (written here first, so a test can read its facts)."""
    root = tmp_path / "models"
    if not root.exists():
        write_fake_model(root)
    return root


def png(size=(40, 30), color=(10, 200, 30), mode="RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG", **save)
    return buf.getvalue()


def image_bytes(fmt: str, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


def mp4(tmp_path: Path, frames: int, fps: float, name: str = "clip.mp4", size=(32, 32)) -> bytes:
    path = tmp_path / name
    write_video(path, np.full((frames, size[1], size[0], 3), 90, np.uint8), fps=fps)
    return path.read_bytes()


def pyav_video(tmp_path: Path, name: str, codec: str, fmt: str | None = None) -> bytes:
    import av

    path = tmp_path / name
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 90, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def err(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (the peak resident set) to the current RSS


def rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def chunked_post(port: int, path: str, content_type: str, head: bytes, total: int) -> tuple[int, dict, int]:
    """POST `head` then zeros, Transfer-Encoding: chunked (so no Content-Length), until the server answers
    or `total` bytes went; returns (status, JSON body, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port))
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(request.encode())
    sock.setblocking(False)
    filler = b"a" * 65536

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    pending, sent, response = chunk(head), 0, b""
    deadline = time.time() + 60
    while time.time() < deadline:
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1.0)
        if readable:
            break
        if writable and pending:
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            pending = pending[n:]
            if not pending:
                pending = chunk(filler) if sent < total else b"0\r\n\r\n" if sent < total + 10 else b""
    sock.setblocking(True)
    sock.settimeout(10)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            response += data
            head_end = response.find(b"\r\n\r\n")
            if head_end > 0:
                length = [
                    int(line.split(b":")[1])
                    for line in response[:head_end].split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(response) >= head_end + 4 + length[0]:
                    break
    except (TimeoutError, ConnectionResetError):
        pass
    finally:
        sock.close()
    status = int(response.split(b" ", 2)[1])
    body = json.loads(response.split(b"\r\n\r\n", 1)[1])
    return status, body, sent


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# ---- 1. an extension upload cannot occupy the worker for hours ---------------------------------------


def test_1_extension_upload_frame_rate_and_cost_follow_the_model(server_factory, tmp_path):
    server = server_factory(start_webhooks=False, auth="on")
    free = create_key(server.store, "free", "free")[1]
    with server.client(free) as c:

        def extend(data: bytes, seconds: str) -> httpx.Response:
            return c.post(
                "/v1/videos/extensions",
                data={"prompt": "go on", "seconds": seconds},
                files={"video": ("v.mp4", data, "video/mp4")},
            )

        # the case: 40 frames encoded at 10,000 fps, extended by 20 s (200,000 frames) on the free tier
        e = err(extend(mp4(tmp_path, 40, 10000), "20"), 400)
        assert e["param"] == "video" and "10000 fps" in e["message"] and "1 to 60 fps" in e["message"]
        # at a normal but high rate, the frames one extension adds are capped at the model's own rate
        e = err(extend(mp4(tmp_path, 9, 60, "sixty.mp4"), "20"), 400)
        assert e["param"] == "seconds" and "1200 frames" in e["message"]
        assert "at most 160 in one extension" in e["message"]  # 20 s at the 8 fps model's rate
        # what is accepted is charged what the worker will generate: 2 s at 16 fps = 4 s of an 8 fps model
        r = extend(mp4(tmp_path, 9, 16, "sixteen.mp4"), "2")
        assert r.status_code == 200, r.text
        job = server.store.get(r.json()["id"])
        assert job.params["num_frames"] == 32 and job.charged_seconds == pytest.approx(4.0)
    assert not list((server.settings.data_dir / "uploads").glob("*"))  # no spool file left behind


# ---- 2. size limits hold for chunked bodies ---------------------------------------------------------


def test_2_chunked_bodies_stop_at_their_limit_in_memory_and_on_disk(server_factory):
    server = server_factory(
        start_webhooks=False, max_upload_bytes=1_000_000, max_video_upload_bytes=2_000_000
    )
    data_dir = server.settings.data_dir
    before = disk_bytes(data_dir)
    limit = math.ceil(2 * 1_000_000 * 4 / 3) + 1_000_000  # the create route's: two base64 images + fields

    # a chunked 200 MB JSON body: refused once the limit is passed, never buffered in full
    reset_peak_rss()
    rss0 = rss_kb("VmRSS")
    status, body, sent = chunked_post(
        server.port, "/v1/videos", "application/json", b'{"prompt": "' + b"a" * 60000, 200 * MB
    )
    assert status == 413 and body["error"]["code"] == "request_too_large", body
    assert f"keep it under {limit} bytes" in body["error"]["message"]
    assert sent < limit + 32 * MB  # the server stopped reading (what is left is the sockets' buffers)
    assert rss_kb("VmHWM") - rss0 < 64 * 1024  # < 64 MB (buffering it all took 600 MB)

    # a route whose JSON carries no file stops at 1 MB although its forms may carry a 2 MB video
    status, body, sent = chunked_post(
        server.port, "/v1/videos/extensions", "application/json", b'{"prompt": "', 200 * MB
    )
    assert status == 413 and "keep it under 1000000 bytes" in body["error"]["message"], body

    # a chunked 200 MB multipart upload: the file part is cut at the file limit
    boundary = "kinemaboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="input_reference"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + b"\x89PNG\r\n\x1a\n"  # a PNG's signature: the part is read on (the type is sniffed)
    status, body, sent = chunked_post(
        server.port, "/v1/videos", f"multipart/form-data; boundary={boundary}", head, 200 * MB
    )
    assert status == 413 and body["error"]["param"] == "input_reference", body
    assert "larger than 1000000 bytes" in body["error"]["message"] and sent < limit + 32 * MB

    # ... and a video upload, which is spooled to disk, leaves nothing there
    head = head.replace(b'name="input_reference"; filename="a.png"', b'name="video"; filename="v.mp4"')
    head = head.replace(b"image/png", b"video/mp4").replace(b"\x89PNG\r\n\x1a\n", b"\0\0\0\x20ftypisom")
    status, body, sent = chunked_post(
        server.port, "/v1/videos/extensions", f"multipart/form-data; boundary={boundary}", head, 200 * MB
    )
    assert status == 413 and body["error"]["param"] == "video" and sent < 2_000_000 + 40 * MB, body
    assert not list((data_dir / "uploads").glob("*"))
    assert disk_bytes(data_dir) - before < 1 * MB  # (the database's pages; the upload never stayed)
    with server.client() as c:
        assert c.get("/v1/videos").json()["data"] == []


# ---- 3. a small image cannot force a large decode, and tier limits come first -----------------------


def test_3_big_canvas_images_are_not_decoded_by_the_api_and_429_comes_first(server_factory):
    bomb = png((6000, 6000), (120, 40, 200))  # ~100 KB of PNG, 108 MB of pixels
    assert len(bomb) < 200_000
    server = server_factory(start_webhooks=False)
    reset_peak_rss()
    rss0 = rss_kb("VmRSS")
    codes: list[int] = []

    def send() -> None:
        with server.client() as c:
            r = c.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", bomb)})
            codes.append(r.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 8  # accepted (36 MP is within the limit) ...
    assert rss_kb("VmHWM") - rss0 < 100 * 1024  # ... for < 100 MB in all (decoding them took 3.9 GB)
    # the worker decodes it, once, at the output size
    from serving_fakes import FakeGenerator

    gen = FakeGenerator(steps=1)
    with server.client() as c:
        first, *others = [v["id"] for v in c.get("/v1/videos", params={"order": "asc"}).json()["data"]]
        for vid in others:  # one decode shows it (each takes the worker ~2 s here)
            c.delete(f"/v1/videos/{vid}")
    server.start_worker(gen)
    vid = first
    assert server.wait_for(vid)["status"] == "completed"
    request = next(r for r in gen.requests if r.label.ProduceID == vid)
    assert request.image.shape == (32, 32, 3) and tuple(request.image[16, 16]) == (120, 40, 200)
    server.stop_workers()

    # a key at its concurrency limit hears 429 before its file is even looked at
    limited = server_factory(start_webhooks=False, auth="on")
    free = create_key(limited.store, "free", "free")[1]
    with limited.client(free) as c:
        assert c.post("/v1/videos", json={"prompt": "one"}).status_code == 200
        r = c.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", b"not an image")})
        assert err(r, 429)["code"] == "concurrency_limit_exceeded"


# ---- 4. no 500s from text the database cannot store or numbers Python will not parse ---------------


def test_4_lone_surrogates_and_5000_digit_numbers_are_400s(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:

        def post_raw(text: str) -> httpx.Response:
            return c.post("/v1/videos", content=text.encode(), headers={"content-type": "application/json"})

        e = err(post_raw('{"prompt": "a red \\ud800 ball"}'), 400)
        assert e["param"] == "prompt" and "unpaired UTF-16 surrogate" in e["message"]
        e = err(post_raw('{"prompt": "x", "camera_control": {"type": "\\udfff"}}'), 400)
        assert e["param"] == "camera_control.type"
        e = err(post_raw('{"prompt": "x", "seed": ' + "9" * 5000 + "}"), 400)
        assert e["param"] == "seed" and "too large" in e["message"]
        e = err(post_raw('{"prompt": "x", "seconds": ' + "9" * 5000 + "}"), 400)
        assert e["param"] == "seconds" and "between 0 and 20" in e["message"]
        form = c.post(
            "/v1/videos",
            data={"prompt": "x", "seed": "9" * 5000},
            files={"input_reference": ("a.png", png())},
        )
        assert err(form, 400)["param"] == "seed"
        e = err(c.get("/v1/videos", params={"limit": "9" * 5000}), 400)
        assert e["param"] == "limit"
        form_type = {"content-type": "application/x-www-form-urlencoded"}
        e = err(c.post("/v1/videos", content=b"prompt=a+%ED%A0%80+ball", headers=form_type), 400)
        assert "not valid UTF-8" in e["message"]
        assert c.get("/v1/videos").json()["data"] == []


# ---- 5. revoking the last key does not open the server ----------------------------------------------


def test_5_revoking_the_last_key_keeps_the_server_closed(server_factory, tmp_path, capsys):
    from kinema.commands import keys as keys_command

    server = server_factory(start_webhooks=False)
    key_id, key = create_key(server.store, "only", "free")
    with server.client(key) as c:
        assert c.get("/v1/videos").status_code == 200
    args = argparse.Namespace(
        action="revoke",
        key_id=key_id,
        tier="free",
        name=None,
        database=server.settings.database_url(),
        data_dir=server.settings.data_dir,
    )
    assert keys_command.run(args) == 0
    assert "No active key is left" in capsys.readouterr().out
    time.sleep(1.1)  # past the server's 1 s cache of the key table
    with server.client() as c:
        assert err(c.get("/v1/videos"), 401)["code"] == "missing_api_key"
        assert err(c.post("/v1/videos", json={"prompt": "x"}), 401)["code"] == "missing_api_key"
        assert c.get("/v1/config").json()["auth_required"] is True
    with server.client(key) as c:
        assert err(c.get("/v1/videos"), 401)["code"] == "invalid_api_key"  # a revoked key never works


# ---- 6. a dead worker is replaced, and its job shows as queued again --------------------------------


def _children_of(pid: int) -> list[int]:
    needle = f"--parent-pid\0{pid}\0".encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def test_6_serve_restarts_a_killed_worker_and_the_queue_drains(tmp_path):
    write_fake_model(tmp_path / "models")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    cmd = [
        sys.executable, "-m", "kinema.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "models"), "--workers", "1",
        "--backends", "serving_fakes:make_backends", "--lease-seconds", "1.5", "--heartbeat-seconds", "0.2",
    ]  # fmt: skip
    env = worker_env(KINEMA_FAKE_STEPS="40", KINEMA_FAKE_STEP_SECONDS="0.02")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, stdout=out, stderr=out)
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=10) as c:
            ids = [c.post("/v1/videos", json={"prompt": f"job {i}"}).json()["id"] for i in range(4)]
            deadline = time.time() + 30
            while c.get(f"/v1/videos/{ids[0]}").json()["status"] != "in_progress":
                assert time.time() < deadline
                time.sleep(0.05)
            (worker,) = _children_of(proc.pid)
            os.kill(worker, signal.SIGKILL)
            # the dead worker's job stops showing its last progress and shows queued once its lease is gone
            deadline = time.time() + 10
            seen = []
            while time.time() < deadline:
                body = c.get(f"/v1/videos/{ids[0]}").json()
                seen.append(body["status"])
                if body["status"] == "queued":
                    break
                time.sleep(0.05)
            assert body["status"] == "queued" and body["progress"] == 0 and body["queue_position"] >= 1, seen
            deadline = time.time() + 60
            while time.time() < deadline:
                statuses = [c.get(f"/v1/videos/{i}").json()["status"] for i in ids]
                if statuses == ["completed"] * 4:
                    break
                time.sleep(0.2)
            assert statuses == ["completed"] * 4  # a new worker drained the queue
        (replacement,) = _children_of(proc.pid)
        assert replacement != worker
        text = log.read_text()
        assert f"worker 0 (pid {worker}) exited with code -9" in text and "restarting it in 1 s" in text
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        kill_hard(proc)


# ---- 7. a crash mid-upload leaves no orphans for long -----------------------------------------------


def test_7_orphaned_temp_files_and_inputs_are_swept(tmp_path):
    from serving_helpers import Server, make_settings

    settings = make_settings(tmp_path, orphan_seconds=60)
    data = settings.data_dir
    old = time.time() - 3600

    def leave(path: Path, size: int, mtime: float | None = old) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
            os.utime(path.parent, (mtime, mtime))
        return path

    orphans = [
        leave(data / "inputs" / "video_crashed" / ".source.0123456789ab.tmp.mp4", 3 * MB),
        leave(data / "inputs" / "video_nojob" / "image.png", 1000),
        leave(data / "uploads" / ".video.0123456789ab.tmp.upload", 2 * MB),
        leave(data / "videos" / "video_x" / ".video.0123456789ab.tmp.mp4", MB),
    ]
    fresh = leave(data / "inputs" / "video_writing" / ".source.fedcba987654.tmp.mp4", 1000, None)
    server = Server(settings, start_webhooks=False).start()
    try:
        with server.client() as c:
            r = c.post("/v1/videos", data={"prompt": "keep"}, files={"input_reference": ("a.png", png())})
            vid = r.json()["id"]
        kept = data / "inputs" / vid / "image.png"
        os.utime(kept, (old, old))
        deadline = time.time() + 10
        while time.time() < deadline and any(p.exists() for p in orphans):
            time.sleep(0.05)
        assert not any(p.exists() for p in orphans)  # swept at start-up
        assert fresh.exists() and kept.exists()  # a file being written, and a real job's input, stay
        # the janitor's later passes sweep what appears while the server runs
        late = leave(data / "inputs" / "video_later" / ".source.aaaaaaaaaaaa.tmp.mp4", MB)
        server.app.state.janitor.sweep_files()
        assert not late.exists() and kept.exists()
    finally:
        server.stop()


# ---- 8. formats are read from the bytes, against an allow-list --------------------------------------


def test_8_file_formats_are_sniffed_and_allow_listed(server_factory, tmp_path):
    server = server_factory(start_webhooks=False)
    with server.client() as c:

        def upload(data: bytes, content_type: str) -> dict:
            r = c.post(
                "/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a", data, content_type)}
            )
            return err(r, 415)

        for data, declared in (
            (image_bytes("TIFF"), "image/png"),
            (image_bytes("PCX"), "application/octet-stream"),
            (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "image/png"),
            (image_bytes("GIF"), "image/png"),
            (image_bytes("BMP"), "application/octet-stream"),
        ):
            e = upload(data, declared)
            assert e["param"] == "input_reference" and "PNG, JPEG or WebP" in e["message"], e
        for fmt in ("PNG", "JPEG", "WEBP"):  # the allowed ones, whatever the declared type
            r = c.post(
                "/v1/videos",
                data={"prompt": "x"},
                files={"input_reference": ("a", image_bytes(fmt), "application/octet-stream")},
            )
            assert r.status_code == 200, (fmt, r.text)

        def extend(data: bytes, content_type: str = "video/mp4") -> dict:
            r = c.post(
                "/v1/videos/extensions",
                data={"prompt": "y", "seconds": "1"},
                files={"video": ("v", data, content_type)},
            )
            return err(r, 415)

        for data in (
            png(),
            image_bytes("GIF"),
            pyav_video(tmp_path, "v.avi", "mpeg4"),
            pyav_video(tmp_path, "v.webm", "libvpx"),
        ):
            e = extend(data)
            assert e["param"] == "video" and "MP4 or MOV file with H.264, HEVC or AV1" in e["message"], e
        e = extend(pyav_video(tmp_path, "mpeg4.mp4", "mpeg4"))  # the right container, another codec
        assert "mpeg4 video" in e["message"]
        e = extend(mp4(tmp_path, 9, 8), "text/plain")
        assert "text/plain" in e["message"]
        good = c.post(
            "/v1/videos/extensions",
            data={"prompt": "y", "seconds": "1"},
            files={"video": ("v.mp4", mp4(tmp_path, 9, 8), "video/mp4")},
        )
        assert good.status_code == 200, good.text
    assert not list((server.settings.data_dir / "uploads").glob("*"))


# ---- 9. one limit per text field, on every route ----------------------------------------------------


def test_9_text_field_limits_apply_on_every_route(server_factory):
    server = server_factory(start_webhooks=False)
    long_negative = "n" * 2501
    long_url = "https://example.com/" + "a" * 3000
    routes = [
        ("/v1/videos", {"prompt": "x"}),
        ("/v1/videos/video_nope/remix", {"prompt": "x"}),
        ("/v1/videos/extensions", {"prompt": "x", "video": {"id": "video_nope"}}),
    ]
    with server.client() as c:
        for path, body in routes:
            e = err(c.post(path, json={**body, "negative_prompt": long_negative}), 400)
            assert e["param"] == "negative_prompt" and "2501 characters" in e["message"], path
            assert "at most 2500" in e["message"]
            e = err(c.post(path, json={**body, "callback_url": long_url}), 400)
            assert e["param"] == "callback_url" and "at most 2048 characters" in e["message"], path
            e = err(c.post(path, json={**body, "prompt": "p" * 2501}), 400)
            assert e["param"] == "prompt" and "at most 2500" in e["message"], path
        e = err(c.post("/v1/videos", json={"prompt": "x", "model": "m" * 201}), 400)
        assert e["param"] == "model"


# ---- 10. webhooks cannot be aimed at internal addresses ---------------------------------------------


def test_10_callback_urls_to_internal_addresses_are_refused_and_pinned(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        for url, words in (
            ("http://127.0.0.1:8080/hook", "loopback, private"),
            ("http://localhost/hook", "loopback, private"),
            ("http://user:pw@127.0.0.1/hook", "user name or password"),
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
            ("http://10.1.2.3/hook", "10.1.2.3"),
            ("http://[::1]:9000/hook", "::1"),
            ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1"),
            ("http://0.0.0.0/hook", "0.0.0.0"),
            ("http://93.184.216.34:22/hook", "port 22"),
            ("gopher://93.184.216.34/", "http(s) URL"),
        ):
            e = err(c.post("/v1/videos", json={"prompt": "x", "callback_url": url}), 400)
            assert e["param"] == "callback_url" and words in e["message"], (url, e)
        assert c.get("/v1/videos").json()["data"] == []

    # a name that resolved to a public address at submission and to loopback at delivery (DNS rebinding):
    # the delivery re-checks, refuses, and the job shows it
    from kinema.serving.webhooks import WebhookSender

    answers = {"hooks.example": ["93.184.216.34"]}
    server.app.state.service.callbacks.resolve = lambda host, port: [
        __import__("ipaddress").ip_address(a) for a in answers[host]
    ]
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "x", "callback_url": "https://hooks.example/h"}).json()[
            "id"
        ]
    sender = WebhookSender(server.store, server.settings, secret="s")
    answers["hooks.example"] = ["127.0.0.1"]
    sender.policy.resolve = server.app.state.service.callbacks.resolve
    assert sender.deliver_one()
    with server.client() as c:
        hook = c.get(f"/v1/videos/{vid}").json()["webhook"]
    assert hook["status"] == "failed" and hook["attempts"] == 1 and "refused" in hook["last_error"]
    sender.client.close()


def test_10_delivery_connects_to_the_checked_address_with_the_urls_host(server_factory):
    import ipaddress

    from test_serving_webhooks import Receiver

    from kinema.serving.webhooks import WebhookSender

    receiver = Receiver()
    port = receiver.httpd.server_address[1]
    server = server_factory(start_webhooks=False, webhook_allowed_hosts=["hooks.test"])
    resolve = lambda host, p: [ipaddress.ip_address("127.0.0.1")]  # noqa: E731 - hooks.test → loopback
    server.app.state.service.callbacks.resolve = resolve
    try:
        with server.client() as c:
            url = f"http://hooks.test:{port}/hook"
            vid = c.post("/v1/videos", json={"prompt": "x", "callback_url": url}).json()["id"]
        sender = WebhookSender(server.store, server.settings, secret="s")
        sender.policy.resolve = resolve
        assert sender.deliver_one()
        sender.client.close()
        headers, body = receiver.received[0]
        assert headers["Host"] == f"hooks.test:{port}" and json.loads(body)["data"]["id"] == vid
        with server.client() as c:
            hook = c.get(f"/v1/videos/{vid}").json()["webhook"]
        assert hook == {"event": "video.queued", "status": "delivered", "attempts": 1, "last_error": None}
    finally:
        receiver.close()


# ---- 11. web pages on other origins cannot queue jobs -----------------------------------------------


def test_11_cross_origin_writes_are_refused_unless_the_origin_is_configured(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        evil = {"Origin": "http://evil.example"}
        r = c.post("/v1/videos", data={"prompt": "from a web page"}, files={"x": ("", b"")}, headers=evil)
        e = err(r, 403)
        assert e["code"] == "cross_origin_refused" and "http://evil.example" in e["message"]
        assert err(c.delete("/v1/videos/video_x", headers=evil), 403)["code"] == "cross_origin_refused"
        assert c.get("/v1/videos").json()["data"] == []  # nothing was queued
        same = {"Origin": server.url}  # the studio
        assert c.post("/v1/videos", json={"prompt": "studio"}, headers=same).status_code == 200
        assert c.post("/v1/videos", json={"prompt": "curl"}).status_code == 200  # no Origin: not a browser
    allowed = server_factory(start_webhooks=False, cors_origins=["https://studio.example"])
    with allowed.client() as c:
        origin = {"Origin": "https://studio.example"}
        r = c.post("/v1/videos", json={"prompt": "allowed"}, headers=origin)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://studio.example"
        pre = c.options(
            "/v1/videos",
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert pre.status_code == 200 and "POST" in pre.headers["access-control-allow-methods"]
        assert err(c.post("/v1/videos", json={"prompt": "x"}, headers={"Origin": "http://evil.example"}), 403)


# ---- 13. the smaller ones ---------------------------------------------------------------------------


def test_13_smaller_edges(server_factory, tmp_path):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        # a PNG whose compressed text chunk is over PIL's limit is named for what it is
        info = PngImagePlugin.PngInfo()
        info.add_text("comment", "x" * (2 * MB), zip=True)
        r = c.post(
            "/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", png(pnginfo=info))}
        )
        e = err(r, 400)
        assert e["param"] == "input_reference" and "text metadata chunk" in e["message"]
        # a 5-frame MP4 at 10,000 fps is refused at upload, not in the worker
        r = c.post(
            "/v1/videos/extensions",
            data={"prompt": "y"},
            files={"video": ("v.mp4", mp4(tmp_path, 5, 10000), "video/mp4")},
        )
        assert err(r, 400)["param"] == "video"
        # JSON booleans are not numbers
        for field in ("seconds", "duration", "seed", "fps", "cfg_scale"):
            e = err(c.post("/v1/videos", json={"prompt": "x", field: True}), 400)
            assert e["param"] == field and "not true or false" in e["message"], field
    # a failed job does not keep the progress it broke at
    from serving_fakes import FakeGenerator

    class BreaksLate(FakeGenerator):
        def run(self, spec, output):
            for step in range(10):
                time.sleep(0.06)
                spec.callback(step + 1, 10, "denoise")
            raise RuntimeError("broke at 90 %")

    server.start_worker(BreaksLate())
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "x"}).json()["id"]
        seen = []
        deadline = time.time() + 20
        while time.time() < deadline:
            body = c.get(f"/v1/videos/{vid}").json()
            seen.append(body["progress"])
            if body["status"] == "failed":
                break
            time.sleep(0.03)
    assert body["status"] == "failed" and body["progress"] == 0 and max(seen) > 20, seen
    # the database (every prompt, the keys' hashes) is readable by its owner only
    db = server.settings.data_dir / "jobs.db"
    for path in (db, db.with_name("jobs.db-wal")):
        assert path.stat().st_mode & 0o777 == 0o600, path


# ---- physics: the Kinema extra reaches the backend, or is refused with the model's name ---------------


def test_physics_fields_reach_the_backend_or_are_refused(server_factory, tmp_path):
    from serving_fakes import FakeGenerator

    from kinema.serving.registry import ModelRegistry, read_model_info

    info = read_model_info(make_fake_models(tmp_path) / "fake-tiny")
    plain = tuple(o for o in info.options if not o.startswith("physics"))

    def registry(options: tuple[str, ...]) -> ModelRegistry:
        return ModelRegistry([dataclasses.replace(info, options=options)])

    server = server_factory(start_webhooks=False, registry=registry(plain))
    with server.client() as c:  # a model whose backend has no physics mode: refused at the API's edge
        e = err(c.post("/v1/videos", json={"prompt": "x", "physics": "simulate"}), 400)
        assert e["param"] == "physics" and "Model fake-tiny cannot generate with physics" in e["message"]
        e = err(c.post("/v1/videos", json={"prompt": "x", "physics_candidates": 2}), 400)
        assert e["param"] == "physics_candidates"
        e = err(c.post("/v1/videos", json={"prompt": "x", "physics": "on"}), 400)
        assert e["param"] == "physics"

    physical = registry((*plain, "physics", "physics_candidates"))
    server = server_factory(start_webhooks=False, registry=physical, data_dir=tmp_path / "physical")
    gen = FakeGenerator(steps=1)
    server.start_worker(gen)

    class NoPhysics(FakeGenerator):
        options = tuple(o for o in FakeGenerator.options if not o.startswith("physics"))

    with server.client() as c:
        r = c.post(
            "/v1/videos", json={"prompt": "a ball falls", "physics": "simulate", "physics_candidates": 3}
        )
        assert r.status_code == 200, r.text
        assert r.json()["physics"] is True
        done = server.wait_for(r.json()["id"])
        assert done["status"] == "completed"
        spec = gen.requests[-1]
        assert spec.physics is True and spec.physics_candidates == 3
        assert server.store.get(done["id"]).charged_seconds == pytest.approx(3.0)  # 1 s, three candidates
        server.stop_workers()
        server.start_worker(NoPhysics(steps=1))
        vid = c.post("/v1/videos", json={"prompt": "a ball falls", "physics": "simulate"}).json()["id"]
        failed = server.wait_for(vid)
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_request"
    assert "does not support physics" in failed["error"]["message"]
