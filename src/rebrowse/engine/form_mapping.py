"""dynamic_form_mapping_action: the model reads a form's fields from the page, an endpoint of the automation's
owner maps them to values, and later steps use those values.

The request: POST `{task_id, extracted_fields, screenshot, axtree, live_stream_url}` (JSON) with the `x-api-key`
header or basic auth. The answer must be a JSON object of names to strings, numbers or booleans; it is stored as
`[object]` under output_variable_name (so `{form_values[0].name}` is one value, `{form_values[0]}` all of them as
JSON text) and listed in the outputs as Optexity does, `{name: "<the object as JSON text>"}`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from rebrowse.automation.actions import DynamicFormMappingAction, FormMappingCallbackUrl
from rebrowse.engine.asking import snapshot_for_model
from rebrowse.engine.egress import check, http_client, raise_if_refused, refused_proxy
from rebrowse.engine.extraction import set_variable
from rebrowse.engine.llm_answers import extract, masked_screenshot, page_parts, prompt_text
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed
from rebrowse.llm.formats import requested_model

API_KEY_HEADER = "x-api-key"
MAX_ANSWER_BYTES = 64 * 1024  # Optexity's limit on the mapping an endpoint answers
SCALARS = (str, int, float, bool)
SHAPE = "a JSON object of names to strings, numbers or booleans"
JSON_KINDS = {type(None): "null", list: "list", dict: "object", str: "string", int: "number", float: "number"}


@dataclass(frozen=True)
class Callback:
    """The endpoint with its placeholders filled in, and how it is named in records and errors."""

    url: str
    shown: str  # without credentials, query or fragment, which may carry a key
    headers: dict[str, str] = field(default_factory=dict)
    auth: httpx.BasicAuth | None = None


async def dynamic_form_mapping(step: Step, action: DynamicFormMappingAction) -> None:
    """Read the form's fields with the model, have the callback map them to values, and store the values."""
    callback = resolve_callback(step, action.callback_url)
    await check(step.state, callback.url)  # before the model is asked: a denied endpoint fails at once
    fields = await extract(
        step,
        action.extraction_format,
        prompt_text(step, action.extraction_instructions, "extraction_instructions"),
        await page_parts(step, action.source, action.full_page_screenshot),
        purpose="form mapping",
        model_name=requested_model(action.llm_model_name, action.llm_provider),
    )
    values = await post(step, callback, await payload(step, action, fields), action.max_wait_time)
    name = action.output_variable_name
    set_variable(step, name, [values])
    step.state.output_data.append({"unique_identifier": name, "json_data": {name: json.dumps(values)}})
    step.record.detail = f"the callback {callback.shown} answered {len(values)} value(s), stored in {name}"


def resolve_callback(step: Step, target: FormMappingCallbackUrl) -> Callback:
    """The callback's URL and credentials, placeholders filled in; the credentials are masked in every record."""
    url = step.sub(target.url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise StepFailed("callback_url.url must be an http or https URL with a host")
    shown = str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    redactor = step.state.secrets.redactor
    if target.api_key is not None:
        key = step.sub(target.api_key)
        redactor.add(key)
        return Callback(url, shown, headers={API_KEY_HEADER: key})
    if target.username is not None and target.password is not None:
        password = step.sub(target.password)
        redactor.add(password)
        return Callback(url, shown, auth=httpx.BasicAuth(step.sub(target.username), password))
    return Callback(url, shown)


async def payload(step: Step, action: DynamicFormMappingAction, fields: dict[str, Any]) -> dict[str, Any]:
    """What the callback receives: the fields, and the page as the action asks (secrets masked in both)."""
    screenshot = None
    if action.include_screenshot:
        png = await masked_screenshot(step, action.full_page_screenshot)
        screenshot = base64.b64encode(png).decode()
    return {
        "task_id": step.state.options.task_id,
        "extracted_fields": fields,
        "screenshot": screenshot,
        "axtree": await snapshot_for_model(step) if action.include_axtree else None,
        "live_stream_url": None,  # a run has no live stream to watch
    }


async def post(step: Step, callback: Callback, body: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """POST the body through the egress policy and wait at most `wait_s` for the callback's mapping."""
    try:
        async with asyncio.timeout(wait_s), http_client(step.state, timeout_s=wait_s, follow_redirects=False) as client:
            auth = callback.auth or httpx.USE_CLIENT_DEFAULT
            response = await client.post(callback.url, json=body, headers=callback.headers, auth=auth)
    except (TimeoutError, httpx.TimeoutException):
        raise StepFailed(f"the callback {callback.shown} did not answer within max_wait_time ({wait_s:g} s)") from None
    except httpx.ProxyError as exc:
        denied = refused_proxy(step.state.egress, exc)
        if denied is not None:
            raise denied from None
        raise StepFailed(f"the callback {callback.shown} could not be reached: {exc}") from None
    except httpx.HTTPError as exc:
        raise StepFailed(
            f"the callback {callback.shown} could not be reached: {str(exc) or type(exc).__name__}"
        ) from None
    raise_if_refused(response.headers)
    return mapping_in(response, callback.shown)


def mapping_in(response: httpx.Response, shown: str) -> dict[str, Any]:
    """The callback's mapping, checked: a 2xx answer holding a small JSON object of names to scalar values."""
    answered = f"the callback {shown} answered HTTP {response.status_code}"
    if response.is_redirect:
        raise StepFailed(f"{answered}: redirects are not followed")
    if not response.is_success:
        raise StepFailed(answered)
    if len(response.content) > MAX_ANSWER_BYTES:
        raise StepFailed(f"{answered} with more than {MAX_ANSWER_BYTES} bytes")
    try:
        values = response.json()
    except ValueError:
        raise StepFailed(f"{answered} with a body that is not JSON; expected {SHAPE}") from None
    if not isinstance(values, dict):
        raise StepFailed(f"{answered} with a JSON {JSON_KINDS.get(type(values), 'value')}; expected {SHAPE}")
    wrong = next((key for key, value in values.items() if not isinstance(value, SCALARS)), None)
    if wrong is not None:
        kind = JSON_KINDS.get(type(values[wrong]), "value")
        raise StepFailed(f"{answered} with {wrong!r} a {kind}; expected {SHAPE}")
    return values
