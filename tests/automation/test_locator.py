"""Locator commands: parsed into whitelisted chains and resolved on real Chromium, never evaluated."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from rebrowse.automation.locator import (
    MAX_COMMAND_LENGTH,
    LocatorChain,
    Step,
    describe_locator,
    parse_locator,
    resolve_locator,
)
from rebrowse.automation.placeholders import substitute
from rebrowse.errors import LocatorInvalid, PlaceholderError

FRAME_DOC = (
    "<p id='hi'>Hi</p><b id='bold'>Bold</b>"
    "<ul><li id='f-li-link'><a href='#'>inner link</a></li><li id='f-li-plain'>plain</li></ul>"
)

PAGE = f"""
<button id="go1">Go</button><button id="go2">Go</button>
<div id="id">By id</div>
<label>Name <input id="name-input" value="typed"></label>
<div role="group" aria-label="Person"><input id="person-input"></div>
<input id="search" placeholder="Search here">
<img id="logo" alt="Logo picture" src="data:,">
<span id="titled" title="tip">Titled</span>
<span id="testid" data-testid="tid">By test id</span>
<table>
  <tr id="row-ada"><td>Ada</td><td>1</td></tr>
  <tr id="row-bob"><td>Bob</td><td>2</td></tr>
</table>
<ul id="list">
  <li id="li-a"><a id="a-a" href="#a">Link A</a></li>
  <li id="li-none">No link</li>
  <li id="li-b"><a id="a-b" href="#b">Link B</a></li>
</ul>
<p id="total">total: 42</p><p id="subtotal">Subtotal: 40</p>
<a id="x-link" title="x" href="#x">X link</a>
<h2 id="h2">Heading</h2>
<iframe id="f" srcdoc="{FRAME_DOC}"></iframe>
"""


def no_values(text: str) -> str:
    return substitute(text, {})


async def ids_of(locator: Locator, count: int) -> list[str]:
    # to_have_count waits (with a deadline) for the iframe's content to be there.
    await expect(locator).to_have_count(count)
    ids: list[str] = await locator.evaluate_all("els => els.map(e => e.id)")
    return ids


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('get_by_role("button", name="Go").nth(1)', ["go2"]),
        ('locator("#id")', ["id"]),
        ('get_by_label("Name", exact=True)', ["name-input"]),
        ('get_by_label("Person", exact=True).get_by_role("textbox")', ["person-input"]),
        ('get_by_placeholder("Search")', ["search"]),
        ('get_by_alt_text("Logo picture")', ["logo"]),
        ('get_by_title("tip")', ["titled"]),
        ('get_by_test_id("tid")', ["testid"]),
        ('get_by_role("heading", level=2)', ["h2"]),
        ('locator("iframe#f").content_frame.get_by_text("Hi")', ["hi"]),
        ('frame_locator("#f").locator("b")', ["bold"]),
        ('frame_locator("#f").first.get_by_text("Bold")', ["bold"]),
        ('locator("iframe#f").content_frame.owner', ["f"]),
        ('frame_locator("#f").locator("li").filter(has=get_by_role("link"))', ["f-li-link"]),
        ('locator("#f").content_frame.get_by_role("listitem").and_(get_by_text("plain"))', ["f-li-plain"]),
        ('locator("tr").filter(has_text="Ada").first', ["row-ada"]),
        ('locator("tr").filter(has_not_text="Ada")', ["row-bob"]),
        ('locator("li").filter(has=get_by_role("link"))', ["li-a", "li-b"]),
        ('locator("li").filter(has_not=page.get_by_role("link"))', ["li-none"]),
        ('locator("ul", has=get_by_role("link", name="Link B")).locator("li").first', ["li-a"]),
        ('get_by_text(re.compile("^Total", re.IGNORECASE))', ["total"]),
        ('get_by_text(re.compile("total", flags=re.I | re.M))', ["total", "subtotal"]),
        ('locator("a").and_(get_by_title("x"))', ["x-link"]),
        ('locator("#id").or_(locator("#titled"))', ["id", "titled"]),
        ('locator("#list").locator(get_by_role("link"))', ["a-a", "a-b"]),
        ('get_by_role("link").within(locator("#list"))', ["a-a", "a-b"]),
        ('locator("li").describe("list items").first', ["li-a"]),
        ('locator("li").last', ["li-b"]),
        ('locator("li").nth(-1)', ["li-b"]),
        ('locator("li").visible.first', ["li-a"]),
        ('page.locator("#id")', ["id"]),
        ('"locator("#id")"', ["id"]),
        ('  get_by_role(role="button").first ', ["go1"]),
    ],
)
async def test_supported_forms_resolve_to_the_right_elements(page: Page, command: str, expected: list[str]) -> None:
    await page.set_content(PAGE)
    locator = resolve_locator(parse_locator(command), page, no_values)
    assert await ids_of(locator, len(expected)) == expected


async def test_resolves_against_a_frame_root(page: Page) -> None:
    await page.set_content(PAGE)
    await expect(page.frame_locator("#f").locator("b")).to_have_count(1)
    frame = page.frames[1]
    locator = resolve_locator(parse_locator('get_by_text("Bold").first'), frame, no_values)
    assert await ids_of(locator, 1) == ["bold"]


async def test_placeholders_are_substituted_as_values(page: Page) -> None:
    await page.set_content(PAGE)
    values = {"label": ["Go"], "i": ["1"], "id": ["titled"], "word": ["Sub"]}

    def fill(text: str) -> str:
        return substitute(text, values)

    cases = {
        'get_by_role("button", name="{label[0]}").nth({i[0]})': ["go2"],
        'locator("#{id[0]}")': ["titled"],
        'get_by_text(re.compile("^{word[0]}"))': ["subtotal"],
        "get_by_text({label[0]}).first": ["go1"],
    }
    for command, expected in cases.items():
        assert await ids_of(resolve_locator(parse_locator(command), page, fill), len(expected)) == expected


async def test_a_numeric_placeholder_stays_text_where_text_is_expected(page: Page) -> None:
    await page.set_content("<p id='n'>42</p><p id='other'>420</p>")
    locator = resolve_locator(
        parse_locator("get_by_text({n[0]}, exact=True)"), page, lambda s: substitute(s, {"n": [42]})
    )
    assert await ids_of(locator, 1) == ["n"]


async def test_a_non_numeric_placeholder_in_nth_is_rejected(page: Page) -> None:
    chain = parse_locator('locator("li").nth({i[0]})')
    with pytest.raises(LocatorInvalid, match=r"\{i\[0\]\}"):
        resolve_locator(chain, page, lambda s: substitute(s, {"i": ["first"]}))


async def test_a_missing_placeholder_value_is_an_error(page: Page) -> None:
    chain = parse_locator('get_by_text("{nobody[0]}")')
    with pytest.raises(PlaceholderError, match=r"\{nobody\[0\]\}"):
        resolve_locator(chain, page, lambda s: substitute(s, {}))


async def test_injection_value_is_matched_as_literal_text_and_never_runs(page: Page, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f'") or __import__("os").system("touch {marker}") or ("'
    await page.set_content(f"<p id='inj'>{html.escape(payload)}</p><p id='other'>other</p>")
    values = {"name": [payload]}
    command = 'get_by_text("{name[0]}", exact=True)'

    locator = resolve_locator(parse_locator(command), page, lambda s: substitute(s, values))

    assert await ids_of(locator, 1) == ["inj"]
    assert await locator.inner_text() == payload
    # Splicing the value into the command first (what Optexity does) yields code, which is refused.
    with pytest.raises(LocatorInvalid):
        parse_locator(substitute(command, values))
    assert not marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        '__import__("os").system("id")',
        'get_by_text("a") or x',
        'get_by_text("a") and __import__("os")',
        'locator("a").evaluate("() => 1")',
        'locator("a").evaluate_all("els => els")',
        'locator("a").click()',
        'locator("a").__class__',
        'locator("a").first.__init__.__globals__',
        'locator("a")._frame',
        'page.goto("http://127.0.0.1/")',
        "page.evaluate('1')",
        "page",
        "lambda: 1",
        'get_by_text(f"{x}")',
        "get_by_text(x)",
        'get_by_text(open("/etc/passwd").read())',
        "get_by_text(str(1))",
        'get_by_text("a" + "b")',
        'get_by_text(*["a"])',
        'get_by_text(**{"text": "a"})',
        'get_by_text("a", timeout=1)',
        'get_by_text([c for c in "ab"])',
        "get_by_text({x.__class__})",
        "get_by_text({__builtins__})",
        "get_by_text({a, b})",
        "get_by_text({})",
        'get_by_text(re.compile("a", re.VERBOSE))',
        "get_by_text(re.compile(x))",
        'get_by_text(re.compile("("))',
        'get_by_text(re.sub("a", "b", "c"))',
        'get_by_text(os.system("id"))',
        'locator("a")[0]',
        'locator("a").nth',
        'locator("a").first()',
        'locator("a").nth("x")',
        'locator("a").nth(1.5)',
        'locator("a").filter(has="b")',
        'locator("a").filter(has=lambda: 1)',
        'frame_locator("#f")',
        'locator("a").content_frame',
        "nth(1)",
        'locator(get_by_role("link"))',
        "first",
        'get_by_text(b"a")',
        'get_by_text("a"); import os',
        "(x := 1)",
        'getattr(page, "goto")("x")',
        'get_by_text("a")("b")',
        "",
        '""',
    ],
)
def test_malicious_or_unsupported_commands_are_rejected(command: str) -> None:
    with pytest.raises(LocatorInvalid):
        parse_locator(command)


def test_messages_quote_the_offending_fragment() -> None:
    with pytest.raises(LocatorInvalid, match=r"`evaluate\(\)`.*locator\(\"a\"\)\.evaluate\(\"x\"\)"):
        parse_locator('locator("a").evaluate("x")')
    with pytest.raises(LocatorInvalid, match=r"`get_by_text\(\"a\"\) or x`"):
        parse_locator('get_by_text("a") or x')
    with pytest.raises(LocatorInvalid, match=r"`\.__class__`"):
        parse_locator('locator("a").__class__')


def test_length_and_depth_are_bounded() -> None:
    with pytest.raises(LocatorInvalid, match="longer"):
        parse_locator('get_by_text("' + "a" * MAX_COMMAND_LENGTH + '")')
    with pytest.raises(LocatorInvalid, match="steps"):
        parse_locator('locator("a")' + ".first" * 40)
    nested = 'locator("x")'
    for _ in range(6):
        nested = f'locator("x").filter(has={nested})'
    with pytest.raises(LocatorInvalid, match="nested"):
        parse_locator(nested)


async def test_resolve_refuses_steps_outside_the_whitelist(page: Page) -> None:
    forged = LocatorChain((Step("evaluate", (("expression", "1"),)),), command="forged")
    with pytest.raises(LocatorInvalid, match="evaluate"):
        resolve_locator(forged, page, no_values)


def test_chains_are_immutable_values() -> None:
    chain = parse_locator('get_by_role("button", name="Go").nth(1)')
    assert chain == parse_locator('get_by_role( "button",name="Go" ).nth( 1 )')
    assert hash(chain) == hash(parse_locator('get_by_role("button", name="Go").nth(1)'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        chain.steps[0].name = "evaluate"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('get_by_role("button", name="{label[0]}").nth({i[0]})', 'get_by_role("button", name="Go").nth(1)'),
        ('get_by_role(role="button", exact=True)', 'get_by_role("button", exact=True)'),
        (
            'locator("iframe").content_frame.get_by_text("{label[0]}")',
            'locator("iframe").content_frame.get_by_text("Go")',
        ),
        (
            'locator("li").filter(has=page.get_by_role("link"), has_text="x")',
            'locator("li").filter(has=get_by_role("link"), has_text="x")',
        ),
        (
            'get_by_text(re.compile("^T", re.I | re.DOTALL))',
            'get_by_text(re.compile("^T", re.IGNORECASE | re.DOTALL))',
        ),
        ("get_by_text({label[0]})", 'get_by_text("Go")'),
        ('locator("a").and_(get_by_title("x")).last', 'locator("a").and_(get_by_title("x")).last'),
    ],
)
def test_describe_renders_after_substitution(command: str, expected: str) -> None:
    values = {"label": ["Go"], "i": ["1"]}
    assert describe_locator(parse_locator(command), lambda s: substitute(s, values)) == expected


def test_describe_with_a_masking_substitute_hides_values() -> None:
    chain = parse_locator('get_by_label("Password").locator("#{pw[0]}")')
    assert describe_locator(chain, lambda s: "***" if "{" in s else s) == 'get_by_label("Password").locator("***")'
