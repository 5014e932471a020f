"""Loading an automation: every schema problem with its JSON path, then the features rebrowse lacks, the locator
commands that cannot run and the placeholders that name nothing (see references)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rebrowse.automation.actions import (
    AgenticTask,
    CaptchaAction,
    CloseOverlayPopupAction,
    DynamicFormMappingAction,
    InputTextAction,
    LlmAssertion,
    LlmExtraction,
    LlmQuery,
    LocatorExtraction,
    NetworkCallAssertion,
    OcrCoordinatesExtraction,
    PdfExtraction,
    PowershellAction,
    PythonScriptAction,
    PythonScriptAssertion,
    PythonScriptExtraction,
    SelectOptionAction,
    TargetedAction,
    VisionExtraction,
)
from rebrowse.automation.base import StrictModel
from rebrowse.automation.formats import format_problems
from rebrowse.automation.parameters import Parameters, SecureParameter
from rebrowse.automation.references import join_key, reference_problems, walk_models
from rebrowse.automation.schema import ActionNode, Automation, PrivateNode
from rebrowse.errors import AutomationInvalid, FieldError, did_you_mean

PYTHON_SCRIPTS_SETTING = "REBROWSE_ALLOW_PYTHON_SCRIPTS=1"
CAPTCHA_SETTING = "REBROWSE_CAPTCHA_BY_PERSON=1"
NO_CAPTCHA = (
    "captcha_action is never solved by a model in rebrowse: set "
    + CAPTCHA_SETTING
    + " to have a person solve it (the task waits for a person at this step)"
)
NO_MODEL = "no {} given, and skip_prompt forbids asking the model for it"

# Models whose mere presence is a feature rebrowse does not implement.
UNSUPPORTED: dict[type[BaseModel], str] = {
    OcrCoordinatesExtraction: "ocr_coordinates extraction is not supported (a computer-vision feature)",
    VisionExtraction: "vision extraction is not supported (a computer-vision feature)",
    NetworkCallAssertion: "network_call assertion is not supported (Optexity never implemented it)",
    PythonScriptAssertion: "python_script assertion is not supported (Optexity never implemented it)",
    PowershellAction: "powershell_action is not supported (it needs a remote Windows desktop)",
    PrivateNode: "private_node is not supported (it needs an Optexity plugin handler)",
}
# The field of each model that holds a format a model answers in (a locator's only with its LLM fallback).
FORMATS: dict[type[BaseModel], str] = {
    LlmExtraction: "extraction_format",
    PdfExtraction: "extraction_format",
    LlmQuery: "output_format",
    LocatorExtraction: "extraction_format",
    DynamicFormMappingAction: "extraction_format",
}
SCRIPTS: dict[type[BaseModel], str] = {
    PythonScriptAction: "python_script_action",
    PythonScriptExtraction: "python_script extraction",
}


# chrome runs on Google Chrome where one is installed, else on Chromium (noted in the run's result).
RUNNABLE_CHANNELS = ("chromium", "chrome")


def load_automation(data: object, *, allow_python_scripts: bool = False, captcha_by_person: bool = False) -> Automation:
    """Validate decoded JSON as an automation rebrowse can run; AutomationInvalid lists every problem.

    `captcha_by_person`: a captcha_action becomes a wait for a person (else it is refused)."""
    try:
        automation = Automation.model_validate(data)
    except ValidationError as exc:
        raise AutomationInvalid(field_errors(exc, data)) from None
    problems = [
        *unsupported_features(automation, allow_python_scripts=allow_python_scripts),
        *([] if captcha_by_person else captcha_problems(automation)),
        *reference_problems(automation),
    ]
    if problems:
        raise AutomationInvalid(problems)
    return automation


def load_automation_file(
    path: Path, *, allow_python_scripts: bool = False, captcha_by_person: bool = False
) -> Automation:
    """Read and load an automation JSON file; malformed JSON is reported with its line and column."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise AutomationInvalid([FieldError("", message)]) from None
    return load_automation(data, allow_python_scripts=allow_python_scripts, captcha_by_person=captcha_by_person)


# ---------------------------------------------------------------------------------------------------------
# Pydantic errors as JSON paths


def field_errors(error: ValidationError, data: object, prefix: str = "") -> list[FieldError]:
    """Pydantic's errors located in `data`: one FieldError per path (a union's members share one)."""
    by_path: dict[str, list[str]] = {}
    for detail in error.errors(include_url=False):
        path, _ = walk(detail["loc"], data, prefix, detail["type"] == "missing")
        by_path.setdefault(path, [])
        message = error_message(detail)
        if detail["type"] == "extra_forbidden":
            message += nearest_field_hint(detail["loc"], data)
        if message not in by_path[path]:
            by_path[path].append(message)
    return [FieldError(path, "; ".join(found)) for path, found in by_path.items()]


def json_path(loc: Sequence[str | int], data: object, prefix: str = "", missing: bool = False) -> str:
    """`nodes[2].interaction_action.click_element`: pydantic's location walked along the input data.

    Segments that are not in the data (union tags such as `action_node`, validator names) are left out,
    except the last one of a missing field, which names it.
    """
    return walk(loc, data, prefix, missing)[0]


def walk(loc: Sequence[str | int], data: object, prefix: str = "", missing: bool = False) -> tuple[str, object]:
    """The JSON path of pydantic's location (see json_path), and the value found there in the data."""
    path, current = prefix, data
    for position, segment in enumerate(loc):
        if isinstance(segment, int) and isinstance(current, list) and 0 <= segment < len(current):
            path, current = f"{path}[{segment}]", current[segment]
        elif isinstance(segment, str) and isinstance(current, dict) and segment in current:
            path, current = join_key(path, segment), current[segment]
        elif missing and position == len(loc) - 1:
            path = join_key(path, str(segment))
    return path, current


def nearest_field_hint(loc: Sequence[str | int], data: object) -> str:
    """` (did you mean `check`?)` for an unknown key that looks like a field of the object it stands in."""
    if not loc:
        return ""
    key = str(loc[-1])
    _, parent = walk(loc[:-1], data)
    siblings = set(parent) - {key} if isinstance(parent, dict) else set()
    # The fields of every model the other keys fit, or of every model when none does (or there are none).
    fitting = [names for names in automation_field_names() if siblings <= names] or automation_field_names()
    return did_you_mean(key, set().union(*fitting))


@cache
def automation_field_names() -> list[frozenset[str]]:
    """The field names (and aliases) of each model of the automation format."""
    models: list[type[StrictModel]] = []
    pending: list[type[StrictModel]] = [StrictModel]
    while pending:
        model = pending.pop()
        models.append(model)
        pending += model.__subclasses__()
    return [
        frozenset(name for field_name, info in model.model_fields.items() for name in (field_name, info.alias) if name)
        for model in models
        if model.model_fields
    ]


def error_message(detail: ErrorDetails) -> str:
    """A short message for one pydantic error."""
    if detail["type"] == "extra_forbidden":
        return "unknown field"
    if detail["type"] == "missing":
        return "field required"
    message = str(detail["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


# ---------------------------------------------------------------------------------------------------------
# Features rebrowse does not implement


def unsupported_features(automation: Automation, *, allow_python_scripts: bool) -> list[FieldError]:
    """Every use of a feature rebrowse does not implement, or that this deployment does not allow."""
    return [
        problem
        for path, model in walk_models(automation, "")
        for problem in model_problems(model, path, allow_python_scripts)
    ]


def captcha_problems(automation: Automation) -> list[FieldError]:
    """Every captcha_action, where the deployment does not let a person solve captchas."""
    return [
        FieldError(path, NO_CAPTCHA) for path, model in walk_models(automation, "") if isinstance(model, CaptchaAction)
    ]


# Steps that always ask a model (element steps ask one only when their own fields cannot complete them).
ASKS_MODEL = (LlmExtraction, LlmAssertion, LlmQuery, PdfExtraction, AgenticTask, CloseOverlayPopupAction)


def model_steps(automation: Automation) -> list[str]:
    """The JSON paths of the steps that ask a model when they run (a locator's fallback only asks on a miss)."""
    return [path for path, model in walk_models(automation, "") if asks_model(model)]


def asks_model(model: BaseModel) -> bool:
    if isinstance(model, ASKS_MODEL):
        return True
    if not isinstance(model, TargetedAction):
        return False
    locates = model.command is not None and not model.skip_command
    if not locates and (model.needs_target or model.xpath is not None or model.skip_command):
        return True
    return (isinstance(model, InputTextAction) and model.input_text is None) or (
        isinstance(model, SelectOptionAction) and model.select_values is None
    )


def model_problems(model: BaseModel, path: str, allow_python_scripts: bool) -> Iterator[FieldError]:
    """The unsupported features one model uses."""
    if type(model) in UNSUPPORTED:
        yield FieldError(path, UNSUPPORTED[type(model)])
    elif type(model) in SCRIPTS and not allow_python_scripts:
        yield FieldError(path, f"{SCRIPTS[type(model)]} is disabled: set {PYTHON_SCRIPTS_SETTING} to allow it")
    elif type(model) in FORMATS:
        yield from answer_format_problems(model, path)
    elif isinstance(model, TargetedAction):
        yield from targeted_problems(model, path)
    elif isinstance(model, AgenticTask | CloseOverlayPopupAction) and model.backend == "browserbase":
        # Optexity raises NotImplemented for it: refused at upload rather than failing every run.
        yield FieldError(join_key(path, "backend"), 'backend "browserbase" is not supported: use "browser_use"')
    elif isinstance(model, ActionNode) and model.expect_navigation:
        yield FieldError(join_key(path, "expect_navigation"), "expect_navigation is not supported yet")
    elif isinstance(model, Automation):
        yield from automation_problems(model)


def targeted_problems(action: TargetedAction, path: str) -> Iterator[FieldError]:
    """Element actions that neither their own fields nor the model may complete: skip_prompt forbids the model."""
    if not action.skip_prompt:
        return
    if action.skip_command:
        yield FieldError(join_key(path, "skip_command"), "skip_command and skip_prompt leave no way to locate")
    elif action.command is None and (action.needs_target or action.xpath is not None):
        yield FieldError(path, NO_MODEL.format("command"))
    if isinstance(action, InputTextAction) and action.input_text is None:
        yield FieldError(join_key(path, "input_text"), NO_MODEL.format("input_text"))
    if isinstance(action, SelectOptionAction) and action.select_values is None:
        yield FieldError(join_key(path, "select_values"), NO_MODEL.format("select_values"))


def answer_format_problems(model: BaseModel, path: str) -> Iterator[FieldError]:
    """A format's type strings must be ones rebrowse reads (Optexity evaluated them as Python)."""
    if isinstance(model, LocatorExtraction) and not model.extraction_instructions:
        return
    name = FORMATS[type(model)]
    for where, message in format_problems(getattr(model, name), join_key(path, name)):
        yield FieldError(where, message)


def automation_problems(automation: Automation) -> Iterator[FieldError]:
    """Top-level settings that ask for another browser or backend."""
    if automation.browser_channel not in RUNNABLE_CHANNELS:
        message = f'browser_channel "{automation.browser_channel}" is not supported: rebrowse runs chromium or chrome'
        yield FieldError("browser_channel", message)
    if automation.backend == "computer-vision":
        yield FieldError("backend", 'backend "computer-vision" is not supported: rebrowse runs browser-use')


# ---------------------------------------------------------------------------------------------------------
# Summary for `rebrowse validate`


@dataclass(frozen=True)
class AutomationSummary:
    """What an automation declares and contains."""

    url: str
    input_parameters: tuple[str, ...]
    secure_parameters: tuple[str, ...]
    generated_parameters: tuple[str, ...]
    node_counts: Mapping[str, int]
    action_counts: Mapping[str, int]
    total_nodes: int
    model_steps: tuple[str, ...] = ()  # the paths of the steps that ask a model

    def render(self) -> str:
        """Plain text lines for a terminal."""
        return "\n".join(
            [
                f"url: {self.url}",
                f"input parameters: {', '.join(self.input_parameters) or '-'}",
                f"secure parameters: {', '.join(self.secure_parameters) or '-'}",
                f"generated parameters: {', '.join(self.generated_parameters) or '-'}",
                f"nodes: {self.total_nodes} ({counts_text(self.node_counts)})",
                f"actions: {counts_text(self.action_counts) or '-'}",
                f"steps that ask a model: {', '.join(self.model_steps) or '-'}",
            ]
        )


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def summarize(automation: Automation) -> AutomationSummary:
    """Parameter names per kind, node counts per kind and per action, and the total number of nodes."""
    nodes = list(automation.all_nodes())
    actions = Counter(node.action_name for node in nodes if isinstance(node, ActionNode))
    parameters = automation.parameters
    return AutomationSummary(
        url=automation.url,
        input_parameters=tuple(parameters.input_parameters),
        secure_parameters=tuple(parameters.secure_parameters),
        generated_parameters=tuple(parameters.generated_parameters),
        node_counts=dict(Counter(node.type for node in nodes)),
        action_counts=dict(actions),
        total_nodes=len(nodes),
        model_steps=tuple(model_steps(automation)),
    )


# ---------------------------------------------------------------------------------------------------------
# Parameters given for a run


def check_run_parameters(automation: Automation, inputs: Mapping[str, object], secure: Mapping[str, object]) -> None:
    """Reject run values for names the automation does not declare, and values of the wrong shape."""
    declared = automation.parameters
    errors = [*input_errors(declared, inputs), *secure_errors(declared, secure)]
    if errors:
        raise AutomationInvalid(errors)


def input_errors(declared: Parameters, inputs: Mapping[str, object]) -> Iterator[FieldError]:
    """Input values must be declared inputs, each a list of strings, numbers or booleans."""
    for name, values in inputs.items():
        path = f"input_parameters.{name}"
        if name not in declared.input_parameters:
            yield FieldError(
                path, undeclared(name, declared.input_parameters, declared.secure_parameters, "a secure parameter")
            )
        elif not isinstance(values, list):
            yield FieldError(path, "must be a list of values")
        else:
            for index, value in enumerate(values):
                if not isinstance(value, str | int | float | bool):
                    yield FieldError(f"{path}[{index}]", "must be a string, a number or a boolean")


def secure_errors(declared: Parameters, secure: Mapping[str, object]) -> Iterator[FieldError]:
    """Secure values must be declared secure parameters, each a list of secret references."""
    for name, values in secure.items():
        path = f"secure_parameters.{name}"
        if name not in declared.secure_parameters:
            yield FieldError(
                path, undeclared(name, declared.secure_parameters, declared.input_parameters, "an input parameter")
            )
        elif not isinstance(values, list):
            yield FieldError(path, "must be a list of secret references")
        else:
            for index, value in enumerate(values):
                yield from secure_value_errors(value, f"{path}[{index}]")


def secure_value_errors(value: object, path: str) -> list[FieldError]:
    if isinstance(value, SecureParameter):
        return []
    try:
        SecureParameter.model_validate(value)
    except ValidationError as exc:
        return field_errors(exc, value, path)
    return []


def undeclared(name: str, same_kind: Mapping[str, object], other_kind: Mapping[str, object], other_label: str) -> str:
    """Why a run value's name is refused: it is of the other kind, or a typo of a declared one, or unknown."""
    if name in other_kind:
        return f"not declared by the automation (it is {other_label})"
    return "not declared by the automation" + did_you_mean(name, same_kind)
