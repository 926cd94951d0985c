"""Kinema's server: an OpenAI-compatible video API with a durable queue, workers and a web studio.

    kinema serve --model PATH            # API + studio on http://127.0.0.1:8000 and one worker process
    kinema keys create --tier pro --name ada   # from then on the server requires keys
    kinema worker --database postgresql+psycopg://...   # more workers, on this or other machines

Files by role (routes → typed dependencies → services → stores, as in the FastAPI full-stack template):
- `app.py` — wiring: state, middleware, routers, error handlers, the janitor and webhook threads.
- `routes/` — one `APIRouter` per resource: `videos.py` (`/v1/videos` create / list / retrieve / delete /
  content / remix / extensions / events), `models.py` (`/v1/models`), `system.py` (health, config, studio).
- `deps.py` — typed dependencies (`TenantDep`, `ServiceDep`, `SettingsDep`) and the auth policy.
- `body.py` — request bodies read as they stream in, under byte limits (JSON, multipart, spooled videos).
- `service.py` — what the routes call, answering with the response models: validation → tiers
  (concurrency, quota) → the job store; `views.py` — a job as the API's `Video` (routes, events, webhooks).
- `validation.py` — requests → exact sizes, frame counts, checked images and videos and the job's
  `GenerationSpec`, or a 4xx that says what to change; `job_spec.py` — that spec as the queue carries it; `callback_urls.py` — where webhooks may go (no loopback / private / metadata hosts).
- `schemas.py` — request models (unknown fields refused) and response models (`Video`, `VideoList`, `Error`);
  `openapi.py` — the request bodies and error responses of /openapi.json; `errors.py` — OpenAI's error shape.
- `origins.py` — cross-origin state changes refused unless configured (CORS).
- `database.py` — SQLAlchemy engines and transactions (SQLite WAL by default; PostgreSQL); one store per
  table: `job_store.py` (leases, heartbeats, claims with FOR UPDATE SKIP LOCKED), `key_store.py`,
  `webhook_store.py` (the outbox); `store.py` wires them as `Store`.
- `worker.py` — the loop: claims jobs and runs a backend (default: kinema.backends, each model loaded
  once); its command line is kinema/commands/worker.py;
  `supervisor.py` — `kinema serve` restarts dead workers with back-off.
- `storage.py` — uploads and outputs on disk, written atomically, orphans swept; `janitor.py` — the sweeps.
- `auth.py` — hashed API keys, tenants; `settings.py` — every knob (pydantic-settings, `KINEMA_*`) and tiers.
- `webhooks.py` — signed (HMAC-SHA256) deliveries to `callback_url`, retried with backoff.
- `registry.py` — the model folders a server offers; `static/` — the studio (plain HTML + JS + CSS).
"""
