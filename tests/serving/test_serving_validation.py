"""Every class of bad input is a 4xx in OpenAI's error shape, with a message that says what to change."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image


def png_bytes(width=40, height=30, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), 1 if mode in ("L", "1", "P") else (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def header_only_png(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none: a decompression bomb's header, in 60 bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


JSON_CASES = [
    # (body, status, param, words in the message)
    ({"prompt": "x", "colour": "red"}, 400, "colour", ["Unknown field `colour`", "remove it"]),
    ({"prompt": "x", "camera_control": {"type": "simple", "config": {"zoom": 1, "spin": 2}}}, 400, "camera_control.config.spin", ["Unknown field"]),
    ({}, 400, "prompt", ["Missing required field `prompt`"]),
    ({"prompt": "   "}, 400, "prompt", ["empty"]),
    ({"prompt": "a" * 2501}, 400, "prompt", ["2501 characters", "at most 2500"]),
    ({"prompt": "x", "size": "big"}, 400, "size", ["width x height"]),
    ({"prompt": "x", "size": "33x32"}, 400, "size", ["multiples of 16"]),
    ({"prompt": "x", "size": "1280x720"}, 400, "size", ["too large", "32x32"]),
    ({"prompt": "x", "seconds": "soon"}, 400, "seconds", ["number of seconds"]),
    ({"prompt": "x", "seconds": "-1"}, 400, "seconds", ["between 0 and"]),
    ({"prompt": "x", "seconds": "12"}, 400, "seconds", ["at most 33", "extend"]),
    ({"prompt": "x", "seconds": "1", "duration": "1"}, 400, "duration", ["not both"]),
    ({"prompt": "x", "aspect_ratio": "2:7"}, 400, "aspect_ratio", ["must be one of"]),
    ({"prompt": "x", "size": "32x32", "aspect_ratio": "16:9"}, 400, "aspect_ratio", ["only one"]),
    ({"prompt": "x", "fps": 500}, 400, "fps", ["at most 60"]),
    ({"prompt": "x", "fps": 0}, 400, "fps", ["greater than or equal to 1"]),
    ({"prompt": "x", "model": "sora-2"}, 400, "model", ["Unknown model 'sora-2'", "fake-tiny"]),
    ({"prompt": "x", "cfg_scale": "lots"}, 400, "cfg_scale", ["Invalid value"]),
    ({"prompt": "x", "camera_control": {"type": "simple", "config": {"zoom": 5, "pan": 2}}}, 400, "camera_control.config", ["exactly one axis"]),
    ({"prompt": "x", "camera_control": {"type": "simple", "config": {"zoom": 11}}}, 400, "camera_control.config.zoom", ["less than or equal to 10"]),
    ({"prompt": "x", "camera_control": {"type": "down_back", "config": {"zoom": 1}}}, 400, "camera_control.config", ["left out"]),
    ({"prompt": "x", "camera_control": {"type": "orbit"}}, 400, "camera_control.type", ["Invalid value"]),
    ({"prompt": "x", "trajectories": [[{"x": 1, "y": 1}, {"x": 99, "y": 1}]]}, 400, "trajectories[0]", ["outside the 32x32 frame"]),
    ({"prompt": "x", "trajectories": [[{"x": 1, "y": 1}]]}, 400, "trajectories[0]", ["2 to 77 points"]),
    ({"prompt": "x", "callback_url": "ftp://example.com/hook"}, 400, "callback_url", ["http(s) URL"]),
    ({"prompt": "x", "input_reference": {"image_url": "https://example.com/cat.png"}}, 400, "input_reference", ["does not fetch URLs"]),
    ({"prompt": "x", "input_reference": {"file_id": "file_123"}}, 400, "input_reference", ["not supported"]),
    ({"prompt": "x", "input_reference": "data:image/png;base64,@@@"}, 400, "input_reference", ["not valid base64"]),
    ({"prompt": "x", "image_tail": "data:image/png;base64," + base64.b64encode(png_bytes()).decode()}, 400, "image_tail", ["needs `input_reference`"]),
    ({"prompt": "x", "seed": -4}, 400, "seed", ["greater than or equal to 0"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for the whole table keeps it fast (nothing is ever stored by these requests)."""
    from serving_helpers import Server, make_settings

    server = Server(make_settings(tmp_path_factory.mktemp("validation")), start_webhooks=False).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "body,status,param,words", JSON_CASES, ids=[c[2] + "-" + c[3][0][:20] for c in JSON_CASES]
)
def test_bad_json_requests(shared_server, body, status, param, words):
    server = shared_server
    with server.client() as c:
        r = c.post("/v1/videos", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"
    for word in words:
        assert word in err["message"], err["message"]
    with server.client() as c:
        assert c.get("/v1/videos").json()["data"] == []  # nothing was stored


def test_bad_bodies_and_uploads(server_factory):
    server = server_factory(start_webhooks=False, max_upload_bytes=200_000)
    with server.client() as c:

        def err(r, status):
            assert r.status_code == status, r.text
            return r.json()["error"]

        assert (
            "not valid JSON"
            in err(c.post("/v1/videos", content=b"{nope", headers={"content-type": "application/json"}), 400)[
                "message"
            ]
        )
        assert "JSON object" in err(c.post("/v1/videos", json=["a"]), 400)["message"]
        assert (
            "empty"
            in err(c.post("/v1/videos", content=b"", headers={"content-type": "application/json"}), 400)[
                "message"
            ]
        )
        assert (
            "text/plain"
            in err(c.post("/v1/videos", content=b"hi", headers={"content-type": "text/plain"}), 415)[
                "message"
            ]
        )
        # multipart: unknown fields are named too
        e = err(
            c.post(
                "/v1/videos",
                data={"prompt": "x", "promt": "y"},
                files={"input_reference": ("a.png", png_bytes(), "image/png")},
            ),
            400,
        )
        assert e["param"] == "promt" and "Unknown field" in e["message"]
        e = err(c.post("/v1/videos", data={"prompt": "x"}, files={"picture": ("a.png", png_bytes())}), 400)
        assert e["param"] == "picture" and "only input_reference, image_tail may be uploaded" in e["message"]
        deep = b'{"prompt": "x", "trajectories": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        e = err(c.post("/v1/videos", content=deep, headers={"content-type": "application/json"}), 400)
        assert "nested too deeply" in e["message"]

        def upload(data, name="input_reference", content_type="image/png"):
            return c.post("/v1/videos", data={"prompt": "x"}, files={name: ("ref.png", data, content_type)})

        e = err(upload(b"this is not an image at all"), 415)
        assert e["param"] == "input_reference" and "PNG, JPEG or WebP" in e["message"]
        e = err(upload(png_bytes(), content_type="application/pdf"), 415)
        assert "application/pdf" in e["message"]
        e = err(upload(png_bytes()[:60]), 400)  # truncated: the header survives, the pixels do not
        assert e["code"] == "invalid_image" and "truncated" in e["message"]
        e = err(upload(header_only_png(20000, 20000)), 413)
        assert "decompression bomb" in e["message"] and "at most 40000000 pixels" in e["message"]
        # above our limit but below PIL's own bomb guard: the size is named
        e = err(upload(header_only_png(7000, 6000)), 413)
        assert "7000x6000" in e["message"]
        e = err(upload(b"\x89PNG" + bytes(300_000)), 413)
        assert "larger than 200000 bytes" in e["message"]
        e = err(upload(b""), 400)
        assert "empty" in e["message"]
        # odd modes are fine: a 16-bit grayscale PNG and a palette PNG are accepted and converted
        buf = io.BytesIO()
        Image.new("I;16", (40, 30), 30000).save(buf, format="PNG")
        assert upload(buf.getvalue()).status_code == 200
        assert upload(png_bytes(mode="P")).status_code == 200

        # other routes
        e = err(c.get("/v1/videos", params={"limit": 1000}), 400)
        assert e["param"] == "limit"
        e = err(c.get("/v1/videos", params={"limit": "many"}), 400)
        assert e["param"] == "limit"
        # an `after` that names no video is the end of the list (schema-valid, so not a 400: issue 29, defect 9)
        page = c.get("/v1/videos", params={"after": "video_nope"})
        assert page.status_code == 200 and page.json()["data"] == [] and page.json()["has_more"] is False
        e = err(c.get("/v1/videos", params={"order": "sideways"}), 400)
        assert e["param"] == "order"
        assert err(c.get("/v1/videos/video_missing"), 404)["code"] == "not_found"
        vid = c.get("/v1/videos").json()["data"][0]["id"]
        e = err(c.get(f"/v1/videos/{vid}/content", params={"variant": "gif"}), 400)
        assert e["param"] == "variant"
        assert err(c.get(f"/v1/videos/{vid}/content"), 409)["code"] == "video_not_ready"
        assert err(c.post(f"/v1/videos/{vid}/remix", json={"prompt": "y"}), 409)["code"] == "video_not_ready"
        assert err(c.post("/v1/videos/video_nope/remix", json={"prompt": "y"}), 404)["code"] == "not_found"
        e = err(c.post(f"/v1/videos/{vid}/remix", json={"prompt": "y", "size": "32x32"}), 400)
        assert e["param"] == "size" and "Unknown field" in e["message"]
        e = err(c.post("/v1/videos/extensions", json={"prompt": "y"}), 400)
        assert e["param"] == "video"
        # extending an upload: it must be a readable video, and a refused upload leaves no file behind
        e = err(
            c.post("/v1/videos/extensions", data={"prompt": "y"}, files={"video": ("v.mp4", b"not a video")}),
            415,
        )
        assert e["param"] == "video" and "MP4" in e["message"]
        inputs = server.settings.data_dir / "inputs"
        assert sorted(p.name for p in inputs.iterdir()) == sorted(
            v["id"] for v in c.get("/v1/videos", params={"limit": 100}).json()["data"]
        )  # only the accepted jobs' reference images
        assert "No route" in err(c.get("/v1/nothing"), 404)["message"]
        assert err(c.put("/v1/videos"), 405)["type"] == "invalid_request_error"
