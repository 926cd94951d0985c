"""The webhooks table: an outbox of deliveries, written in the same transaction as the job's state change
(so a webhook is never lost when a process dies), claimed and finished by the sender (webhooks.py).

A row keeps the job's columns as they were at the event (`payload` = {"job": ...}); the sender builds the
public body from them (`views.video_view`), so this module knows nothing of the API's shapes. Rows written
before that keep their finished body and are sent as they are.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, select, update
from sqlalchemy.engine import Connection

from kinema.serving.database import Database, metadata
from kinema.serving.job_store import Job

webhooks = Table(
    "webhooks",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("ix_webhooks_due", "status", "next_attempt_at"),
)


class WebhookStore:
    """The deliveries to jobs' callback URLs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, conn: Connection, job: Job, event_name: str) -> None:
        """Queue `event_name` for the job's callback_url (none: nothing), inside the caller's transaction.
        The `JobEvents` hook of `JobStore`."""
        if not job.callback_url:
            return
        now = time.time()
        conn.execute(
            webhooks.insert().values(
                job_id=job.id,
                url=job.callback_url,
                event=event_name,
                payload=json.dumps({"job": job.columns()}),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def claim(self, hold_seconds: float) -> dict[str, Any] | None:
        """Take one due delivery, hiding it from other senders for `hold_seconds`."""
        now = time.time()
        with self.db.writing() as conn:
            # A job's events go out in order: a row waits while an earlier one of its job is still pending.
            earlier = webhooks.alias("earlier")
            blocked = (
                select(earlier.c.seq)
                .where(
                    earlier.c.job_id == webhooks.c.job_id,
                    earlier.c.status == "pending",
                    earlier.c.seq < webhooks.c.seq,
                )
                .exists()
            )
            query = (
                select(webhooks)
                .where(webhooks.c.status == "pending", webhooks.c.next_attempt_at <= now, ~blocked)
                .order_by(webhooks.c.seq)
                .limit(1)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            conn.execute(
                update(webhooks).where(webhooks.c.seq == row.seq).values(next_attempt_at=now + hold_seconds)
            )
            return dict(row._mapping)

    def finish(self, seq: int, delivered: bool, error: str | None, retry_at: float | None) -> None:
        now = time.time()
        values: dict[str, Any] = {"attempts": webhooks.c.attempts + 1, "last_error": error}
        if delivered:
            values.update(status="delivered", delivered_at=now)
        elif retry_at is None:
            values.update(status="failed")
        else:
            values.update(next_attempt_at=retry_at)
        with self.db.writing() as conn:
            conn.execute(update(webhooks).where(webhooks.c.seq == seq).values(**values))

    def rows(self, job_id: str) -> list[dict[str, Any]]:
        with self.db.reading() as conn:
            rows = conn.execute(select(webhooks).where(webhooks.c.job_id == job_id).order_by(webhooks.c.seq))
            return [dict(r._mapping) for r in rows]
