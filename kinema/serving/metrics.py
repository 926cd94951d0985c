"""`/metrics` in the Prometheus text format (issue 29, item 3), written by prometheus-client.

The numbers are read at scrape time from where they are true — the job table (shared by every worker on
every machine), the storage, the supervisor of this server's worker processes — by one custom collector,
so an API process restarted, or a second API process beside it, reports the same queue. Durations are
histograms aggregated in the database (`JobStore.metrics`), one query each.

Exposure (`ServeSettings`): on the public port for anyone by default (as vLLM and SGLang serve theirs);
`metrics_key` asks for `Authorization: Bearer <key>`; `metrics_port` moves it off the public port to
its own listener on `metrics_host` (default 127.0.0.1).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kinema.serving.job_store import Histogram
from kinema.serving.settings import LOCAL_TIER, TIERS, ServeSettings

log = logging.getLogger("kinema.serve")

# Seconds: a tiny model's job takes well under a second, a 720p Wan job on one GPU tens of minutes.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
STATES = ("queued", "in_progress", "completed", "failed", "cancelled")
STORAGE_BYTES_TTL = 30.0  # walking a data dir or listing a bucket is not done on every scrape


def tier_name(priority: int) -> str:
    """The tier whose queue priority this is (the local tenant shares pro's priority: named pro)."""
    for tier in (*TIERS.values(), LOCAL_TIER):
        if tier.priority == priority:
            return tier.name
    return f"priority_{priority}"


class KinemaCollector(Collector):
    """Every Kinema metric, read fresh at each scrape.

    `workers()` → (live worker processes of this server, their restarts so far), or None when this
    process supervises none (`kinema serve --workers 0`, or the tests' in-thread workers)."""

    def __init__(self, service: Any, workers: Callable[[], tuple[int, int] | None]) -> None:
        self.service = service
        self.workers = workers
        self.storage_ttl = STORAGE_BYTES_TTL
        self._bytes: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        q = self.service.jobs.metrics(DURATION_BUCKETS)
        depth = GaugeMetricFamily(
            "kinema_queue_depth", "Jobs waiting to be claimed, by tier", labels=["tier"]
        )
        by_tier: dict[str, int] = {name: 0 for name in TIERS}
        for priority, n in q.queued_by_priority.items():
            by_tier[tier_name(priority)] = by_tier.get(tier_name(priority), 0) + n
        for tier, n in sorted(by_tier.items()):
            depth.add_metric([tier], n)
        yield depth
        states = GaugeMetricFamily("kinema_jobs", "Jobs in the job table, by state", labels=["state"])
        for state in sorted({*STATES, *q.jobs_by_status}):
            states.add_metric([state], q.jobs_by_status.get(state, 0))
        yield states
        yield _histogram("kinema_job_queued_seconds", "From submission to the first claim", q.queued_seconds)
        yield _histogram(
            "kinema_job_running_seconds",
            "From the first claim to completion or failure (retries included)",
            q.running_seconds,
        )
        per_model = HistogramMetricFamily(
            "kinema_generation_seconds", "Seconds a completed job ran, by model", labels=["model"]
        )
        for model, h in sorted(q.generation_seconds.items()):
            per_model.add_metric([model], _buckets(h), sum_value=h.total)
        yield per_model
        busy = GaugeMetricFamily("kinema_workers_busy", "Workers (on any machine) holding a job's lease")
        busy.add_metric([], q.busy_workers)
        yield busy
        counts = self.service.workers.counts(alive_within=self.service.settings.lease_seconds)
        yield GaugeMetricFamily(
            "kinema_workers_alive", "Workers on any machine seen within a lease period", counts.alive
        )
        yield CounterMetricFamily(
            "kinema_workers_lost",
            "Workers that stopped being seen without exiting (kill -9, a lost machine)",
            counts.lost,
        )
        supervised = self.workers()
        if supervised is not None:
            alive, restarts = supervised
            yield GaugeMetricFamily(
                "kinema_workers", "Worker processes this server runs and are alive", alive
            )
            yield CounterMetricFamily(
                "kinema_worker_restarts", "Worker processes restarted after they died", restarts
            )
        stored = GaugeMetricFamily(
            "kinema_storage_bytes", "Bytes of uploads and outputs in storage", labels=["storage"]
        )
        stored.add_metric([self.service.storage.kind], self._storage_bytes())
        yield stored

    def _storage_bytes(self) -> int:
        with self._lock:
            now = time.monotonic()
            if self._bytes is None or now - self._bytes[0] >= self.storage_ttl:
                self._bytes = (now, self.service.storage.bytes_stored())
            return self._bytes[1]


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    return [*((repr(float(b)), c) for b, c in zip(h.bounds, h.cumulative)), ("+Inf", h.count)]


def _histogram(name: str, documentation: str, h: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, documentation, buckets=_buckets(h), sum_value=h.total)


def make_registry(collector: KinemaCollector) -> CollectorRegistry:
    """A registry of this app's own (not the process-wide default, so two apps in one process, as in the
    tests, do not collide)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve_separately(registry: CollectorRegistry, settings: ServeSettings) -> Any:
    """`metrics_port`: a listener of its own (prometheus-client's), off the public port."""
    server, _ = start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server
