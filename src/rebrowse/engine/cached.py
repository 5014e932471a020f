"""Cached automations: what a run learned from the model, written back into the automation so it replays alone.

A step the model located records the element's deterministic command (and the text or options the model gave);
an agentic step records the action nodes it performed; a healed step records its new command. The cached
automation is a copy of the automation with each of those at the step's JSON path: commands filled in, agentic
tasks spliced out into their nodes. Typed text that is an input parameter's value is kept as its placeholder, so
the cached automation still takes its inputs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rebrowse.artifacts.layout import CACHED_AUTOMATION
from rebrowse.automation.parameters import ParameterValue
from rebrowse.automation.schema import Automation
from rebrowse.automation.sealed import redacted
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.state import RunState, Step

SEGMENT = re.compile(r"(\w+)\[(\d+)\]")
# Node fields that belong to where a spliced agentic step starts or ends, not to each of its actions.
FIRST_ONLY = ("before_sleep_time",)
LAST_ONLY = ("expect_new_tab", "max_new_tab_wait_time")

Path_ = tuple[tuple[str, int], ...]


def as_placeholder(text: str, inputs: Mapping[str, Sequence[ParameterValue]]) -> str:
    """`{name[i]}` when `text` is the value of input parameter `name` at `i`, else the text itself."""
    for name, values in inputs.items():
        for index, value in enumerate(values):
            if text and str(value) == text:
                return f"{{{name}[{index}]}}"
    return text


def learn(step: Step, *, command: str | None = None, text: str | None = None, values: list[str] | None = None) -> None:
    """Record on the step what a replay needs instead of the model: the element's command, the text to type or
    the options to select (as placeholders where they are input values)."""
    inputs = step.state.inputs
    learned = step.record.learned or {}
    if command is not None:
        learned["command"] = command
    if text is not None:
        learned["input_text"] = as_placeholder(text, inputs)
    if values is not None:
        learned["select_values"] = [as_placeholder(value, inputs) for value in values]
    step.record.learned = learned


def cached_automation(
    definition: dict[str, Any], steps: list[StepRecord], notes: list[str] | None = None
) -> dict[str, Any] | None:
    """A copy of the automation JSON with what the steps learned (the last attempt's, succeeded steps only); None
    when they learned nothing. What cannot be written back (a loop whose iterations learned different commands)
    is left as it was and explained in `notes`."""
    notes = notes if notes is not None else []
    changes = learned_by_path(steps, notes)
    if not changes:
        return None
    cached = copy.deepcopy(definition)
    edits = {path: change for path, change in changes.items() if "nodes" not in change}
    splices = {path: change["nodes"] for path, change in changes.items() if "nodes" in change}
    for path, change in edits.items():
        apply_edit(cached, path, change, notes)
    for path in sorted(splices, reverse=True):  # later siblings first: a splice shifts what follows it
        splice(cached, path, splices[path])
    return cached


def learned_by_path(steps: list[StepRecord], notes: list[str]) -> dict[Path_, dict[str, Any]]:
    """What each node learned, by its parsed path; a node whose iterations disagree is left out with a note."""
    last_attempt = max((step.attempt for step in steps), default=0)
    seen: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        change = change_of(step)
        if step.attempt == last_attempt and step.outcome == "success" and change is not None:
            seen.setdefault(step.path, []).append(change)
    changes: dict[Path_, dict[str, Any]] = {}
    for path, found in seen.items():
        if any(change != found[0] for change in found[1:]):
            notes.append(f"{path}: its iterations learned different things; the cached automation leaves it as it was")
            continue
        changes[parse_path(path)] = found[0]
    return changes


def change_of(step: StepRecord) -> dict[str, Any] | None:
    """What the step changes in its node: what it learned, with a healed command over a learned one."""
    if step.healed is None:
        return step.learned
    return {**(step.learned or {}), "command": step.healed["command"]}


def parse_path(path: str) -> Path_:
    """`nodes[1].if_nodes[0]` as (("nodes", 1), ("if_nodes", 0))."""
    return tuple((key, int(index)) for key, index in SEGMENT.findall(path))


def node_list(definition: dict[str, Any], path: Path_) -> list[Any]:
    """The list that holds the node at `path`."""
    holder: Any = definition
    for key, index in path[:-1]:
        holder = holder[key][index]
    nodes: list[Any] = holder[path[-1][0]]
    return nodes


def apply_edit(definition: dict[str, Any], path: Path_, change: dict[str, Any], notes: list[str]) -> None:
    """Give the node's action its learned command (used, not skipped) and values."""
    node = node_list(definition, path)[path[-1][1]]
    action = next((value for value in node.get("interaction_action", {}).values() if isinstance(value, dict)), None)
    if action is None:
        notes.append(f"{render_path(path)}: not an element action; the cached automation leaves it as it was")
        return
    if "command" in change:
        action.update(command=change["command"], skip_command=False)
    action.update({key: change[key] for key in ("input_text", "select_values") if key in change})


def splice(definition: dict[str, Any], path: Path_, nodes: list[dict[str, Any]]) -> None:
    """Replace the agentic node at `path` by the action nodes it performed, each with the node's own settings."""
    holder = node_list(definition, path)
    index = path[-1][1]
    original: dict[str, Any] = holder[index]
    wrapper = {k: v for k, v in original.get("interaction_action", {}).items() if not isinstance(v, dict)}
    shared = {k: v for k, v in original.items() if k not in ("interaction_action", *FIRST_ONLY, *LAST_ONLY)}
    written = []
    for position, node in enumerate(nodes):
        extra = {k: original[k] for k in FIRST_ONLY if position == 0 and k in original}
        extra |= {k: original[k] for k in LAST_ONLY if position == len(nodes) - 1 and k in original}
        action = {**wrapper, **node["interaction_action"]}
        written.append({**shared, **node, **extra, "interaction_action": action})
    holder[index : index + 1] = written


def render_path(path: Path_) -> str:
    return ".".join(f"{key}[{index}]" for key, index in path)


def save_cached(state: RunState, automation: Automation, notes: list[str]) -> str | None:
    """Write the run's cached automation to its directory, its secure parameters sealed (a TOTP seed or a vault
    reference is no value the redactor knows); its path, or None if nothing was learned."""
    definition = redacted(automation.model_dump(mode="json", exclude_unset=True))
    cached = cached_automation(definition, state.steps, notes)
    if cached is None:
        return None
    path: Path = state.writer.write_json(CACHED_AUTOMATION, cached)
    return str(path)
