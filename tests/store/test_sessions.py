"""Kept browser states and named proxies in the store: sealed at rest, one state per login, expiry, tenancy."""

from __future__ import annotations

import uuid
from typing import Any

from rebrowse.browser.upstream import UpstreamProxy
from rebrowse.store import accounts, proxies, sessions
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key

DAY_S = 86400.0
STATE = {"storage_state": {"cookies": [{"name": "sid", "value": "cookie-value-7781"}], "origins": []}}


async def test_a_state_is_kept_sealed_per_login_and_replaced_by_the_next_success(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        login = {"user": ["ada"]}
        await sessions.save_state(conn, sealer, account.id, "portal", login, STATE, uuid.uuid4())
        assert await sessions.load_state(conn, sealer, account.id, "portal", login, DAY_S) == STATE
        assert await sessions.load_state(conn, sealer, account.id, "portal", {"user": ["bob"]}, DAY_S) is None
        assert await sessions.load_state(conn, sealer, account.id, "other", login, DAY_S) is None
        raw = await (await conn.execute("SELECT state::text AS s, login FROM browser_sessions")).fetchall()
        assert all("cookie-value-7781" not in row["s"] for row in raw)

        newer: dict[str, Any] = {"storage_state": {"cookies": [], "origins": []}, "session_storage": {}}
        task_id = uuid.uuid4()
        await sessions.save_state(conn, sealer, account.id, "portal", login, newer, task_id)
        [shown] = await sessions.list_sessions(conn, account.id, DAY_S)
        assert (shown.login, shown.task_id) == (login, task_id)
        assert await sessions.load_state(conn, sealer, account.id, "portal", login, DAY_S) == newer


async def test_an_expired_state_is_dropped_and_another_key_opens_nothing(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        login = {"user": ["ada"]}
        await sessions.save_state(conn, sealer, account.id, "portal", login, STATE, uuid.uuid4())
        assert await sessions.load_state(conn, Sealer(generate_key()), account.id, "portal", login, DAY_S) is None
        await conn.execute("UPDATE browser_sessions SET updated_at = now() - interval '2 days'")
        assert await sessions.load_state(conn, sealer, account.id, "portal", login, DAY_S) is None
        assert await sessions.list_sessions(conn, account.id, 3 * DAY_S) == []  # dropped, not only hidden


async def test_deleting_a_state_is_scoped_to_its_account(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        acme = await accounts.create_account(conn, sealer, "acme")
        other = await accounts.create_account(conn, sealer, "other")
        await sessions.save_state(conn, sealer, acme.id, "portal", {}, STATE, uuid.uuid4())
        [kept] = await sessions.list_sessions(conn, acme.id, DAY_S)
        assert await sessions.list_sessions(conn, other.id, DAY_S) == []
        assert not await sessions.delete_session(conn, other.id, kept.id)
        assert await sessions.delete_session(conn, acme.id, kept.id)
        assert await sessions.delete_endpoint_sessions(conn, acme.id, "portal") == 0


async def test_a_named_proxy_is_sealed_and_shown_without_its_password(db: Database, sealer: Sealer) -> None:
    url = "http://user-{session_id}:pr0xy-pw-5512@proxy.example:3128"
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        parsed = UpstreamProxy.parse(url, ["corp.example"])
        stored = await proxies.put_proxy(conn, sealer, account.id, "default", url, parsed)
        assert stored.shown == "http://user-{session_id}@proxy.example:3128" and stored.bypass == ["corp.example"]
        assert await proxies.open_proxy(conn, sealer, account.id, "default") == parsed
        row = await (await conn.execute("SELECT url, shown FROM proxies")).fetchone()
        assert row is not None and b"pr0xy-pw-5512" not in row["url"] and "pr0xy-pw-5512" not in row["shown"]
        other = await accounts.create_account(conn, sealer, "other")
        assert await proxies.open_proxy(conn, sealer, other.id, "default") is None
        assert not await proxies.delete_proxy(conn, other.id, "default")
