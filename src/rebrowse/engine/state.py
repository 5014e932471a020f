"""The live state of one attempt: its browser context and tabs, variables, outputs and step counter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import BrowserContext, ConsoleMessage, Locator, Page, Request, Response
from playwright.async_api import Error as PlaywrightError

from rebrowse.automation.locator import describe_locator, parse_locator, resolve_locator
from rebrowse.automation.parameters import ParameterValue, SecureParameter
from rebrowse.automation.placeholders import references, substitute
from rebrowse.browser.egress import EgressDenied, EgressProxy, refusal_in
from rebrowse.engine.artifacts import ArtifactWriter, DownloadRecord, StepRecord
from rebrowse.engine.options import RunOptions
from rebrowse.errors import LocatorInvalid
from rebrowse.llm.client import Llm
from rebrowse.llm.config import LlmConfig
from rebrowse.messages.models import Inbox
from rebrowse.secrets.redaction import MASK
from rebrowse.secrets.resolver import SecretResolver

StepListener = Callable[[StepRecord], Awaitable[None] | None]
TUNNEL_REFUSED = "ERR_TUNNEL_CONNECTION_FAILED"  # Chromium's error when the proxy refused a CONNECT
MAX_NETWORK_LOG = 5000  # requests kept between two interactions; older ones are dropped
MAX_PAGE_LOG = 100  # console messages (and failed requests) a step records; a chatty page's later ones are dropped
MAX_LOG_TEXT = 1000  # characters kept of one console message
FAILED_STATUS = 400  # an answer from this status up is a failed request in the step's record


@dataclass
class RunState:
    """Everything the nodes of one attempt read and write."""

    context: BrowserContext
    page: Page
    inputs: Mapping[str, Sequence[ParameterValue]]
    secure: Mapping[str, Sequence[SecureParameter]]
    secrets: SecretResolver
    writer: ArtifactWriter
    options: RunOptions
    attempt: int
    listener: StepListener | None = None
    egress: EgressProxy | None = None  # the proxy the context goes through, enforcing the egress policy
    llm: Llm = field(default_factory=lambda: Llm(LlmConfig()))  # one per run: it counts every attempt's calls
    inbox: Inbox | None = None  # where two_fa_action reads messages (None: a run outside a server has none)
    # Optexity's start_2fa_time: a two_fa_action takes only messages received after it; every interaction
    # starts it again, and a code taken moves it past its message.
    two_fa_clock: datetime = field(default_factory=lambda: datetime.now(UTC))
    generated: dict[str, Any] = field(default_factory=dict)
    output_data: list[dict[str, Any]] = field(default_factory=list)
    for_loop_status: list[list[dict[str, Any]]] = field(default_factory=list)
    downloads: list[DownloadRecord] = field(default_factory=list)
    network: list[Request] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    step_index: int = 0
    known_pages: int = 1
    # Elements that were given a secret value: every screenshot covers them.
    secret_fields: list[Locator] = field(default_factory=list)
    # A navigation of a tab that the egress policy refused during the current step (a link, a form, a download
    # that starts as a navigation): the step fails with it, although the tab shows the proxy's answer.
    refused_navigation: EgressDenied | None = None
    navigation_refused: asyncio.Event = field(default_factory=asyncio.Event)
    script_state: dict[str, Any] = field(default_factory=dict)  # what the attempt's python scripts share (ctx.state)
    # What the pages logged to their console ("type: text") and the requests that failed ("METHOD URL (why)")
    # since the last step's end, for the next step's record.
    console: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.on("request", self._remember_request)
        self.context.on("console", self._note_console)
        self.context.on("requestfailed", self._note_failed_request)
        self.context.on("response", self._note_failed_answer)
        if self.egress is not None:
            self.context.on("response", self._note_refused_answer)
            self.context.on("requestfailed", self._note_refused_tunnel)

    def _note_refused_answer(self, response: Response) -> None:
        denied = refusal_in(response.headers)
        if denied is not None and is_tab_navigation(response.request):
            self._refuse(denied)

    def _note_refused_tunnel(self, request: Request) -> None:
        denied = latest_denial(self.egress) if TUNNEL_REFUSED in (request.failure or "") else None
        if denied is not None and is_tab_navigation(request):
            self._refuse(denied)

    def _refuse(self, denied: EgressDenied) -> None:
        self.refused_navigation = denied
        self.navigation_refused.set()

    def begin_step(self) -> None:
        """Forget what the previous step's navigations were refused."""
        self.refused_navigation = None
        self.navigation_refused.clear()

    def _note_console(self, message: ConsoleMessage) -> None:
        if len(self.console) < MAX_PAGE_LOG:
            self.console.append(f"{message.type}: {message.text[:MAX_LOG_TEXT]}")

    def _note_failed_request(self, request: Request) -> None:
        self._note_failure(request, request.failure or "failed")

    def _note_failed_answer(self, response: Response) -> None:
        if response.status >= FAILED_STATUS:
            self._note_failure(response.request, str(response.status))

    def _note_failure(self, request: Request, why: str) -> None:
        if len(self.failed_requests) < MAX_PAGE_LOG:
            self.failed_requests.append(f"{request.method} {request.url[:MAX_LOG_TEXT]} ({why})")

    def take_page_log(self) -> tuple[list[str], list[str]]:
        """The console messages and failed requests since the last call (the step's own), and forget them."""
        console, failed = self.console, self.failed_requests
        self.console, self.failed_requests = [], []
        return console, failed

    def _remember_request(self, request: Request) -> None:
        if len(self.network) >= MAX_NETWORK_LOG:
            del self.network[0]
        self.network.append(request)

    def adopt_new_tab(self) -> None:
        """Switch to the newest tab when tabs were opened since the last step, as Optexity does."""
        pages = self.context.pages
        if len(pages) > self.known_pages:
            self.page = pages[-1]
        self.known_pages = len(pages)

    def screenshot_mask(self) -> list[Locator]:
        """The secret fields of the current page, for a screenshot's `mask` (a closed tab's locators would fail it)."""
        return [locator for locator in self.secret_fields if locator.page is self.page]

    def scope(self) -> dict[str, Any]:
        """The variables conditions and expressions see: inputs and generated values (never secrets)."""
        return {**self.inputs, **self.generated}

    async def values_for(self, text: str) -> dict[str, object]:
        """The values of the placeholders in `text`; secrets are fetched only when referenced."""
        values: dict[str, object] = {}
        for name in {ref.name for ref in references(text)}:
            if name in self.inputs:
                values[name] = list(self.inputs[name])
            elif name in self.secure:
                values[name] = [await self.secrets.resolve(p) for p in self.secure[name]]
            elif name in self.generated:
                values[name] = self.generated[name]
        return values

    async def notify(self, record: StepRecord) -> None:
        """Tell the listener (the CLI's progress display, a worker) about a step."""
        if self.listener is None:
            return
        result = self.listener(record)
        if result is not None:
            await result


def latest_denial(egress: EgressProxy | None) -> EgressDenied | None:
    """The proxy's latest refusal, as the error of the request it refused."""
    denial = egress.last_denial if egress is not None else None
    return EgressDenied(denial.target, denial.reason) if denial is not None else None


def is_tab_navigation(request: Request) -> bool:
    """Whether the request loads a tab's page (not a frame inside one, nor a service worker's fetch)."""
    try:
        return request.is_navigation_request() and request.frame.parent_frame is None
    except PlaywrightError:  # a service worker's request has no frame
        return False


@dataclass
class Step:
    """One action being performed: its record, and the placeholder values it was started with."""

    state: RunState
    record: StepRecord
    values: dict[str, object]
    started: float = field(default_factory=time.perf_counter)

    @property
    def page(self) -> Page:
        return self.state.page

    def sub(self, text: str) -> str:
        """`text` with its placeholders replaced by values (never spliced into code)."""
        return substitute(text, self.values)

    def uses_secret(self, text: str) -> bool:
        """Whether `text` refers to a secure parameter."""
        return any(ref.name in self.state.secure for ref in references(text))

    def hide_in_screenshots(self, locator: Locator, *texts: str) -> None:
        """Mask the element in every later screenshot when any of the texts put into it refers to a secret."""
        if any(self.uses_secret(text) for text in texts):
            self.state.secret_fields.append(locator)

    def shown(self, text: str) -> str:
        """`text` with its placeholders replaced for a record or an error: secure parameters show as ***."""
        masked = {name: [MASK] * len(self.state.secure[name]) for name in self.values if name in self.state.secure}
        return substitute(text, {**self.values, **masked})

    def locate(self, command: str) -> Locator:
        """The Playwright locator for an Optexity `command`, recorded on the step with secrets masked."""
        chain = parse_locator(command)
        try:
            self.record.locator = describe_locator(chain, self.shown)
        except LocatorInvalid:
            # A secret used where a number belongs (`nth({pin[0]})`) cannot be shown masked; show the command.
            self.record.locator = chain.command
        return resolve_locator(chain, self.page, self.sub)
