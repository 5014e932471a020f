"""best_command on a fixture page with every kind of element: each command it makes finds that element alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Locator, Page

from rebrowse.automation.locator import parse_locator, resolve_locator
from rebrowse.demo.site import SiteServer
from rebrowse.engine.locators import best_command, is_semantic, learned_command
from rebrowse.llm.snapshot import SnapshotElement, element_locator, find_element, page_snapshot
from tests.llm_server import snapshot_ref

Find = Callable[[Page], Locator]

CASES: list[tuple[str, Find, str]] = [
    ("a button", lambda p: p.locator("#search"), 'get_by_role("button", name="Search", exact=True)'),
    ("a labelled input", lambda p: p.locator("#email"), 'get_by_role("textbox", name="Email address", exact=True)'),
    ("a label the role shares", lambda p: p.locator("#phone"), 'get_by_label("Phone", exact=True)'),
    (
        "a placeholder the role shares",
        lambda p: p.locator("[placeholder='Coupon code']"),
        'get_by_placeholder("Coupon code", exact=True)',
    ),
    ("text only", lambda p: p.locator(".note"), 'get_by_text("Free shipping over 50", exact=True)'),
    ("a test id", lambda p: p.locator("[data-testid=close-dialog]"), 'get_by_test_id("close-dialog")'),
    ("an id", lambda p: p.locator("#second-box"), 'locator("#second-box")'),
    ("an attribute", lambda p: p.locator("[name=shipping-city]"), 'locator("input[name=\\"shipping-city\\"]")'),
    ("a href", lambda p: p.locator("a").nth(1), 'locator("a[href=\\"detail.html?id=2\\"]")'),
    ("a structure", lambda p: p.locator(".box").first, 'locator("html > body > div:nth-of-type(4)")'),
    ("a duplicate", lambda p: p.locator("li button").nth(1), 'get_by_role("button", name="Add", exact=True).nth(1)'),
    (
        "a button in an iframe",
        lambda p: p.frame_locator("#pay").get_by_text("Pay now"),
        'locator("#pay").content_frame.get_by_role("button", name="Pay now", exact=True)',
    ),
    (
        "a duplicate in an iframe",
        lambda p: p.frame_locator("#pay").locator("button").nth(2),
        'locator("#pay").content_frame.get_by_role("button", name="Add", exact=True).nth(1)',
    ),
]


@pytest.fixture
async def locators_page(page: Page, site: SiteServer) -> Page:
    await page.goto(f"{site.url}/locators.html")
    return page


async def finds_only(page: Page, command: str, element: Locator) -> bool:
    """Whether the command, resolved as a replay does, finds one element and it is `element` (marked first)."""
    await element.evaluate("el => el.setAttribute('data-mark', 'target')")
    found = resolve_locator(parse_locator(command), page, lambda text: text)
    return await found.count() == 1 and await found.get_attribute("data-mark") == "target"


@pytest.mark.parametrize(("kind", "find", "expected"), CASES, ids=[case[0] for case in CASES])
async def test_the_command_is_the_best_candidate_and_finds_that_element_alone(
    locators_page: Page, kind: str, find: Find, expected: str
) -> None:
    element = find(locators_page)

    command = await best_command(locators_page, element)

    assert command == expected
    assert await finds_only(locators_page, command, element)


async def test_a_text_that_reads_as_a_placeholder_is_never_a_command(locators_page: Page) -> None:
    element = locators_page.get_by_text("is not a placeholder")

    command = await best_command(locators_page, element)

    assert "{" not in command
    assert await finds_only(locators_page, command, element)


async def test_an_element_of_the_models_snapshot_gets_its_command_through_its_reference(locators_page: Page) -> None:
    snapshot = await page_snapshot(locators_page)
    ref = snapshot_ref(snapshot, "button", "Pay now")
    assert ref is not None

    element = find_element(snapshot, ref)
    assert element is not None
    locator = element_locator(locators_page, ref)

    command = await learned_command(locators_page, locator, element)

    assert await locator.count() == 1, "the model's reference still holds for the action"
    assert command == 'locator("#pay").content_frame.get_by_role("button", name="Pay now", exact=True)'


async def test_an_element_that_is_gone_keeps_the_snapshots_command(locators_page: Page) -> None:
    gone = locators_page.locator("#no-such-element")
    element = SnapshotElement("e1", "button", "Gone")

    assert await learned_command(locators_page, gone, element) == 'get_by_role("button", name="Gone", exact=True)'


def test_role_label_placeholder_and_text_commands_count_as_semantic_ones() -> None:
    assert is_semantic('get_by_label("Phone", exact=True)')
    assert is_semantic('locator("#pay").content_frame.get_by_role("button", name="Pay now", exact=True)')
    assert not is_semantic('get_by_test_id("close-dialog")')
    assert not is_semantic('get_by_role("button").content_frame.locator("#x")')
