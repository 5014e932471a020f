"""Who is calling: the `x-api-key` header resolved to an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader

from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import Forbidden, Unauthorized
from rebrowse.store import accounts

API_KEY_HEADER = "x-api-key"
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key of your account")


async def authenticated(services: ServicesDep, key: Annotated[str | None, Depends(api_key_header)]) -> accounts.Caller:
    """The caller the key belongs to; 401 when the key is missing, unknown or revoked."""
    if not key:
        raise Unauthorized(f"Missing API key: send it in the {API_KEY_HEADER} header")
    async with services.db.connection() as conn:
        caller = await accounts.authenticate(conn, key)
    if caller is None:
        raise Unauthorized("Invalid API key")
    return caller


CallerDep = Annotated[accounts.Caller, Depends(authenticated)]


async def admin(caller: CallerDep) -> accounts.Caller:
    """The caller, when its key is an admin key; 403 otherwise."""
    if not caller.is_admin:
        raise Forbidden("This needs an admin API key")
    return caller


AdminDep = Annotated[accounts.Caller, Depends(admin)]
