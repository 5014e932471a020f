"""What a task's login needs before its run and keeps after it: the warm session to start from (and the state a
success leaves), and the upstream proxy its traffic is chained through.

A task's request says reuse_session and use_proxy, or leaves them (null) to its automation's settings on the
server. The proxy is the one the automation's settings name, else the account's "default", else the server's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rebrowse.browser.upstream import ProxyInvalid, UpstreamProxy
from rebrowse.errors import RebrowseError
from rebrowse.settings import ServerSettings
from rebrowse.store import proxies, sessions, tasks
from rebrowse.store.database import Connection, Database
from rebrowse.store.sealing import Sealer, SealingError
from rebrowse.store.tasks import Task


class LoginUnusable(RebrowseError):
    """The task asks for a proxy that cannot be used."""


@dataclass(frozen=True)
class LoginSetup:
    """How the task's run starts: from a kept state (None: fresh), through an upstream proxy (None: direct)."""

    reuse_session: bool
    state: dict[str, Any] | None
    proxy: UpstreamProxy | None


def chosen(asked: bool | None, automation_settings: dict[str, Any], name: str) -> bool:
    """The request's choice, else the automation's setting, else no."""
    return asked if asked is not None else bool(automation_settings.get(name, False))


def session_id(task: Task) -> str:
    """The task's sticky-session id for the proxy's user name: the request's, else the task's id."""
    return task.proxy_session_id or task.id.hex


async def prepare(
    db: Database, sealer: Sealer, settings: ServerSettings, task: Task, automation_settings: dict[str, Any]
) -> LoginSetup:
    """The task's warm session and proxy, recorded on the task (whether it reuses a state, uses a proxy)."""
    reuse = chosen(task.reuse_session, automation_settings, "reuse_session")
    use_proxy = chosen(task.use_proxy, automation_settings, "use_proxy")
    async with db.connection() as conn:
        state = None
        if reuse:
            state = await sessions.load_state(
                conn, sealer, task.account_id, task.endpoint_name, task.unique_parameters, settings.session_ttl_s
            )
        proxy = await find_proxy(conn, sealer, settings, task, automation_settings) if use_proxy else None
        await tasks.record_login(conn, task.id, reuse, use_proxy, state is not None)
    return LoginSetup(reuse, state, proxy.for_session(session_id(task)) if proxy is not None else None)


async def find_proxy(
    conn: Connection, sealer: Sealer, settings: ServerSettings, task: Task, automation_settings: dict[str, Any]
) -> UpstreamProxy:
    """The proxy the automation's settings name, else the account's default, else the server's."""
    named = automation_settings.get("proxy")
    try:
        found = await proxies.open_proxy(conn, sealer, task.account_id, named or proxies.DEFAULT)
    except (SealingError, ProxyInvalid):
        raise LoginUnusable(f"the proxy {named or proxies.DEFAULT!r} of the account cannot be opened") from None
    if found is not None:
        return found
    if named:
        raise LoginUnusable(f"the proxy {named!r} named by the automation's settings does not exist")
    if settings.proxy is None:
        raise LoginUnusable(proxies.NO_PROXY)
    return settings.proxy


async def keep(db: Database, sealer: Sealer, task: Task, setup: LoginSetup, state: dict[str, Any] | None) -> None:
    """Keep the state a successful run left (`state`: None after a failure, which keeps the one before)."""
    if not setup.reuse_session or state is None:
        return
    async with db.connection() as conn:
        await sessions.save_state(
            conn, sealer, task.account_id, task.endpoint_name, task.unique_parameters, state, task.id
        )
