"""Who is calling: the `x-api-key` header resolved to an account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import Forbidden, Unauthorized
from rebrowse.store import accounts

API_KEY_HEADER = "x-api-key"
T = TypeVar("T")
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key of your account")


def require_key(key: str | None) -> str:
    if not key:
        raise Unauthorized(f"Missing API key: send it in the {API_KEY_HEADER} header")
    return key


def known_caller(found: T | None) -> T:
    if found is None:
        raise Unauthorized("Invalid API key")
    return found


async def authenticated(services: ServicesDep, key: Annotated[str | None, Depends(api_key_header)]) -> accounts.Caller:
    """The caller the key belongs to; 401 when the key is missing, unknown or revoked."""
    value = require_key(key)
    async with services.db.connection() as conn:
        return known_caller(await accounts.authenticate(conn, value))


CallerDep = Annotated[accounts.Caller, Depends(authenticated)]


async def admin(caller: CallerDep) -> accounts.Caller:
    """The caller, when its key is an admin key; 403 otherwise."""
    if not caller.is_admin:
        raise Forbidden("This needs an admin API key")
    return caller


AdminDep = Annotated[accounts.Caller, Depends(admin)]


@dataclass(frozen=True)
class Submitter:
    """The caller of a submission, and the newest version of the automation its body names (None: unknown)."""

    caller: accounts.Caller
    endpoint_name: str | None
    version: int | None

    def version_of(self, endpoint_name: str) -> int | None:
        """The version found for this automation, if it is the one that was looked up."""
        return self.version if endpoint_name == self.endpoint_name else None


async def submitter(
    request: Request, services: ServicesDep, key: Annotated[str | None, Depends(api_key_header)]
) -> Submitter:
    """authenticated(), with the automation's version looked up in the same query (the hot path of the API)."""
    value = require_key(key)
    # The body is read (and parsed, when it is JSON) before dependencies run; its model is validated after them,
    # so that a request without a valid key is refused first. The name is only a hint until then.
    endpoint_name = await named_endpoint(request)
    async with services.db.connection() as conn:
        if endpoint_name is None:
            return Submitter(known_caller(await accounts.authenticate(conn, value)), None, None)
        caller, version = known_caller(await accounts.authenticate_submission(conn, value, endpoint_name))
    return Submitter(caller, endpoint_name, version)


async def named_endpoint(request: Request) -> str | None:
    """The endpoint_name of a JSON body, if it has one."""
    try:
        body = await request.json()
    except ValueError:
        return None
    name = body.get("endpoint_name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


SubmitterDep = Annotated[Submitter, Depends(submitter)]
