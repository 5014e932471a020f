"""Every encoding a browser, an HTTP library, a JSON or an HTML serializer gives a secret is masked.

The WHATWG URL percent-encode sets are written out here from the URL Standard (section 1.3) as the producers to
check against; Chromium itself supplies JavaScript's encodeURI, encodeURIComponent, escape and its URL parser.
"""

from __future__ import annotations

import html
import json
import re
import time
from urllib.parse import quote, quote_plus

import httpx
import pytest
from playwright.async_api import Page

from rebrowse.secrets.redaction import MASK, Redactor
from tests.secrets.corpus import CORPUS, leaked


def code_points(first: str, last: str) -> set[str]:
    return {chr(code) for code in range(ord(first), ord(last) + 1)}


C0_CONTROL = code_points("\x00", "\x1f")  # and every code point above "~" (percent_encode adds those)
FRAGMENT = C0_CONTROL | set(' "<>`')
QUERY = C0_CONTROL | set(' "#<>')
SPECIAL_QUERY = QUERY | {"'"}
PATH = QUERY | set("?^`{}")
USERINFO = PATH | set("/:;=@") | code_points("[", "^") | {"|"}
COMPONENT = USERINFO | code_points("$", "&") | set("+,")
FORM = COMPONENT | {"!"} | code_points("'", ")") | {"~"}
ENCODE_SETS = {
    "c0-control": C0_CONTROL,
    "fragment": FRAGMENT,
    "query": QUERY,
    "special-query": SPECIAL_QUERY,
    "path": PATH,
    "userinfo": USERINFO,
    "component": COMPONENT,
    "application/x-www-form-urlencoded": FORM,
}


def percent_encode(value: str, encode_set: set[str], *, upper: bool = True, space_as_plus: bool = False) -> str:
    """WHATWG's percent-encode of `value` with one encode set (UTF-8), hex in the given case."""
    out = []
    for char in value:
        if space_as_plus and char == " ":
            out.append("+")
        elif char in encode_set or ord(char) > 0x7E:
            hex_pairs = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
            out.append(hex_pairs if upper else hex_pairs.lower())
        else:
            out.append(char)
    return "".join(out)


def whatwg_forms(value: str) -> dict[str, str]:
    forms = {}
    for name, encode_set in ENCODE_SETS.items():
        plus = name == "application/x-www-form-urlencoded"
        forms[name] = percent_encode(value, encode_set, space_as_plus=plus)
        forms[f"{name}, lower-case hex"] = percent_encode(value, encode_set, upper=False, space_as_plus=plus)
    return forms


def httpx_path(value: str) -> str:
    """httpx's encoding of a URL path (empty when the value would end the path: "?" or "#")."""
    if set(value) & set("?#"):
        return ""
    return httpx.URL(f"http://127.0.0.1/{value}").raw_path.decode()


def upper_hex(escape: re.Match[str]) -> str:
    return "\\u" + escape.group()[2:].upper()


def python_forms(value: str) -> dict[str, str]:
    return {
        "quote": quote(value),
        "quote safe=''": quote(value, safe=""),
        "quote_plus": quote_plus(value),
        "quote_plus safe=''": quote_plus(value, safe=""),
        "quote twice": quote(quote(value, safe=""), safe=""),
        "quote_plus twice": quote_plus(quote_plus(value)),
        "httpx query": str(httpx.URL("http://127.0.0.1/", params={"q": value})).split("?q=", 1)[1],
        "httpx path": httpx_path(value),
        "httpx form body": httpx.Request("POST", "http://127.0.0.1/", data={"q": value}).read().decode()[2:],
        "json": json.dumps(value),
        "json unicode": json.dumps(value, ensure_ascii=False),
        "json escaped slash": json.dumps(value).replace("/", "\\/"),
        "json upper-case hex": re.sub(r"\\u[0-9a-f]{4}", upper_hex, json.dumps(value)),
        "html.escape": html.escape(value),
        "html.escape quote=False": html.escape(value, quote=False),
        "html decimal": "".join(f"&#{ord(c)};" for c in value),
        "html hex": "".join(f"&#x{ord(c):X};" for c in value),
        "html named": value.replace("&", "&amp;").replace("'", "&apos;").replace("@", "&commat;"),
    }


def masked(redactor: Redactor, text: str) -> str:
    """The form redacted where it sits inside other text."""
    return redactor.redact_text(f"<{text}>")


@pytest.mark.parametrize("value", CORPUS)
def test_every_producers_form_of_a_secret_is_masked(value: str) -> None:
    redactor = Redactor()
    redactor.add(value)
    forms = {**whatwg_forms(value), **python_forms(value)}
    for name, form in forms.items():
        if not form:
            continue
        redacted = masked(redactor, form)
        assert MASK in redacted, (name, form)
        assert not leaked(redacted, [value]), (name, form, redacted)


async def test_chromiums_own_encodings_of_a_secret_are_masked(page: Page) -> None:
    encoders: dict[str, str] = {
        "encodeURI": "v => encodeURI(v)",
        "encodeURIComponent": "v => encodeURIComponent(v)",
        "escape": "v => escape(v)",
        "URL path": "v => new URL('http://127.0.0.1/' + v.replace(/[#?\\\\]/g, '')).pathname",
        "URL query": "v => new URL('http://127.0.0.1/?' + v.replace(/#/g, '')).search",
        "URL fragment": "v => new URL('http://127.0.0.1/#' + v).hash",
        "URLSearchParams": "v => new URLSearchParams({q: v}).toString()",
        "JSON.stringify": "v => JSON.stringify(v)",
    }
    for value in CORPUS:
        redactor = Redactor()
        redactor.add(value)
        for name, script in encoders.items():
            form = await page.evaluate(script, value)
            redacted = masked(redactor, form)
            assert not leaked(redacted, [value]), (value, name, form, redacted)


def test_a_secret_is_masked_with_only_some_characters_encoded() -> None:
    redactor = Redactor()
    redactor.add("p@ss w0rd!Xy9")
    # Chromium's query: only the space; a hand-built URL: anything goes, hex in any case.
    for form in (
        "p@ss%20w0rd!Xy9",
        "p%40ss w0rd%21Xy9",
        "p%40ss+w0rd!Xy9",
        "p&#64;ss%20w0rd&excl;Xy9",
        "p\\u0040ss w0rd!Xy9",
    ):
        assert redactor.redact_text(f"url={form}&x") == "url=***&x", form


def test_the_longer_of_two_nested_secrets_is_masked_whole_in_every_form() -> None:
    redactor = Redactor()
    for value in ("inner-Secret", "outer+inner-Secret tail"):
        redactor.add(value)
    assert redactor.redact_text("a outer%2Binner-Secret%20tail b inner-Secret") == "a *** b ***"


def test_a_trailing_backslash_is_masked_with_its_json_escape() -> None:
    redactor = Redactor()
    redactor.add("ends in a backslash\\")
    document = json.dumps({"value": "ends in a backslash\\", "next": 1})
    redacted = redactor.redact_text(document)
    assert json.loads(redacted) == {"value": MASK, "next": 1}


def test_redacting_a_megabyte_with_twenty_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    secrets = [value for value in CORPUS if len(value) < 100][:20]
    for value in secrets:
        redactor.add(value)
    filler = 'GET /api/search?q=ordinary%20words&page=2 {"ok": true} &amp; \\u00e9 + text\n'
    text = filler * (1_000_000 // len(filler)) + secrets[0]
    started = time.perf_counter()
    redacted = redactor.redact_text(text)
    elapsed = time.perf_counter() - started
    assert redacted.endswith(MASK) and not leaked(redacted[-100:], secrets)
    with capsys.disabled():
        print(f"\nredact_text: {len(text) / 1e6:.1f} MB, {len(secrets)} secrets, {elapsed:.3f} s")
