"""The actions an action node performs, with Optexity's JSON keys, fields and defaults.

Every model is strict (unknown keys are errors). Fields that rebrowse accepts but does not act on
(LLM prompts, recorder metadata) are declared so that recordings dumped with all their defaults load;
features that need what rebrowse lacks are declared too and rejected later by `loading`, with a path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Self

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from rebrowse.automation.base import StrictModel
from rebrowse.automation.expressions import check_expression
from rebrowse.errors import ExpressionInvalid
from rebrowse.messages.codes import compile_code_pattern


def _can_run(expression: str) -> str:
    try:
        check_expression(expression)
    except ExpressionInvalid as exc:
        raise ValueError(str(exc)) from None
    return expression


# A condition or expression, refused when the automation is loaded if it can never run (not Python, too long...).
Expression = Annotated[str, AfterValidator(_can_run)]

# ---------------------------------------------------------------------------------------------------------
# "Exactly one of these fields is set": the one rule most containers share.


def require_exactly_one(model: BaseModel, names: Sequence[str]) -> str:
    """The name of the only field among `names` that is not None; ValueError unless there is exactly one."""
    given = [name for name in names if getattr(model, name) is not None]
    if len(given) == 1:
        return given[0]
    found = f"got {', '.join(given)}" if given else "none given"
    raise ValueError(f"exactly one of {', '.join(names)} must be set ({found})")


EMPTY = "empty"  # the kind of a container that may be empty and is


class OneOf(StrictModel):
    """A container in which exactly one of the fields named by `choices` is set (or none, when `may_be_empty`)."""

    choices: ClassVar[tuple[str, ...]] = ()
    may_be_empty: ClassVar[bool] = False

    @model_validator(mode="after")
    def _exactly_one_choice(self) -> Self:
        if not self.is_empty:
            require_exactly_one(self, self.choices)
        return self

    @property
    def is_empty(self) -> bool:
        """Whether none of the choices is set, where that is allowed."""
        return self.may_be_empty and all(getattr(self, name) is None for name in self.choices)

    @property
    def kind(self) -> str:
        """The name of the field that is set, e.g. `click_element` (`empty` for an allowed empty container)."""
        return EMPTY if self.is_empty else require_exactly_one(self, self.choices)

    @property
    def chosen(self) -> BaseModel:
        """The value of the field that is set."""
        value: BaseModel = getattr(self, self.kind)
        return value


def blank_to_none(value: str | None) -> str | None:
    """Optexity treats a blank string as not given."""
    return None if value is None or not value.strip() else value


# ---------------------------------------------------------------------------------------------------------
# Interaction actions (optexity/schema/actions/interaction_action.py)


class ElementFingerprint(StrictModel):
    """Recorder metadata identifying the element a command was compiled against (not used by rebrowse)."""

    tag: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    ax_name: str | None = None


class TargetedAction(StrictModel):
    """Element-targeting fields shared by click, input, select, check, uncheck, hover, upload, key press."""

    # Whether the action acts on an element, so that without a `command` the model must find it.
    needs_target: ClassVar[bool] = True

    command: str | None = None
    """A Playwright locator call on the page, e.g. `get_by_role("button", name="Sign in")`."""
    xpath: str | None = None
    """Never used to locate (as in Optexity): without a command, the model finds the element."""
    prompt_instructions: str = ""
    """The goal the model finds the element (and a missing value) by."""
    skip_command: bool = False
    """The model finds the element; the command is kept for reference only."""
    skip_prompt: bool = False
    """Never ask the model: the step needs a command (and its value)."""
    assert_locator_presence: bool = False
    # Computer-vision and recorder fields: accepted so recordings load, never acted on (as in Optexity).
    coordinates: tuple[int, int] | tuple[str, str] | None = None
    keyword: str | None = None
    recording_screenshot: str | None = None
    bounding_box_variables: list[str] | None = Field(default=None, min_length=4, max_length=4)
    fingerprint: ElementFingerprint | None = None

    @field_validator("command")
    @classmethod
    def _blank_command_is_none(cls, value: str | None) -> str | None:
        return blank_to_none(value)

    @model_validator(mode="after")
    def _locator_fields(self) -> Self:
        if self.command is not None and self.xpath is not None:
            raise ValueError("give command or xpath, not both")
        if self.assert_locator_presence and self.command is None:
            raise ValueError("assert_locator_presence needs a command")
        return self


class MouseDeviation(StrictModel):
    """An offset in pixels for `mouse_click`."""

    x: float = 0.0
    y: float = 0.0


class DownloadingAction(TargetedAction):
    """An element action that may start a download the step waits for and saves."""

    expect_download: bool = False
    """The action starts a download: the step waits for it and saves it with the run."""
    download_filename: str | None = None
    """The saved file's name; null: the browser's suggested name (Optexity makes up a UUID, then prefers it)."""
    download_metadata: dict[str, Any] | None = None
    download_timeout_seconds: float | None = Field(default=None, gt=0)
    """How long to wait for the download; null: the deployment's download timeout."""


class ClickElementAction(DownloadingAction):
    """Click (or double-click) an element, optionally expecting a download."""

    double_click: bool = False
    button: Literal["left", "right", "middle"] = "left"
    force: bool = False
    mouse_click: bool = False
    mouse_click_deviation: MouseDeviation | None = None


class InputTextAction(TargetedAction):
    """Fill or type text into an element."""

    input_text: str | None = None
    """The text; null: the model supplies it, guided by `prompt_instructions`."""
    fill_or_type: Literal["fill", "type", "key_press"] = "fill"
    """`fill` sets the value at once; `type` and `key_press` press one key per character."""
    press_enter: bool = False
    is_slider: bool = False
    click_before_input: bool = True


class SelectOptionAction(DownloadingAction):
    """Select options of a `<select>` by value or label, optionally expecting a download."""

    select_values: list[str] | None = None
    """The options' values or labels; null: the model picks them, guided by `prompt_instructions`."""


class CheckAction(TargetedAction):
    """Make a checkbox checked."""


class UncheckAction(TargetedAction):
    """Make a checkbox unchecked."""


class HoverAction(TargetedAction):
    """Hover over an element."""


class UploadFileAction(TargetedAction):
    """Set the files of a file input from a local path or an http(s) URL (checked once placeholders are filled)."""

    file_path: str | None = Field(default=None, min_length=1)
    file_url: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        require_exactly_one(self, ("file_path", "file_url"))
        return self


class GoToUrlAction(StrictModel):
    """Load a URL."""

    url: str
    new_tab: bool = False


class GoBackAction(StrictModel):
    """Go back in the tab's history."""


class SwitchTabAction(StrictModel):
    """Bring tab `tab_index` to the front."""

    tab_index: int


class CloseCurrentTabAction(StrictModel):
    """Close the current tab."""


class CloseTabsUntilAction(OneOf):
    """Close the last tab until one matches `matching_url` (a substring) or `tab_index` is the last."""

    choices: ClassVar[tuple[str, ...]] = ("matching_url", "tab_index")

    matching_url: str | None = None
    tab_index: int | None = None


class CloseAllButLastTabAction(StrictModel):
    """Close every tab except the last one."""


class ScrollAction(StrictModel):
    """Scroll by `amount` pixels, or (-1) until the page stops moving."""

    down: bool = True
    amount: int = -1
    prompt_instructions: str | None = None

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: int) -> int:
        if value < 0 and value != -1:
            raise ValueError("amount must be -1 (to the end) or a number of pixels")
        return value


class KeyPressAction(TargetedAction):
    """Press keys, in order: Optexity's lowercase names (`enter`, `ctrl`, `f13`, `browserback`) or Playwright's
    (`Control+A`)."""

    needs_target: ClassVar[bool] = False

    type: str | list[str]

    @field_validator("type", mode="before")
    @classmethod
    def _known_keys(cls, value: object) -> object:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError("type must be a key name or a list of key names")
        if not names:
            raise ValueError("at least one key is needed")
        for name in names:
            to_key_press(name)
        return value

    def presses(self) -> list[str | DevToolsPress]:
        """The keys in the order to press them: as Playwright spells them, or as DevTools presses."""
        names = [self.type] if isinstance(self.type, str) else self.type
        return [to_key_press(name) for name in names]


class DownloadUrlAsPdfAction(StrictModel):
    """Save the bytes at `url` (default: the current page's URL) as a download."""

    download_filename: str | None = None
    """The saved file's name; null: a name taken from the URL or response (Optexity makes up a UUID)."""
    url: str | None = None


class DownloadFileAction(StrictModel):
    """Fetch `file_url` (an http(s) URL once placeholders are filled) as a download of the run; its path is stored
    as `{output_variable_name[0]}` for a later upload_file."""

    file_url: str = Field(min_length=1)
    output_variable_name: str = "downloaded_file_path"


class AgenticTask(StrictModel):
    """An LLM agent that does `task` on the page with rebrowse's own tools, within `max_steps` actions."""

    task: str
    max_steps: int
    backend: Literal["browser_use", "browserbase"] = "browser_use"
    use_vision: bool = False
    keep_alive: bool = True


class CloseOverlayPopupAction(StrictModel):
    """An LLM agent that dismisses overlays with clicks and Escape; `task` None uses rebrowse's own prompt."""

    task: str | None = None
    max_steps: int = 5
    backend: Literal["browser_use", "browserbase"] = "browser_use"
    use_vision: bool = True
    keep_alive: bool = True


class InteractionAction(OneOf):
    """One interaction with the page, retried `max_tries` times `max_timeout_seconds_per_try` apart."""

    choices: ClassVar[tuple[str, ...]] = (
        "click_element",
        "input_text",
        "select_option",
        "check",
        "uncheck",
        "hover",
        "download_url_as_pdf",
        "download_file",
        "scroll",
        "upload_file",
        "go_to_url",
        "go_back",
        "switch_tab",
        "close_current_tab",
        "close_all_but_last_tab",
        "close_tabs_until",
        "agentic_task",
        "close_overlay_popup",
        "key_press",
    )

    max_tries: int = Field(default=10, ge=0)
    """With `max_timeout_seconds_per_try`, how long the element may take to become actionable (tries x seconds)."""
    max_timeout_seconds_per_try: float = Field(default=1.0, gt=0)
    verify_before_step: bool = True
    click_element: ClickElementAction | None = None
    input_text: InputTextAction | None = None
    select_option: SelectOptionAction | None = None
    check: CheckAction | None = None
    uncheck: UncheckAction | None = None
    hover: HoverAction | None = None
    download_url_as_pdf: DownloadUrlAsPdfAction | None = None
    download_file: DownloadFileAction | None = None
    scroll: ScrollAction | None = None
    upload_file: UploadFileAction | None = None
    go_to_url: GoToUrlAction | None = None
    go_back: GoBackAction | None = None
    switch_tab: SwitchTabAction | None = None
    close_current_tab: CloseCurrentTabAction | None = None
    close_all_but_last_tab: CloseAllButLastTabAction | None = None
    close_tabs_until: CloseTabsUntilAction | None = None
    agentic_task: AgenticTask | None = None
    close_overlay_popup: CloseOverlayPopupAction | None = None
    key_press: KeyPressAction | None = None

    @model_validator(mode="after")
    def _optional_step_tries(self) -> Self:
        # Optexity's rule: a zero max_tries on an optional (skip_prompt) click/input/select means 5.
        action = self.click_element or self.input_text or self.select_option
        if self.max_tries == 0 and action is not None and action.skip_prompt:
            self.max_tries = 5
        return self


# ---------------------------------------------------------------------------------------------------------
# Extraction actions (optexity/schema/actions/extraction_action.py, two_fa_action.py)


LlmSource = Literal["axtree", "screenshot"]


def sources(*names: LlmSource) -> list[LlmSource]:
    """A fresh list of LLM input sources (a default for each model)."""
    return list(names)


class LlmExtraction(StrictModel):
    """Structured extraction by an LLM from the page's snapshot and/or screenshot."""

    source: list[LlmSource] = Field(default_factory=lambda: sources("axtree"), min_length=1)
    extraction_format: dict[str, Any]
    extraction_instructions: str
    recording_screenshot: str | None = None
    output_variable_names: list[str] | None = None
    include_full_page: bool = False
    llm_provider: str | None = None
    llm_model_name: str | None = None

    @model_validator(mode="after")
    def _outputs_in_format(self) -> Self:
        require_keys_in_format(self.output_variable_names, self.extraction_format, "extraction_format")
        return self


def require_keys_in_format(names: list[str] | None, fmt: dict[str, Any] | None, where: str) -> None:
    """Every output variable must be a key of the extraction format."""
    missing = [name for name in names or [] if fmt is None or name not in fmt]
    if missing:
        raise ValueError(f"output variable(s) {', '.join(missing)} not found in {where}")


class LocatorExtraction(StrictModel):
    """The inner text of the first element a locator command finds (the value of a form field: input, textarea,
    select)."""

    command: str
    output_variable_name: str | None = None
    """The variable the text is stored in; null: `node{k}_output`, k counting every node in document order."""
    extraction_format: dict[str, Any]
    extraction_instructions: str | None = None
    """When given, the model reads the value from the page if the locator finds no text."""
    llm_provider: str | None = None
    llm_model_name: str | None = None

    @model_validator(mode="after")
    def _variable_in_format(self) -> Self:
        if self.output_variable_name is None:
            if len(self.extraction_format) != 1:
                raise ValueError("without output_variable_name, extraction_format must have exactly one key")
        else:
            require_keys_in_format([self.output_variable_name], self.extraction_format, "extraction_format")
        return self


class NetworkCallExtraction(StrictModel):
    """Bodies of requests or responses whose URL contains `url_pattern`, seen since the last interaction."""

    url_pattern: str | None = None
    extract_from: Literal["request", "response"] | None = "response"
    download_from: Literal["request", "response"] | None = "response"
    download_filename: str | None = None


class PythonScriptExtraction(StrictModel):
    """A Python `code_fn(axtree, browser)` returning a dict (runs only where a deployment allows it)."""

    script: str = Field(pattern=r"\S")
    extraction_format: dict[str, Any] | None = None
    output_variable_names: list[str] | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _outputs_in_format(self) -> Self:
        require_keys_in_format(self.output_variable_names, self.extraction_format, "extraction_format")
        return self


class ScreenshotExtraction(StrictModel):
    """A screenshot saved as `filename`."""

    filename: str
    full_page: bool = True


class StateExtraction(StrictModel):
    """The page URL and title, web storage and cookies."""


class PdfExtraction(StrictModel):
    """LLM extraction from a PDF the run downloaded."""

    filename: str
    extraction_format: dict[str, Any]
    extraction_instructions: str
    llm_provider: str | None = None
    llm_model_name: str | None = None


class OcrCoordinatesExtraction(StrictModel):
    """Computer-vision coordinates (not supported by rebrowse)."""

    source_variable: str
    output_x_variable: str = "coords_x"
    output_y_variable: str = "coords_y"
    bounding_box_variables: list[str] | None = Field(default=None, min_length=4, max_length=4)


class VisionExtraction(StrictModel):
    """Computer-vision extraction (not supported by rebrowse)."""

    prompt: str
    output_variable_names: list[str]


class ApiCallExtraction(StrictModel):
    """An HTTP request whose result is stored as a dict, optionally polled until `poll_condition` holds."""

    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | str | None = None
    query_params: dict[str, str] = Field(default_factory=dict)
    output_variable_names: list[str] = Field(default_factory=lambda: ["api_result"])
    timeout: float = Field(default=30.0, gt=0)
    poll_condition: Expression | None = None
    poll_interval: float = Field(default=5.0, ge=0)
    max_poll_attempts: int = Field(default=10, ge=1)


class EmailTwoFa(StrictModel):
    """A 2FA code from an email."""

    type: Literal["email_two_fa_action"]
    receiver_email_address: str
    sender_email_address: str
    integration_email_address: str | None = None


class SlackTwoFa(StrictModel):
    """A 2FA code from a Slack message."""

    type: Literal["slack_two_fa_action"]
    slack_workspace_domain: str
    channel_name: str
    sender_name: str


class SmsTwoFa(StrictModel):
    """A 2FA code from an SMS (Twilio)."""

    type: Literal["sms_two_fa_action"]
    from_number: str
    to_number: str


class TwoFaAction(StrictModel):
    """A 2FA code from the newest message that arrived after the 2FA clock (reset by every interaction)."""

    action: Annotated[EmailTwoFa | SlackTwoFa | SmsTwoFa, Field(discriminator="type")]
    instructions: str | None = None
    """When given, the model reads the code from the message, told this; otherwise code_pattern does."""
    output_variable_name: str
    max_wait_time: float = Field(default=300.0, gt=0)
    check_interval: float = 30.0
    """Accepted for Optexity's automations; unused: a wait wakes when a message arrives."""
    start_2fa_time_offset_minutes: float = Field(default=0.0, ge=0)
    end_2fa_time_offset_minutes: float = Field(default=0.0, ge=0)
    code_pattern: str | None = None
    """rebrowse: a regular expression for the code (its one group, or the whole match); default 4 to 8 digits."""

    @field_validator("code_pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                compile_code_pattern(pattern)
            except (re.error, ValueError) as exc:
                raise ValueError(f"not a usable regular expression: {exc}") from None
        return pattern


class ExtractionAction(OneOf):
    """One extraction; unless `allow_none`, a None in the variables it writes fails the step."""

    choices: ClassVar[tuple[str, ...]] = (
        "llm",
        "locator",
        "network_call",
        "python_script",
        "screenshot",
        "state",
        "two_fa_action",
        "pdf",
        "api_call",
        "ocr_coordinates",
        "vision",
    )

    unique_identifier: str | None = None
    """The name of this extraction's entry in the run's output data."""
    allow_none: bool = False
    """Whether a null (nothing found) may be stored instead of failing the step."""
    llm: LlmExtraction | None = None
    locator: LocatorExtraction | None = None
    network_call: NetworkCallExtraction | None = None
    python_script: PythonScriptExtraction | None = None
    screenshot: ScreenshotExtraction | None = None
    state: StateExtraction | None = None
    two_fa_action: TwoFaAction | None = None
    pdf: PdfExtraction | None = None
    api_call: ApiCallExtraction | None = None
    ocr_coordinates: OcrCoordinatesExtraction | None = None
    vision: VisionExtraction | None = None


# ---------------------------------------------------------------------------------------------------------
# Assertion actions (optexity/schema/actions/assertion_action.py)


VERDICT_FORMAT = {"assertion_result": "bool", "assertion_reason": "str"}


class LlmAssertion(StrictModel):
    """A yes/no judgement by an LLM on the page (its screenshot always included); false fails the run."""

    source: list[LlmSource] = Field(default_factory=lambda: sources("screenshot"))
    extraction_format: dict[str, Any] = Field(default_factory=lambda: dict(VERDICT_FORMAT))
    extraction_instructions: str
    recording_screenshot: str | None = None
    output_variable_names: list[str] | None = None
    include_full_page: bool = False
    llm_provider: str | None = None
    llm_model_name: str | None = None

    @model_validator(mode="after")
    def _outputs_in_verdict(self) -> Self:
        # Optexity forces this format whatever the automation gives: outputs can only name its fields.
        require_keys_in_format(
            self.output_variable_names, VERDICT_FORMAT, "the verdict (assertion_result, assertion_reason)"
        )
        return self


class NetworkCallAssertion(StrictModel):
    """Declared by Optexity, never implemented there (not supported by rebrowse)."""

    url_pattern: str | None = None
    header_filter: dict[str, str] | None = None


class PythonScriptAssertion(StrictModel):
    """Declared by Optexity, never implemented there (not supported by rebrowse)."""

    script: str = Field(pattern=r"\S")


class AssertionAction(OneOf):
    """One assertion."""

    choices: ClassVar[tuple[str, ...]] = ("llm", "network_call", "python_script")

    llm: LlmAssertion | None = None
    network_call: NetworkCallAssertion | None = None
    python_script: PythonScriptAssertion | None = None


# ---------------------------------------------------------------------------------------------------------
# Other action-node payloads (misc_action.py, captcha_action.py, powershell_action.py)


class PythonScriptAction(StrictModel):
    """A Python `code_fn(page)` (runs only where a deployment allows it)."""

    execution_code: str = Field(pattern=r"\S")


class SleepAction(StrictModel):
    """A pause the automation asks for explicitly."""

    sleep_time: float = Field(ge=0)


class FailStateAction(StrictModel):
    """Fail the run with a message."""

    failure_message: str = "Automation completed at one of the failure states."


class HumanInLoopAction(StrictModel):
    """Pause for a person: the task says it waits, with `message`, until someone presses Done (or resumes it)."""

    max_wait_time: float = Field(gt=0, le=600)
    message: str | None = None  # rebrowse's addition: what the person should do (placeholders allowed)


class SetVariable(StrictModel):
    """Store `[value]` or `[expression's value]` under `name`; also an output when `output_variable_name`."""

    name: str
    value: str | int | float | bool | None = None
    expression: Expression | None = None
    output_variable_name: str | None = None

    @model_validator(mode="after")
    def _value_or_expression(self) -> Self:
        require_exactly_one(self, ("value", "expression"))
        return self


class LlmQuery(StrictModel):
    """An LLM call without the page."""

    output_format: dict[str, Any]
    prompt_instructions: str
    output_variable_names: list[str] | None = None
    llm_provider: str | None = None
    llm_model_name: str | None = None

    @model_validator(mode="after")
    def _outputs_in_format(self) -> Self:
        require_keys_in_format(self.output_variable_names, self.output_format, "output_format")
        return self


class CountLocator(StrictModel):
    """Store `[number of matches]` of a locator under `name`; also an output when `output_variable_name`."""

    locator: str
    name: str
    locator_timeout: float = Field(default=5.0, ge=0)
    output_variable_name: str | None = None


class MiscAction(OneOf):
    """One of set_variable, llm_query, count_locator; empty (`{}`), it does nothing, as in Optexity."""

    choices: ClassVar[tuple[str, ...]] = ("set_variable", "llm_query", "count_locator")
    may_be_empty: ClassVar[bool] = True

    set_variable: SetVariable | None = None
    llm_query: LlmQuery | None = None
    count_locator: CountLocator | None = None


class CaptchaConfig(StrictModel):
    """Tuning of the captcha solver."""

    primary_click_x_offset: int = 0
    primary_click_y_offset: int = 0
    grid_top_offset: int = 100
    grid_bottom_trim: int = 100
    max_captcha_retries: int = 3
    thinking_budget_tokens: int | None = None


class CaptchaAction(StrictModel):
    """An image captcha (Optexity asks a vision LLM; rebrowse has a person solve it, where a deployment allows)."""

    locator: str
    secondary_locator: str | None = None
    wait_time: float = 2.0
    llm_provider: str | None = None
    llm_model_name: str = "gemini/gemini-2.5-pro"
    config: CaptchaConfig = Field(default_factory=CaptchaConfig)


class FormMappingCallbackUrl(StrictModel):
    """Where dynamic_form_mapping_action posts the form's fields, and its credentials."""

    url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.api_key is not None and (self.username is not None or self.password is not None):
            raise ValueError("give api_key or username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class DynamicFormMappingAction(StrictModel):
    """An LLM reads a form's fields, an endpoint of the user maps them to values that later steps use."""

    extraction_instructions: str
    extraction_format: dict[str, Any]
    source: list[LlmSource] = Field(default_factory=lambda: sources("axtree"), min_length=1)
    callback_url: FormMappingCallbackUrl
    include_screenshot: bool = True
    full_page_screenshot: bool = False
    include_axtree: bool = False
    include_live_stream_url: bool = False
    max_wait_time: float = Field(default=60.0, gt=0, le=120)
    output_variable_name: str = "form_values"
    llm_provider: str | None = None
    llm_model_name: str | None = None

    @field_validator("output_variable_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"output_variable_name {value!r} is not a valid identifier")
        return value


class PowershellAction(StrictModel):
    """PowerShell commands on a remote Windows desktop (not supported by rebrowse)."""

    commands: list[str] = Field(min_length=1)
    exit_after_commands: bool = True


# ---------------------------------------------------------------------------------------------------------
# Key names: Optexity's pyautogui-style lowercase names and Playwright's own, to what Playwright presses.

_PYAUTOGUI_NAMES: dict[str, str] = {
    "enter": "Enter",
    "return": "Enter",
    "\n": "Enter",
    "\r": "Enter",
    "tab": "Tab",
    "\t": "Tab",
    "space": "Space",
    "backspace": "Backspace",
    "delete": "Delete",
    "del": "Delete",
    "esc": "Escape",
    "escape": "Escape",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "PageUp",
    "pgup": "PageUp",
    "pagedown": "PageDown",
    "pgdn": "PageDown",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "shift": "Shift",
    "shiftleft": "ShiftLeft",
    "shiftright": "ShiftRight",
    "ctrl": "Control",
    "ctrlleft": "ControlLeft",
    "ctrlright": "ControlRight",
    "alt": "Alt",
    "altleft": "AltLeft",
    "altright": "AltRight",
    "option": "Alt",
    "optionleft": "AltLeft",
    "optionright": "AltRight",
    "win": "Meta",
    "winleft": "MetaLeft",
    "winright": "MetaRight",
    "command": "Meta",
    "cmd": "Meta",
    "capslock": "CapsLock",
    "numlock": "NumLock",
    "scrolllock": "ScrollLock",
    "pause": "Pause",
    "print": "PrintScreen",
    "printscreen": "PrintScreen",
    "prntscrn": "PrintScreen",
    "prtsc": "PrintScreen",
    "prtscr": "PrintScreen",
    "apps": "ContextMenu",
    "add": "NumpadAdd",
    "subtract": "NumpadSubtract",
    "multiply": "NumpadMultiply",
    "divide": "NumpadDivide",
    "decimal": "NumpadDecimal",
    "volumemute": "AudioVolumeMute",
    "volumedown": "AudioVolumeDown",
    "volumeup": "AudioVolumeUp",
    "nexttrack": "MediaTrackNext",
    "prevtrack": "MediaTrackPrevious",
    "playpause": "MediaPlayPause",
    **{f"num{d}": f"Numpad{d}" for d in range(10)},
    **{f"f{n}": f"F{n}" for n in range(1, 13)},
}

# Playwright's US keyboard layout: key codes plus the modifier names (keyboard.press accepts both).
_PLAYWRIGHT_NAMES: tuple[str, ...] = (
    *(f"F{n}" for n in range(1, 13)),
    *(f"Digit{d}" for d in range(10)),
    *(f"Key{chr(c)}" for c in range(ord("A"), ord("Z") + 1)),
    *(f"Numpad{d}" for d in range(10)),
    "Escape", "Backquote", "Minus", "Equal", "Backslash", "Backspace", "Tab", "BracketLeft",
    "BracketRight", "CapsLock", "Semicolon", "Quote", "Enter", "Comma", "Period", "Slash", "Space",
    "Shift", "ShiftLeft", "ShiftRight", "Control", "ControlLeft", "ControlRight", "Alt", "AltLeft",
    "AltRight", "AltGraph", "Meta", "MetaLeft", "MetaRight", "ControlOrMeta", "ContextMenu",
    "PrintScreen", "ScrollLock", "Pause", "PageUp", "PageDown", "Insert", "Delete", "Home", "End",
    "ArrowLeft", "ArrowUp", "ArrowRight", "ArrowDown", "AudioVolumeMute", "AudioVolumeDown",
    "AudioVolumeUp", "MediaTrackNext", "MediaTrackPrevious", "MediaPlayPause", "NumLock",
    "NumpadDivide", "NumpadMultiply", "NumpadSubtract", "NumpadAdd", "NumpadDecimal", "NumpadEnter",
)  # fmt: skip

# Every accepted key name, lowercased, to the key Playwright presses.
KEY_NAMES: dict[str, str] = {name.lower(): name for name in _PLAYWRIGHT_NAMES} | _PYAUTOGUI_NAMES


class DevToolsKey(NamedTuple):
    """A key Playwright's keyboard has not, as Chromium's DevTools protocol dispatches it."""

    key: str  # the DOM `key`, in UI Events spelling (Chromium has no name for the separator: "Unidentified")
    code: str  # the DOM `code` (the physical key); "" for keys that no keyboard standard places
    key_code: int  # the Windows virtual key code, which is the DOM `keyCode`
    text: str = ""  # what the key types, for a printable key


@dataclass(frozen=True)
class DevToolsPress:
    """A press of a DevTools key, with modifiers (Playwright's names) held: `Control+F13`."""

    key: DevToolsKey
    modifiers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "+".join((*self.modifiers, self.key.key)) + f" (keyCode {self.key.key_code})"


# Names Optexity accepts (from pyautogui's list) for keys Playwright's keyboard has not: F13-F24, browser, IME and
# launch keys. Each is described as a Windows keyboard sends it, which Chromium reports to the page as is.
DEVTOOLS_KEYS: dict[str, DevToolsKey] = {
    **{f"f{n}": DevToolsKey(f"F{n}", f"F{n}", 0x7C + n - 13) for n in range(13, 25)},
    "accept": DevToolsKey("Accept", "", 0x1E),
    "browserback": DevToolsKey("BrowserBack", "BrowserBack", 0xA6),
    "browserforward": DevToolsKey("BrowserForward", "BrowserForward", 0xA7),
    "browserrefresh": DevToolsKey("BrowserRefresh", "BrowserRefresh", 0xA8),
    "browserstop": DevToolsKey("BrowserStop", "BrowserStop", 0xA9),
    "browsersearch": DevToolsKey("BrowserSearch", "BrowserSearch", 0xAA),
    "browserfavorites": DevToolsKey("BrowserFavorites", "BrowserFavorites", 0xAB),
    "browserhome": DevToolsKey("BrowserHome", "BrowserHome", 0xAC),
    "clear": DevToolsKey("Clear", "NumpadClear", 0x0C),
    "convert": DevToolsKey("Convert", "Convert", 0x1C),
    "execute": DevToolsKey("Execute", "", 0x2B),
    "final": DevToolsKey("FinalMode", "", 0x18),
    # The Fn key never reaches Windows (the keyboard handles it), so it has no virtual key code.
    "fn": DevToolsKey("Fn", "Fn", 0),
    "hangul": DevToolsKey("HangulMode", "Lang1", 0x15),
    "hanguel": DevToolsKey("HangulMode", "Lang1", 0x15),
    "hanja": DevToolsKey("HanjaMode", "Lang2", 0x19),
    "help": DevToolsKey("Help", "Help", 0x2F),
    "junja": DevToolsKey("JunjaMode", "", 0x17),
    "kana": DevToolsKey("KanaMode", "KanaMode", 0x15),
    "kanji": DevToolsKey("KanjiMode", "", 0x19),
    "launchapp1": DevToolsKey("LaunchApplication1", "LaunchApp1", 0xB6),
    "launchapp2": DevToolsKey("LaunchApplication2", "LaunchApp2", 0xB7),
    "launchmail": DevToolsKey("LaunchMail", "LaunchMail", 0xB4),
    "launchmediaselect": DevToolsKey("LaunchMediaPlayer", "MediaSelect", 0xB5),
    "modechange": DevToolsKey("ModeChange", "", 0x1F),
    "nonconvert": DevToolsKey("NonConvert", "NonConvert", 0x1D),
    "select": DevToolsKey("Select", "Select", 0x29),
    "separator": DevToolsKey("Unidentified", "", 0x6C),
    "sleep": DevToolsKey("Standby", "Sleep", 0x5F),
    # pyautogui's `stop` is the media stop key (VK_MEDIA_STOP), not the browser's.
    "stop": DevToolsKey("MediaStop", "MediaStop", 0xB2),
    # The yen key of Japanese keyboards (VK_OEM_5 there); it types the yen sign.
    "yen": DevToolsKey("\u00a5", "IntlYen", 0xDC, text="\u00a5"),
}

# The modifiers a DevTools key may be pressed with (Chromium's DevTools protocol has a bit for each kind).
DEVTOOLS_MODIFIERS = frozenset(
    f"{kind}{side}" for kind in ("Shift", "Control", "Alt", "Meta") for side in ("", "Left", "Right")
)

# Printable characters Playwright types directly (its US layout has every printable ASCII character).
_CHARACTERS = frozenset(chr(c) for c in range(0x20, 0x7F))


def _split_combination(name: str) -> list[str]:
    """Split `Control+A` as Playwright does: a `+` that starts a part is the plus key itself."""
    parts: list[str] = []
    building = ""
    for char in name:
        if char == "+" and building:
            parts.append(building)
            building = ""
        else:
            building += char
    parts.append(building)
    return parts


def _one_key(name: str) -> str | DevToolsKey:
    if name in _CHARACTERS:
        return name
    key = KEY_NAMES.get(name.lower()) or DEVTOOLS_KEYS.get(name.lower())
    if key is None:
        raise ValueError(f"unknown key {name!r}")
    return key


def to_key_press(name: str) -> str | DevToolsPress:
    """Playwright's spelling of a key or a `+` combination (`enter`->`Enter`, `ctrl+a`->`Control+a`), or the
    DevTools press of a key Playwright has not (`ctrl+f13`)."""
    parts = _split_combination(name)
    keys = [_one_key(part) for part in parts]
    *held, last = keys
    if not any(isinstance(key, DevToolsKey) for key in keys):
        return "+".join(key for key in keys if isinstance(key, str))
    modifiers = tuple(key for key in held if isinstance(key, str) and key in DEVTOOLS_MODIFIERS)
    if not isinstance(last, DevToolsKey) or len(modifiers) != len(held):
        special = next(part for part, key in zip(parts, keys, strict=True) if isinstance(key, DevToolsKey))
        raise ValueError(
            f"key {name!r}: {special!r} can be combined only as the last key, after Shift, Control, Alt or Meta"
        )
    return DevToolsPress(last, modifiers)
