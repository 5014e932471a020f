"""The dashboard's pages (one HTML shell; the page's script renders it from the API) and its session endpoints."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field

from rebrowse.api.artifacts import TRACE_VIEWER_PATH
from rebrowse.api.auth import CallerDep, known_caller
from rebrowse.api.dashboard.session import COOKIE, CSRF_HEADER, SESSION_TTL_S, open_session, seal_session
from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import Forbidden, http_error
from rebrowse.api.schemas import ERRORS, Body, ErrorBody
from rebrowse.store import accounts

SHELL = Path(__file__).resolve().parents[2] / "static" / "dashboard" / "index.html"
PAGES = (
    "/sign-in",
    "/tasks",
    "/tasks/{task_id}",
    "/automations",
    "/automations/{endpoint_name}",
    "/recordings",
    "/recordings/{recording_id}",
    "/keys",
    "/messages",
    "/proxies",
    "/schedules",
)
# Everything the pages load is shipped with rebrowse; nothing may come from elsewhere, or run inline.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; "
        "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Where programs, not people, ask: an unknown path there is the JSON 404, never the page that says so.
NOT_PAGES = ("/api/", "/static/", f"{TRACE_VIEWER_PATH}/")

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/api/v1", tags=["session"], responses=ERRORS)
CsrfHeader = Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)]


class SignIn(Body):
    api_key: str = Field(min_length=1, max_length=200)


class SessionInfo(BaseModel):
    account_name: str
    role: accounts.Role
    is_admin: bool
    key_id: uuid.UUID = Field(description="The API key this session was opened with (revoking it signs out)")

    @classmethod
    def of(cls, caller: accounts.Caller) -> SessionInfo:
        return cls(account_name=caller.account.name, role=caller.role, is_admin=caller.is_admin, key_id=caller.key_id)


class SignedOut(BaseModel):
    success: Literal[True] = True


def shell() -> FileResponse:
    return FileResponse(SHELL, media_type="text/html", headers=PAGE_HEADERS)


for page in PAGES:
    pages.add_api_route(page, shell, methods=["GET"])


async def not_found(request: Request, exc: Exception) -> Response:
    """No route for the address: a browser asking for a page gets the shell, which says so in words with a link
    home (a 404 all the same); the API's paths and everything else keep the JSON error a program expects."""
    path = f"{request.url.path}/"
    if request.method in ("GET", "HEAD") and not path.startswith(NOT_PAGES):
        return FileResponse(SHELL, status_code=404, media_type="text/html", headers=PAGE_HEADERS)
    return await http_error(request, exc)


@pages.get("/")
async def home(request: Request, services: ServicesDep) -> RedirectResponse:
    """The tasks page when signed in, the sign-in page otherwise."""
    session = open_session(services.sealer, request.cookies.get(COOKIE, ""))
    caller = None
    if session is not None:
        async with services.db.connection() as conn:
            caller = await accounts.session_caller(conn, session.id)
    return RedirectResponse("/tasks" if caller else "/sign-in", status_code=303)


def require_csrf(value: str | None) -> None:
    if value != "1":
        raise Forbidden(f"Send the header {CSRF_HEADER}: 1")


@router.post("/session", operation_id="sign_in", responses={403: {"model": ErrorBody}})
async def sign_in(
    body: SignIn, request: Request, response: Response, services: ServicesDep, csrf: CsrfHeader = None
) -> SessionInfo:
    """Sign the dashboard in with an API key: sets an HttpOnly session cookie (the key itself is not kept)."""
    require_csrf(csrf)
    async with services.db.connection() as conn:
        caller = known_caller(await accounts.authenticate(conn, body.api_key))
        session_id = await accounts.open_session(conn, caller, SESSION_TTL_S)
    response.set_cookie(
        COOKIE,
        seal_session(services.sealer, session_id),
        max_age=SESSION_TTL_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SessionInfo.of(caller)


@router.get("/session", operation_id="get_session")
async def get_session(caller: CallerDep) -> SessionInfo:
    """Who is signed in (by the session cookie, or the API key sent); 401 when nobody or no longer valid."""
    return SessionInfo.of(caller)


@router.delete("/session", operation_id="sign_out", responses={403: {"model": ErrorBody}})
async def sign_out(request: Request, response: Response, services: ServicesDep, csrf: CsrfHeader = None) -> SignedOut:
    """Sign the dashboard out: the session ends (its cookie no longer works, even replayed) and is cleared."""
    require_csrf(csrf)
    session = open_session(services.sealer, request.cookies.get(COOKIE, ""))
    if session is not None:
        async with services.db.connection() as conn:
            await accounts.close_session(conn, session.id)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return SignedOut()
