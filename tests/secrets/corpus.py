"""Awkward secret values, and the ways a secret may still show in text after redaction."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, unquote_plus

SPECIALS = "@!$'()*,;:`\"<>&#?/\\+=%~"

CORPUS: list[str] = [
    "p@ss w0rd!Xy9",  # the reported leak: Chromium writes it p@ss%20w0rd!Xy9
    *(f"k{i}{char} v{char}Q" for i, char in enumerate(SPECIALS)),  # each special with a space
    f"all {SPECIALS} in one",
    "pässwörd ünï ✓ 😀",  # non-ASCII, and a character outside the BMP
    "inner-Secret",
    "outer+inner-Secret tail",  # contains the one above
    "ends in a backslash\\",
    "%41%zz already%20encoded",
    "Zq@9",  # the shortest value masked inside text
    "L0ng-" + "".join(f"{SPECIALS[i % len(SPECIALS)]}x{i} é" for i in range(60)),
]


def decodings(text: str) -> Iterator[str]:
    """`text` and what a reader could decode it to: URL, form, HTML and JSON string decodings."""
    yield text
    yield unquote(text)
    yield unquote_plus(text)
    yield html.unescape(text)
    yield html.unescape(unquote(text))
    try:
        document = json.loads(text)
    except ValueError:
        return
    strings = "\n".join(json_strings(document))
    yield strings
    yield unquote(strings)


def json_strings(document: Any) -> Iterator[str]:
    """Every string (key or value) in a JSON document."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from json_strings(value)
    elif isinstance(document, list):
        for item in document:
            yield from json_strings(item)


def leaked(text: str, secrets: list[str]) -> list[str]:
    """The secrets found in `text`, raw or in any of its decodings."""
    readings = list(decodings(text))
    return [secret for secret in secrets if any(secret in reading for reading in readings)]
