"""Playwright recorder events → recorded steps → an Optexity automation (pure: no browser here).

Playwright's recorder (the one `playwright codegen` uses) reports each action with the locator it chose, as JSON
(`{"kind": "role", "body": "button", "options": {"name": "Sign in"}, "next": ...}`). That JSON becomes one of our
whitelisted locator commands, and each action one node:

| recorder action | node |
|---|---|
| first `navigate` | the automation's `url` |
| later `navigate` (typed in the address bar; a click's navigation is not an action) | `go_to_url` |
| `click` (`clickCount` 2: `double_click`) | `click_element` |
| its `download` signal / `popup` signal | `expect_download` on the click / `expect_new_tab` on its node |
| `fill` (the last text typed) | `input_text` with an input parameter named from the field's label |
| `fill` of a password field | `input_text` with a secure parameter, declared with no value |
| `select` | `select_option` with an input parameter |
| `check` / `uncheck` | `check` / `uncheck` |
| `setInputFiles` | `upload_file` with an input parameter (the file's path) |
| `press` | `key_press` |
| acting on another tab | `switch_tab` first |
| `closePage` (not the last tab) | `close_current_tab` |
| toolbar "Assert text" / "Assert value" | a locator extraction into an output named from the element |
| toolbar "Assert visibility" | an `assert_locator_node` (`to_be_visible`) and a `fail_state` when it does not hold |
| toolbar "Assert snapshot" | `extraction_action.state` (the page's URL and title) |

Dropped on purpose: a click with `clickCount` 0 (Enter activating a button: the key press is the step), and the
click that focuses a field just before text is typed into it (`input_text` clicks the field itself).
`ariaSnapshot` (which holds what was typed, passwords included) is never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rebrowse.automation.locator import parse_locator
from rebrowse.errors import LocatorInvalid, RebrowseError
from rebrowse.recorder.importing import interaction

# The locator kinds that name an element the way a person sees it (role and accessible name, label, text...).
SEMANTIC_KINDS = frozenset({"role", "label", "placeholder", "text", "test-id", "alt", "title"})
# Playwright's names of its get_by_* kinds, and the method each becomes.
GET_BY = {
    "label": "get_by_label",
    "placeholder": "get_by_placeholder",
    "text": "get_by_text",
    "alt": "get_by_alt_text",
    "title": "get_by_title",
}
# The role options (`attrs`) our locator parser accepts, besides name and exact.
ROLE_ATTRS = frozenset({"checked", "disabled", "expanded", "include_hidden", "level", "pressed", "selected"})
# Bits of the recorder's `modifiers` and the key names Playwright joins them with.
MODIFIERS = ((1, "Alt"), (2, "Control"), (4, "Meta"), (8, "Shift"))
SECRET_MASK = "••••••"
_WORDS = re.compile(r"[^0-9a-zA-Z]+")
_NAME_LENGTH = 40


class RecordingInvalid(RebrowseError):
    """Recorded actions that have no faithful node; each error names the step."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class RecordedAction:
    """One action as the recorder reports it (its JSON code, `ariaSnapshot` left out), with its signals."""

    name: str
    page: str  # the recorder's page guid
    data: Mapping[str, Any]
    signals: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_code(cls, code: str) -> RecordedAction:
        """From the `code` string of a jsonl recorder event."""
        data = json.loads(code)
        data.pop("ariaSnapshot", None)
        signals = tuple(data.pop("signals", ()) or ())
        return cls(name=str(data.get("name", "")), page=str(data.get("pageGuid", "")), data=data, signals=signals)


@dataclass(frozen=True)
class Locator:
    """A locator command and how it was built."""

    command: str
    semantic: bool  # role, label, placeholder, text, alt, title or test id, with no CSS in the chain
    label: str  # the element's name as a person reads it, for naming parameters and outputs ("" when unknown)


@dataclass(frozen=True)
class Step:
    """One recorded step, before it becomes nodes."""

    kind: str  # the recorder's action name
    page: str
    locator: Locator | None = None
    value: str | list[str] | None = None  # typed text, selected options, file names, key, URL, asserted text
    double_click: bool = False
    button: str = "left"
    expect_download: bool = False
    opens_tab: str | None = None  # the page guid of the popup it opened
    secret: bool | None = None  # a typed field: True for a password field, None while not yet checked
    problem: str | None = None  # why the step cannot be replayed
    matches: int | None = None  # how many elements its locator matched on the live page when recorded (None: unchecked)

    @property
    def ambiguous(self) -> bool:
        """Its locator was counted on the page and did not match exactly one element: a replay may miss or err."""
        return self.matches is not None and self.matches != 1


# ---------------------------------------------------------------------------------------------------------
# Locators


def locator_from_json(locator: Mapping[str, Any] | None, selector: str | None) -> Locator:
    """Our locator command for the recorder's locator JSON; Playwright's selector (`locator("...")`) when a kind
    has no equivalent here; RecordingInvalid when there is neither."""
    if locator is not None:
        try:
            parts, kinds, label = chain_parts(locator)
            command = "".join(parts)
            parse_locator(command)
        except (LocatorInvalid, UnsupportedLocator):
            pass
        else:
            semantic = "default" not in kinds and bool(kinds & SEMANTIC_KINDS)
            return Locator(command, semantic=semantic, label=label)
    if selector:
        command = f"locator({json.dumps(selector, ensure_ascii=False)})"
        parse_locator(command)
        return Locator(command, semantic=False, label="")
    raise UnsupportedLocator(f"the recorder gave no usable locator ({describe_kinds(locator)})")


class UnsupportedLocator(RebrowseError):
    """A locator JSON kind with no whitelisted locator call."""


def describe_kinds(locator: Mapping[str, Any] | None) -> str:
    kinds = []
    while locator is not None:
        kinds.append(str(locator.get("kind")))
        locator = locator.get("next")
    return "kinds: " + (", ".join(kinds) or "none")


def chain_parts(locator: Mapping[str, Any]) -> tuple[list[str], set[str], str]:
    """The calls of a locator chain, the kinds in it and the label of its last named element."""
    parts: list[str] = []
    kinds: set[str] = set()
    label = ""
    current: Mapping[str, Any] | None = locator
    while current is not None:
        kind = str(current.get("kind"))
        body = current.get("body")
        options = current.get("options") or {}
        call = locator_call(kind, body, options)
        parts.append(("." if parts and not call.startswith(".") else "") + call)
        kinds.add(kind)
        if kind in SEMANTIC_KINDS:
            label = str(options.get("name", body)) if kind == "role" else str(body)
        current = current.get("next")
    return parts, kinds, label


def locator_call(kind: str, body: Any, options: Mapping[str, Any]) -> str:
    """One link of a chain, as the Python codegen would write it."""
    exact = ", exact=True" if options.get("exact") else ""
    if kind == "role":
        return role_call(str(body), options)
    if kind in GET_BY and isinstance(body, str):
        return f"{GET_BY[kind]}({quoted(body)}{exact})"
    if kind == "test-id" and isinstance(body, str):
        return f"get_by_test_id({quoted(body)})"
    if kind == "default" and isinstance(body, str):
        return f"locator({quoted(body)})"
    if kind == "nth":
        return f".nth({int(body)})"
    if kind in ("first", "last"):
        return f".{kind}"
    if kind in ("has-text", "has-not-text") and isinstance(body, str):
        return f".filter({kind.replace('-', '_')}={quoted(body)})"
    if kind == "visible":
        return f".filter(visible={body in (True, 'true')})"
    if kind == "frame":
        return ".content_frame"
    raise UnsupportedLocator(f"locator kind {kind!r}")


def role_call(role: str, options: Mapping[str, Any]) -> str:
    arguments = [quoted(role)]
    if "name" in options and isinstance(options["name"], str):
        arguments.append(f"name={quoted(options['name'])}")
        if options.get("exact"):
            arguments.append("exact=True")
    for attr in options.get("attrs") or []:
        name = str(attr.get("name", "")).replace("-", "_")
        if name not in ROLE_ATTRS:
            raise UnsupportedLocator(f"role option {name!r}")
        value = attr.get("value")
        arguments.append(f"{name}={value!r}" if isinstance(value, bool | int) else f"{name}={quoted(str(value))}")
    return f"get_by_role({', '.join(arguments)})"


def quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------
# Actions → steps


def recorded_steps(actions: Iterable[RecordedAction], secret_fields: Mapping[str, bool]) -> list[Step]:
    """The steps of the recorded actions, in order; `secret_fields`: selector → whether it is a password field
    (a selector missing from it has not been checked yet)."""
    steps: list[Step] = []
    for action in actions:
        step = step_of(action, secret_fields)
        if step is None:
            continue
        if step.kind == "fill" and steps and focuses(steps[-1], step):
            steps.pop()
        steps.append(step)
    return steps


def focuses(previous: Step, fill: Step) -> bool:
    """A single click on the field that is typed into next: `input_text` clicks it itself."""
    return (
        previous.kind == "click"
        and previous.locator == fill.locator
        and not (previous.double_click or previous.expect_download or previous.opens_tab)
    )


def step_of(action: RecordedAction, secret_fields: Mapping[str, bool]) -> Step | None:
    data = action.data
    if action.name in ("openPage", "closePage", "navigate"):
        return Step(action.name, action.page, value=str(data.get("url", "")) or None)
    if action.name == "click" and data.get("clickCount") == 0:
        return None  # Enter or Space activating a button: the key press is recorded as its own step
    selector = data.get("selector")
    try:
        located = locator_from_json(data.get("locator"), selector if isinstance(selector, str) else None)
    except (UnsupportedLocator, LocatorInvalid) as exc:
        return Step(action.name, action.page, problem=str(exc))
    step = Step(action.name, action.page, locator=located, value=action_value(action))
    if action.name == "click":
        step = replace(step, double_click=data.get("clickCount") == 2, button=str(data.get("button", "left")))
    if action.name == "fill":
        secret = secret_fields.get(str(selector))
        # A password field's text leaves the recorder's event nowhere: not in the steps a dashboard may stream.
        step = replace(step, secret=secret, value=None if secret else step.value)
    for signal in action.signals:
        if signal.get("name") == "download":
            step = replace(step, expect_download=True)
        elif signal.get("name") == "popup":
            step = replace(step, opens_tab=str(signal.get("popupPageGuid", "")))
    return step


def action_value(action: RecordedAction) -> str | list[str] | None:
    data = action.data
    if action.name == "fill":
        return str(data.get("text", ""))
    if action.name == "select":
        return [str(option) for option in data.get("options", [])]
    if action.name == "setInputFiles":
        return [str(name) for name in data.get("files", [])]
    if action.name == "press":
        held = [name for bit, name in MODIFIERS if int(data.get("modifiers", 0)) & bit]
        return "+".join([*held, str(data.get("key", ""))])
    if action.name in ("assertText", "assertValue"):
        return str(data.get("text", data.get("value", "")))
    return None


def describe_step(step: Step) -> str:
    """One line for a person: what the step does, never a secret's value."""
    where = step.locator.command if step.locator else ""
    if step.problem:
        return f"{step.kind}: cannot be replayed ({step.problem})"
    if step.kind == "fill":
        shown = SECRET_MASK if step.secret is not False else quoted(str(step.value))
        return f"type {shown}{' (secret, not stored)' if step.secret else ''} into {where}{match_flag(step)}"
    if step.kind in ("navigate", "openPage", "closePage"):
        return f"{step.kind} {step.value or ''}".rstrip()
    extra = f" {quoted(str(step.value))}" if isinstance(step.value, str) else f" {step.value}" if step.value else ""
    flags = " (download)" * step.expect_download + " (new tab)" * bool(step.opens_tab)
    return f"{step.kind}{extra} {where}{flags}{match_flag(step)}"


def match_flag(step: Step) -> str:
    """What a person must look at when the step's locator did not match exactly one element."""
    if not step.ambiguous:
        return ""
    return f" (its locator matched {step.matches} elements when recorded, not exactly one)"


# ---------------------------------------------------------------------------------------------------------
# Steps → automation


def snake_name(label: str, fallback: str) -> str:
    """A parameter or output name from an element's label: `User name` → `user_name`."""
    words = _WORDS.sub("_", label).strip("_").lower()[:_NAME_LENGTH].strip("_")
    name = words or fallback
    return f"{fallback}_{name}" if name[0].isdigit() else name


@dataclass
class _Names:
    """Unique names: user_name, user_name_2, ..."""

    taken: set[str] = field(default_factory=set)

    def new(self, label: str, fallback: str) -> str:
        base = snake_name(label, fallback)
        name, count = base, 1
        while name in self.taken:
            count += 1
            name = f"{base}_{count}"
        self.taken.add(name)
        return name


@dataclass
class _Builder:
    """Walks the steps, tracking tabs as the engine does, and collects nodes and parameters."""

    url: str | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, list[str]] = field(default_factory=dict)
    secure: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    names: _Names = field(default_factory=_Names)
    tabs: list[str] = field(default_factory=list)
    unopened: set[str] = field(default_factory=set)  # tabs a person opened; their first navigation opens them
    current: str | None = None
    errors: list[str] = field(default_factory=list)
    assertions: int = 0

    def step(self, index: int, step: Step) -> None:
        if step.problem:
            self.errors.append(f"step {index + 1} ({step.kind}): {step.problem}")
        elif step.kind == "openPage":
            self.open_page(step)
        elif step.kind == "navigate":
            self.navigate(step)
        elif step.kind == "closePage":
            self.close_page(step)
        elif step.kind in ELEMENT_STEPS:
            self.use_tab(step.page)
            self.nodes.extend(ELEMENT_STEPS[step.kind](self, step))
            if step.opens_tab:
                self.tabs.append(step.opens_tab)
                self.current = step.opens_tab
        else:
            self.errors.append(f"step {index + 1}: the recorder's {step.kind!r} has no automation node")

    def open_page(self, step: Step) -> None:
        if step.page in self.tabs:
            return  # a popup, opened by the step that announced it
        if not self.tabs:
            self.tabs.append(step.page)
            self.current = step.page
        else:
            self.unopened.add(step.page)

    def navigate(self, step: Step) -> None:
        url = str(step.value or "")
        if not url or url == "about:blank":
            return
        if step.page in self.unopened:
            self.unopened.discard(step.page)
            self.tabs.append(step.page)
            self.current = step.page
            self.nodes.append(interaction("go_to_url", {"url": url, "new_tab": True}))
        elif self.url is None:
            self.tabs = self.tabs or [step.page]
            self.current = self.tabs[0]
            self.url = url
        else:
            self.use_tab(step.page)
            self.nodes.append(interaction("go_to_url", {"url": url}))

    def close_page(self, step: Step) -> None:
        if step.page in self.unopened:
            self.unopened.discard(step.page)
            return
        if step.page not in self.tabs or len(self.tabs) == 1:
            return  # the run ends with its last tab
        self.use_tab(step.page)
        self.nodes.append(interaction("close_current_tab", {}))
        self.tabs.remove(step.page)
        self.current = self.tabs[-1]  # as the engine continues in the last remaining tab

    def use_tab(self, page: str) -> None:
        if page != self.current and page in self.tabs:
            self.nodes.append(interaction("switch_tab", {"tab_index": self.tabs.index(page)}))
            self.current = page

    def parameter(self, step: Step, fallback: str, value: str | list[str]) -> str:
        label = step.locator.label if step.locator else ""
        name = self.names.new(label, fallback)
        if step.secret is not False and step.kind == "fill":
            self.secure.append(name)  # a password field (or one not checked): no value is kept
        else:
            self.inputs[name] = value if isinstance(value, list) else [value]
        return name


def command_of(step: Step) -> str:
    assert step.locator is not None  # every element step has one (or a problem)
    return step.locator.command


def click_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    payload: dict[str, Any] = {"command": command_of(step), "double_click": step.double_click}
    if step.button != "left":
        payload["button"] = step.button
    if step.expect_download:
        payload["expect_download"] = True
    node = interaction("click_element", payload)
    if step.opens_tab:
        node["expect_new_tab"] = True
    return [node]


def fill_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    name = builder.parameter(step, "text", str(step.value or ""))
    return [interaction("input_text", {"command": command_of(step), "input_text": f"{{{name}[0]}}"})]


def select_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    values = step.value if isinstance(step.value, list) else []
    name = builder.parameter(step, "option", values)
    placeholders = [f"{{{name}[{i}]}}" for i in range(len(values))]
    return [interaction("select_option", {"command": command_of(step), "select_values": placeholders})]


def upload_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    files = step.value if isinstance(step.value, list) else []
    if len(files) != 1:
        builder.errors.append(f"{describe_step(step)}: upload_file sets exactly one file, {len(files)} were chosen")
        return []
    name = builder.parameter(step, "file", files)
    return [interaction("upload_file", {"command": command_of(step), "file_path": f"{{{name}[0]}}"})]


def press_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    return [interaction("key_press", {"command": command_of(step), "type": str(step.value)})]


def checking_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    return [interaction(step.kind, {"command": command_of(step)})]


def read_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    label = step.locator.label if step.locator else ""
    name = builder.names.new(label, "text")
    builder.outputs.append(name)
    read = {"command": command_of(step), "output_variable_name": name, "extraction_format": {name: "str"}}
    return [{"type": "action_node", "extraction_action": {"locator": read}}]


def visible_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    builder.assertions += 1
    name = builder.names.new(f"visible_{builder.assertions}", "visible")
    message = f"{command_of(step)} is not visible"
    return [
        {
            "type": "assert_locator_node",
            "locator": command_of(step),
            "assertion": "to_be_visible",
            "output_variable_name": name,
        },
        {
            "type": "if_else_node",
            "condition": f"not {name}[0]",
            "if_nodes": [{"type": "action_node", "fail_state_action": {"failure_message": message}}],
        },
    ]


def state_nodes(builder: _Builder, step: Step) -> list[dict[str, Any]]:
    return [{"type": "action_node", "extraction_action": {"state": {}}}]


ELEMENT_STEPS = {
    "click": click_nodes,
    "fill": fill_nodes,
    "select": select_nodes,
    "setInputFiles": upload_nodes,
    "press": press_nodes,
    "check": checking_nodes,
    "uncheck": checking_nodes,
    "assertText": read_nodes,
    "assertValue": read_nodes,
    "assertVisible": visible_nodes,
    "assertSnapshot": state_nodes,
}


def automation_of(steps: list[Step], start_url: str | None = None) -> dict[str, Any]:
    """The automation JSON of recorded steps; RecordingInvalid lists the steps that cannot be replayed.

    `start_url`: the page the recording was opened on, for when the recorder attached after its navigation."""
    builder = _Builder()
    for index, step in enumerate(steps):
        builder.step(index, step)
    builder.url = builder.url or start_url
    if builder.url is None:
        builder.errors.append("no page was opened (an automation starts at a URL)")
    if builder.errors:
        raise RecordingInvalid(builder.errors)
    parameters: dict[str, Any] = {"input_parameters": builder.inputs}
    if builder.secure:
        # Declared with no value: each run passes it (`--secure-json`, the request's secure_parameters).
        parameters["secure_parameters"] = {name: [] for name in builder.secure}
    return {"url": builder.url, "parameters": parameters, "nodes": builder.nodes}


def semantic_share(steps: list[Step]) -> tuple[int, int]:
    """(semantic locators, all locators) of the recorded steps."""
    located = [step.locator for step in steps if step.locator is not None]
    return sum(locator.semantic for locator in located), len(located)
