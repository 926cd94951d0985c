"""The durable job store: jobs, API keys and webhook deliveries in one SQL database (SQLAlchemy Core).

SQLite (WAL, `synchronous=FULL`) is the default; PostgreSQL serves many workers on many machines. Every
state change commits before the caller answers, so nothing a client was told about is lost when a server or
worker is killed (ComfyUI keeps its queue in memory and loses it on restart; Kinema must not).

Claims: a worker takes the best queued job (priority desc, then submission order) under a lease it renews
with heartbeats. On PostgreSQL the candidate row is locked `FOR UPDATE SKIP LOCKED`, so two workers never
take the same job; on SQLite every write transaction is `BEGIN IMMEDIATE`, which serialises writers. A job
whose lease expired (its worker died) goes back to the queue, at most `max_attempts` times, then fails.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Engine, make_url

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("model", String(200), nullable=False),
    Column("task", String(32), nullable=False),
    # queued | in_progress | completed | failed | cancelled (cancelled jobs are never shown)
    Column("status", String(16), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("prompt", Text, nullable=False),
    Column("params", Text, nullable=False),  # JSON: everything the generator needs
    Column("seconds", String(16), nullable=False),
    # What the job costs against its tier's quota (service.charged_seconds); NULL in rows made before
    # this column existed, which count their `seconds`.
    Column("charged_seconds", Float),
    Column("size", String(32), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("expires_at", Float),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("remixed_from_video_id", String(64)),
    Column("extended_from_video_id", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", Float),
    Column("callback_url", Text),
    Index("ix_jobs_claim", "status", "priority", "seq"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

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

ACTIVE = ("queued", "in_progress")
FINISHED = ("completed", "failed")


@dataclass
class Job:
    """One row of `jobs`, as the services see it."""

    seq: int
    id: str
    tenant: str
    model: str
    task: str
    status: str
    deleted: bool
    cancel_requested: bool
    priority: int
    prompt: str
    params: dict[str, Any]
    seconds: str
    charged_seconds: float | None
    size: str
    progress: int
    created_at: float
    updated_at: float
    started_at: float | None
    completed_at: float | None
    expires_at: float | None
    error_code: str | None
    error_message: str | None
    remixed_from_video_id: str | None
    extended_from_video_id: str | None
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    callback_url: str | None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        data = dict(row._mapping)
        data["params"] = json.loads(data["params"])
        data["deleted"] = bool(data["deleted"])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)


@dataclass
class Claim:
    job: Job
    owner: str


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class JobStore:
    """All SQL lives here; routes, workers and the webhook sender call these methods."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        if self.is_sqlite:
            database = make_url(url).database
            if database and database != ":memory:":
                _private_file(Path(database))
            # Two engines on one file: readers use deferred transactions (WAL lets them run beside a writer);
            # writers use BEGIN IMMEDIATE so that a read-then-write never dies on a lock upgrade.
            self.read_engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.read_engine = self.write_engine = engine
        self._last_sweep = 0.0
        # Seconds between dead-worker sweeps in claim(); it only has to keep up with lease expiry.
        self.sweep_interval = 1.0
        self._mean_cache: tuple[float, float] | None = None  # (computed at, value)
        if create:
            self.create_tables()

    def create_tables(self) -> None:
        if self.is_postgres:
            # Two processes creating tables at once race on pg_type; an advisory lock serialises them.
            with self.write_engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(724145)"))
                metadata.create_all(conn)
        else:
            metadata.create_all(self.write_engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a database was made (create_all makes tables, never columns)."""
        with self.write_engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(724145)"))
            have = {c["name"] for c in sa_inspect(conn).get_columns("jobs")}
            for column in jobs.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=conn.dialect)
                    conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {column.name} {kind}"))

    def dispose(self) -> None:
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.write_engine.begin() as conn:
            yield conn

    # ---- jobs: submit and read ----------------------------------------------------------------------

    def lock_tenant(self, conn: Connection, tenant: str) -> None:
        """Serialise a tenant's submissions so that quota and concurrency checks cannot race."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": tenant})
        # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.

    def tenant_usage(self, conn: Connection, tenant: str, since: float) -> tuple[int, float, float | None]:
        """(unfinished jobs, generated-or-reserved seconds since `since`, created_at of the oldest counted)."""
        active = conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.tenant == tenant, jobs.c.status.in_(ACTIVE), jobs.c.deleted.is_(False))
        ).scalar_one()
        rows = conn.execute(
            select(jobs.c.seconds, jobs.c.charged_seconds, jobs.c.created_at).where(
                jobs.c.tenant == tenant,
                jobs.c.created_at >= since,
                jobs.c.status.in_(("queued", "in_progress", "completed")),
            )
        ).all()
        used = sum(r.charged_seconds if r.charged_seconds is not None else float(r.seconds) for r in rows)
        oldest = min((r.created_at for r in rows), default=None)
        return int(active), used, oldest

    def insert_job(self, conn: Connection, **values: Any) -> Job:
        now = time.time()
        values.setdefault("id", new_id("video"))
        values["params"] = json.dumps(values.get("params", {}))
        values.setdefault("status", "queued")
        values.setdefault("progress", 0)
        values.setdefault("deleted", False)
        values.setdefault("cancel_requested", False)
        values.setdefault("attempts", 0)
        values["created_at"] = values["updated_at"] = now
        conn.execute(jobs.insert().values(**values))
        job = self._get(conn, values["id"])
        assert job is not None
        self._enqueue_webhook(conn, job, "video.queued")
        return job

    def _get(self, conn: Connection, job_id: str) -> Job | None:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return Job.from_row(row) if row else None

    def get(self, job_id: str, tenant: str | None = None, include_deleted: bool = False) -> Job | None:
        with self.reading() as conn:
            job = self._get(conn, job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            return None
        if job.deleted and not include_deleted:
            return None
        return job

    def list(self, tenant: str, after: str | None, limit: int, order: str) -> tuple[list[Job], bool]:
        """A page of the tenant's visible jobs; `after` is the id of the last item of the previous page."""
        with self.reading() as conn:
            query = select(jobs).where(jobs.c.tenant == tenant, jobs.c.deleted.is_(False))
            if after:
                anchor = conn.execute(
                    select(jobs.c.seq).where(jobs.c.id == after, jobs.c.tenant == tenant)
                ).first()
                if anchor is None:
                    raise KeyError(after)
                query = query.where(jobs.c.seq < anchor.seq if order == "desc" else jobs.c.seq > anchor.seq)
            query = query.order_by(jobs.c.seq.desc() if order == "desc" else jobs.c.seq.asc()).limit(
                limit + 1
            )
            rows = conn.execute(query).all()
        items = [Job.from_row(r) for r in rows[:limit]]
        return items, len(rows) > limit

    def queue_position(self, job: Job) -> int:
        """1 = next to be claimed."""
        with self.reading() as conn:
            ahead = conn.execute(
                select(func.count())
                .select_from(jobs)
                .where(
                    jobs.c.status == "queued",
                    jobs.c.deleted.is_(False),
                    or_(
                        jobs.c.priority > job.priority,
                        and_(jobs.c.priority == job.priority, jobs.c.seq < job.seq),
                    ),
                )
            ).scalar_one()
        return int(ahead) + 1

    def mean_run_seconds(self, default: float = 30.0, recent: int = 20) -> float:
        """Mean run time of the last `recent` completed jobs (cached for 5 s: it feeds ETAs, not decisions)."""
        if self._mean_cache is not None and time.monotonic() - self._mean_cache[0] < 5.0:
            return self._mean_cache[1]
        value = self._mean_run_seconds(default, recent)
        self._mean_cache = (time.monotonic(), value)
        return value

    def _mean_run_seconds(self, default: float, recent: int) -> float:
        with self.reading() as conn:
            rows = conn.execute(
                select(jobs.c.started_at, jobs.c.completed_at)
                .where(jobs.c.status == "completed", jobs.c.started_at.is_not(None))
                .order_by(jobs.c.seq.desc())
                .limit(recent)
            ).all()
        spans = [r.completed_at - r.started_at for r in rows if r.completed_at and r.started_at]
        return sum(spans) / len(spans) if spans else default

    def expired_ids(self, since: float, until: float) -> list[str]:
        with self.reading() as conn:
            rows = conn.execute(
                select(jobs.c.id).where(jobs.c.expires_at >= since, jobs.c.expires_at < until)
            ).all()
        return [r.id for r in rows]

    def running_count(self) -> int:
        with self.reading() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.status == "in_progress")
                ).scalar_one()
            )

    def delete(self, job_id: str, tenant: str) -> Job | None:
        """Hide a job; a queued job is cancelled, a running one is asked to stop (its worker sees it)."""
        with self.writing() as conn:
            job = self._get(conn, job_id)
            if job is None or job.tenant != tenant or job.deleted:
                return None
            values: dict[str, Any] = {"deleted": True, "updated_at": time.time()}
            if job.status == "queued":
                values["status"] = "cancelled"
            elif job.status == "in_progress":
                values["cancel_requested"] = True
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            return self._get(conn, job_id)

    # ---- jobs: the worker's side --------------------------------------------------------------------

    def recover_expired(self, conn: Connection, now: float) -> list[str]:
        """Return jobs of dead workers to the queue (or fail them after max_attempts). Returns their ids."""
        base = and_(jobs.c.status == "in_progress", jobs.c.lease_expires_at < now)
        cancelled = conn.execute(
            update(jobs)
            .where(base, or_(jobs.c.deleted.is_(True), jobs.c.cancel_requested.is_(True)))
            .values(status="cancelled", lease_owner=None, updated_at=now)
            .returning(jobs.c.id)
        ).all()
        failed = conn.execute(
            update(jobs)
            .where(base, jobs.c.attempts >= jobs.c.max_attempts)
            .values(
                status="failed",
                lease_owner=None,
                lease_expires_at=None,
                progress=0,
                updated_at=now,
                completed_at=now,
                error_code="worker_lost",
                error_message=(
                    "The worker running this video stopped responding on every attempt "
                    "(see the server logs); submit it again."
                ),
            )
            .returning(jobs.c.id)
        ).all()
        requeued = conn.execute(
            update(jobs)
            .where(base)
            .values(status="queued", lease_owner=None, lease_expires_at=None, progress=0, updated_at=now)
            .returning(jobs.c.id)
        ).all()
        for row in failed:
            job = self._get(conn, row.id)
            if job is not None:
                self._enqueue_webhook(conn, job, "video.failed")
        return [r.id for r in (*cancelled, *failed, *requeued)]

    def claim(self, owner: str, lease_seconds: float, models: list[str] | None = None) -> Claim | None:
        """Take the best queued job for `owner` under a lease, or None when the queue is empty.
        `models`: only jobs for these models (a worker takes only what it can run)."""
        now = time.time()
        with self.writing() as conn:
            # The dead-worker sweep runs at most once per sweep_interval per process: a requeue may wait that
            # long after a lease expires, and a claim without it is three statements cheaper.
            if now - self._last_sweep >= self.sweep_interval:
                self.recover_expired(conn, now)
                self._last_sweep = now
            query = (
                select(jobs.c.seq)
                .where(jobs.c.status == "queued", jobs.c.deleted.is_(False))
                .order_by(jobs.c.priority.desc(), jobs.c.seq.asc())
                .limit(1)
            )
            if models is not None:
                query = query.where(jobs.c.model.in_(models))
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            result = conn.execute(
                update(jobs)
                .where(jobs.c.seq == row.seq, jobs.c.status == "queued")
                .values(
                    status="in_progress",
                    lease_owner=owner,
                    lease_expires_at=now + lease_seconds,
                    attempts=jobs.c.attempts + 1,
                    started_at=func.coalesce(jobs.c.started_at, now),
                    progress=0,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return None
            job = conn.execute(select(jobs).where(jobs.c.seq == row.seq)).first()
            claimed = Job.from_row(job)
            if claimed.attempts == 1:
                self._enqueue_webhook(conn, claimed, "video.in_progress")
            return Claim(claimed, owner)

    def heartbeat(self, job_id: str, owner: str, lease_seconds: float, progress: int | None = None) -> str:
        """Renew the lease (and record progress). Returns "ok", "cancel" (the user deleted it) or "lost"."""
        now = time.time()
        values: dict[str, Any] = {"lease_expires_at": now + lease_seconds}
        if progress is not None:
            values["progress"] = int(progress)
            values["updated_at"] = now
        with self.writing() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == "in_progress")
                .values(**values)
                .returning(jobs.c.cancel_requested)
            ).first()
        if result is None:
            return "lost"
        return "cancel" if result.cancel_requested else "ok"

    def complete(self, job_id: str, owner: str, ttl_seconds: float) -> bool:
        now = time.time()
        values = {"status": "completed", "progress": 100, "expires_at": now + ttl_seconds}
        return self._finish(job_id, owner, now, values, "video.completed")

    def fail(self, job_id: str, owner: str, code: str, message: str) -> bool:
        # progress 0: nothing of a failed job is usable (its bar must not stay where it broke)
        values = {"status": "failed", "error_code": code, "error_message": message, "progress": 0}
        return self._finish(job_id, owner, time.time(), values, "video.failed")

    def _finish(self, job_id: str, owner: str, now: float, values: dict, event: str) -> bool:
        """End a job this worker still leases (a lost lease means another worker owns it now) and queue
        its webhook in the same transaction."""
        with self.writing() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == "in_progress")
                .values(
                    **values,
                    completed_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            job = self._get(conn, job_id)
            assert job is not None
            self._enqueue_webhook(conn, job, event)
            return True

    def mark_cancelled(self, job_id: str, owner: str) -> bool:
        now = time.time()
        with self.writing() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
                .values(status="cancelled", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
            return result.rowcount == 1

    # ---- API keys -----------------------------------------------------------------------------------

    def add_key(self, key_id: str, name: str, tier: str, key_hash: str, prefix: str) -> None:
        with self.writing() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id, name=name, tier=tier, key_hash=key_hash, prefix=prefix, created_at=time.time()
                )
            )

    def find_key(self, key_hash: str) -> dict[str, Any] | None:
        with self.reading() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked.is_(False))
            ).first()
        return dict(row._mapping) if row else None

    def list_keys(self) -> list[dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at))]

    def revoke_key(self, key_id: str) -> bool:
        with self.writing() as conn:
            return (
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked=True)).rowcount
                == 1
            )

    def has_keys(self) -> bool:
        """Whether an unrevoked key exists."""
        with self.reading() as conn:
            n = conn.execute(
                select(func.count()).select_from(api_keys).where(api_keys.c.revoked.is_(False))
            ).scalar_one()
        return int(n) > 0

    def ever_had_keys(self) -> bool:
        """Whether any key was ever created, revoked ones included (what `--auth auto` goes by)."""
        with self.reading() as conn:
            return conn.execute(select(api_keys.c.id).limit(1)).first() is not None

    def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of these job ids have a row (deleted ones included)."""
        found: set[str] = set()
        with self.reading() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(select(jobs.c.id).where(jobs.c.id.in_(ids[i : i + 500]))).all()
                found.update(r.id for r in rows)
        return found

    def sweep_expired_leases(self) -> list[str]:
        """Requeue (or fail) the jobs of dead workers now; the API's janitor calls it between claims."""
        with self.writing() as conn:
            return self.recover_expired(conn, time.time())

    # ---- webhooks (an outbox written in the same transaction as the state change) ------------------

    def _enqueue_webhook(self, conn: Connection, job: Job, event_name: str) -> None:
        if not job.callback_url:
            return
        from kinema.serving.schemas import video_object  # the payload is the public video object

        now = time.time()
        payload = {"type": event_name, "created_at": int(now), "data": video_object(job)}
        conn.execute(
            webhooks.insert().values(
                job_id=job.id,
                url=job.callback_url,
                event=event_name,
                payload=json.dumps(payload),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def claim_webhook(self, hold_seconds: float) -> dict[str, Any] | None:
        """Take one due delivery, hiding it from other senders for `hold_seconds`."""
        now = time.time()
        with self.writing() as conn:
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
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            conn.execute(
                update(webhooks).where(webhooks.c.seq == row.seq).values(next_attempt_at=now + hold_seconds)
            )
            return dict(row._mapping)

    def finish_webhook(self, seq: int, delivered: bool, error: str | None, retry_at: float | None) -> None:
        now = time.time()
        values: dict[str, Any] = {"attempts": webhooks.c.attempts + 1, "last_error": error}
        if delivered:
            values.update(status="delivered", delivered_at=now)
        elif retry_at is None:
            values.update(status="failed")
        else:
            values.update(next_attempt_at=retry_at)
        with self.writing() as conn:
            conn.execute(update(webhooks).where(webhooks.c.seq == seq).values(**values))

    def webhook_rows(self, job_id: str) -> list[dict[str, Any]]:
        with self.reading() as conn:
            rows = conn.execute(select(webhooks).where(webhooks.c.job_id == job_id).order_by(webhooks.c.seq))
            return [dict(r._mapping) for r in rows]


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600; SQLite gives its -wal and -shm files the
    same mode): it holds every prompt and the API keys' hashes (issue 15, item 13)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own handling is wrong)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the client hears "queued" (kill -9 and power loss are both safe).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
