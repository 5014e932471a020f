"""Edits a person makes to a recorded draft before saving it: rename a parameter (every placeholder follows), make
one secret (its recorded value dropped), delete or move a node. Each works on the draft's JSON and returns a new one.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from rebrowse.automation import placeholders
from rebrowse.errors import RebrowseError

NAME = re.compile(r"[^\W\d]\w*")


class EditInvalid(RebrowseError):
    """The edit does not apply to this draft (the message says why)."""


def parameters_of(draft: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft's input and secure parameters (both created when missing)."""
    parameters = draft.setdefault("parameters", {})
    return parameters.setdefault("input_parameters", {}), parameters.setdefault("secure_parameters", {})


def rename_parameter(draft: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    edited = copy.deepcopy(draft)
    inputs, secure = parameters_of(edited)
    if not NAME.fullmatch(new):
        raise EditInvalid(f"{new!r} is not a parameter name (a letter or _, then letters, digits or _)")
    if new in inputs or new in secure:
        raise EditInvalid(f"a parameter named {new!r} exists already")
    table = inputs if old in inputs else secure if old in secure else None
    if table is None:
        raise EditInvalid(f"the draft has no parameter {old!r}")
    table[new] = table.pop(old)
    edited["nodes"] = renamed(edited.get("nodes", []), old, new)
    return edited


def renamed(value: Any, old: str, new: str) -> Any:
    """Every string inside `value` with the placeholders of `old` naming `new`."""
    if isinstance(value, str):
        return placeholders.rename(value, old, new)
    if isinstance(value, list):
        return [renamed(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: renamed(item, old, new) for key, item in value.items()}
    return value


def make_secret(draft: dict[str, Any], name: str) -> dict[str, Any]:
    """The input parameter becomes a secure one with no value: each run passes it, nothing recorded is kept."""
    edited = copy.deepcopy(draft)
    inputs, secure = parameters_of(edited)
    if name in secure:
        raise EditInvalid(f"{name!r} is a secure parameter already")
    if name not in inputs:
        raise EditInvalid(f"the draft has no input parameter {name!r}")
    del inputs[name]
    secure[name] = []
    return edited


def delete_node(draft: dict[str, Any], index: int) -> dict[str, Any]:
    edited = copy.deepcopy(draft)
    nodes = edited.get("nodes", [])
    check_index(nodes, index)
    del nodes[index]
    return edited


def move_node(draft: dict[str, Any], index: int, to: int) -> dict[str, Any]:
    edited = copy.deepcopy(draft)
    nodes = edited.get("nodes", [])
    check_index(nodes, index)
    check_index(nodes, to)
    nodes.insert(to, nodes.pop(index))
    return edited


def check_index(nodes: list[Any], index: int) -> None:
    if not 0 <= index < len(nodes):
        raise EditInvalid(f"the draft has no node {index} (it has {len(nodes)}, numbered from 0)")
