"""Who is calling: the `x-api-key` header (or else the dashboard's session cookie) resolved to an account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader

from rebrowse.api.dashboard.session import COOKIE, CSRF_HEADER, open_session
from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import Forbidden, Unauthorized
from rebrowse.store import accounts

API_KEY_HEADER = "x-api-key"
T = TypeVar("T")
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key of your account")
session_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="The dashboard's session (POST /session)")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
KeyDep = Annotated[str | None, Depends(api_key_header)]
CookieDep = Annotated[str | None, Depends(session_cookie)]


def require_key(key: str | None) -> str:
    if not key:
        raise Unauthorized(f"Missing API key: send it in the {API_KEY_HEADER} header")
    return key


def known_caller(found: T | None) -> T:
    if found is None:
        raise Unauthorized("Invalid API key")
    return found


async def cookie_caller(request: Request, services: ServicesDep, cookie: str) -> accounts.Caller:
    """The caller of a dashboard session: 401 when it expired, was signed out or its key revoked, 403 for an
    unsafe method without the CSRF header."""
    session = open_session(services.sealer, cookie)
    if session is None:
        raise Unauthorized("Your session has expired: sign in again")
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise Forbidden(f"A request signed in by cookie must send the header {CSRF_HEADER}: 1")
    async with services.db.connection() as conn:
        caller = await accounts.session_caller(conn, session.id)
    if caller is None:
        raise Unauthorized("This session was signed out, or its API key revoked: sign in again")
    return caller


async def authenticated(request: Request, services: ServicesDep, key: KeyDep, cookie: CookieDep) -> accounts.Caller:
    """The caller the key (or the session cookie, without a key) belongs to; 401 when missing, unknown or revoked."""
    if not key and cookie:
        return await cookie_caller(request, services, cookie)
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


async def submitter(request: Request, services: ServicesDep, key: KeyDep, cookie: CookieDep) -> Submitter:
    """authenticated(), with the automation's version looked up in the same query (the hot path of the API)."""
    if not key and cookie:
        return Submitter(await cookie_caller(request, services, cookie), None, None)
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
