"""What a model sees of a page: Playwright's accessibility snapshot with element references.

Every reference (`[ref=e5]`) resolves back to the element for as long as the page keeps it, and the role and name
on its line give a deterministic locator command, so an element the model picks can be replayed without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from playwright.async_api import Locator, Page

MAX_SNAPSHOT_CHARS = 24_000  # ~6k tokens: a long page is cut rather than flooding the prompt
SNAPSHOT_TIMEOUT_MS = 5_000
REF = re.compile(r"^(?:f\d+)?e\d+$")
# One line of the snapshot: `- role "name" [attr] [ref=e5]...`
LINE = re.compile(r'^\s*-\s+(?P<role>[\w-]+)(?:\s+"(?P<name>(?:[^"\\]|\\.)*)")?(?P<rest>.*)$')
TRUNCATED = "\n[… the rest of the page was cut to keep the prompt small]"
# Marks every clickable element again on top of its role: tokens that tell the model nothing.
NOISE = " [cursor=pointer]"


@dataclass(frozen=True)
class SnapshotElement:
    """An element as the snapshot describes it."""

    ref: str
    role: str
    name: str | None
    # Its place among the snapshot's elements of the same role and name, when there are several (the "Open" link
    # of each row of a table); None when it is the only one.
    nth: int | None = None

    @property
    def command(self) -> str:
        """An Optexity locator command that finds the element again by its role, accessible name and place."""
        if self.name:
            command = f"get_by_role({json.dumps(self.role)}, name={json.dumps(self.name)}, exact=True)"
        else:
            command = f"get_by_role({json.dumps(self.role)})"
        return command if self.nth is None else f"{command}.nth({self.nth})"

    def __str__(self) -> str:
        return f'{self.role} "{self.name}"' if self.name else self.role


async def page_snapshot(page: Page, *, max_chars: int = MAX_SNAPSHOT_CHARS) -> str:
    """The page's accessibility snapshot with references, cut at `max_chars`."""
    text = (await page.aria_snapshot(mode="ai", timeout=SNAPSHOT_TIMEOUT_MS)).replace(NOISE, "")
    return text if len(text) <= max_chars else text[:max_chars] + TRUNCATED


def find_element(snapshot: str, ref: str) -> SnapshotElement | None:
    """The element of `snapshot` with reference `ref`, or None when the snapshot has no such reference."""
    marker = f"[ref={ref}]"
    elements = [m for m in map(LINE.match, snapshot.splitlines()) if m is not None and "[ref=" in m.string]
    chosen = next((m for m in elements if marker in m.string), None)
    if chosen is None:
        return None
    alike = [m for m in elements if (m["role"], m["name"]) == (chosen["role"], chosen["name"])]
    name = chosen["name"]
    nth = alike.index(chosen) if len(alike) > 1 else None
    return SnapshotElement(ref, chosen["role"], json.loads(f'"{name}"') if name else None, nth)


def element_locator(page: Page, ref: str) -> Locator:
    """The element a reference of the page's latest snapshot points at; ValueError for a malformed reference."""
    if not REF.match(ref):
        raise ValueError(f"{ref!r} is not an element reference of the snapshot (they look like e12)")
    return page.locator(f"aria-ref={ref}")
