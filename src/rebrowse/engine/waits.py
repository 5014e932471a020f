"""Event-driven waits: how the engine knows a page has settled without sleeping for a fixed time."""

from __future__ import annotations

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

# Installed in every page of a run's context. It counts in-flight fetch/XHR requests and short timers, and
# remembers when the DOM last changed, so "settled" can be asked of the page instead of guessed with a sleep.
ACTIVITY_TRACKER = """
(() => {
  if (window.__rbIdle) return;
  const SHORT_TIMER_MS = 500;
  let pending = 0;
  let last = performance.now();
  const touch = () => { last = performance.now(); };
  const begin = () => { pending += 1; touch(); };
  const end = () => { pending = Math.max(0, pending - 1); touch(); };
  const nativeFetch = window.fetch;
  if (nativeFetch) {
    window.fetch = function (...args) {
      begin();
      return nativeFetch.apply(this, args).finally(end);
    };
  }
  // Reading a body is the second half of most fetches; the page renders only once it resolves.
  for (const method of ["json", "text", "arrayBuffer", "blob", "formData"]) {
    const native = Response.prototype[method];
    Response.prototype[method] = function (...args) {
      begin();
      return native.apply(this, args).finally(end);
    };
  }
  const nativeSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    begin();
    this.addEventListener("loadend", end, { once: true });
    return nativeSend.apply(this, args);
  };
  const nativeSetTimeout = window.setTimeout;
  const nativeClearTimeout = window.clearTimeout;
  const shortTimers = new Set();
  window.setTimeout = function (fn, delay, ...rest) {
    // No delay means 0: `setTimeout(fn)` is the usual way to defer work to the next task.
    if (typeof fn !== "function" || !((delay ?? 0) <= SHORT_TIMER_MS)) {
      return nativeSetTimeout.call(window, fn, delay, ...rest);
    }
    // Firing does not count as activity by itself (what the callback changes does): Playwright's own
    // polling runs on timers, and counting those would keep the page from ever looking settled.
    const id = nativeSetTimeout.call(window, (...a) => {
      shortTimers.delete(id);
      fn(...a);
    }, delay, ...rest);
    shortTimers.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    shortTimers.delete(id);
    return nativeClearTimeout.call(window, id);
  };
  const observe = () => new MutationObserver(touch).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", observe, { once: true });
  } else {
    observe();
  }
  window.__rbIdle = (quietMs) =>
    document.readyState !== "loading" && pending === 0 && shortTimers.size === 0 &&
    performance.now() - last >= quietMs;
})();
"""

# Requests, body reads and short timers are tracked exactly, so the quiet window only has to cover work the
# tracker cannot see (a framework's own scheduler, for instance).
QUIET_MS = 10  # the DOM and network must have been still this long to count as settled
POLL_MS = 10
IS_SETTLED = "q => !window.__rbIdle || window.__rbIdle(q)"


async def settle(page: Page, bound_s: float) -> None:
    """Wait until the page is loaded and quiet (no requests, no short timers, no DOM changes), at most bound_s.

    Reaching the bound is not an error: this replaces Optexity's fixed sleeps, which never failed either.
    """
    if bound_s <= 0:
        return
    try:
        # A plain evaluate first: on a fresh document wait_for_function must inject Playwright's helper
        # script (about 25 ms), and most of the time the page is settled already.
        if await page.evaluate(IS_SETTLED, QUIET_MS):
            return
        await page.wait_for_function(
            IS_SETTLED,
            arg=QUIET_MS,
            timeout=bound_s * 1000,
            polling=POLL_MS,
        )
    except PlaywrightError:
        return


async def wait_for_load(page: Page, bound_s: float) -> None:
    """Wait for the load event of the current document, at most bound_s (returns at once when loaded)."""
    if bound_s <= 0:
        return
    try:
        await page.wait_for_load_state("load", timeout=bound_s * 1000)
    except PlaywrightError:
        return
