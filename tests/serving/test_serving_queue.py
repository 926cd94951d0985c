"""The durable queue itself, on SQLite and (when available) a real PostgreSQL: ordering, leases, races."""

from __future__ import annotations

import threading
import time

import pytest
from serving_helpers import fresh_pg_database

from kinema.serving.store import JobStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = fresh_pg_database()
    s = JobStore(url)
    s.sweep_interval = 0.0  # sweep on every claim, so lease expiry shows without waiting
    yield s
    s.dispose()


def submit(store: JobStore, priority: int = 0, tenant: str = "t", max_attempts: int = 3) -> str:
    with store.writing() as conn:
        job = store.insert_job(
            conn, tenant=tenant, model="m", task="text", priority=priority, prompt="p",
            params={"width": 32}, seconds="1", size="32x32", max_attempts=max_attempts,
        )  # fmt: skip
    return job.id


def test_claims_follow_priority_then_submission_order(store):
    low1, high, low2, mid = submit(store, 0), submit(store, 20), submit(store, 0), submit(store, 10)
    order = [store.claim("w", 30).job.id for _ in range(4)]
    assert order == [high, mid, low1, low2]
    assert store.claim("w", 30) is None
    assert store.get(high).status == "in_progress" and store.get(high).attempts == 1


def test_expired_lease_requeues_then_fails_after_max_attempts(store):
    vid = submit(store, max_attempts=2)
    first = store.claim("dead-1", lease_seconds=0.2)
    assert first.job.id == vid
    assert store.heartbeat(vid, "dead-1", 0.2, progress=40) == "ok"
    time.sleep(0.3)
    second = store.claim("dead-2", lease_seconds=0.2)  # the sweep put it back; dead-2 takes it
    assert (
        second is not None and second.job.id == vid and second.job.attempts == 2 and second.job.progress == 0
    )
    assert store.heartbeat(vid, "dead-1", 30) == "lost"  # the first worker's lease is gone for good
    assert not store.complete(vid, "dead-1", 60)
    time.sleep(0.3)
    assert store.claim("w3", 30) is None
    job = store.get(vid)
    assert (
        job.status == "failed" and job.error_code == "worker_lost" and "submit it again" in job.error_message
    )


def test_a_worker_claims_only_jobs_for_models_it_has(store):
    vid = submit(store)  # model "m"
    assert store.claim("w", 30, models=["other"]) is None
    assert store.claim("w", 30, models=["other", "m"]).job.id == vid


def test_heartbeat_reports_cancel_after_delete(store):
    vid = submit(store)
    store.claim("w", 30)
    store.delete(vid, "t")
    assert store.heartbeat(vid, "w", 30) == "cancel"
    assert store.get(vid) is None and store.get(vid, include_deleted=True).cancel_requested


def test_concurrent_claims_never_hand_out_a_job_twice(store):
    ids = {submit(store) for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            while True:
                c = store.claim(f"w{n}", 30)
                if c is None:
                    return
                with lock:
                    claimed.append(c.job.id)
                assert store.complete(c.job.id, f"w{n}", 60)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(claimed) == sorted(ids)  # every job exactly once
