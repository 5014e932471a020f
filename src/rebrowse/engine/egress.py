"""The egress policy as a run sees it: a denied destination fails its step with a clear error, and what the proxy
kept the pages from reaching is listed on the step's record.

The slot's proxy enforces the policy (every redirect hop, every address a name resolves to); the quick check
before an action only gives a clearer error sooner. The proxy refuses a plain-HTTP request with a 403 answer
that carries DENIED_HEADER (a navigation then "succeeds" with status 403) and a tunnel (https, wss) with a 403
that Chromium reports as net::ERR_TUNNEL_CONNECTION_FAILED: both become EgressDenied here, never a success.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from playwright.async_api import APIResponse, Page, Response
from playwright.async_api import Error as PlaywrightError

from rebrowse.browser.egress import EgressDenied, EgressProxy, refusal_in
from rebrowse.engine.state import TUNNEL_REFUSED, RunState, Step, latest_denial


async def check(state: RunState, url: str) -> None:
    """EgressDenied when the run's policy denies `url`'s host."""
    if state.egress is not None:
        await state.egress.check(url)


def raise_if_refused(headers: Mapping[str, str]) -> None:
    """EgressDenied when these are the headers of the proxy's refusal."""
    denied = refusal_in(headers)
    if denied is not None:
        raise denied


def refused_tunnel(egress: EgressProxy | None, error: BaseException) -> EgressDenied | None:
    """The denial behind a navigation that failed because the proxy refused its tunnel; None for other failures."""
    return latest_denial(egress) if TUNNEL_REFUSED in str(error) else None


async def navigate(state: RunState, page: Page, url: str, timeout_s: float) -> Response | None:
    """Load `url` in `page`; EgressDenied when the policy denies it or any hop it is redirected to."""
    await check(state, url)
    try:
        response = await page.goto(url, timeout=timeout_s * 1000)
    except PlaywrightError as exc:
        denied = refused_tunnel(state.egress, exc)
        if denied is None:
            raise
        raise denied from None
    if response is not None:
        raise_if_refused(response.headers)
    return response


async def fetch(step: Step, url: str, timeout_s: float) -> APIResponse:
    """GET `url` from the run's context (its cookies and proxy apply), for actions that fetch a file by URL;
    EgressDenied when the policy denies it or any hop it is redirected to."""
    state = step.state
    await check(state, url)
    response = await state.context.request.get(url, timeout=timeout_s * 1000)
    raise_if_refused(response.headers)
    return response


def http_client(state: RunState, *, timeout_s: float, follow_redirects: bool) -> httpx.AsyncClient:
    """An HTTP client for the run's own calls (api_call, form mapping callbacks): through the slot's proxy, which
    checks every redirect hop on the address actually connected to."""
    proxy = state.egress.proxy_url if state.egress is not None else None
    return httpx.AsyncClient(follow_redirects=follow_redirects, timeout=timeout_s, proxy=proxy)


def refused_proxy(egress: EgressProxy | None, error: httpx.ProxyError) -> EgressDenied | None:
    """The denial behind a call the proxy refused to tunnel (httpx says "403 Forbidden"); None for other failures."""
    return latest_denial(egress) if str(error).startswith("403") else None


def blocked(state: RunState) -> list[str]:
    """What the proxy refused since the last step, as the step's record lists it."""
    return [str(denial) for denial in state.egress.take_denials()] if state.egress is not None else []
