"""Engine fixtures: the fixture site on 127.0.0.1 and a helper that replays automation JSON against it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.messages.models import Inbox
from rebrowse.secrets.resolver import SecretResolver
from tests.llm_server import chat_server  # noqa: F401  (the model's OpenAI-compatible server, for LLM steps)
from tests.mailserver import dovecot, slack  # noqa: F401  (message sources, for two_fa_action)

# Automations in the engine tests are written against this origin; `replay` points them at the live server.
ORIGIN = "http://site.test"

Replay = Callable[..., Awaitable[RunResult]]


def action(kind: str, payload: dict[str, Any], **node: Any) -> dict[str, Any]:
    """An action node: action("interaction_action", {"click_element": {...}}, end_sleep_time=0)."""
    return {"type": "action_node", kind: payload, **node}


def automation(start: str, nodes: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Automation JSON starting at `start` (a path on the fixture site), with empty parameters unless given."""
    params = fields.pop("parameters", {})
    return {"url": f"{ORIGIN}/{start.lstrip('/')}", "parameters": params, "nodes": nodes, **fields}


@pytest.fixture
def replay(browser: Browser, site: SiteServer, tmp_path: Path) -> Replay:
    """Replay automation JSON against the fixture site; returns the RunResult."""

    async def run(
        data: dict[str, Any],
        *,
        inputs: Mapping[str, Sequence[Any]] | None = None,
        secure: Mapping[str, Sequence[SecureParameter]] | None = None,
        secrets: SecretResolver | None = None,
        allow_python_scripts: bool = False,
        captcha_by_person: bool = False,
        unchecked: bool = False,
        inbox: Inbox | None = None,
        **options: Any,
    ) -> RunResult:
        rebased = rebase_urls(data, ORIGIN, site.url)
        # unchecked: only the schema, as for an automation stored before a load-time check existed (the engine
        # must still fail it cleanly).
        if unchecked:
            loaded = Automation.model_validate(rebased)
        else:
            loaded = load_automation(
                rebased, allow_python_scripts=allow_python_scripts, captcha_by_person=captcha_by_person
            )
        session, keep_session = options.pop("session", None), options.pop("keep_session", False)
        run_options = RunOptions(
            out_dir=options.pop("out_dir", tmp_path / "run"),
            allow_python_scripts=allow_python_scripts,
            retry_backoff_s=options.pop("retry_backoff_s", 0.0),
            **options,
        )
        return await run_automation(
            browser,
            loaded,
            options=run_options,
            inputs=inputs,
            secure=secure,
            secrets=secrets,
            session=session,
            keep_session=keep_session,
            inbox=inbox,
        )

    return run
