"""Warm sessions: the browser states the account's logins kept (listed without their content), and dropping them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep, parse_uuid
from rebrowse.api.errors import NotFound
from rebrowse.api.schemas import ERRORS, NAME_PATTERN, SessionInfo, SessionList, SessionsDeleted
from rebrowse.store import sessions
from rebrowse.store.sessions import StoredSession

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"], responses=ERRORS)


def session_info(stored: StoredSession, ttl_s: float) -> SessionInfo:
    return SessionInfo(
        session_id=stored.id,
        endpoint_name=stored.endpoint_name,
        unique_parameters=stored.login,
        task_id=stored.task_id,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        expires_at=stored.updated_at + timedelta(seconds=ttl_s),
    )


@router.get("", operation_id="list_sessions")
async def list_sessions(services: ServicesDep, caller: CallerDep) -> SessionList:
    """The account's kept browser states (one per endpoint and login), the most recently kept first."""
    ttl_s = services.settings.session_ttl_s
    async with services.db.connection() as conn:
        found = await sessions.list_sessions(conn, caller.account.id, ttl_s)
    return SessionList(sessions=[session_info(stored, ttl_s) for stored in found])


@router.delete("/{session_id}", operation_id="delete_session", status_code=204, response_class=Response)
async def delete_session(session_id: str, services: ServicesDep, caller: CallerDep) -> None:
    """Drop one kept state: the login's next run starts fresh (and signs in again)."""
    parsed = parse_uuid(session_id)
    async with services.db.connection() as conn:
        if parsed is None or not await sessions.delete_session(conn, caller.account.id, parsed):
            raise NotFound(f"session_id: no session {session_id!r} in this account")


@router.delete("", operation_id="delete_sessions")
async def delete_sessions(
    services: ServicesDep,
    caller: CallerDep,
    endpoint_name: Annotated[str, Query(pattern=NAME_PATTERN, description="The automation whose states to drop")],
) -> SessionsDeleted:
    """Drop every state kept for one automation's logins."""
    async with services.db.connection() as conn:
        deleted = await sessions.delete_endpoint_sessions(conn, caller.account.id, endpoint_name)
    return SessionsDeleted(deleted=deleted)
