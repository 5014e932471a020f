"""The store on a real (embedded) PostgreSQL: accounts and keys, automations, tasks."""

from __future__ import annotations

import uuid

from rebrowse.store import accounts, automations, tasks
from rebrowse.store.database import Database, migrate
from rebrowse.store.sealing import Sealer


async def test_migrate_is_idempotent(db: Database) -> None:
    assert await migrate(db) == []


async def test_keys_authenticate_until_revoked(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        key, value = await accounts.create_key(conn, account.id, "ci")
        caller = await accounts.authenticate(conn, value)
        assert caller is not None and caller.account == account and caller.key_id == key.id
        assert await accounts.authenticate(conn, value + "x") is None
        row = await (await conn.execute("SELECT key_hash, prefix FROM api_keys")).fetchone()
        assert row is not None and value.encode() not in bytes(row["key_hash"]) and len(row["prefix"]) < len(value)
        assert await accounts.revoke_key(conn, account.id, key.id)
        assert await accounts.authenticate(conn, value) is None
        assert len(await accounts.signing_secret(conn, sealer, account.id)) == 32


async def test_automation_versions_and_delete(db: Database, sealer: Sealer) -> None:
    async with db.transaction() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        first = await automations.put_automation(conn, sealer, account.id, "login", {"v": 1}, "first")
        second = await automations.put_automation(conn, sealer, account.id, "login", {"v": 2}, None)
    assert (first.version, second.version) == (1, 2)
    async with db.connection() as conn:
        latest = await automations.get_automation(conn, account.id, "login")
        assert latest is not None and latest.definition == {"v": 2}
        assert [a.version for a in await automations.list_automations(conn, account.id)] == [2]
        assert await automations.delete_automation(conn, account.id, "login")
        assert await automations.get_automation(conn, account.id, "login") is None
        pinned = await automations.get_automation(conn, account.id, "login", version=1)
        assert pinned is not None and pinned.definition == {"v": 1}


def new_task(account_id: uuid.UUID, **changes: object) -> tasks.NewTask:
    fields: dict[str, object] = {
        "account_id": account_id,
        "endpoint_name": "login",
        "automation_version": 1,
        "input_parameters": {"user": ["ada"]},
        "secure_parameters": None,
        "unique_parameter_names": ["user"],
        "priority": None,
        "max_timeout_in_minutes": 10.0,
        "callback_url": None,
        "callback_api_key": None,
    }
    fields.update(changes)
    return tasks.NewTask(**fields)  # type: ignore[arg-type]


async def test_task_lifecycle_and_tenancy(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        acme = await accounts.create_account(conn, sealer, "acme")
        other = await accounts.create_account(conn, sealer, "other")
        task = await tasks.create_task(conn, new_task(acme.id))
        assert task.status == "queued" and task.serialization_key == f'{acme.id}:{{"user": ["ada"]}}'
        assert await tasks.get_task(conn, task.id, other.id) is None
        allocated = await tasks.mark_allocated(conn, task.id, "w1")
        assert allocated is not None and allocated.status == "allocated"
        await tasks.mark_running(conn, task.id, 0)
        done = await tasks.finish_task(conn, task.id, tasks.Outcome("success", output_data=[{"a": 1}]))
        assert done is not None and done.status == "success" and done.completed_at is not None
        assert await tasks.finish_task(conn, task.id, tasks.Outcome("failed")) is None


async def test_task_pages_are_newest_first_without_gaps(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        acme = await accounts.create_account(conn, sealer, "acme")
        created = [await tasks.create_task(conn, new_task(acme.id, unique_parameter_names=[])) for _ in range(7)]
        seen: list[uuid.UUID] = []
        cursor: str | None = None
        for _ in range(5):
            page, cursor = await tasks.list_tasks(conn, acme.id, cursor=cursor, limit=3)
            seen += [t.id for t in page]
            if cursor is None:
                break
        assert seen == [t.id for t in sorted(created, key=lambda t: (t.created_at, t.id), reverse=True)]
