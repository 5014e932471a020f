"""An account's named upstream proxies: the URL with its credentials sealed, shown without its password.

A task with use_proxy goes through the proxy its automation's settings name, else the account's proxy named
"default", else the server's (REBROWSE_PROXY_URL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb

from rebrowse.browser.upstream import UpstreamProxy
from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer

DEFAULT = "default"
NO_PROXY = (
    "use_proxy is set but no proxy is configured: REBROWSE_PROXY_URL on the server, or PUT /api/v1/proxies/default"
)


@dataclass(frozen=True)
class StoredProxy:
    """A named proxy as shown: its URL without the password, its bypass list."""

    name: str
    shown: str
    bypass: list[str]
    updated_at: datetime


async def put_proxy(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, name: str, url: str, proxy: UpstreamProxy
) -> StoredProxy:
    """Create or replace the account's proxy `name` (`proxy`: `url` parsed, with its bypass list)."""
    row = await (
        await conn.execute(
            "INSERT INTO proxies (account_id, name, url, shown, bypass)"
            " VALUES (%(account)s, %(name)s, %(url)s, %(shown)s, %(bypass)s)"
            " ON CONFLICT (account_id, name) DO UPDATE SET url = excluded.url, shown = excluded.shown,"
            " bypass = excluded.bypass, updated_at = now()"
            " RETURNING name, shown, bypass, updated_at",
            {
                "account": account_id,
                "name": name,
                "url": sealer.seal(url.encode()),
                "shown": proxy.shown,
                "bypass": Jsonb(list(proxy.bypass)),
            },
        )
    ).fetchone()
    assert row is not None
    return StoredProxy(**row)


async def list_proxies(conn: Connection, account_id: uuid.UUID) -> list[StoredProxy]:
    rows = await (
        await conn.execute(
            "SELECT name, shown, bypass, updated_at FROM proxies WHERE account_id = %(account)s ORDER BY name",
            {"account": account_id},
        )
    ).fetchall()
    return [StoredProxy(**row) for row in rows]


async def has_proxy(conn: Connection, account_id: uuid.UUID, name: str) -> bool:
    row = await (
        await conn.execute(
            "SELECT 1 FROM proxies WHERE account_id = %(account)s AND name = %(name)s",
            {"account": account_id, "name": name},
        )
    ).fetchone()
    return row is not None


async def open_proxy(conn: Connection, sealer: Sealer, account_id: uuid.UUID, name: str) -> UpstreamProxy | None:
    """The account's proxy `name`, its URL opened (SealingError when this server's key did not seal it)."""
    row = await (
        await conn.execute(
            "SELECT url, bypass FROM proxies WHERE account_id = %(account)s AND name = %(name)s",
            {"account": account_id, "name": name},
        )
    ).fetchone()
    if row is None:
        return None
    return UpstreamProxy.parse(sealer.open(row["url"]).decode(), row["bypass"])


async def delete_proxy(conn: Connection, account_id: uuid.UUID, name: str) -> bool:
    cursor = await conn.execute(
        "DELETE FROM proxies WHERE account_id = %(account)s AND name = %(name)s", {"account": account_id, "name": name}
    )
    return cursor.rowcount > 0
