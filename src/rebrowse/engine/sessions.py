"""Warm sessions: the browser state a run starts from, and the state a successful run leaves for the next one.

Playwright's storage state carries cookies, localStorage and IndexedDB; it is set on the run's fresh context once
opened (so a worker slot's prepared context serves warm runs too). sessionStorage is not part of it: it is read
from the run's open pages, per origin, and given back by an init script that fills a tab's sessionStorage for an
origin before the page's own scripts run, when that tab has none for it yet (its first page of that origin).
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, StorageState
from playwright.async_api import Error as PlaywrightError

from rebrowse.errors import first_line

if TYPE_CHECKING:  # Playwright exports the type of add_cookies' argument from its internals only
    from playwright._impl._api_structures import SetCookieParam

logger = logging.getLogger(__name__)
# {"storage_state": Playwright's StorageState, "session_storage": {origin: {key: value}}}
BrowserState = dict[str, Any]

READ_SESSION_STORAGE = "() => Object.fromEntries(Object.entries(window.sessionStorage))"
# __KEPT__ is replaced by a JSON object (data, never code from a page or an automation).
FILL_SESSION_STORAGE = """(() => {
  const kept = __KEPT__;
  const items = kept[window.location.origin];
  if (!items) return;
  try {
    if (window.sessionStorage.length > 0) return;
    for (const [key, value] of Object.entries(items)) window.sessionStorage.setItem(key, value);
  } catch (error) {}
})();"""


def origin_of(url: str) -> str | None:
    """The origin of an http(s) URL as a page's location.origin says it; None for other URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def capture(context: BrowserContext) -> BrowserState | None:
    """The context's cookies, localStorage, IndexedDB and its open pages' sessionStorage; None when the context
    can no longer tell (the state kept before then stays)."""
    try:
        storage = await context.storage_state(indexed_db=True)
    except PlaywrightError:
        return None
    session: dict[str, dict[str, str]] = {}
    for page in context.pages:
        origin = origin_of(page.url)
        if origin is None:
            continue
        with contextlib.suppress(PlaywrightError):  # a page that closed or navigated meanwhile
            session.setdefault(origin, {}).update(await page.evaluate(READ_SESSION_STORAGE))
    return {"storage_state": dict(storage), "session_storage": session}


async def restore(context: BrowserContext, state: BrowserState) -> None:
    """Give a fresh context (a slot's prepared one, too) the kept cookies, storages and IndexedDB, and make its tabs
    start with the kept sessionStorage. A state Playwright refuses is logged and skipped: the run starts as a fresh
    one would (and signs in), and its success keeps a new state."""
    try:
        await set_state(context, state)
    except PlaywrightError as exc:
        logger.warning("the kept browser state could not be restored, the run starts fresh: %s", first_line(exc))


async def set_state(context: BrowserContext, state: BrowserState) -> None:
    storage: StorageState = state.get("storage_state") or {}
    if storage.get("origins"):
        await context.set_storage_state(storage)
    elif storage.get("cookies"):
        # Cookies alone (the common login) need no page per origin, which setting the whole state opens. A
        # storage-state cookie has every field add_cookies takes (domain and path, expires, flags).
        await context.add_cookies(cast("list[SetCookieParam]", storage["cookies"]))
    kept = state.get("session_storage") or {}
    if kept:
        await context.add_init_script(FILL_SESSION_STORAGE.replace("__KEPT__", json.dumps(kept)))
