"""The characters table: a named picture of a subject, cut from an uploaded video (OpenAI's
`client.videos.create_character`), that a create request names as a reference for models that take one.

The picture (a PNG of at most `REFERENCE_SIDE` pixels a side) is kept in the database itself, not in the
file storage: it is small, a worker on any machine reads it where it reads the job, and no janitor sweep
of job-less input folders can take it away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, LargeBinary, String, Table, select

from kinema.serving.database import Database, metadata

characters = Table(
    "characters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("image", LargeBinary, nullable=False),  # PNG
)


@dataclass(frozen=True)
class Character:
    id: str
    tenant: str
    name: str
    created_at: float
    width: int
    height: int
    image: bytes


class CharacterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self, character_id: str, tenant: str, name: str, image: bytes, width: int, height: int
    ) -> Character:
        row = Character(character_id, tenant, name, time.time(), width, height, image)
        with self.db.writing() as conn:
            conn.execute(characters.insert().values(**row.__dict__))
        return row

    def get(self, character_id: str, tenant: str) -> Character | None:
        """The tenant's character, or None (another tenant's is as unknown as a missing one)."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(characters).where(characters.c.id == character_id, characters.c.tenant == tenant)
            ).first()
        return Character(**row._mapping) if row else None
