"""Kinema's server: an OpenAI-compatible video API with a durable queue, workers and a web studio.

    kinema serve --model PATH            # API + studio on http://127.0.0.1:8000 and one worker process
    kinema keys create --tier pro --name ada   # from then on the server requires keys
    kinema worker --database postgresql+psycopg://...   # more workers, on this or other machines

Files by role:
- `app.py` — FastAPI routes (`/v1/videos` create / list / retrieve / delete / content / remix / extensions /
  events, `/v1/models`, the studio at `/`); errors in OpenAI's `{"error": {...}}` shape.
- `service.py` — what the routes call: validation → tiers (concurrency, quota) → store.
- `validation.py` — requests → exact sizes, frame counts and images, or a 4xx that says what to change.
- `schemas.py` — request models (unknown fields refused) and the public video object.
- `store.py` — SQLAlchemy job store: jobs, API keys, webhook outbox; leases, heartbeats, claims
  (SQLite WAL by default; PostgreSQL with FOR UPDATE SKIP LOCKED).
- `worker.py` — claims jobs and runs a `Generator` (default: kinema.pipelines, each model loaded once).
- `storage.py` — uploads and outputs on disk, written atomically.
- `auth.py` — hashed API keys, tenants; `settings.py` — every knob (pydantic-settings, `KINEMA_*`) and tiers.
- `webhooks.py` — signed (HMAC-SHA256) deliveries to `callback_url`, retried with backoff.
- `registry.py` — the model folders a server offers; `static/` — the studio (plain HTML + JS + CSS).
"""
