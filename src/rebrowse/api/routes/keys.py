"""API keys of the caller's account, and new accounts (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from rebrowse.api.auth import AdminDep, CallerDep
from rebrowse.api.deps import ServicesDep, parse_uuid
from rebrowse.api.errors import NotFound
from rebrowse.api.schemas import (
    ERRORS,
    AccountCreated,
    CreateAccountRequest,
    CreateKeyRequest,
    ErrorBody,
    KeyList,
    NewKey,
)
from rebrowse.api.views import key_info, new_key
from rebrowse.store import accounts

router = APIRouter(prefix="/api/v1", tags=["keys"], responses=ERRORS)


@router.post("/keys", operation_id="create_key", status_code=201)
async def create_key(body: CreateKeyRequest, services: ServicesDep, caller: CallerDep) -> NewKey:
    """A new key for the caller's account; its value is shown in this response only."""
    async with services.db.connection() as conn:
        key, value = await accounts.create_key(conn, caller.account.id, body.name)
    return new_key(key, value)


@router.get("/keys", operation_id="list_keys")
async def list_keys(services: ServicesDep, caller: CallerDep) -> KeyList:
    """The account's keys (their values are never shown again)."""
    async with services.db.connection() as conn:
        found = await accounts.list_keys(conn, caller.account.id)
    return KeyList(keys=[key_info(key) for key in found])


@router.delete("/keys/{key_id}", operation_id="revoke_key", status_code=204, response_class=Response)
async def revoke_key(key_id: str, services: ServicesDep, caller: CallerDep) -> None:
    """Revoke one of the account's keys; it stops working at once."""
    parsed = parse_uuid(key_id)
    async with services.db.connection() as conn:
        if parsed is None or not await accounts.revoke_key(conn, caller.account.id, parsed):
            raise NotFound(f"Key not found with ID: {key_id[:100]}")


@router.post(
    "/accounts",
    operation_id="create_account",
    status_code=201,
    responses={403: {"model": ErrorBody, "description": "Not an admin key"}},
)
async def create_account(body: CreateAccountRequest, services: ServicesDep, _: AdminDep) -> AccountCreated:
    """A new account with its first key (admin keys only)."""
    async with services.db.transaction() as conn:
        account = await accounts.create_account(conn, services.sealer, body.name)
        key, value = await accounts.create_key(conn, account.id, body.key_name)
    return AccountCreated(account_id=account.id, name=account.name, key=new_key(key, value))
