"""Webhooks: POST the video object to a job's callback_url on every state change, signed, with retries.

Deliveries are rows of an outbox table written in the same transaction as the state change, so a webhook is
never lost when a process dies; the server's sender thread claims due rows and posts them.

Signature (the Stripe scheme): header `Kinema-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
HMAC key is the server's webhook secret and the message is `"<t>.<raw body>"`. A receiver checks it with
`verify_signature` and rejects old timestamps (replays). Failed posts retry after backoff · 2^attempt.

Each delivery re-checks its URL (`callback_urls.CallbackPolicy`: public addresses only unless allowed) and
connects to the address it checked; redirects are not followed. A URL the policy refuses at delivery
fails at once, and every failure shows on the job (`video.webhook`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from kinema.serving.callback_urls import CallbackPolicy, CallbackRefused
from kinema.serving.job_store import Job
from kinema.serving.settings import ServeSettings
from kinema.serving.store import Store
from kinema.serving.views import webhook_body

log = logging.getLogger("kinema.webhooks")

SIGNATURE_HEADER = "Kinema-Signature"
EVENT_HEADER = "Kinema-Event"


def load_secret(settings: ServeSettings) -> str:
    """The configured secret, or one generated once and kept in data_dir/webhook_secret (mode 0600)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    path = Path(settings.data_dir) / "webhook_secret"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secret)
    tmp.chmod(0o600)
    try:
        # Two processes racing: the first link wins and both read the winner's secret.
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except OSError:
        pass
    return path.read_text().strip()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, tolerance_seconds: float = 300.0) -> bool:
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSender:
    def __init__(self, store: Store, settings: ServeSettings, secret: str | None = None) -> None:
        self.outbox = store.webhooks
        self.settings = settings
        self.secret = secret or load_secret(settings)
        self.stop_event = threading.Event()
        self.client = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        self.policy = CallbackPolicy(settings.webhook_allowed_hosts)

    def deliver_one(self) -> bool:
        row = self.outbox.claim(hold_seconds=self.settings.webhook_timeout_seconds * 2 + 5)
        if row is None:
            return False
        body = _body(row)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body, int(time.time())),
            EVENT_HEADER: row["event"],
            "User-Agent": "kinema-webhooks/1",
        }
        error: str | None = None
        refused = False
        try:
            target = self.policy.check(row["url"])  # resolve, check, and connect to that very address
            headers["Host"] = target.host_header
            extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
            response = self.client.post(target.url, content=body, headers=headers, extensions=extensions)
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except CallbackRefused as exc:
            error, refused = f"refused: {exc}", True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = row["attempts"] + 1
        retry_at = None
        if error and not refused and attempts < self.settings.webhook_max_attempts:
            retry_at = time.time() + self.settings.webhook_backoff_seconds * 2 ** (attempts - 1)
        if error:
            log.warning(
                "webhook %s for %s failed (%s), attempt %d", row["event"], row["job_id"], error, attempts
            )
        self.outbox.finish(row["seq"], delivered=error is None, error=error, retry_at=retry_at)
        return True

    def run_forever(self) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.deliver_one()
            except Exception:
                log.exception("webhook sender error")
                busy = False
            if not busy:
                self.stop_event.wait(self.settings.poll_seconds)
        self.client.close()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="kinema-webhooks", daemon=True)
        thread.start()
        return thread


def _body(row: dict[str, Any]) -> bytes:
    """The bytes to post: the video as the job was at the event (the same bytes on every retry). A row
    queued before bodies were built at delivery holds its finished body; it goes as it is."""
    stored = json.loads(row["payload"])
    if "job" not in stored:
        return row["payload"].encode()
    return json.dumps(webhook_body(row["event"], row["created_at"], Job.from_columns(stored["job"]))).encode()
