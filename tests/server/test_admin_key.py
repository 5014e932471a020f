"""The installation's admin key at start: made when no admin key is active, in the admin account."""

from __future__ import annotations

from pathlib import Path

from rebrowse.queue.app import make_queue
from rebrowse.server import Runtime, ensure_admin_key
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer

CHOSEN = "rb_chosen_admin_key_0123456789abcdefghijklmn"


async def test_a_start_without_an_active_admin_key_makes_one(
    database_url: str, db: Database, sealer: Sealer, tmp_path: Path
) -> None:
    settings = ServerSettings(database_url=database_url, data_dir=tmp_path, admin_api_key=CHOSEN)
    rt = Runtime(settings, db, sealer, make_queue(database_url))
    assert await ensure_admin_key(rt) == CHOSEN
    assert await ensure_admin_key(rt) is None
    async with db.connection() as conn:
        first = await accounts.authenticate(conn, CHOSEN)
        assert first is not None and first.is_admin
        # Revoked as the API allowed before every admin key was kept from it: no admin key is left.
        assert await accounts.revoke_key(conn, first.account.id, first.key_id)

    made = await ensure_admin_key(rt)

    assert made is not None and made != CHOSEN  # a revoked key stays revoked
    async with db.connection() as conn:
        caller = await accounts.authenticate(conn, made)
        assert await accounts.authenticate(conn, CHOSEN) is None
    assert caller is not None and caller.is_admin and caller.account == first.account
