"""Settings, read once from the environment at the entry points and passed down from there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from rebrowse.engine.options import ScreenshotMode

SCREENSHOT_MODES = ("never", "on_failure", "every_step")
TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """What an operator configures through REBROWSE_* (and the libraries' own) environment variables."""

    chromium: str | None = None
    allow_python_scripts: bool = False
    screenshots: ScreenshotMode = "on_failure"
    trace: bool = False
    aws_endpoint_url: str | None = None
    onepassword_token: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment; an invalid value raises ValueError naming the variable."""
        env = os.environ if environ is None else environ
        screenshots = env.get("REBROWSE_SCREENSHOTS", "on_failure")
        if screenshots not in SCREENSHOT_MODES:
            raise ValueError(f"REBROWSE_SCREENSHOTS must be one of {', '.join(SCREENSHOT_MODES)}")
        return cls(
            chromium=env.get("REBROWSE_CHROMIUM") or None,
            allow_python_scripts=env.get("REBROWSE_ALLOW_PYTHON_SCRIPTS", "").lower() in TRUE_WORDS,
            screenshots=cast(ScreenshotMode, screenshots),
            trace=env.get("REBROWSE_TRACE", "").lower() in TRUE_WORDS,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            onepassword_token=env.get("OP_SERVICE_ACCOUNT_TOKEN") or None,
        )
