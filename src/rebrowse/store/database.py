"""The connection pool and the schema: the queue's tables, then our migrations, applied in order once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from psycopg import AsyncConnection, InterfaceError, OperationalError
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from rebrowse.queue import schema as queue_schema
from rebrowse.store import locks

# How long a caller waits for a connection before PoolTimeout: while the database is down, an API request is
# answered 503 after this (not after psycopg_pool's 30 s default).
CONNECTION_WAIT_S = 5.0
# psycopg_pool retries a lost connection with a doubling delay (1, 2, 4, 8, 16 s...) for reconnect_timeout
# (5 min by default), so after an outage of 20 s the next try could come 15 s after the database was back.
# Giving a try up after a few seconds makes the next request that waits start a new one at once instead.
RECONNECT_S = 3.0
# A client whose host vanishes (unplugged, cut off, powered down) never closes its connections, and the server
# keeps them, with what they hold (the workers' recovery lock, a transaction's row locks), until the kernel's
# keepalive gives up: two hours by default. Every connection therefore asks the server to probe it after 5 s of
# silence and to drop it after 3 unanswered probes 5 s apart, or after 20 s of unacknowledged data. The server
# ignores these on Unix sockets.
DROP_VANISHED_CLIENTS = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3;"
    " SET tcp_user_timeout = 20000"
)
Connection = AsyncConnection[DictRow]
# What a database that cannot be reached raises (the pool's PoolTimeout is an OperationalError too).
DATABASE_DOWN = (OperationalError, InterfaceError)


class Database:
    """A pool of connections to the deployment's PostgreSQL."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, connection_wait_s: float = CONNECTION_WAIT_S
    ) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=connection_wait_s,
            reconnect_timeout=RECONNECT_S,
            open=False,
            kwargs={"row_factory": dict_row, "autocommit": True},
            connection_class=AsyncConnection[DictRow],
            configure=drop_when_vanished,
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection in autocommit mode."""
        async with self.pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside one transaction, committed when the block ends without error."""
        async with self.pool.connection() as conn, conn.transaction():
            yield conn


async def ping(conn: Connection) -> None:
    """A round trip to the database (raises when it cannot be reached)."""
    await conn.execute("SELECT 1")


async def drop_when_vanished(conn: Connection) -> None:
    """Have the server drop this connection when its client's host is gone (see DROP_VANISHED_CLIENTS)."""
    await conn.execute(DROP_VANISHED_CLIENTS)


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with rebrowse (the store's and the queue adapter's), in
    order."""
    found = []
    for package in ("rebrowse.store", queue_schema.MIGRATIONS_PACKAGE):
        for entry in resources.files(package).joinpath("sql").iterdir():
            if entry.name.endswith(".sql"):
                found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


async def migrate(db: Database, *, before: int | None = None) -> list[str]:
    """Apply the queue's schema and our pending migrations (only those numbered below `before`, when given:
    a test of a migration starts from the schema before it); returns the names applied.

    QueueSchemaMismatch, before anything is applied, when the queue's installed library is not the one expected."""
    applied: list[str] = []
    queue_schema.check_installed()
    async with db.transaction() as conn:
        await locks.hold_for_transaction(conn, locks.MIGRATION)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS rebrowse_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        if await queue_schema.install(conn):
            applied.append(queue_schema.SCHEMA_NAME)
        rows = await (await conn.execute("SELECT version FROM rebrowse_migrations")).fetchall()
        done = {row["version"] for row in rows}
        for version, name, sql in migration_files():
            if version in done or (before is not None and version >= before):
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO rebrowse_migrations (version, name) VALUES (%(version)s, %(name)s)",
                {"version": version, "name": name},
            )
            applied.append(name)
    return applied


async def migrate_url(url: str) -> list[str]:
    """migrate() the database at `url` through a connection of its own; returns the names applied."""
    db = Database(url, max_size=1)
    await db.open()
    try:
        return await migrate(db)
    finally:
        await db.close()
