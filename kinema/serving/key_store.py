"""The api_keys table: a key's hash, name and tier (the key itself is shown once, never stored)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Boolean, Column, Float, String, Table, func, select, update

from kinema.serving.database import Database, metadata

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


class KeyStore:
    """The API keys (`kinema keys`, and the server's auth)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, key_id: str, name: str, tier: str, key_hash: str, prefix: str) -> None:
        with self.db.writing() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id, name=name, tier=tier, key_hash=key_hash, prefix=prefix, created_at=time.time()
                )
            )

    def find(self, key_hash: str) -> dict[str, Any] | None:
        with self.db.reading() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked.is_(False))
            ).first()
        return dict(row._mapping) if row else None

    def list(self) -> list[dict[str, Any]]:
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at))]

    def revoke(self, key_id: str) -> bool:
        with self.db.writing() as conn:
            return (
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked=True)).rowcount
                == 1
            )

    def has_keys(self) -> bool:
        """Whether an unrevoked key exists."""
        with self.db.reading() as conn:
            n = conn.execute(
                select(func.count()).select_from(api_keys).where(api_keys.c.revoked.is_(False))
            ).scalar_one()
        return int(n) > 0

    def ever_had_keys(self) -> bool:
        """Whether any key was ever created, revoked ones included (what `--auth auto` goes by)."""
        with self.db.reading() as conn:
            return conn.execute(select(api_keys.c.id).limit(1)).first() is not None
