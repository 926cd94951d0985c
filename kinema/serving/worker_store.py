"""The workers table: every worker, on any machine, says it is alive here (issue 29, item 3: the worker
count of /metrics must see workers that this API process did not start).

A worker inserts its row at start, renews `last_seen` every heartbeat period while it polls or works, and
marks `stopped_at` when it exits cleanly. A row whose `last_seen` is older than the lease and that never
stopped is a worker that died without a goodbye (kill -9, a lost machine): `/metrics` counts those as lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Column, Float, String, Table, and_, func, insert, select, update

from kinema.serving.database import Database, metadata

workers = Table(
    "workers",
    metadata,
    Column("owner", String(128), primary_key=True),  # the lease owner name: host:pid:random
    Column("host", String(255), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("stopped_at", Float),
)


@dataclass
class WorkerCounts:
    alive: int  # seen within the lease period, not stopped
    lost: int  # not seen for a lease period and never stopped: died without a goodbye
    stopped: int  # exited cleanly


class WorkerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def beat(self, owner: str, host: str) -> None:
        """This worker is alive now (its first beat inserts its row)."""
        now = time.time()
        with self.db.writing() as conn:
            done = conn.execute(update(workers).where(workers.c.owner == owner).values(last_seen=now))
            if done.rowcount == 0:
                conn.execute(insert(workers).values(owner=owner, host=host, started_at=now, last_seen=now))

    def stopped(self, owner: str) -> None:
        with self.db.writing() as conn:
            conn.execute(update(workers).where(workers.c.owner == owner).values(stopped_at=time.time()))

    def counts(self, alive_within: float) -> WorkerCounts:
        cutoff = time.time() - alive_within
        running = workers.c.stopped_at.is_(None)
        with self.db.reading() as conn:
            alive, lost, stopped = conn.execute(
                select(
                    func.count().filter(and_(running, workers.c.last_seen >= cutoff)),
                    func.count().filter(and_(running, workers.c.last_seen < cutoff)),
                    func.count().filter(workers.c.stopped_at.is_not(None)),
                )
            ).one()
        return WorkerCounts(int(alive), int(lost), int(stopped))
