"""The exceptions rebrowse raises.

* RebrowseError
  - AutomationInvalid      an automation or its parameters do not validate (carries every FieldError)
  - StepFailed             a step could not be performed (names the node path, action and locator)
    + LocatorInvalid       a locator command is not a whitelisted chain of locator calls
    + ExpressionInvalid    a condition or expression is not allowed or does not evaluate
    + PlaceholderError     a placeholder names no value
    + LlmNotConfigured     a step needs an LLM and the deployment has none (says which setting to set)
    + LlmFailed            the model gave no valid answer (rebrowse.llm.client: it carries the call's record)
  - SecretUnavailable      a secure parameter could not be resolved
  - ChromiumNotFound       no Chromium executable could be found
  - ConfigurationError     a setting's value cannot be used (names its environment variable; also a ValueError)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

SUGGESTION_CUTOFF = 0.7  # difflib's similarity a mistyped name needs to a known one to be suggested


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean `username`?)` when `name` looks like one of the `known` names (a typo), else ""."""
    found = difflib.get_close_matches(name, sorted(set(known) - {name}), n=1, cutoff=SUGGESTION_CUTOFF)
    return f" (did you mean `{found[0]}`?)" if found else ""


class RebrowseError(Exception):
    """Something went wrong in rebrowse."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


@dataclass(frozen=True)
class FieldError:
    """One validation problem: where it is (a JSON path such as `nodes[2].action_node`) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class AutomationInvalid(RebrowseError):
    """The automation or its parameters are invalid."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class StepFailed(RebrowseError):
    """A step could not be performed."""


class LocatorInvalid(StepFailed):
    """The locator command is not a chain of whitelisted Playwright locator calls."""


class ExpressionInvalid(StepFailed):
    """The expression is not allowed or could not be evaluated."""


class PlaceholderError(StepFailed):
    """A placeholder refers to a value that does not exist."""


class LlmNotConfigured(StepFailed):
    """A step needs an LLM and none is configured."""


class SecretUnavailable(RebrowseError):
    """A secure parameter could not be resolved."""


class ChromiumNotFound(RebrowseError):
    """No Chromium executable was found: install Debian's `chromium` package or set REBROWSE_CHROMIUM."""


def first_line(exc: BaseException) -> str:
    """The first line of an error: Playwright's call logs are long and say little more."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class ConfigurationError(RebrowseError, ValueError):
    """A setting's value cannot be used; the message names its environment variable."""
