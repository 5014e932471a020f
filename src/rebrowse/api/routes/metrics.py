"""GET /metrics: the Prometheus scrape, for a metrics token's holder or, without one, for this machine only.

Not behind an API key: the figures span every account, so they are for the operator, not for an account.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import cast

from fastapi import APIRouter, Request, Response

from rebrowse.api.deps import ServicesDep
from rebrowse.api.errors import Forbidden, Unauthorized
from rebrowse.observability.metrics import CONTENT_TYPE, LiveViewConnections, exposition, read_figures

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """The control plane's figures in Prometheus' text format."""
    authorize(request, services.settings.metrics_token)
    async with services.db.connection() as conn:
        figures = await read_figures(conn)
    live_view = cast(LiveViewConnections, request.app.state.live_view_connections)
    return Response(exposition(figures, live_view), media_type=CONTENT_TYPE)


def authorize(request: Request, token: str | None) -> None:
    """With a metrics token, require it as a bearer token; without one, accept loopback clients only."""
    if token is None:
        if not is_loopback(request.client.host if request.client else None):
            raise Forbidden("Metrics are served to this machine only; set REBROWSE_METRICS_TOKEN to scrape remotely")
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("Invalid metrics token")


def is_loopback(host: str | None) -> bool:
    """Whether the client's address is a loopback one (IPv4, IPv6, or IPv4 mapped into IPv6)."""
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a Unix socket or a name: not an address we can vouch for
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
