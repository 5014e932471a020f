"""The bundled demo: a small customer portal and an automation that logs in, searches and reads a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rebrowse.automation.loading import load_automation
from rebrowse.automation.schema import Automation

DEMO_SITE = Path(__file__).parent / "site"
DEMO_AUTOMATION = Path(__file__).parent / "automation.json"
# The address written in automation.json; the demo serves the site on a free port and points the automation there.
RECORDED_ORIGIN = "http://127.0.0.1:8765"
URL_FIELDS = ("url", "file_url")


def rebase_urls(data: Any, recorded: str, origin: str) -> Any:
    """A copy of automation JSON whose URL fields (start, go_to_url, file_url...) point at `origin` instead of
    `recorded`."""
    if isinstance(data, dict):
        return {
            key: value.replace(recorded, origin)
            if key in URL_FIELDS and isinstance(value, str)
            else rebase_urls(value, recorded, origin)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [rebase_urls(item, recorded, origin) for item in data]
    return data


def demo_automation(origin: str) -> Automation:
    """The demo automation, aimed at the demo site served at `origin`."""
    return load_automation(rebase_urls(json.loads(DEMO_AUTOMATION.read_text()), RECORDED_ORIGIN, origin))
