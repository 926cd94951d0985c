"""Every knob of `kinema serve` / `kinema worker` in one typed place (pydantic-settings, env prefix `KINEMA_`).

Command-line flags override environment variables, which override these defaults.

Auth policy (documented in `kinema serve --help`): `auth="auto"` (the default) requires an API key as soon
as a key was ever created in the database (`kinema keys create`), and serves everyone as the local tenant
while none ever was — a laptop user runs `kinema serve` and it just works; a team creates a key and the
server is closed for good (revoking every key leaves it closed, not open). `auth="on"` always requires a
key; `auth="off"` (`--no-auth`) never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class Tier:
    """What a key's tier buys: queue priority, unfinished jobs at once, generated seconds per quota window."""

    name: str
    priority: int
    concurrency: int
    quota_seconds: float


# Kling and Runway sell the same three levers: priority in the queue, parallel tasks, generated seconds.
TIERS: dict[str, Tier] = {
    "free": Tier("free", priority=0, concurrency=1, quota_seconds=60.0),
    "standard": Tier("standard", priority=10, concurrency=4, quota_seconds=600.0),
    "pro": Tier("pro", priority=20, concurrency=16, quota_seconds=7200.0),
}
# The tenant served when auth is off: a local user is limited only by their own machine.
LOCAL_TIER = Tier("local", priority=20, concurrency=1000, quota_seconds=float("inf"))


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KINEMA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("kinema-data")
    # SQLAlchemy URL; None = SQLite (WAL) file `jobs.db` in data_dir.
    database: str | None = None
    # A folder whose sub-folders are model folders (each with kinema.json), plus single model folders.
    models_dir: Path | None = None
    models: list[Path] = []  # folders or hub ids (org/name[@revision])
    # A YAML file listing models (folders or hub ids), each with its load settings (serving/models_file.py).
    models_file: Path | None = None
    default_model: str | None = None
    workers: int = 1
    # Where uploads and outputs live (storage.py): None = files in data_dir, `file://DIR`, or
    # `s3://BUCKET[/PREFIX]` (credentials from the environment, as boto3 reads them; the endpoint from
    # AWS_ENDPOINT_URL or s3_endpoint_url), so that workers on other machines serve the same queue.
    storage: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # With object storage, answer GET /v1/videos/{id}/content with a 307 to a presigned GET URL valid for
    # this many seconds (the bytes then flow from the bucket, not through the API); None = stream them.
    s3_presign_seconds: int | None = None
    # GET /metrics (Prometheus text format, metrics.py): on the public port for anyone by default; with
    # metrics_key only for `Authorization: Bearer <metrics_key>`; with metrics_port only on that port
    # (bound to metrics_host), not on the public one.
    metrics_key: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    auth: Literal["auto", "on", "off"] = "auto"

    # Queue: a worker holds a job under a lease it renews; a dead worker's job returns to the queue.
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 3
    poll_seconds: float = 0.25
    # An event stream (GET /v1/videos/{id}/events) ends after this long; browsers' EventSource reconnects,
    # and no connection is held open for ever by a video that never finishes.
    events_max_seconds: float = 600.0
    # How long finished outputs stay downloadable (OpenAI reports expires_at).
    output_ttl_seconds: int = 7 * 24 * 3600
    quota_window_seconds: int = 24 * 3600

    # Input limits.
    max_prompt_chars: int = 2500
    max_seconds: float = 20.0
    max_total_seconds: float = 180.0  # an extended video may grow to 3 min, like Kling's extension chain
    max_fps: int = 60
    max_upload_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_video_upload_bytes: int = 200 * 1024 * 1024
    # Request bodies held in memory by all requests together (body.BodyBudget); a request that would pass it
    # is a 503 with Retry-After. Never less than one create body (two base64 images): app.py raises it to that.
    max_body_bytes_in_flight: int = 64 * 1024 * 1024

    # Webhooks: signed with this secret (HMAC-SHA256); None = a random secret kept in data_dir.
    webhook_secret: str | None = None
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    # Hosts, addresses or CIDR networks webhooks may reach although they are loopback / private
    # (callback_urls.py), e.g. ["127.0.0.1", "localhost"] for a receiver on this machine.
    webhook_allowed_hosts: list[str] = []

    # Web pages on other origins may not create or delete videos unless listed here (CORS; origins.py),
    # e.g. ["https://studio.example.com"]. The server's own studio is same-origin and needs nothing.
    cors_origins: list[str] = []
    # The names clients reach this server by, besides loopback names and IP addresses (origins.HostGuard),
    # e.g. ["kinema.example.com", "*.internal.example.com"]. A request whose Host is any other name is refused:
    # a web page on a domain that re-resolves to this server (DNS rebinding) sends its own name as Host.
    allowed_hosts: list[str] = []

    # Upload temp files and job-less input folders untouched for this long are swept (janitor.py).
    orphan_seconds: float = 600.0
    # Provenance (GB 45438-2025 and C2PA): every output carries a C2PA manifest signed with the installation's
    # key (made in data_dir/provenance on first use) unless c2pa_cert + c2pa_key name the operator's own
    # (PEM chain + key); a bad certificate stops start-up. The visible "AI生成 / AI-generated" mark is burned
    # into the frames (on by default for a server; the CLI's default is off).
    c2pa_sign: bool = True
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    visible_label: bool = True

    def database_url(self) -> str:
        if self.database:
            return self.database
        return f"sqlite:///{(Path(self.data_dir) / 'jobs.db').resolve()}"


def signing_identity(settings: ServeSettings):
    """The server's C2PA signing identity (None when signing is off). Called at start-up by the API and
    by every worker, so a missing or unreadable certificate is an error there, not at the first job."""
    if not settings.c2pa_sign:
        return None
    from kinema.io.provenance import load_signing_identity

    return load_signing_identity(settings.data_dir, settings.c2pa_cert, settings.c2pa_key)
