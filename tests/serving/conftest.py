"""Fixtures for the server's tests (helpers live in serving_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_helpers import S3Server, Server, make_settings  # noqa: E402


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """One moto_server for the session (each test makes its own bucket); fake credentials for boto3."""
    mp = pytest.MonkeyPatch()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        mp.setenv(name, value)
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log").start()
    yield server
    server.stop()
    mp.undo()


@pytest.fixture
def server_factory(tmp_path) -> Iterator:
    started: list[Server] = []

    def make(database: str | None = None, start_webhooks: bool = True, registry=None, **over) -> Server:
        settings = make_settings(tmp_path, database, **over)
        server = Server(settings, start_webhooks=start_webhooks, registry=registry).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory) -> Server:
    """A server with one in-thread worker running the fake generator."""
    s = server_factory()
    s.start_worker()
    return s


@pytest.fixture(scope="session")
def real_models_dir(tmp_path_factory) -> Path:
    """A models folder holding one real tiny random Kinema model (kinema.pipelines builds it)."""
    from kinema.pipelines.model_folder import create_random_model_folder

    root = tmp_path_factory.mktemp("real-models")
    create_random_model_folder(root / "kinema-tiny", preset="tiny")
    return root


@pytest.fixture(scope="session")
def real_generator():
    """The default backend pool (kinema.backends), shared so the model loads once per test session."""
    from kinema.backends import BackendCache

    return BackendCache()


@pytest.fixture
def real_server(tmp_path, real_models_dir, real_generator) -> Iterator[Server]:
    """A server and one in-thread worker running the real tiny model."""
    settings = make_settings(tmp_path, models_dir=real_models_dir, lease_seconds=30.0, heartbeat_seconds=1.0)
    server = Server(settings).start()
    server.start_worker(real_generator)
    yield server
    server.stop()
