"""How a run is carried out: where its artifacts go, its time limit, what it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rebrowse.browser.windows import ScreenArea
from rebrowse.llm.config import LlmConfig
from rebrowse.settings import ScreenshotMode, TraceMode

if TYPE_CHECKING:
    from rebrowse.engine.person import PersonGate


@dataclass(frozen=True)
class RunOptions:
    """Settings of one run, decided by the caller (CLI or worker), never read from the environment here."""

    out_dir: Path
    timeout_minutes: float = 10.0  # per attempt, like Optexity's max_timeout_in_minutes
    screenshots: ScreenshotMode = "on_failure"
    trace: TraceMode = "never"
    upload_dirs: tuple[Path, ...] = ()
    allow_python_scripts: bool = False
    download_timeout_s: float = 120.0
    retry_backoff_s: float = 1.0  # doubled after every failed attempt
    navigation_timeout_s: float = 30.0
    # Headed on a display shared with other slots: the area the run's windows are placed on; its pages fill them.
    window: ScreenArea | None = None
    llm: LlmConfig = field(default_factory=LlmConfig)  # the model LLM steps ask; unconfigured, they fail
    # Whether an element step whose command fails falls back to the model (engine/healing.py).
    healing: bool = True
    # Google Chrome's executable, for automations whose browser_channel is chrome (None: they run on Chromium).
    chrome: str | None = None
    # The worker's task id, for the endpoints a run calls back (form mapping); None for a run of the CLI.
    task_id: str | None = None
    # Who a human_in_loop_action (or a captcha a person solves) waits for; None: such a step fails, saying why.
    person: PersonGate | None = None
