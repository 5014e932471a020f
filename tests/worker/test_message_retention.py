"""Inbound messages are kept REBROWSE_MESSAGE_RETENTION seconds: the workers' recovery pass deletes older ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import procrastinate

from rebrowse.messages.models import Message
from rebrowse.settings import ServerSettings
from rebrowse.store import messages
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.recovery import Recovery, RecoveryOptions
from rebrowse.worker.state import WorkerState
from tests.worker.conftest import Tenant


async def test_the_recovery_pass_deletes_expired_messages(
    tenant: Tenant, db: Database, sealer: Sealer, queue: procrastinate.App, database_url: str, tmp_path: Path
) -> None:
    async with db.connection() as conn:
        ids = [
            await messages.add_message(
                conn, sealer, tenant.account_id, Message("sms", "+1", "+2", text, datetime.now(UTC))
            )
            for text in ("old code 111111", "new code 222222")
        ]
        await conn.execute("UPDATE messages SET created_at = now() - interval '2 minutes' WHERE id = %s", (ids[0],))
    settings = ServerSettings(database_url=database_url, data_dir=tmp_path, message_retention_s=60)
    recovery = Recovery(db=db, sealer=sealer, queue=queue, settings=settings, state=WorkerState("sweeper"))
    assert await recovery.run_pass(RecoveryOptions())
    async with db.connection() as conn:
        left = await messages.received(
            conn, sealer, tenant.account_id, "sms", datetime.min.replace(tzinfo=UTC), datetime.now(UTC)
        )
    assert [message.text for _, message in left] == ["new code 222222"]
