"""The server's durable state: one database (database.py), one store per table — jobs (job_store.py),
API keys (key_store.py), webhook deliveries (webhook_store.py) and live workers (worker_store.py) — wired
together here.

The one wire: every public change of a job records its webhook delivery in the same transaction
(`JobStore.events` = `WebhookStore.record`).
"""

from __future__ import annotations

from typing import Any

from kinema.serving.character_store import CharacterStore
from kinema.serving.database import Database
from kinema.serving.job_store import ACTIVE, FINISHED, Claim, Job, JobStore, jobs, new_id
from kinema.serving.key_store import KeyStore
from kinema.serving.webhook_store import WebhookStore
from kinema.serving.worker_store import WorkerStore

__all__ = ["ACTIVE", "FINISHED", "Claim", "Job", "JobStore", "Store", "jobs", "new_id"]


class Store:
    """The three stores over one database. `jobs`, `keys` and `webhooks` are what callers use; the few
    methods below are shortcuts for scripts and tests."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.db = Database(url, create)
        self.webhooks = WebhookStore(self.db)
        self.keys = KeyStore(self.db)
        self.jobs = JobStore(self.db, events=self.webhooks.record)
        self.workers = WorkerStore(self.db)
        self.characters = CharacterStore(self.db)
        self.writing = self.db.writing

    def dispose(self) -> None:
        self.db.dispose()

    def get(self, job_id: str, tenant: str | None = None, include_deleted: bool = False) -> Job | None:
        return self.jobs.get(job_id, tenant, include_deleted)

    def webhook_rows(self, job_id: str) -> list[dict[str, Any]]:
        return self.webhooks.rows(job_id)
