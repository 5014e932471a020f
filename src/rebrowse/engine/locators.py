"""The best deterministic locator command for one element, so a step the model located replays without it.

Candidates come in order of how well they survive page changes and read to a person: role and accessible name,
label, placeholder, text, test id, then CSS. Each one is parsed by the same parser a replay uses, resolved on the
element's frame, and kept only when it matches exactly that element; an element inside an iframe gets its frame's
own command in front (`….content_frame.…`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from playwright.async_api import ElementHandle, Frame, Locator, Page
from playwright.async_api import Error as PlaywrightError

from rebrowse.automation.locator import parse_locator, resolve_locator
from rebrowse.automation.placeholders import references
from rebrowse.errors import LocatorInvalid
from rebrowse.llm.snapshot import LINE, SnapshotElement

LOOKUP_TIMEOUT_MS = 2_000  # the element is on the page already: finding it again is quick or it is gone
MAX_TEXT = 80  # a longer text makes a brittle locator (and an unreadable automation)
# Roles a snapshot gives to elements get_by_role cannot name.
NO_ROLE = frozenset({"text", "generic", "none", "presentation", "iframe"})
# The commands a person reads as what the user sees, for the share the benchmark measures.
SEMANTIC = frozenset({"get_by_role", "get_by_label", "get_by_placeholder", "get_by_text"})
FRAME_STEP = ".content_frame."

# What locators can be made of, in one evaluate: labels, placeholder, own text, test id, and CSS selectors from
# the most to the least specific to the element (the last one, a path of :nth-of-type steps, is always unique).
GATHER = """el => {
  const clean = (t) => (t || '').replace(/\\s+/g, ' ').trim();
  const tag = el.localName;
  const attr = (name) => el.getAttribute(name);
  const str = (value) => JSON.stringify(value);
  const step = (node) => {
    const same = Array.from(node.parentElement ? node.parentElement.children : []).filter(
      (other) => other.localName === node.localName);
    return same.length > 1 ? `${node.localName}:nth-of-type(${same.indexOf(node) + 1})` : node.localName;
  };
  const css = [];
  if (el.id) css.push('#' + CSS.escape(el.id));
  for (const name of ['name', 'href', 'src', 'title', 'alt', 'aria-label', 'type']) {
    if (attr(name)) css.push(`${tag}[${name}=${str(attr(name))}]`);
  }
  if (attr('name') && attr('value')) css.push(`${tag}[name=${str(attr('name'))}][value=${str(attr('value'))}]`);
  const classes = Array.from(el.classList).slice(0, 3).map((c) => '.' + CSS.escape(c)).join('');
  if (classes) css.push(tag + classes);
  const path = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    if (node !== el && node.id) {
      css.push('#' + CSS.escape(node.id) + ' > ' + path.join(' > '));
      break;
    }
    path.unshift(step(node));
    if (path.length > 4) break;
  }
  const full = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) full.unshift(step(node));
  const labels = Array.from(el.labels || []).map((l) => clean(l.innerText || l.textContent));
  if (attr('aria-label')) labels.push(clean(attr('aria-label')));
  return {
    labels: labels.filter(Boolean),
    placeholder: attr('placeholder'),
    text: clean(el.innerText || el.textContent),
    testid: attr('data-testid'),
    css,
    full: full.join(' > '),
  };
}"""
SAME = "(found, target) => found.length === 1 && found[0] === target"
INDEX = "(found, target) => found.indexOf(target)"


@dataclass(frozen=True)
class Role:
    """An element's ARIA role and accessible name, as Playwright computes them."""

    role: str
    name: str | None

    @classmethod
    def of(cls, role: str, name: str | None) -> Role | None:
        """The role, unless get_by_role cannot find elements of it."""
        return None if role in NO_ROLE else cls(role, name)

    @property
    def command(self) -> str:
        if self.name:
            return f"get_by_role({json.dumps(self.role)}, name={json.dumps(self.name)}, exact=True)"
        return f"get_by_role({json.dumps(self.role)})"


async def best_command(page: Page, locator: Locator, role: Role | None = None) -> str:
    """The best command that finds exactly the element `locator` points at (which must be on the page now).

    `role` is the element's role and name when the caller knows them (from the model's snapshot); else they are
    read from the element's own accessibility snapshot, which ends the validity of the page's snapshot references
    (`aria-ref=e5` locators): pass `role` for those. Raises PlaywrightError when the element is gone,
    LocatorInvalid when no candidate matches it alone.
    """
    handle = await locator.element_handle(timeout=LOOKUP_TIMEOUT_MS)
    try:
        command = await command_in_frame(handle, role or await role_of(locator))
        # Each part was checked in its own frame; the whole, from the page, once more.
        if FRAME_STEP in command and not await matches_only(page, command, handle):
            raise LocatorInvalid(f"{command} does not find the element again from the page")
        return command
    finally:
        await handle.dispose()


async def learned_command(page: Page, locator: Locator, element: SnapshotElement) -> str:
    """best_command for an element of the model's snapshot, or the snapshot's own role and name command when the
    element cannot be examined."""
    try:
        return await best_command(page, locator, Role.of(element.role, element.name))
    except (PlaywrightError, LocatorInvalid):
        return element.command


async def role_of(locator: Locator) -> Role | None:
    """The element's role and name from its own accessibility snapshot; None for an element without a role."""
    snapshot = await locator.aria_snapshot(timeout=LOOKUP_TIMEOUT_MS)
    first = LINE.match(snapshot.splitlines()[0]) if snapshot else None
    if first is None:
        return None
    name = first["name"]
    return Role.of(first["role"], json.loads(f'"{name}"') if name else None)


async def command_in_frame(handle: ElementHandle, role: Role | None) -> str:
    """The command for the element, starting from the page: its frame's own command first when it is in one."""
    frame = await handle.owner_frame()
    if frame is None:
        raise LocatorInvalid("the element is in no frame")
    command = await command_for(frame, handle, role)
    if frame.parent_frame is None:
        return command
    frame_element = await frame.frame_element()
    try:
        return await command_in_frame(frame_element, None) + FRAME_STEP + command
    finally:
        await frame_element.dispose()


async def command_for(frame: Frame, handle: ElementHandle, role: Role | None) -> str:
    """The first candidate, in order of preference, that finds exactly this element in its frame."""
    facts = await handle.evaluate(GATHER)
    for command in candidates(role, facts):
        if await matches_only(frame, command, handle):
            return command
    if role is not None:
        index = await resolve(frame, role.command).evaluate_all(INDEX, handle)
        command = f"{role.command}.nth({index})"
        if index >= 0 and await matches_only(frame, command, handle):
            return command
    command = f"locator({json.dumps(facts['full'])})"
    if await matches_only(frame, command, handle):
        return command
    raise LocatorInvalid("no locator command finds this element alone")


def candidates(role: Role | None, facts: dict[str, object]) -> list[str]:
    """Commands that may find the element, best first: role and name, label, placeholder, text, test id, CSS."""
    found = [role.command] if role is not None else []
    found += [f"get_by_label({json.dumps(label)}, exact=True)" for label in strings(facts["labels"])]
    found += [f"get_by_placeholder({json.dumps(text)}, exact=True)" for text in strings(facts["placeholder"])]
    found += [
        f"get_by_text({json.dumps(text)}, exact=True)" for text in strings(facts["text"]) if len(text) <= MAX_TEXT
    ]
    found += [f"get_by_test_id({json.dumps(test_id)})" for test_id in strings(facts["testid"])]
    found += [f"locator({json.dumps(selector)})" for selector in strings(facts["css"])]
    return found


def strings(value: object) -> list[str]:
    """The non-empty strings of a gathered fact (one string, a list of them, or null)."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str) and item]


def resolve(root: Page | Frame, command: str) -> Locator:
    """The locator of a command as a replay resolves it (nothing substituted)."""
    return resolve_locator(parse_locator(command), root, lambda text: text)


async def matches_only(root: Page | Frame, command: str, handle: ElementHandle) -> bool:
    """Whether the command, resolved on `root`, finds exactly one element and it is this one. A command holding
    a placeholder-like `{name}` is refused: a replay would substitute it."""
    if references(command):
        return False
    try:
        same: bool = await resolve(root, command).evaluate_all(SAME, handle)
    except (PlaywrightError, LocatorInvalid):
        return False
    return same


def is_semantic(command: str) -> bool:
    """Whether the command finds its element by role, label, placeholder or text (inside its frame, if any)."""
    return command.rsplit(FRAME_STEP, 1)[-1].split("(", 1)[0] in SEMANTIC
