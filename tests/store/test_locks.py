"""The advisory locks: one key each, and a tried lock that only one connection holds at a time."""

from __future__ import annotations

import uuid

from rebrowse.store import locks
from rebrowse.store.database import Database


def test_every_lock_has_a_key_of_its_own() -> None:
    keys = [value for name, value in vars(locks).items() if name.isupper() and isinstance(value, int)]
    assert len(keys) >= 4
    assert len(set(keys)) == len(keys)


async def test_a_tried_lock_is_held_by_one_connection_until_its_block_ends(db: Database) -> None:
    async with db.connection() as first, db.connection() as second:
        async with locks.try_holding(first, locks.RECOVERY) as held:
            assert held
            async with locks.try_holding(second, locks.RECOVERY) as also:
                assert not also
        async with locks.try_holding(second, locks.RECOVERY) as now:
            assert now


async def test_a_name_lock_waits_for_the_transaction_that_holds_it(db: Database) -> None:
    account = uuid.uuid4()
    async with db.transaction() as first:
        await locks.hold_name_for_transaction(first, account, "invoices")
        async with db.connection() as second:
            taken = await (
                await second.execute(
                    "SELECT pg_try_advisory_lock(%(space)s, hashtext(%(name)s)) AS got",
                    {"space": locks.AUTOMATION_NAMES, "name": f"{account}/invoices"},
                )
            ).fetchone()
            assert taken is not None and not taken["got"]
