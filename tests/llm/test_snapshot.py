"""What the model sees of a page, and how an element it picks is found again (real Chromium)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from rebrowse.automation.locator import parse_locator, resolve_locator
from rebrowse.llm.snapshot import TRUNCATED, element_locator, find_element, page_snapshot

FORM = """<h1>Claims</h1>
<form><label>Member "ID" <input name=member></label>
<select aria-label=State><option>NY</option><option>CA</option></select>
<button type=button>Search</button></form>
<a href="#next">Next page</a>"""


def ref_of(snapshot: str, needle: str) -> str:
    line = next(line for line in snapshot.splitlines() if needle in line)
    return line.split("[ref=", 1)[1].split("]", 1)[0]


async def same_element(page: Page, a: object, b: object) -> bool:
    return bool(await page.evaluate("([a, b]) => a === b", [a, b]))


async def test_every_reference_resolves_and_gives_a_replayable_command(page: Page) -> None:
    await page.set_content(FORM)
    snapshot = await page_snapshot(page)
    assert "<" not in snapshot  # roles and names, not HTML

    for needle, role in (('button "Search"', "button"), ("textbox", "textbox"), ("combobox", "combobox")):
        ref = ref_of(snapshot, needle)
        element = find_element(snapshot, ref)
        assert element is not None and element.role == role
        picked = await element_locator(page, ref).element_handle()
        replayed = resolve_locator(parse_locator(element.command), page, lambda text: text)
        assert await same_element(page, picked, await replayed.element_handle())


async def test_an_accessible_name_with_quotes_is_read_back_exactly(page: Page) -> None:
    await page.set_content(FORM)
    snapshot = await page_snapshot(page)
    element = find_element(snapshot, ref_of(snapshot, "textbox"))
    assert element is not None
    assert element.name == 'Member "ID"'
    assert element.command == 'get_by_role("textbox", name="Member \\"ID\\"", exact=True)'


async def test_a_long_page_is_cut_to_keep_the_prompt_small(page: Page) -> None:
    await page.set_content("".join(f"<p>paragraph number {i}</p>" for i in range(2000)))
    snapshot = await page_snapshot(page, max_chars=2_000)
    assert len(snapshot) <= 2_000 + len(TRUNCATED)
    assert snapshot.endswith(TRUNCATED)


def test_a_reference_not_in_the_snapshot_is_none() -> None:
    assert find_element('- button "Go" [ref=e2]', "e9") is None


@pytest.mark.parametrize("ref", ["", "e", "css=#x", "e1 >> nth=0", "aria-ref=e1"])
async def test_a_malformed_reference_is_refused(page: Page, ref: str) -> None:
    with pytest.raises(ValueError, match="not an element reference"):
        element_locator(page, ref)
