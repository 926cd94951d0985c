"""Webhooks reach a real HTTP receiver on 127.0.0.1, signed with HMAC-SHA256, retried after failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kinema.serving.webhooks import SIGNATURE_HEADER, verify_signature

SECRET = "whsec_test_secret"


class Receiver:
    """Records every POST; answers 500 to the first `fail_first` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                ok = len(receiver.received) > receiver.fail_first
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def test_webhooks_are_signed_delivered_in_order_and_retried(server_factory):
    receiver = Receiver(fail_first=1)
    # the receiver is on this machine: loopback is refused unless the operator allows it
    server = server_factory(
        webhook_secret=SECRET, webhook_backoff_seconds=0.2, webhook_allowed_hosts=["127.0.0.1"]
    )
    server.start_worker()
    try:
        with server.client() as c:
            vid = c.post("/v1/videos", json={"prompt": "notify me", "callback_url": receiver.url}).json()[
                "id"
            ]
            server.wait_for(vid)
        deadline = time.time() + 15
        while time.time() < deadline and len(receiver.received) < 4:
            time.sleep(0.05)
    finally:
        receiver.close()
    # 4 posts: queued (refused with 500), queued again (the retry), in_progress, completed
    assert len(receiver.received) == 4
    events = [json.loads(body) for _, body in receiver.received]
    assert [e["type"] for e in events] == [
        "video.queued",
        "video.queued",
        "video.in_progress",
        "video.completed",
    ]
    assert all(e["data"]["id"] == vid for e in events)
    assert events[-1]["data"]["status"] == "completed" and events[-1]["data"]["progress"] == 100
    for headers, body in receiver.received:
        header = headers[SIGNATURE_HEADER]
        assert verify_signature(SECRET, body, header)
        # the scheme, recomputed by hand: HMAC-SHA256(secret, "<t>.<body>")
        t = header.split(",")[0][2:]
        mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert header == f"t={t},v1={mac}"
        assert not verify_signature("wrong-secret", body, header)
        assert not verify_signature(SECRET, body + b" ", header)  # a changed body fails
    rows = server.store.webhook_rows(vid)
    assert [(r["event"], r["status"], r["attempts"]) for r in rows] == [
        ("video.queued", "delivered", 2),
        ("video.in_progress", "delivered", 1),
        ("video.completed", "delivered", 1),
    ]
    assert rows[0]["last_error"] is None


def test_webhook_gives_up_after_max_attempts_and_replays_are_rejected(server_factory):
    server = server_factory(
        webhook_secret=SECRET,
        webhook_backoff_seconds=0.05,
        webhook_max_attempts=3,
        webhook_allowed_hosts=["127.0.0.1"],
    )
    with server.client() as c:  # nothing listens on this port: every attempt fails to connect
        vid = c.post("/v1/videos", json={"prompt": "x", "callback_url": "http://127.0.0.1:9/hook"}).json()[
            "id"
        ]
    deadline = time.time() + 15
    while time.time() < deadline:
        rows = server.store.webhook_rows(vid)
        if rows and rows[0]["status"] == "failed":
            break
        time.sleep(0.05)
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 3 and "Connect" in rows[0]["last_error"]
    body = b'{"a": 1}'
    old = int(time.time()) - 3600
    mac = hmac.new(SECRET.encode(), f"{old}.".encode() + body, hashlib.sha256).hexdigest()
    assert not verify_signature(SECRET, body, f"t={old},v1={mac}")  # correct MAC, but an hour old
