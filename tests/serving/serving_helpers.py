"""Helpers for the server's tests: a real uvicorn server on 127.0.0.1, workers in threads or processes.

(A module of its own, not conftest.py: several test folders have a conftest, so importing from "conftest"
would be ambiguous.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from kinema.pipelines.model_config import ModelFolderConfig
from kinema.serving.app import create_app
from kinema.serving.registry import ModelRegistry
from kinema.serving.settings import ServeSettings
from kinema.serving.storage import make_storage
from kinema.serving.store import Store
from kinema.serving.worker import Worker

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from serving_fakes import FakeGenerator  # noqa: E402

PG_URL = os.environ.get("KINEMA_TEST_POSTGRES_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_fake_model(root: Path, name: str = "fake-tiny") -> Path:
    """A model folder with only kinema.json: enough for the API; the fake generator needs no weights."""
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    config = ModelFolderConfig(name=name, width=32, height=32, num_frames=9, max_frames=33, fps=8.0)
    (path / "kinema.json").write_text(config.to_json())
    return path


def fake_and_plain_registry(tmp_path: Path) -> ModelRegistry:
    """Two models: `fake-tiny` (the default; every option, physics mode included) and `plain-tiny`, the
    same folder's facts without physics mode and camera control (as a diffusers model without them)."""
    import dataclasses

    from kinema.serving.registry import read_model_info

    root = tmp_path / "models"
    fake = read_model_info(root / "fake-tiny" if root.exists() else write_fake_model(root))
    plain = dataclasses.replace(
        fake,
        name="plain-tiny",
        options=tuple(o for o in fake.options if not o.startswith(("physics", "camera"))),
    )
    return ModelRegistry([fake, plain], default="fake-tiny")


class Server:
    """A real server on a loopback port, run by uvicorn in a thread of this process."""

    def __init__(
        self, settings: ServeSettings, start_webhooks: bool = True, registry: ModelRegistry | None = None
    ) -> None:
        self.settings = settings
        self.store = Store(settings.database_url())
        self.registry = registry or ModelRegistry.from_settings(settings)
        self.app = create_app(settings, self.store, self.registry, start_webhooks=start_webhooks)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.workers: list[tuple[Worker, threading.Thread]] = []

    def start(self) -> Server:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def start_worker(self, generator=None) -> Worker:
        worker = Worker(
            self.store.jobs,
            make_storage(self.settings),
            self.registry,
            generator or FakeGenerator(),
            self.settings,
        )
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        self.workers.append((worker, thread))
        return worker

    def stop_workers(self) -> None:
        for worker, _ in self.workers:
            worker.stop_event.set()
        for _, thread in self.workers:
            thread.join(timeout=10)
        self.workers = []

    def stop(self) -> None:
        self.stop_workers()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.store.dispose()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_for(
        self, video_id: str, statuses=("completed", "failed"), key: str | None = None, timeout: float = 30
    ):
        with self.client(key) as c:
            deadline = time.time() + timeout
            while time.time() < deadline:
                body = c.get(f"/v1/videos/{video_id}").json()
                if body.get("status") in statuses:
                    return body
                time.sleep(0.05)
        raise AssertionError(f"{video_id} did not reach {statuses}: {body}")


def serve_process(
    args: list[str], root: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """`kinema serve` on 127.0.0.1 as a separate process (its output in `root/serve.log`), once `/healthz`
    answers → (the process, its base URL). `args` follow `--host/--port`; `env` replaces os.environ."""
    port = free_port()
    cmd = [sys.executable, "-m", "kinema.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    log = open(root / "serve.log", "wb")  # noqa: SIM115 - open for the server's whole life
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("kinema serve exited:\n" + (root / "serve.log").read_text()[-3000:])
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("kinema serve did not come up")


def make_settings(tmp_path: Path, database: str | None = None, **over) -> ServeSettings:
    models_dir = tmp_path / "models"
    if not models_dir.exists():
        write_fake_model(models_dir)
    values = dict(
        data_dir=tmp_path / "data",
        database=database,
        models_dir=models_dir,
        auth="auto",
        lease_seconds=2.0,
        heartbeat_seconds=0.3,
        poll_seconds=0.05,
        webhook_backoff_seconds=0.2,
        # The queue and API tests compare pixels with their inputs; the visible mark (on by default for a
        # server) is tested on its own in test_serving_provenance.py.
        visible_label=False,
    )
    values.update(over)
    return ServeSettings(**values)


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def spawn_worker(settings: ServeSettings, **env: str) -> subprocess.Popen:
    """`python -m kinema.serving.worker` with the fake generator, as its own process (so it can be killed)."""
    cmd = [
        sys.executable, "-m", "kinema.serving.worker",
        "--database", settings.database_url(),
        "--data-dir", str(settings.data_dir),
        "--models-dir", str(settings.models_dir),
        "--backends", "serving_fakes:make_backends",
        "--lease-seconds", str(settings.lease_seconds),
        "--heartbeat-seconds", str(settings.heartbeat_seconds),
        "--max-attempts", str(settings.max_attempts),
    ]  # fmt: skip
    if settings.storage:
        cmd += ["--storage", settings.storage]
    if settings.s3_endpoint_url:
        cmd += ["--s3-endpoint-url", settings.s3_endpoint_url]
    return subprocess.Popen(cmd, env=worker_env(**env), cwd=REPO, start_new_session=True)


def kill_hard(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def pg_url_or_skip() -> str:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need KINEMA_TEST_POSTGRES_URL (the CI script starts a throwaway cluster)"
        )
    return PG_URL


def fresh_pg_database() -> str:
    """A fresh database on the test cluster for one test (so tests never share tables)."""
    import uuid

    from sqlalchemy import create_engine, text

    url = pg_url_or_skip()
    name = f"kt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


class S3Server:
    """A real S3-compatible server (moto's `moto_server`, a standalone process speaking the S3 protocol
    over HTTP) on a loopback port, with throwaway credentials in the environment."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log

    def start(self) -> S3Server:
        exe = Path(sys.executable).with_name("moto_server")
        if not exe.exists():
            pytest.skip("the S3 tests need moto[server] (pip install 'kinema[test]')")
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(self.url + "/", timeout=1)
                return self
            except httpx.HTTPError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"moto_server did not start: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")

    def make_bucket(self, name: str | None = None) -> str:
        import uuid

        name = name or f"kinema-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        kill_hard(self.proc)
