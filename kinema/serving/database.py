"""The server's SQL database: engines, transactions and table creation (SQLAlchemy Core).

SQLite (WAL, `synchronous=FULL`) is the default; PostgreSQL serves many workers on many machines. Every
state change commits before the caller answers, so nothing a client was told about is lost when a server or
worker is killed (ComfyUI keeps its queue in memory and loses it on restart; Kinema must not).

On SQLite every write transaction is `BEGIN IMMEDIATE`, which serialises writers; readers use deferred
transactions beside them (WAL). The tables are declared by their stores (job_store.py, key_store.py,
webhook_store.py) on the one `metadata` here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Engine, make_url

metadata = MetaData()
_DDL_LOCK = 724145  # PostgreSQL advisory lock serialising table creation between processes


class Database:
    """One database URL: a read and a write engine (the same one on PostgreSQL)."""

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
        if create:
            self.create_tables()

    def create_tables(self) -> None:
        """Create the tables declared so far (each store's module declares its own on import; `Store`
        imports all three) and the columns added since the database was made."""
        if self.is_postgres:
            # Two processes creating tables at once race on pg_type; an advisory lock serialises them.
            with self.write_engine.begin() as conn:
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})"))
                metadata.create_all(conn)
        else:
            metadata.create_all(self.write_engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a database was made (create_all makes tables, never columns)."""
        with self.write_engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})"))
            for table in metadata.sorted_tables:
                have = {c["name"] for c in sa_inspect(conn).get_columns(table.name)}
                for column in table.columns:
                    if column.name not in have:
                        kind = column.type.compile(dialect=conn.dialect)
                        conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))

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
