"""Extraction actions: read text, page state, network traffic, screenshots and HTTP APIs into outputs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import httpx
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Request

from rebrowse.automation.actions import (
    ApiCallExtraction,
    ExtractionAction,
    LocatorExtraction,
    NetworkCallExtraction,
    PythonScriptExtraction,
    ScreenshotExtraction,
    StateExtraction,
)
from rebrowse.automation.expressions import evaluate_condition
from rebrowse.browser.egress import EgressProxy
from rebrowse.engine.downloads import record_file
from rebrowse.engine.egress import check, http_client, raise_if_refused, refused_proxy
from rebrowse.engine.element_errors import explain
from rebrowse.engine.llm_answers import locator_fallback
from rebrowse.engine.scripts import run_script
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed

LOCATOR_TEXT_TIMEOUT_MS = 5000
READ_STORAGE = """() => ({
  local_storage: Object.fromEntries(Object.entries(localStorage)),
  session_storage: Object.fromEntries(Object.entries(sessionStorage)),
  document_cookie: document.cookie,
})"""


def add_output(step: Step, wrapper: ExtractionAction, **content: Any) -> None:
    """Append one OutputData entry (Optexity's shape) to the run's outputs."""
    entry: dict[str, Any] = {"unique_identifier": wrapper.unique_identifier}
    entry.update(content)
    step.state.output_data.append(entry)


def set_variable(step: Step, name: str, value: Any) -> None:
    """Store a generated variable, as a list like every Optexity variable (api results stay dicts)."""
    step.state.generated[name] = value


# A form field's text is what it holds: an input's innerText is always empty.
READ_ELEMENT = """e => e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement
    || e instanceof HTMLSelectElement ? e.value : e.innerText"""


# The same, of the first element found, in one round trip and without waiting for it: [] when none is there yet.
READ_FIRST_FOUND = f"elements => elements.length ? [({READ_ELEMENT})(elements[0])] : []"


async def element_text(located: Locator) -> str:
    """The text of the first matching element (a form field's value). An element already there is read in one round
    trip to the browser; only one still awaited goes through the locator's evaluate, which waits for it but takes
    three (wait, evaluate, dispose): in a loop over rows that is the difference with hand-written Playwright."""
    first = located.first
    with contextlib.suppress(PlaywrightError):  # e.g. the page is between two documents: wait as below
        found = await first.evaluate_all(READ_FIRST_FOUND)
        if found:
            return str(found[0]).strip()
    return str(await first.evaluate(READ_ELEMENT, timeout=LOCATOR_TEXT_TIMEOUT_MS)).strip()


async def locator(step: Step, action: LocatorExtraction, wrapper: ExtractionAction) -> None:
    """The text of the first matching element (a form field's value)."""
    name = action.output_variable_name or f"node{step.state.step_index}_output"
    text: Any = None
    failure = "the element has no text"
    try:
        located = step.locate(action.command)
        text = await element_text(located)
    except PlaywrightError as exc:
        failure = await explain(step, action.command, located, exc)
    if not text and action.extraction_instructions:
        # Optexity's fallback, made visible: the step's record says the model answered.
        text = await locator_fallback(step, action, name)
        failure = f"{failure}; the LLM fallback found no value either"
    if text is None and not wrapper.allow_none:
        raise StepFailed(f"no text could be read: {failure}")
    set_variable(step, name, [text])
    add_output(step, wrapper, json_data={name: text})


async def state(step: Step, action: StateExtraction, wrapper: ExtractionAction) -> None:
    """URL, title, cookies and web storage of the current page."""
    storage: dict[str, Any] = await step.page.evaluate(READ_STORAGE)
    data = {
        "page_url": step.page.url,
        "page_title": await step.page.title(),
        "cookies": await step.state.context.cookies(),
        **storage,
    }
    add_output(step, wrapper, json_data=data)


async def request_body(request: Request, extract_from: str) -> tuple[Any, bytes]:
    """The decoded and raw body of a captured request or of its response."""
    if extract_from == "request":
        raw = request.post_data_buffer or b""
    else:
        response = await request.response()
        if response is None:
            return None, b""
        raw = await response.body()
    try:
        return json.loads(raw), raw
    except ValueError:
        return raw.decode("utf-8", "replace"), raw


async def network_call(step: Step, action: NetworkCallExtraction, wrapper: ExtractionAction) -> None:
    """Bodies of the requests (or responses) since the last interaction whose URL contains url_pattern.

    A download_filename saves each match's response as a download too (see `download_body`).
    """
    pattern = action.url_pattern
    if not pattern:
        raise StepFailed("url_pattern is not set")
    matches = [r for r in list(step.state.network) if pattern in r.url]
    if not matches:
        raise StepFailed(f"no request since the last interaction matches {pattern!r}")
    for request in matches:
        body, _ = await request_body(request, action.extract_from or "response")
        add_output(step, wrapper, json_data={"body": body})
        if action.download_filename:
            content = await download_body(step, request, action.download_from or "response")
            await record_file(step, step.sub(action.download_filename), content, None)
    step.record.detail = f"{len(matches)} matching request(s)"


async def download_body(step: Step, request: Request, source: str) -> bytes:
    """The response the page received, or for download_from=request the response to the same request sent
    again from the run's context (its cookies apply), which is what Optexity saves in that case."""
    if source == "response":
        _, raw = await request_body(request, "response")
        return raw
    timeout_ms = step.state.options.download_timeout_s * 1000
    response = await step.state.context.request.fetch(request, timeout=timeout_ms)
    raise_if_refused(response.headers)
    if not response.ok:
        raise StepFailed(f"sending {request.method} {request.url} again answered HTTP {response.status}")
    return await response.body()


async def screenshot(step: Step, action: ScreenshotExtraction, wrapper: ExtractionAction) -> None:
    """A screenshot of the page, kept as a file and in the outputs."""
    filename = step.sub(action.filename or f"screenshot_{step.state.step_index}.png")
    path = step.state.writer.screenshot_path(filename)
    png = await step.page.screenshot(path=path, full_page=action.full_page, mask=step.state.screenshot_mask())
    add_output(step, wrapper, screenshot={"filename": path.name, "base64": base64.b64encode(png).decode()})


async def api_call(step: Step, action: ApiCallExtraction, wrapper: ExtractionAction) -> None:
    """Call an HTTP API, optionally polling until poll_condition holds; the result is stored as a dict."""
    request = build_request(step, action)
    await check(step.state, str(request.url))
    async with http_client(step.state, timeout_s=action.timeout, follow_redirects=True) as client:
        for attempt in range(1, max(1, action.max_poll_attempts) + 1):
            result = await call_once(client, request, step.state.egress)
            for name in action.output_variable_names:
                set_variable(step, name, result)
            if not action.poll_condition or poll_done(step, action, result):
                break
            if attempt == action.max_poll_attempts:
                raise StepFailed(f"poll_condition {action.poll_condition!r} still false after {attempt} attempts")
            await asyncio.sleep(action.poll_interval)
    add_output(step, wrapper, json_data={name: result for name in action.output_variable_names})
    step.record.detail = f"HTTP {result.get('status_code')}"


def build_request(step: Step, action: ApiCallExtraction) -> httpx.Request:
    """The HTTP request of an api_call, placeholders substituted as values."""
    headers = {k: step.sub(v) for k, v in (action.headers or {}).items()}
    params = {k: step.sub(str(v)) for k, v in (action.query_params or {}).items()}
    # Merged: httpx's `params=` would replace a query string the URL already has.
    url = httpx.URL(step.sub(action.url)).copy_merge_params(params)
    body = action.body
    if isinstance(body, str):
        return httpx.Request(action.method, url, headers=headers, content=step.sub(body))
    payload = filled(step, body) if body is not None else None
    return httpx.Request(action.method, url, headers=headers, json=payload)


def filled(step: Step, value: Any) -> Any:
    """A JSON body with the placeholders of every string (keys included) replaced, each value staying inside
    its own string: a value with quotes cannot add keys to the body, as pasting it into the JSON text would."""
    if isinstance(value, str):
        return step.sub(value)
    if isinstance(value, list):
        return [filled(step, item) for item in value]
    if isinstance(value, dict):
        return {step.sub(key): filled(step, item) for key, item in value.items()}
    return value


async def call_once(client: httpx.AsyncClient, request: httpx.Request, egress: EgressProxy | None) -> dict[str, Any]:
    """One HTTP call, described as Optexity's result dict (errors described, not raised, except the egress
    policy's refusal: that fails the step)."""
    try:
        response = await client.send(request)
    except httpx.ProxyError as exc:
        denied = refused_proxy(egress, exc)
        if denied is not None:
            raise denied from None
        return {"status_code": None, "headers": {}, "body": None, "error": "http_error", "message": str(exc)}
    except httpx.TimeoutException as exc:
        return {"status_code": None, "headers": {}, "body": None, "error": "timeout", "message": str(exc)}
    except httpx.HTTPError as exc:
        return {"status_code": None, "headers": {}, "body": None, "error": "http_error", "message": str(exc)}
    raise_if_refused(response.headers)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    result: dict[str, Any] = {
        "status_code": response.status_code,
        "headers": dict(response.headers),
        "body": body,
    }
    if response.is_error:
        result.update(error="http_error", message=f"HTTP {response.status_code}")
    return result


def poll_done(step: Step, action: ApiCallExtraction, result: dict[str, Any]) -> bool:
    """Whether the poll condition holds for this result (the result is bound under its output names)."""
    names = {**step.state.scope(), **{n: result for n in action.output_variable_names}}
    return evaluate_condition(action.poll_condition or "True", names)


async def python_script(step: Step, action: PythonScriptExtraction, wrapper: ExtractionAction) -> None:
    """Run the automation's `code_fn(axtree, page)` (only where scripts are allowed), within its timeout_seconds."""
    axtree = await step.page.locator("body").aria_snapshot()
    try:
        async with asyncio.timeout(action.timeout_seconds):
            result = await run_script(step, action.script, axtree, step.page)
    except TimeoutError:
        raise StepFailed(f"the script did not finish within its timeout_seconds ({action.timeout_seconds:g})") from None
    if not isinstance(result, dict):
        raise StepFailed(f"code_fn must return a dict, it returned {type(result).__name__}")
    for name in action.output_variable_names or []:
        if name in result:
            value = result[name]
            if value is None and not wrapper.allow_none:
                raise StepFailed(f"code_fn returned None for {name!r} and allow_none is false")
            set_variable(step, name, value if isinstance(value, list) else [value])
    add_output(step, wrapper, json_data=result)
