"""Reading a code out of a message by a regular expression (the model is asked only when a step wants it)."""

from __future__ import annotations

import re

from rebrowse.errors import RebrowseError

# A run of 4 to 8 digits standing alone: what one-time codes look like in mails and SMS.
DEFAULT_CODE_PATTERN = r"(?<![\w.,-])(\d{4,8})(?![\w-]|[.,]\d)"
# Words that mark the line a code is on, when a message holds other numbers too (a year, an order number).
CODE_WORDS = re.compile(r"code|otp|passcode|password|pin|verif", re.IGNORECASE)


class AmbiguousCode(RebrowseError):
    """A message holds several different codes and nothing says which one is meant."""


def compile_code_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern; ValueError (re.error) saying what is wrong with it."""
    compiled = re.compile(pattern)
    if compiled.groups > 1:
        raise ValueError("it may have at most one group (the code)")
    return compiled


def find_code(pattern: re.Pattern[str], text: str) -> str | None:
    """The code in `text`: the pattern's group (or whole match); among several different ones, the only one on
    a line that speaks of a code. None when there is none; AmbiguousCode when that still leaves several."""
    candidates = codes_in(pattern, text)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    lines = [line for line in text.splitlines() if CODE_WORDS.search(line)]
    marked = list(dict.fromkeys(code for line in lines for code in codes_in(pattern, line)))
    if len(marked) == 1:
        return marked[0]
    raise AmbiguousCode(
        f"the message holds {len(candidates)} different codes the pattern matches: give a code_pattern that "
        "matches only the code (a group picks it out), or instructions to let the model read it"
    )


def codes_in(pattern: re.Pattern[str], text: str) -> list[str]:
    """The distinct codes the pattern finds, in order."""
    found = (match.group(1) if pattern.groups else match.group(0) for match in pattern.finditer(text))
    return list(dict.fromkeys(code.strip() for code in found if code and code.strip()))
