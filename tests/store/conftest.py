"""Store fixtures: a database stopped before a migration, to test that migration on existing rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

from rebrowse.store.database import Database, migrate
from rebrowse.store.embedded import with_database


@asynccontextmanager
async def migrated_before(postgres: str, version: int) -> AsyncIterator[Database]:
    """A new database migrated up to (not including) migration `version`, dropped afterwards."""
    name = f"m_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = Database(with_database(postgres, name), max_size=1)
    try:
        await db.open()
        await migrate(db, before=version)
        yield db
    finally:
        await db.close()
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
