"""Load-time checks of what an automation refers to: locator commands and placeholders.

Without them a locator command with a syntax error or a call outside the whitelist, or a `{name[0]}` that no
parameter or step provides, would fail only when a task reaches the step. Every such problem is reported at its
JSON path with how to fix it. The checks follow the engine: a placeholder may name a declared parameter or a
variable a step produces before it in document order (inside a loop, anywhere in the loop, as a later iteration
sees it). Where a name is only known at run time (a python script writes variables, a step's variable name is
itself a placeholder), every later placeholder is accepted: a valid automation must never be refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from rebrowse.automation.actions import (
    CountLocator,
    LocatorExtraction,
    PythonScriptAction,
    PythonScriptExtraction,
    SetVariable,
    TargetedAction,
)
from rebrowse.automation.locator import ALLOWED_STEPS, LocatorChain, parse_locator
from rebrowse.automation.placeholders import PlaceholderRef, expand_loop, references
from rebrowse.automation.schema import ActionNode, AssertLocatorNode, Automation, ForLoopNode, IfElseNode, Node
from rebrowse.errors import FieldError, LocatorInvalid, did_you_mean

LOCATOR_HINT = (
    "write a chain of Playwright locator calls on the page, e.g. "
    'get_by_role("button", name="Sign in") or locator("#id").nth(0); allowed: ' + ", ".join(ALLOWED_STEPS)
)
# Fields the engine never substitutes (recorder metadata, answer formats, code, expressions) or checks as a
# command or a variable name: braces in them are text.
NOT_SUBSTITUTED = frozenset(
    {
        "fingerprint",
        "recording_screenshot",
        "localized_axtree_string",
        "xpath",
        "keyword",
        "coordinates",
        "bounding_box_variables",
        "extraction_format",
        "output_format",
        "condition",
        "expression",
        "poll_condition",
        "code_pattern",
        "script",
        "execution_code",
        "unique_identifier",
        "llm_provider",
        "llm_model_name",
        "command",
        "locator",
        "name",
        "output_variable_name",
        "output_variable_names",
        "output_x_variable",
        "output_y_variable",
    }
)
# The fields in which a step names the variables it writes.
OUTPUT_FIELDS = ("output_variable_name", "output_variable_names", "output_x_variable", "output_y_variable")
SCRIPTS = (PythonScriptAction, PythonScriptExtraction)  # a script may write any variable (ctx.variables)


def reference_problems(automation: Automation) -> list[FieldError]:
    """Every locator command that does not parse and every placeholder naming nothing the run will have."""
    parameters = automation.parameters
    declared = {*parameters.input_parameters, *parameters.secure_parameters, *parameters.generated_parameters}
    checker = _Checker(Scope(set(declared)), producers(automation))
    checker.nodes(automation.nodes, "nodes", ())
    checker.nodes(automation.post_processing_nodes, "post_processing_nodes", ())
    return checker.problems


@dataclass
class Scope:
    """The variables a step may name: declared, or produced before it; `open` once a name is known only at run
    time."""

    known: set[str]
    open: bool = False

    def add(self, produced: Produced) -> None:
        self.known |= produced.names
        self.open = self.open or produced.open


@dataclass
class Produced:
    """The variable names some steps write, and whether some of their names are known only at run time."""

    names: set[str] = field(default_factory=set)
    open: bool = False


def produced_by(nodes: Iterable[Node]) -> Produced:
    """What the nodes (and the nodes inside them) write."""
    produced = Produced()
    for node in nodes:
        for _, model in walk_models(node, ""):
            if isinstance(model, SCRIPTS):
                produced.open = True
            for name in written_names(model):
                if references(name):
                    produced.open = True  # substituted when the step runs
                else:
                    produced.names.add(name)
    return produced


def written_names(model: BaseModel) -> list[str]:
    """The names of the variables one model writes."""
    names: list[str] = []
    if isinstance(model, SetVariable | CountLocator):
        names.append(model.name)
    for output in OUTPUT_FIELDS:
        value = getattr(model, output, None)
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, list):
            names += [item for item in value if isinstance(item, str)]
    return names


def producers(automation: Automation) -> dict[str, str]:
    """Each produced variable name, with the path of the first step that writes it."""
    found: dict[str, str] = {}
    for path, node in paths_of(automation.nodes, "nodes"):
        for name in produced_by([node]).names:
            found.setdefault(name, path)
    for path, node in paths_of(automation.post_processing_nodes, "post_processing_nodes"):
        for name in produced_by([node]).names:
            found.setdefault(name, path)
    return found


def paths_of(nodes: Iterable[Node], path: str) -> Iterator[tuple[str, Node]]:
    """Every action or locator-assertion node with its JSON path, in document order."""
    for index, node in enumerate(nodes):
        here = f"{path}[{index}]"
        if isinstance(node, ForLoopNode):
            yield from paths_of(node.nodes, f"{here}.nodes")
            yield from paths_of(node.reset_nodes, f"{here}.reset_nodes")
        elif isinstance(node, IfElseNode):
            yield from paths_of(node.if_nodes, f"{here}.if_nodes")
            yield from paths_of(node.else_nodes, f"{here}.else_nodes")
        else:
            yield here, node


def walk_models(value: object, path: str) -> Iterator[tuple[str, BaseModel]]:
    """Every model inside `value` (itself included, loop and if/else bodies too) with its JSON path."""
    if isinstance(value, BaseModel):
        yield path, value
        for name in type(value).model_fields:
            yield from walk_models(getattr(value, name), join_key(path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_models(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_models(item, join_key(path, str(key)))


def substituted_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every string the engine substitutes placeholders in (dictionary keys too), with its JSON path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name not in NOT_SUBSTITUTED:
                yield from substituted_strings(getattr(value, name), join_key(path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from substituted_strings(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from substituted_strings(key, path)
            yield from substituted_strings(item, join_key(path, str(key)))


def commands_in(model: BaseModel, path: str) -> Iterator[tuple[str, str]]:
    """The locator commands a model holds that a run uses (a skipped command is kept for reference only)."""
    if isinstance(model, TargetedAction) and model.command is not None and not model.skip_command:
        yield join_key(path, "command"), model.command
    elif isinstance(model, LocatorExtraction):
        yield join_key(path, "command"), model.command
    elif isinstance(model, CountLocator | AssertLocatorNode) or (
        isinstance(model, ForLoopNode) and model.locator is not None
    ):
        yield join_key(path, "locator"), model.locator or ""


def join_key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class _Checker:
    """Walks the nodes in document order with the variables each one may name."""

    scope: Scope
    producers: dict[str, str]
    problems: list[FieldError] = field(default_factory=list)

    def nodes(self, nodes: Iterable[Node], path: str, loops: tuple[ForLoopNode, ...]) -> None:
        for index, node in enumerate(nodes):
            self.node(node, f"{path}[{index}]", loops)

    def node(self, node: Node, path: str, loops: tuple[ForLoopNode, ...]) -> None:
        if isinstance(node, ForLoopNode):
            self.loop(node, path, loops)
        elif isinstance(node, IfElseNode):
            self.nodes(node.if_nodes, f"{path}.if_nodes", loops)
            self.nodes(node.else_nodes, f"{path}.else_nodes", loops)
        else:
            # An action node's payload (its own fields are waits); a locator assertion as it is.
            if isinstance(node, ActionNode):
                self.step(node.chosen, join_key(path, node.kind), loops)
            else:
                self.step(node, path, loops)
            self.scope.add(produced_by([node]))

    def loop(self, node: ForLoopNode, path: str, loops: tuple[ForLoopNode, ...]) -> None:
        self.commands(node, path, loops)
        first = next(iter(node.loop_variables()), None)
        if first is not None and first not in self.scope.known and not self.scope.open:
            self.problems.append(
                FieldError(join_key(path, "variable_name"), self.unknown(first, f"the loop runs over `{first}`"))
            )
        # A later iteration sees what the whole body wrote in the earlier ones.
        self.scope.add(produced_by([*node.nodes, *node.reset_nodes]))
        inside = (*loops, node)
        self.nodes(node.nodes, f"{path}.nodes", inside)
        self.nodes(node.reset_nodes, f"{path}.reset_nodes", inside)

    def step(self, payload: BaseModel, path: str, loops: tuple[ForLoopNode, ...]) -> None:
        for model_path, model in walk_models(payload, path):
            self.commands(model, model_path, loops)
        for where, text in substituted_strings(payload, path):
            self.placeholders(where, [ref for ref in references(in_iteration(text, loops)) if ref.path])

    def commands(self, model: BaseModel, path: str, loops: tuple[ForLoopNode, ...]) -> None:
        for where, command in commands_in(model, path):
            try:
                chain = parse_locator(in_iteration(command, loops))
            except LocatorInvalid as exc:
                self.problems.append(FieldError(where, f"{exc}; {LOCATOR_HINT}"))
                continue
            # A bare `{name}` argument is a placeholder; inside a string, only one with a path must resolve.
            refs = [*chain_placeholders(chain), *(ref for ref in references(chain.command) if ref.path)]
            self.placeholders(where, list(dict.fromkeys(refs)))

    def placeholders(self, path: str, refs: list[PlaceholderRef]) -> None:
        if self.scope.open:
            return
        for ref in refs:
            if ref.name not in self.scope.known:
                self.problems.append(
                    FieldError(path, self.unknown(ref.name, f"placeholder {ref.text} names `{ref.name}`"))
                )

    def unknown(self, name: str, subject: str) -> str:
        """Why a name is refused (`subject` names it) and how to fix it."""
        later = self.producers.get(name)
        if later is not None:
            return f"{subject}, which only a later step writes ({later}): move that step before this one"
        message = f"{subject}, which is no declared parameter nor a variable an earlier step writes"
        if hint := did_you_mean(name, self.scope.known):
            return message + hint
        return f"{message}: declare it in parameters.input_parameters (or secure_parameters, generated_parameters)"


def in_iteration(text: str, loops: tuple[ForLoopNode, ...]) -> str:
    """`text` as the engine runs it in the first iteration of the enclosing loops (outermost expanded first)."""
    for loop in loops:
        text = expand_loop(
            text,
            index_name=loop.index_variable_name,
            index=0,
            loop_variables=loop.loop_variables(),
            locator=loop.locator,
        )
    return text


def chain_placeholders(chain: LocatorChain) -> Iterator[PlaceholderRef]:
    """The placeholders given as arguments (not inside strings) anywhere in a chain."""
    for step in chain.steps:
        for _, argument in step.arguments:
            if isinstance(argument, PlaceholderRef):
                yield argument
            elif isinstance(argument, LocatorChain):
                yield from chain_placeholders(argument)
