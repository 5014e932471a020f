"""Files a step downloads: captured from Playwright's download events, never found by polling a folder."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from playwright.async_api import APIResponse, Download
from playwright.async_api import Error as PlaywrightError

from rebrowse.automation.actions import DownloadFileAction, DownloadingAction, DownloadUrlAsPdfAction, InteractionAction
from rebrowse.automation.placeholders import Json, substitute
from rebrowse.browser.egress import EgressDenied
from rebrowse.engine.artifacts import DownloadRecord, safe_filename
from rebrowse.engine.egress import fetch, navigate
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed


def download_name(requested: str | None, suggested: str) -> str:
    """The file name to save as: the requested name (taking the browser's extension when it has none)."""
    if not requested:
        return suggested
    if not Path(requested).suffix and Path(suggested).suffix:
        return requested + Path(suggested).suffix
    return requested


def response_filename(url: str, headers: Mapping[str, str], fallback: str) -> str:
    """The name a server gives a response: its Content-Disposition filename, else the URL's last segment."""
    disposition = Message()
    disposition["content-disposition"] = headers.get("content-disposition", "")
    name = disposition.get_filename() or unquote(Path(urlsplit(url).path).name)
    return safe_filename(name, fallback)


def fill_placeholders(value: Json, values: Mapping[str, object]) -> Json:
    """A copy of JSON-like metadata with the placeholders of every string (keys too) replaced by values."""
    if isinstance(value, str):
        return substitute(value, values)
    if isinstance(value, list):
        return [fill_placeholders(item, values) for item in value]
    if isinstance(value, dict):
        return {substitute(key, values): fill_placeholders(item, values) for key, item in value.items()}
    return value


async def resolve_metadata(step: Step, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Download metadata with its placeholders resolved from the variables as they are now, at save time."""
    if not metadata:
        return {}
    values = await step.state.values_for(json.dumps(metadata))
    resolved: dict[str, Any] = {substitute(k, values): fill_placeholders(v, values) for k, v in metadata.items()}
    return resolved


async def record_file(step: Step, name: str, content: bytes, metadata: dict[str, Any] | None) -> Path:
    """Save downloaded bytes under downloads/ and register them with their metadata."""
    resolved = await resolve_metadata(step, metadata)
    path = step.state.writer.unique_download_path(name)
    path.write_bytes(content)
    register(step, path, resolved)
    return path


def register(step: Step, path: Path, metadata: dict[str, Any]) -> None:
    """Register a file already saved in downloads/ with its resolved metadata."""
    step.state.downloads.append(
        DownloadRecord(filename=path.name, path=str(path), size=path.stat().st_size, metadata=metadata)
    )
    step.record.detail = f"downloaded {path.name}"


async def save_download(step: Step, download: Download, requested: str | None, metadata: dict[str, Any] | None) -> None:
    """Save a Playwright download under downloads/."""
    failure = await download.failure()
    if failure:
        raise StepFailed(f"the download failed: {failure}")
    name = download_name(requested and step.sub(requested), download.suggested_filename)
    resolved = await resolve_metadata(step, metadata)
    path = step.state.writer.unique_download_path(name)
    await download.save_as(path)
    if path.stat().st_size == 0:
        path.unlink()
        raise StepFailed(f"the downloaded file {path.name} is empty")
    register(step, path, resolved)


@asynccontextmanager
async def expecting_download(step: Step, action: DownloadingAction) -> AsyncIterator[None]:
    """Run the body; when the action expects a download, wait for its event (as long as the action or else the
    deployment allows) and save the file."""
    if not action.expect_download:
        yield
        return
    timeout_ms = (action.download_timeout_seconds or step.state.options.download_timeout_s) * 1000
    arrived = asyncio.ensure_future(step.page.wait_for_event("download", timeout=timeout_ms))
    refused = asyncio.ensure_future(step.state.navigation_refused.wait())
    try:
        yield
        # A download starts as a navigation: once the egress policy refused one, no download is coming.
        await asyncio.wait((arrived, refused), return_when=asyncio.FIRST_COMPLETED)
        if not arrived.done() and step.state.refused_navigation is not None:
            raise step.state.refused_navigation
        download = await arrived
    finally:
        for waiting in (arrived, refused):
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, PlaywrightError):
                await waiting
    await save_download(step, download, action.download_filename, action.download_metadata)


async def download_url_as_pdf(step: Step, action: DownloadUrlAsPdfAction, wrapper: InteractionAction) -> None:
    """Save a URL (default: the current page) as a PDF: PDF responses as they are, other pages rendered."""
    url = step.sub(action.url) if action.url else step.page.url
    response, body = await fetch_body(step, url)
    if body.startswith(b"%PDF") or "pdf" in response.headers.get("content-type", ""):
        content = body
    else:
        content = await render_pdf(step, url)
    await record_file(step, pdf_name(step, action, url, response), content, None)


async def download_file(step: Step, action: DownloadFileAction, wrapper: InteractionAction) -> None:
    """Fetch file_url as a download of the run and store its path as `{output_variable_name[0]}` (a later
    upload_file may give it to the page)."""
    url = step.sub(action.file_url)
    if not url.startswith(("http://", "https://")):
        raise StepFailed(f"file_url must be an http:// or https:// URL, got {url!r}")
    response, body = await fetch_body(step, url)
    path = await record_file(step, response_filename(url, response.headers, "download"), body, None)
    step.state.generated[step.sub(action.output_variable_name)] = [str(path)]


async def fetch_body(step: Step, url: str) -> tuple[APIResponse, bytes]:
    """The response and body of a GET through the egress policy; an error status or an empty body fails the step."""
    response = await fetch(step, url, step.state.options.download_timeout_s)
    if not response.ok:
        raise StepFailed(f"{url} answered HTTP {response.status}")
    body = await response.body()
    if not body:
        raise StepFailed(f"{url} returned an empty body")
    return response, body


def pdf_name(step: Step, action: DownloadUrlAsPdfAction, url: str, response: APIResponse) -> str:
    """The requested name, else the server's name for the URL, ending in .pdf (`table.html` -> `table.pdf`)."""
    if action.download_filename:
        name = step.sub(action.download_filename)
        return name if name.lower().endswith(".pdf") else f"{name}.pdf"
    name = response_filename(url, response.headers, "page.pdf")
    return name if name.lower().endswith(".pdf") else f"{Path(name).stem}.pdf"


async def render_pdf(step: Step, url: str) -> bytes:
    """Print a web page to PDF in a scratch tab of the same context."""
    page = await step.state.context.new_page()
    try:
        await navigate(step.state, page, url, step.state.options.navigation_timeout_s)
        return await page.pdf()
    except EgressDenied:
        raise
    except Exception as exc:
        raise StepFailed(f"could not render {url} as PDF: {exc}") from exc
    finally:
        await page.close()
