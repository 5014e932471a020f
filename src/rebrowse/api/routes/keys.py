"""API keys of the caller's account (managed by its owner and admin keys), and new accounts (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from rebrowse.api.auth import AdminDep, CallerDep
from rebrowse.api.deps import ServicesDep, parse_uuid
from rebrowse.api.errors import BadRequest, Conflict, Forbidden, NotFound
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
from rebrowse.errors import FieldError
from rebrowse.store import accounts
from rebrowse.store.accounts import ApiKey, Caller
from rebrowse.store.database import Connection

router = APIRouter(prefix="/api/v1", tags=["keys"], responses=ERRORS)
LAST_ADMIN_KEY = (
    "This is the installation's last active admin key: create another admin key first "
    "(POST /api/v1/keys with role admin, or `rebrowse keys create --admin` on the server)"
)


def manager(caller: Caller) -> Caller:
    """The caller, when its key may manage the account's keys; 403 for a member key."""
    if caller.role == "member":
        raise Forbidden("This needs an owner or admin API key: a member key manages no other keys")
    return caller


def visible(caller: Caller, key: ApiKey) -> bool:
    """A member key sees only itself; owner and admin keys see every key of their account."""
    return caller.role != "member" or key.id == caller.key_id


@router.post(
    "/keys",
    operation_id="create_key",
    status_code=201,
    responses={403: {"model": ErrorBody, "description": "A member key"}},
)
async def create_key(body: CreateKeyRequest, services: ServicesDep, caller: CallerDep) -> NewKey:
    """A new key for the caller's account, of at most the caller's role; its value is shown in this response only."""
    role = body.role or "member"
    if accounts.outranks(role, manager(caller).role):
        raise BadRequest.of_fields([FieldError("role", f"{role} is above the role of your key ({caller.role})")])
    async with services.db.connection() as conn:
        key, value = await accounts.create_key(conn, caller.account.id, body.name, role=role)
    return new_key(key, value)


@router.get("/keys", operation_id="list_keys")
async def list_keys(services: ServicesDep, caller: CallerDep) -> KeyList:
    """The account's keys (a member key sees only itself); their values are never shown again."""
    only = caller.key_id if caller.role == "member" else None
    async with services.db.connection() as conn:
        found = await accounts.list_keys(conn, caller.account.id, only)
    return KeyList(keys=[key_info(key) for key in found])


@router.delete(
    "/keys/{key_id}",
    operation_id="revoke_key",
    status_code=204,
    response_class=Response,
    responses={
        403: {"model": ErrorBody, "description": "An admin key, revoked by a key that is not"},
        409: {"model": ErrorBody, "description": "The installation's last active admin key"},
    },
)
async def revoke_key(key_id: str, services: ServicesDep, caller: CallerDep) -> None:
    """Revoke one of the account's keys (a member key: only itself); it stops working at once."""
    parsed = parse_uuid(key_id)
    async with services.db.transaction() as conn:
        await accounts.lock_admin_keys(conn)
        key = None if parsed is None else await accounts.get_key(conn, caller.account.id, parsed)
        if key is None or not visible(caller, key):
            raise NotFound(f"Key not found with ID: {key_id[:100]}")
        if key.is_admin:
            await check_admin_revocation(conn, caller, key)
        await accounts.revoke_key(conn, caller.account.id, key.id)


async def check_admin_revocation(conn: Connection, caller: Caller, key: ApiKey) -> None:
    """Only admin keys revoke admin keys, and never the last active one (nobody could create accounts again)."""
    if not caller.is_admin:
        raise Forbidden("Only an admin key can revoke an admin key")
    if key.revoked_at is None and await accounts.active_admin_keys(conn) <= 1:
        raise Conflict(LAST_ADMIN_KEY)


@router.post(
    "/accounts",
    operation_id="create_account",
    status_code=201,
    responses={403: {"model": ErrorBody, "description": "Not an admin key"}},
)
async def create_account(body: CreateAccountRequest, services: ServicesDep, _: AdminDep) -> AccountCreated:
    """A new account with its first key, the account's owner key (admin keys only)."""
    async with services.db.transaction() as conn:
        account = await accounts.create_account(conn, services.sealer, body.name)
        key, value = await accounts.create_key(conn, account.id, body.key_name, role="owner")
    return AccountCreated(account_id=account.id, name=account.name, key=new_key(key, value))
