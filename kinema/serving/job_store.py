"""The jobs table: submit, read, claim under a lease, heartbeat, finish (SQLAlchemy Core).

Claims: a worker takes the best queued job (priority desc, then submission order) under a lease it renews
with heartbeats. On PostgreSQL the candidate row is locked `FOR UPDATE SKIP LOCKED`, so two workers never
take the same job; on SQLite every write transaction is `BEGIN IMMEDIATE`, which serialises writers. A job
whose lease expired (its worker died) goes back to the queue, at most `max_attempts` times, then fails.

Every change of a job's public state (queued, in progress, completed, failed) is handed to `events` inside
its transaction: `Store` wires the webhook outbox there, so a delivery is recorded exactly when the change
commits. This module knows nothing of the API's shapes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from kinema.serving.database import Database, metadata

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

ACTIVE = ("queued", "in_progress")


@dataclass
class Histogram:
    """Observations as Prometheus keeps them: cumulative counts at each bucket bound, count and sum."""

    bounds: tuple[float, ...]
    cumulative: list[int]
    count: int
    total: float


@dataclass
class QueueMetrics:
    queued_by_priority: dict[int, int]
    jobs_by_status: dict[str, int]
    busy_workers: int
    queued_seconds: Histogram
    running_seconds: Histogram
    generation_seconds: dict[str, Histogram]  # per model, completed jobs


def _histogram_row(conn: Connection, value: Any, where: Any, bounds: tuple[float, ...]) -> Histogram:
    """One query: how many rows have `value` ≤ each bound, how many in all, and their sum."""
    columns = [func.sum(case((value <= b, 1), else_=0)) for b in bounds]
    row = conn.execute(select(func.count(), func.sum(value), *columns).where(where)).one()
    return Histogram(bounds, [int(c or 0) for c in row[2:]], int(row[0] or 0), float(row[1] or 0.0))


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
        return cls.from_columns(row._mapping)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> Job:
        """A job from its column values (a row, or `columns()` kept as JSON)."""
        data = dict(columns)
        data["params"] = json.loads(data["params"])
        data["deleted"] = bool(data["deleted"])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)

    def columns(self) -> dict[str, Any]:
        """The row's column values, JSON-ready (what `from_columns` reads back)."""
        data = asdict(self)
        data["params"] = json.dumps(self.params)
        return data


@dataclass
class Claim:
    job: Job
    owner: str


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# Called inside the transaction of every public state change: (connection, the job as changed, event name).
JobEvents = Callable[[Connection, Job, str], None]


class JobStore:
    """The jobs table. Routes (through the service), workers and the janitor call these methods."""

    def __init__(self, db: Database | str, events: JobEvents | None = None) -> None:
        self.db = Database(db) if isinstance(db, str) else db
        self.reading, self.writing = self.db.reading, self.db.writing  # the database's transactions
        self.events = events
        self._last_sweep = 0.0
        # Seconds between dead-worker sweeps in claim(); it only has to keep up with lease expiry.
        self.sweep_interval = 1.0
        self._mean_cache: tuple[float, float] | None = None  # (computed at, value)

    def dispose(self) -> None:
        self.db.dispose()

    def _changed(self, conn: Connection, job: Job, event_name: str) -> None:
        if self.events is not None:
            self.events(conn, job, event_name)

    # ---- jobs: submit and read ----------------------------------------------------------------------

    def lock_tenant(self, conn: Connection, tenant: str) -> None:
        """Serialise a tenant's submissions so that quota and concurrency checks cannot race."""
        if self.db.is_postgres:
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
        self._changed(conn, job, "video.queued")
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
                self._changed(conn, job, "video.failed")
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
            if self.db.is_postgres:
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
                self._changed(conn, claimed, "video.in_progress")
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
            self._changed(conn, job, event)
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

    def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of these job ids have a row (deleted ones included)."""
        return set(self.statuses(ids))

    def statuses(self, ids: list[str]) -> dict[str, str]:
        """The status of each of these job ids that has a row (deleted ones included)."""
        found: dict[str, str] = {}
        with self.reading() as conn:
            for i in range(0, len(ids), 500):
                query = select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(ids[i : i + 500]))
                found.update((r.id, r.status) for r in conn.execute(query).all())
        return found

    def metrics(self, buckets: tuple[float, ...]) -> QueueMetrics:
        """The queue's numbers for /metrics, aggregated in the database (a scrape reads no job rows):
        queued jobs by priority, jobs by status, busy workers, and for each duration histogram the count
        at or under each bucket bound, the count and the sum."""
        queued_for = jobs.c.started_at - jobs.c.created_at
        ran_for = jobs.c.completed_at - jobs.c.started_at
        finished = and_(jobs.c.status.in_(FINISHED), jobs.c.started_at.is_not(None))
        with self.reading() as conn:
            by_priority = conn.execute(
                select(jobs.c.priority, func.count())
                .where(jobs.c.status == "queued", jobs.c.deleted.is_(False))
                .group_by(jobs.c.priority)
            ).all()
            by_status = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
            busy = conn.execute(
                select(func.count(func.distinct(jobs.c.lease_owner))).where(jobs.c.status == "in_progress")
            ).scalar_one()
            queued = _histogram_row(conn, queued_for, jobs.c.started_at.is_not(None), buckets)
            running = _histogram_row(conn, ran_for, finished, buckets)
            per_model = {
                model: _histogram_row(
                    conn,
                    ran_for,
                    and_(finished, jobs.c.model == model, jobs.c.status == "completed"),
                    buckets,
                )
                for (model,) in conn.execute(
                    select(jobs.c.model).where(jobs.c.status == "completed").group_by(jobs.c.model)
                ).all()
            }
        return QueueMetrics(
            queued_by_priority={int(p): int(n) for p, n in by_priority},
            jobs_by_status={str(st): int(n) for st, n in by_status},
            busy_workers=int(busy or 0),
            queued_seconds=queued,
            running_seconds=running,
            generation_seconds=per_model,
        )

    def sweep_expired_leases(self) -> list[str]:
        """Requeue (or fail) the jobs of dead workers now; the API's janitor calls it between claims."""
        with self.writing() as conn:
            return self.recover_expired(conn, time.time())
