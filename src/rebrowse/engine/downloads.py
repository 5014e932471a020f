"""Files a step downloads: captured from Playwright's download events, never found by polling a folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Download

from rebrowse.automation.actions import DownloadUrlAsPdfAction, InteractionAction
from rebrowse.automation.placeholders import substitute
from rebrowse.engine.artifacts import DownloadRecord
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed


def download_name(requested: str | None, suggested: str) -> str:
    """The file name to save as: the requested name (taking the browser's extension when it has none)."""
    if not requested:
        return suggested
    if not Path(requested).suffix and Path(suggested).suffix:
        return requested + Path(suggested).suffix
    return requested


async def record_file(step: Step, name: str, content: bytes, metadata: dict[str, Any] | None) -> Path:
    """Save downloaded bytes under downloads/ and register them with their metadata."""
    path = step.state.writer.unique_download_path(name)
    path.write_bytes(content)
    await register(step, path, metadata)
    return path


async def register(step: Step, path: Path, metadata: dict[str, Any] | None) -> None:
    """Register a file already in downloads/; metadata placeholders are resolved now, at save time."""
    resolved: dict[str, Any] = {}
    if metadata:
        text = json.dumps(metadata)
        values = await step.state.values_for(text)
        resolved = json.loads(substitute(text, values)) if values else metadata
    step.state.downloads.append(
        DownloadRecord(filename=path.name, path=str(path), size=path.stat().st_size, metadata=resolved)
    )
    step.record.detail = f"downloaded {path.name}"


async def save_download(step: Step, download: Download, requested: str | None, metadata: dict[str, Any] | None) -> None:
    """Save a Playwright download under downloads/."""
    failure = await download.failure()
    if failure:
        raise StepFailed(f"the download failed: {failure}")
    name = download_name(requested and step.sub(requested), download.suggested_filename)
    path = step.state.writer.unique_download_path(name)
    await download.save_as(path)
    if path.stat().st_size == 0:
        raise StepFailed(f"the downloaded file {path.name} is empty")
    await register(step, path, metadata)


@asynccontextmanager
async def expecting_download(
    step: Step, expected: bool, requested: str | None, metadata: dict[str, Any] | None
) -> AsyncIterator[None]:
    """Run the body; when a download is expected, wait for its event and save the file."""
    if not expected:
        yield
        return
    timeout_ms = step.state.options.download_timeout_s * 1000
    async with step.page.expect_download(timeout=timeout_ms) as info:
        yield
    await save_download(step, await info.value, requested, metadata)


async def download_url_as_pdf(step: Step, action: DownloadUrlAsPdfAction, wrapper: InteractionAction) -> None:
    """Save a URL (default: the current page) as a PDF: PDF responses as they are, other pages rendered."""
    url = step.sub(action.url) if action.url else step.page.url
    response = await step.state.context.request.get(url, timeout=step.state.options.download_timeout_s * 1000)
    if not response.ok:
        raise StepFailed(f"{url} answered HTTP {response.status}")
    body = await response.body()
    if not body:
        raise StepFailed(f"{url} returned an empty body")
    if body.startswith(b"%PDF") or "pdf" in response.headers.get("content-type", ""):
        content = body
    else:
        content = await render_pdf(step, url)
    name = download_name(step.sub(action.download_filename) if action.download_filename else None, "page.pdf")
    await record_file(step, name if name.lower().endswith(".pdf") else name + ".pdf", content, None)


async def render_pdf(step: Step, url: str) -> bytes:
    """Print a web page to PDF in a scratch tab of the same context (Chromium prints only when headless)."""
    page = await step.state.context.new_page()
    try:
        await page.goto(url, timeout=step.state.options.navigation_timeout_s * 1000)
        return await page.pdf()
    except Exception as exc:
        raise StepFailed(f"could not render {url} as PDF: {exc}") from exc
    finally:
        await page.close()
