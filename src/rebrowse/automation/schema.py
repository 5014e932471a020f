"""The nodes of an automation and the automation itself, as Optexity's JSON spells them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from rebrowse.automation.actions import (
    AssertionAction,
    CaptchaAction,
    DynamicFormMappingAction,
    Expression,
    ExtractionAction,
    FailStateAction,
    HumanInLoopAction,
    InteractionAction,
    MiscAction,
    OneOf,
    PowershellAction,
    PythonScriptAction,
    SleepAction,
    blank_to_none,
    require_exactly_one,
)
from rebrowse.automation.base import StrictModel
from rebrowse.automation.parameters import Parameters

# Optexity's end-of-step load wait when the automation does not set end_sleep_time.
DEFAULT_END_WAIT_S = 5.0
# Optexity's fixed pause before an extraction when the automation does not set before_sleep_time.
DEFAULT_EXTRACTION_BEFORE_S = 3.0
NEW_TAB_WAIT_S = 10.0


class ActionNode(OneOf):
    """One action, with the waits around it."""

    choices: ClassVar[tuple[str, ...]] = (
        "interaction_action",
        "extraction_action",
        "assertion_action",
        "python_script_action",
        "sleep_action",
        "fail_state_action",
        "misc_action",
        "captcha_action",
        "human_in_loop_action",
        "powershell_action",
        "dynamic_form_mapping_action",
    )

    type: Literal["action_node"] = "action_node"
    interaction_action: InteractionAction | None = None
    extraction_action: ExtractionAction | None = None
    assertion_action: AssertionAction | None = None
    python_script_action: PythonScriptAction | None = None
    sleep_action: SleepAction | None = None
    fail_state_action: FailStateAction | None = None
    misc_action: MiscAction | None = None
    captcha_action: CaptchaAction | None = None
    human_in_loop_action: HumanInLoopAction | None = None
    powershell_action: PowershellAction | None = None
    dynamic_form_mapping_action: DynamicFormMappingAction | None = None
    # None means "not given": the defaults depend on the action kind (see the methods below).
    before_sleep_time: float | None = Field(default=None, ge=0)
    """A pause before the action, in seconds; null: none, except a wait (at most 3 s) for the page to settle
    before an extraction or a form mapping."""
    end_sleep_time: float | None = Field(default=None, ge=0, le=30)
    """The longest wait for the page's load event after the action; null: 5 s, 0 after extractions, form
    mappings and assertions."""
    expect_new_tab: bool = False
    """The interaction opens a tab: the step waits for it (10 s at most) and continues in it."""
    max_new_tab_wait_time: float = Field(default=0.0, ge=0, le=30)
    """Ignored, as in Optexity: 10 with `expect_new_tab`, else 0."""
    expect_navigation: bool = False
    """Not supported by rebrowse yet."""
    localized_axtree_string: str | None = None

    @model_validator(mode="after")
    def _new_tab_rules(self) -> Self:
        if self.expect_new_tab and self.interaction_action is None:
            raise ValueError("expect_new_tab is only allowed with an interaction_action")
        # Optexity ignores the given value and forces these.
        self.max_new_tab_wait_time = NEW_TAB_WAIT_S if self.expect_new_tab else 0.0
        return self

    @property
    def action_name(self) -> str:
        """The payload and, for containers, its action: `interaction_action.click_element`, `sleep_action`."""
        payload = self.chosen
        return f"{self.kind}.{payload.kind}" if isinstance(payload, OneOf) else self.kind

    def explicit_before_sleep(self) -> float | None:
        """The pause the automation asks for before the action, or None when it does not set one."""
        return self.before_sleep_time

    def reads_the_page(self) -> bool:
        """Whether the action reads the page (an extraction or a form mapping), which Optexity lets settle first."""
        return self.extraction_action is not None or self.dynamic_form_mapping_action is not None

    def implicit_before_wait(self) -> float:
        """Optexity's unasked-for pause before the action (3 s before reading the page); 0 when one is given."""
        if self.before_sleep_time is None and self.reads_the_page():
            return DEFAULT_EXTRACTION_BEFORE_S
        return 0.0

    def end_wait_seconds(self) -> float:
        """The longest wait for the page's load event after the action."""
        if self.end_sleep_time is not None:
            return self.end_sleep_time
        if self.reads_the_page() or self.assertion_action is not None:
            return 0.0
        return DEFAULT_END_WAIT_S


class ForLoopNode(StrictModel):
    """Run `nodes` once per value of a variable, or once per element a locator matches."""

    type: Literal["for_loop_node"] = "for_loop_node"
    variable_name: str | None = None
    """The list variable(s) to loop over, comma-separated (`ids, dates`): the first sets the number of turns."""
    locator: str | None = None
    """Loop over the elements this locator matches instead: `{locator[index]}` is the element of this turn."""
    index_variable_name: str = "index"
    """The variable holding the turn's number, from 0."""
    locator_timeout: float = Field(default=5.0, ge=0)
    max_iterations: int | None = Field(default=None, gt=0)
    nodes: list[Node]
    reset_nodes: list[Node] = Field(default_factory=list)
    """Nodes run between two turns (not after the last), e.g. to go back to the list."""
    on_error_in_loop: Literal["raise", "continue", "break"] = "raise"
    """What a failed turn does: fail the run, go on with the next turn, or stop the loop."""

    @field_validator("variable_name", "locator")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return None if value is None else blank_to_none(value.strip())

    @model_validator(mode="after")
    def _source_and_index(self) -> Self:
        require_exactly_one(self, ("variable_name", "locator"))
        name = self.index_variable_name
        if not name.isidentifier():
            raise ValueError(f"index_variable_name {name!r} is not a valid identifier")
        if name == "index_of":
            raise ValueError("index_variable_name cannot be 'index_of' (it names {index_of(variable)})")
        if self.locator is not None and name == "locator":
            raise ValueError("index_variable_name cannot be 'locator' in a locator loop")
        if name in self.loop_variables():
            raise ValueError(f"index_variable_name {name!r} is also a loop variable")
        return self

    def loop_variables(self) -> list[str]:
        """The comma-separated names of `variable_name`; the first sets the number of iterations."""
        return [part.strip() for part in (self.variable_name or "").split(",") if part.strip()]


class IfElseNode(StrictModel):
    """Run `if_nodes` when `condition` holds, else `else_nodes`."""

    type: Literal["if_else_node"] = "if_else_node"
    condition: Expression
    """An expression on the variables, e.g. `rows[0] > 0`: evaluated safely, never as Python code."""
    if_nodes: list[Node]
    else_nodes: list[Node] = Field(default_factory=list)


class AssertLocatorNode(StrictModel):
    """Store `[True]` or `[False]`: whether a locator became visible (or hidden) within `timeout` seconds."""

    type: Literal["assert_locator_node"] = "assert_locator_node"
    locator: str
    assertion: Literal["to_be_visible", "to_be_hidden"]
    output_variable_name: str | None = None
    """The variable the result is stored in; null: `node{k}_output`, k counting every node in document order."""
    timeout: float = Field(default=5.0, ge=0)


class PrivateNode(StrictModel):
    """A handler from an Optexity plugin package (not supported by rebrowse)."""

    type: Literal["private_node"] = "private_node"
    handler: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    output_variable_names: list[str] | None = None
    before_sleep_time: float = 0.0
    end_sleep_time: float = 0.0


def migrate_legacy_node(item: object) -> object:
    """Give an untyped (legacy) node the `type` Optexity infers from its keys."""
    if not isinstance(item, dict) or "type" in item:
        return item
    if "condition" in item:
        kind = "if_else_node"
    elif "variable_name" in item:
        kind = "for_loop_node"
    elif "locator" in item and "assertion" in item:
        kind = "assert_locator_node"
    elif "locator" in item and "nodes" in item:
        kind = "for_loop_node"
    else:
        kind = "action_node"
    return {"type": kind, **item}


Node = Annotated[
    ActionNode | ForLoopNode | IfElseNode | AssertLocatorNode | PrivateNode,
    Field(discriminator="type"),
    BeforeValidator(migrate_legacy_node),
]


def child_nodes(node: Node) -> Iterator[Node]:
    """The nodes directly inside a loop or an if/else, in document order."""
    if isinstance(node, ForLoopNode):
        yield from node.nodes
        yield from node.reset_nodes
    elif isinstance(node, IfElseNode):
        yield from node.if_nodes
        yield from node.else_nodes


def walk_nodes(nodes: Iterable[Node]) -> Iterator[Node]:
    """Every node, in pre-order (a loop before its body, the body before the reset nodes)."""
    for node in nodes:
        yield node
        yield from walk_nodes(child_nodes(node))


class Automation(StrictModel):
    """A recorded workflow: where it starts, its parameters and its nodes."""

    schema_url: str | None = Field(default=None, alias="$schema", exclude=True, title="JSON Schema")
    """For editors only: the JSON Schema this file is checked with as you type; ignored when loading."""
    url: str
    """The page the run starts on."""
    parameters: Parameters
    nodes: list[Node]
    post_processing_nodes: list[Node] = Field(default_factory=list)
    """Nodes run after `nodes`, on the same page."""
    browser_channel: Literal["chromium", "chrome", "cloakbrowser", "browser-use", "rdp"] = "chromium"
    backend: Literal["browser-use", "computer-vision"] = "browser-use"
    os_emulation: Literal["windows", "linux"] | None = None
    allow_cookies: bool = False
    # Optexity answers every JavaScript dialog either way (this only picks which of its clients does): so does rebrowse.
    enable_browser_alerts: bool = False
    max_retries: int = Field(default=0, ge=0)
    """Extra attempts after a failed one, each in a fresh browser context."""
    expected_downloads: int = Field(default=0, ge=0)
    remove_empty_nodes_in_axtree: bool = True
    reuse_page_if_already_on_url: bool = False
    take_final_screenshot: bool = True
    automation_description: str | None = None
    automation_endpoint: str | None = None

    @model_validator(mode="after")
    def _default_output_names(self) -> Self:
        # As Optexity saves recordings: k counts every node in document order, post-processing last.
        for k, node in enumerate(self.all_nodes(), start=1):
            name = f"node{k}_output"
            if isinstance(node, AssertLocatorNode) and node.output_variable_name is None:
                node.output_variable_name = name
            elif isinstance(node, ActionNode) and node.extraction_action is not None:
                locator = node.extraction_action.locator
                if locator is not None and locator.output_variable_name is None:
                    # The format's only key becomes the name, so format and variable stay one key.
                    (only_value,) = locator.extraction_format.values()
                    locator.extraction_format = {name: only_value}
                    locator.output_variable_name = name
        return self

    def all_nodes(self) -> Iterator[Node]:
        """Every node of `nodes` then `post_processing_nodes`, in pre-order."""
        return walk_nodes([*self.nodes, *self.post_processing_nodes])


for _model in (ForLoopNode, IfElseNode, Automation):
    _model.model_rebuild()
