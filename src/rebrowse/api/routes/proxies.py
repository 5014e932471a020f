"""The account's named upstream proxies: tasks with use_proxy go through one. The URL is stored sealed and shown
without its password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import BadRequest, NotFound
from rebrowse.api.schemas import ERRORS, NAME_PATTERN, ProxyInfo, ProxyList, PutProxyRequest
from rebrowse.browser.upstream import ProxyInvalid, UpstreamProxy
from rebrowse.errors import FieldError
from rebrowse.store import proxies
from rebrowse.store.proxies import StoredProxy

router = APIRouter(prefix="/api/v1/proxies", tags=["proxies"], responses=ERRORS)
ProxyName = Annotated[str, Path(pattern=NAME_PATTERN, description="1-100 characters of A-Z a-z 0-9 _ . -")]


def proxy_info(stored: StoredProxy) -> ProxyInfo:
    return ProxyInfo(name=stored.name, url=stored.shown, bypass=stored.bypass, updated_at=stored.updated_at)


def parsed(body: PutProxyRequest) -> UpstreamProxy:
    """The proxy of the request; 400 naming the field that is wrong (never repeating the URL)."""
    try:
        return UpstreamProxy.parse(body.url, body.bypass)
    except ProxyInvalid as exc:
        field = "bypass" if str(exc).startswith("bypass") else "url"
        raise BadRequest.of_fields([FieldError(field, str(exc))]) from None


@router.put("/{name}", operation_id="put_proxy")
async def put_proxy(name: ProxyName, body: PutProxyRequest, services: ServicesDep, caller: CallerDep) -> ProxyInfo:
    """Create or replace a named proxy; "default" is the one tasks use when their automation names none."""
    proxy = parsed(body)
    async with services.db.connection() as conn:
        stored = await proxies.put_proxy(conn, services.sealer, caller.account.id, name, body.url, proxy)
    return proxy_info(stored)


@router.get("", operation_id="list_proxies")
async def list_proxies(services: ServicesDep, caller: CallerDep) -> ProxyList:
    """The account's proxies, without their passwords."""
    async with services.db.connection() as conn:
        found = await proxies.list_proxies(conn, caller.account.id)
    return ProxyList(proxies=[proxy_info(stored) for stored in found])


@router.delete("/{name}", operation_id="delete_proxy", status_code=204, response_class=Response)
async def delete_proxy(name: ProxyName, services: ServicesDep, caller: CallerDep) -> None:
    """Delete a named proxy (tasks of automations that name it then fail, saying so)."""
    async with services.db.connection() as conn:
        if not await proxies.delete_proxy(conn, caller.account.id, name):
            raise NotFound(f"name: no proxy {name!r} in this account")
