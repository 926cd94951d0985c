"""The outside probe's defects of issue 29 (item 4: 1, 2, 3, 4, 6, 7, 9), each reproduced against a real
server on 127.0.0.1 (or the real component) first, then fixed."""

from __future__ import annotations

import http.client
import json

import pytest

from kinema.serving.callback_urls import CallbackPolicy, CallbackRefused


def _raw(server, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    """A request with exactly these headers (httpx would set Host itself)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in {**headers, "Content-Length": str(len(body))}.items():
        conn.putheader(k, v)
    conn.endheaders(body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else {}


# ---- 1. DNS rebinding: a foreign Host with its matching Origin ----------------------------------------------


def test_1_dns_rebinding_host_is_refused_on_a_keyless_server(server_factory):
    server = server_factory(start_webhooks=False, allowed_hosts=["kinema.example.com", "*.corp.example"])
    port = server.port
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}", "Content-Type": "application/json"}
    status, body = _raw(server, "POST", "/v1/videos", evil, b'{"prompt": "rebound"}')
    assert status == 400 and body["error"]["code"] == "host_not_allowed", body
    assert "evil.example" in body["error"]["message"] and "--allowed-host" in body["error"]["message"]
    assert _raw(server, "GET", "/v1/videos", {"Host": f"evil.example:{port}"})[0] == 400  # reading too
    # the names it was started for: loopback names, addresses, configured names and their wildcards
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"10.1.2.3:{port}",
                 "kinema.example.com", f"KINEMA.example.com.:{port}", f"a.corp.example:{port}"):  # fmt: skip
        assert _raw(server, "GET", "/v1/videos", {"Host": host})[0] == 200, host
    for host in ("corp.example", "kinema.example.com.evil.example", "localhost.evil.example"):
        assert _raw(server, "GET", "/v1/videos", {"Host": host})[0] == 400, host
    with server.client() as c:
        assert c.get("/v1/videos").json()["data"] == []  # the rebound POST queued nothing


# ---- 7. callback URLs that reach loopback in disguise, and port 0 ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",  # IPv4-compatible IPv6 of loopback (deprecated, still routed by some stacks)
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[64:ff9b:1::7f00:1]/",  # local-use NAT64 prefix
        "http://[::ffff:7f00:1]/",  # IPv4-mapped
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://93.184.215.14:0/",  # port 0
        "https://example.com:0/hook",
    ],
)
def test_7_callback_urls_to_loopback_in_disguise_and_port_0_are_refused(url):
    policy = CallbackPolicy(resolver=lambda host, port: [])
    with pytest.raises(CallbackRefused):
        policy.check(url)


def test_7_public_callback_urls_still_pass():
    import ipaddress

    policy = CallbackPolicy(resolver=lambda host, port: [ipaddress.ip_address("93.184.215.14")])
    assert policy.check("https://example.com/hook").url == "https://93.184.215.14:443/hook"
    assert policy.check("http://[64:ff9b::5db8:d70e]:8080/").url.startswith("http://[64:ff9b::5db8:d70e]:8080")


# ---- 4. a zero-frame MP4: the moov declares frames, the mdat is empty ---------------------------------------


def _mp4_with_empty_mdat(path) -> bytes:
    """A real MP4 (PyAV) whose mdat payload is cut out: the moov still declares its 33 frames."""
    import struct

    import numpy as np

    from kinema.io.video import probe_video, write_video

    write_video(path, np.full((33, 32, 32, 3), 90, np.uint8), fps=8, label=None)
    data = path.read_bytes()
    out, i = b"", 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        out += struct.pack(">I4s", 8, b"mdat") if kind == b"mdat" else data[i : i + size]
        i += size
    path.write_bytes(out)
    assert probe_video(path).num_frames == 33  # what the probe believed
    return out


def test_4_a_zero_frame_mp4_is_refused_at_upload(server, tmp_path):
    clip = _mp4_with_empty_mdat(tmp_path / "empty.mp4")
    with server.client() as c:
        for route in ("/v1/videos/extensions", "/v1/videos/edits"):
            r = c.post(route, data={"prompt": "go on"}, files={"video": ("empty.mp4", clip, "video/mp4")})
            assert r.status_code == 400, r.text
            e = r.json()["error"]
            assert e["param"] == "video" and "declares 33 frames but none of them decodes" in e["message"]
        r = c.post("/v1/videos/characters", data={"name": "n"}, files={"video": ("e.mp4", clip, "video/mp4")})
        assert r.status_code == 400 and "none of them decodes" in r.json()["error"]["message"]
        assert c.get("/v1/videos").json()["data"] == []
