"""Why an element action failed, in words a user acts on.

Playwright's first line for an action that timed out ("Locator.click: Timeout 500ms exceeded.") does not say why;
its call log and the page do. Only once an action has failed (a step that succeeds pays nothing) the command is
matched against the page again: nothing matches it (and the page's closest elements by role and accessible name
are named), several elements match (all of them, as Playwright lists them), or the one that matches is hidden,
disabled, read-only, moving, or covered by another element (which Playwright's log names).
"""

from __future__ import annotations

import difflib
import json
import re

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from rebrowse.automation.locator import LocatorChain, Substitute, parse_locator
from rebrowse.automation.placeholders import PlaceholderRef
from rebrowse.engine.state import Step
from rebrowse.errors import first_line
from rebrowse.llm.snapshot import LINE

STRICT = re.compile(r"strict mode violation: .* resolved to (\d+) elements:")
INTERCEPTS = re.compile(r"- (.+) intercepts pointer events$")
# What Playwright's log says of an element it waited on, in the user's words (its last word is the one that held).
STATES = {
    "element is not visible": "is hidden",
    "element is not enabled": "is disabled",
    "element is not editable": "is read-only",
    "element is not stable": "keeps moving",
}
MAX_CANDIDATES = 3
SIMILARITY = 0.7  # difflib's ratio of a page element's name to the command's for the element to be named
SNAPSHOT_TIMEOUT_MS = 2_000  # the page is looked at once more, briefly: the step has already used its time
WORDS = re.compile(r"[\W_]+")


async def explain(step: Step, command: str, locator: Locator, error: PlaywrightError) -> str:
    """Why the action on the command's element failed (Playwright's first line kept, for the time it waited)."""
    text = str(error)
    waited = first_line(error)
    target = f"{step.record.locator or command} on {step.page.url}"
    many = STRICT.search(text)
    if many:
        listed = " ".join(candidate_lines(text))
        return f"{many.group(1)} elements match {target}: {listed} (make the command match one of them)"
    if not isinstance(error, PlaywrightTimeoutError):
        return waited  # not a wait for the element (the page closed, a navigation failed): Playwright's words
    try:
        count = await locator.count()
    except PlaywrightError:
        return waited
    if count == 0:
        closest = await closest_elements(step, command)
        named = f"; closest by role and name: {', '.join(closest)}" if closest else ""
        return f"no element matches {target}{named} ({waited})"
    state = element_state(text)
    return f"the element matching {target} {state} ({waited})" if state else waited


def candidate_lines(text: str) -> list[str]:
    """The elements Playwright lists after `resolved to N elements:`, every one of them, as it writes them."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if STRICT.search(line)) + 1
    listed: list[str] = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("Call log:"):
            break
        listed.append(line.strip())
    return listed


def element_state(text: str) -> str | None:
    """The last thing Playwright's log says kept the element from being acted on."""
    for line in reversed(text.splitlines()):
        covered = INTERCEPTS.search(line.strip())
        if covered:
            return f"is covered by {covered.group(1)}, which would take the click"
        for said, state in STATES.items():
            if line.strip().endswith(said):
                return state
    return None


async def closest_elements(step: Step, command: str) -> list[str]:
    """Up to three elements of the page whose accessible name is close to what the command looks for, as
    `get_by_role` commands (same role first)."""
    role, name = wanted(parse_locator(command), step.shown)
    if not name:
        return []
    try:
        snapshot = await step.page.locator("body").aria_snapshot(timeout=SNAPSHOT_TIMEOUT_MS)
    except PlaywrightError:
        return []
    scored: dict[str, float] = {}
    for line in snapshot.splitlines():
        match = LINE.match(line)
        if match is None or match["name"] is None:
            continue
        found = unescape(match["name"])
        score = similarity(name, found) + (0.1 if match["role"] == role else 0.0)
        if score >= SIMILARITY:
            candidate = f"get_by_role({json.dumps(match['role'])}, name={json.dumps(found, ensure_ascii=False)})"
            scored[candidate] = max(score, scored.get(candidate, 0.0))
    return sorted(scored, key=lambda candidate: -scored[candidate])[:MAX_CANDIDATES]


def wanted(chain: LocatorChain, shown: Substitute) -> tuple[str | None, str | None]:
    """The role and the text (a name, a label, a selector) the chain's last finding step looks for."""
    for step in reversed(chain.steps):
        arguments = dict(step.arguments)
        if step.name == "get_by_role":
            return as_text(arguments.get("role"), shown), as_text(arguments.get("name"), shown)
        if step.arguments and step.name.startswith(("get_by_", "locator")):
            return None, as_text(step.arguments[0][1], shown)
    return None, None


def as_text(argument: object, shown: Substitute) -> str | None:
    """An argument as text, placeholders filled as the step shows them (secrets masked)."""
    if isinstance(argument, str):
        return shown(argument)
    if isinstance(argument, PlaceholderRef):
        return shown(argument.text)
    return None


def similarity(wanted_text: str, found: str) -> float:
    """How alike two names are, case, punctuation and `#id-like` spelling aside."""
    return difflib.SequenceMatcher(None, words(wanted_text), words(found)).ratio()


def words(text: str) -> str:
    return WORDS.sub(" ", text).strip().lower()


def unescape(name: str) -> str:
    """A name as the snapshot quotes it (JSON string escapes)."""
    try:
        decoded: str = json.loads(f'"{name}"')
    except ValueError:
        return name
    return decoded
