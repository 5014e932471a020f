"""Edits to a recorded draft: parameters renamed (with every placeholder), made secret, nodes deleted and moved;
and the flag on a step whose locator did not match exactly one element when it was recorded."""

from __future__ import annotations

from typing import Any

import pytest

from rebrowse.recorder import editing
from rebrowse.recorder.editing import EditInvalid
from rebrowse.recorder.recording import Locator, Step, describe_step
from rebrowse.recorder.session import with_matches


def draft() -> dict[str, Any]:
    def typed(field: str, value: str) -> dict[str, Any]:
        command = f'get_by_label("{field}")'
        return {"type": "action_node", "interaction_action": {"input_text": {"command": command, "input_text": value}}}

    return {
        "url": "http://127.0.0.1/form.html",
        "parameters": {"input_parameters": {"name": ["Ada"], "email": ["ada@example.com"]}},
        "nodes": [typed("Name", "{name[0]}"), typed("Email", "{email[0]}"), typed("Note", "hi {name} {names[0]}")],
    }


def texts(edited: dict[str, Any]) -> list[str]:
    return [node["interaction_action"]["input_text"]["input_text"] for node in edited["nodes"]]


def test_a_rename_renames_every_placeholder_of_that_parameter_and_no_other() -> None:
    original = draft()
    edited = editing.rename_parameter(original, "name", "person")
    assert edited["parameters"]["input_parameters"] == {"person": ["Ada"], "email": ["ada@example.com"]}
    assert texts(edited) == ["{person[0]}", "{email[0]}", "hi {person} {names[0]}"]
    assert original == draft()  # the draft given is left as it was


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("missing", "x", "no parameter 'missing'"),
        ("name", "email", "named 'email' exists already"),
        ("name", "2bad", "'2bad' is not a parameter name"),
    ],
)
def test_a_rename_that_cannot_apply_says_why(old: str, new: str, says: str) -> None:
    with pytest.raises(EditInvalid, match=says):
        editing.rename_parameter(draft(), old, new)


def test_a_parameter_made_secret_loses_its_recorded_value() -> None:
    edited = editing.make_secret(draft(), "email")
    assert edited["parameters"] == {"input_parameters": {"name": ["Ada"]}, "secure_parameters": {"email": []}}
    assert "ada@example.com" not in str(edited)
    with pytest.raises(EditInvalid, match="secure parameter already"):
        editing.make_secret(edited, "email")
    with pytest.raises(EditInvalid, match="no input parameter 'nope'"):
        editing.make_secret(edited, "nope")


def test_nodes_are_deleted_and_moved_by_index() -> None:
    assert texts(editing.delete_node(draft(), 1)) == ["{name[0]}", "hi {name} {names[0]}"]
    assert texts(editing.move_node(draft(), 2, 0)) == ["hi {name} {names[0]}", "{name[0]}", "{email[0]}"]
    with pytest.raises(EditInvalid, match="no node 3 \\(it has 3, numbered from 0\\)"):
        editing.delete_node(draft(), 3)
    with pytest.raises(EditInvalid, match="no node -1"):
        editing.move_node(draft(), 0, -1)


def test_a_step_whose_locator_did_not_match_one_element_is_flagged() -> None:
    step = Step("click", "page", locator=Locator('get_by_role("button", name="Add")', semantic=True, label="Add"))
    assert with_matches(step, {}).matches is None
    assert not with_matches(step, {}).ambiguous
    counted = with_matches(step, {'get_by_role("button", name="Add")': 3})
    assert counted.ambiguous
    assert describe_step(counted).endswith("(its locator matched 3 elements when recorded, not exactly one)")
    unique = with_matches(step, {'get_by_role("button", name="Add")': 1})
    assert not unique.ambiguous and "matched" not in describe_step(unique)
