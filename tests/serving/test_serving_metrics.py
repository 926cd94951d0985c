"""`/metrics` (issue 29, item 3), scraped from a real server and read by prometheus-client's own parser."""

from __future__ import annotations

import os
import signal
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from serving_helpers import free_port, kill_hard, spawn_worker

from kinema.serving.supervisor import Supervisor


def scrape(url: str, key: str | None = None) -> dict[str, dict[tuple, float]]:
    """{metric sample name: {sorted label items: value}} of one scrape, parsed as Prometheus parses it."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(url, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def data_bytes(root) -> int:
    return sum(
        p.stat().st_size for top in ("inputs", "videos") for p in (root / top).rglob("*") if p.is_file()
    )


def test_metrics_report_the_queue_jobs_durations_workers_and_storage(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        waiting = [c.post("/v1/videos", json={"prompt": f"wait {i}"}).json()["id"] for i in range(3)]
    m = scrape(server.url + "/metrics")
    assert m["kinema_queue_depth"][(("tier", "pro"),)] == 3  # the local tenant queues at pro's priority
    assert m["kinema_queue_depth"][(("tier", "free"),)] == 0
    assert m["kinema_jobs"][(("state", "queued"),)] == 3
    assert m["kinema_job_queued_seconds_count"][()] == 0
    assert "kinema_workers" not in m  # this server supervises no worker processes

    server.start_worker()
    with server.client() as c:
        bad = c.post("/v1/videos", json={"prompt": "explode"}).json()["id"]
    for vid in waiting:
        assert server.wait_for(vid)["status"] == "completed"
    assert server.wait_for(bad)["status"] == "failed"
    m = scrape(server.url + "/metrics")
    assert m["kinema_queue_depth"][(("tier", "pro"),)] == 0
    assert m["kinema_jobs"][(("state", "completed"),)] == 3
    assert m["kinema_jobs"][(("state", "failed"),)] == 1
    assert m["kinema_job_queued_seconds_count"][()] == 4
    assert m["kinema_job_running_seconds_count"][()] == 4
    model = (("model", "fake-tiny"),)
    assert m["kinema_generation_seconds_count"][model] == 3  # completed jobs only
    buckets = sorted(
        (float(dict(labels)["le"]), v) for labels, v in m["kinema_generation_seconds_bucket"].items()
    )
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 3  # cumulative, ending at +Inf = the count
    jobs = server.store.jobs
    ran = [j.completed_at - j.started_at for j in (jobs.get(v) for v in waiting)]
    assert abs(m["kinema_generation_seconds_sum"][model] - sum(ran)) < 1e-6
    stored = m["kinema_storage_bytes"][(("storage", "file"),)]
    assert stored < data_bytes(server.settings.data_dir)  # read once per storage_ttl (30 s): still the first
    server.app.state.metrics.storage_ttl = 0.0
    m = scrape(server.url + "/metrics")
    assert m["kinema_storage_bytes"][(("storage", "file"),)] == data_bytes(server.settings.data_dir) > 0
    assert m["kinema_workers_alive"][()] == 1 and m["kinema_workers_lost_total"][()] == 0
    server.stop_workers()  # a clean exit: no longer alive, not lost
    m = scrape(server.url + "/metrics")
    assert m["kinema_workers_alive"][()] == 0 and m["kinema_workers_lost_total"][()] == 0


def test_metrics_see_workers_of_other_machines_and_count_a_kill_9_as_lost(server_factory):
    server = server_factory(start_webhooks=False)  # lease 2 s: a worker unseen for 2 s is lost
    workers = [spawn_worker(server.settings) for _ in range(2)]
    try:
        deadline = time.time() + 60
        while scrape(server.url + "/metrics")["kinema_workers_alive"][()] < 2:
            assert time.time() < deadline, "the workers never said they were alive"
            time.sleep(0.2)
        kill_hard(workers[0])
        deadline = time.time() + 20
        while (m := scrape(server.url + "/metrics"))["kinema_workers_lost_total"][()] < 1:
            assert time.time() < deadline, "the killed worker was never counted as lost"
            time.sleep(0.2)
        assert m["kinema_workers_alive"][()] == 1 and m["kinema_workers_lost_total"][()] == 1
    finally:
        for w in workers:
            kill_hard(w)


def test_metrics_count_supervised_workers_and_their_restarts(server_factory):
    server = server_factory(start_webhooks=False)
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    supervisor = Supervisor(sleeper, 2, min_backoff=0.05, poll=0.05).start()
    server.app.state.supervisor = supervisor
    try:
        m = scrape(server.url + "/metrics")
        assert m["kinema_workers"][()] == 2 and m["kinema_worker_restarts_total"][()] == 0
        os.kill(supervisor.pids()[0], signal.SIGKILL)
        deadline = time.time() + 20
        while supervisor.stats() != (2, 1):
            assert time.time() < deadline, supervisor.stats()
            time.sleep(0.05)
        m = scrape(server.url + "/metrics")
        assert m["kinema_workers"][()] == 2 and m["kinema_worker_restarts_total"][()] == 1
    finally:
        supervisor.stop(timeout=5)


def test_metrics_behind_a_key_or_on_their_own_port(server_factory):
    keyed = server_factory(start_webhooks=False, metrics_key="scrape-secret")
    r = httpx.get(keyed.url + "/metrics")
    assert r.status_code == 401 and "metrics key" in r.json()["error"]["message"]
    assert httpx.get(keyed.url + "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "kinema_jobs" in scrape(keyed.url + "/metrics", key="scrape-secret")

    port = free_port()
    private = server_factory(start_webhooks=False, metrics_port=port)
    assert httpx.get(private.url + "/metrics").status_code == 404  # not on the public port
    assert "kinema_queue_depth" in scrape(f"http://127.0.0.1:{port}/metrics")
