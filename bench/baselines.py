"""The benchmark flows written by hand as idiomatic Playwright: the speed limit rebrowse is measured against.

Each function takes a fresh BrowserContext and the fixture site's URL, performs the same steps as the
automation of the same name in bench/flows/, and returns the texts that automation extracts, in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from playwright.async_api import BrowserContext, FilePayload, expect

# The values both sides use; bench/replay.py passes them to the engine as the run's inputs.
LOGIN_SEARCH_INPUTS: dict[str, list[str]] = {
    "username": ["ada"],
    "password": ["lovelace"],
    "query": ["invoice"],
}
FORM_UPLOAD_INPUTS: dict[str, list[str]] = {
    "full_name": ["Ada Lovelace"],
    "email": ["ada@example.com"],
    "region": ["West Europe"],
    "attachment": ["resume.pdf"],
    "notes": ["Please call after 5 pm."],
}
ATTACHMENT_BYTES = b"%PDF-1.4\n% a resume, as far as the form can tell\n" * 64
TABLE_ROWS = 10

Baseline = Callable[[BrowserContext, str], Awaitable[list[str]]]


def first(inputs: Mapping[str, Sequence[str]], name: str) -> str:
    """The value `{name[0]}` stands for."""
    return inputs[name][0]


async def login_search(context: BrowserContext, site_url: str) -> list[str]:
    """Sign in, open search, search and read the result titles once they have arrived."""
    values = LOGIN_SEARCH_INPUTS
    page = await context.new_page()
    await page.goto(f"{site_url}/login.html")
    await page.get_by_label("Username").fill(first(values, "username"))
    await page.get_by_label("Password").fill(first(values, "password"))
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Search").click()
    search = page.get_by_label("Search")
    await search.fill(first(values, "query"))
    await search.press("Enter")
    titles = await page.locator("#results").inner_text()
    return [titles.strip()]


async def form_upload(context: BrowserContext, site_url: str) -> list[str]:
    """Fill the registration form (select, checkbox, radio, file), submit it and read the confirmation."""
    values = FORM_UPLOAD_INPUTS
    page = await context.new_page()
    await page.goto(f"{site_url}/form.html")
    await page.get_by_label("Full name").fill(first(values, "full_name"))
    await page.get_by_label("Email").fill(first(values, "email"))
    await page.get_by_label("Region").select_option(label=first(values, "region"))
    await page.get_by_label("Subscribe to the newsletter").check()
    await page.get_by_label("Pro").check()
    attachment: FilePayload = {
        "name": first(values, "attachment"),
        "mimeType": "application/pdf",
        "buffer": ATTACHMENT_BYTES,
    }
    await page.get_by_label("Attachment").set_input_files(attachment)
    await page.get_by_label("Notes").fill(first(values, "notes"))
    await page.get_by_role("button", name="Submit").click()
    confirmation = await page.locator("#confirmation").inner_text()
    return [confirmation.strip()]


async def table_loop(context: BrowserContext, site_url: str) -> list[str]:
    """Open every row's detail page, read its id and go back to the table."""
    page = await context.new_page()
    await page.goto(f"{site_url}/table.html")
    rows = page.locator("#rows tr")
    await expect(rows).to_have_count(TABLE_ROWS)
    ids = []
    for index in range(await rows.count()):
        await rows.nth(index).locator("a.detail-link").click()
        ids.append((await page.locator("#detail-id").inner_text()).strip())
        await page.go_back()
    return ids


BASELINES: dict[str, Baseline] = {
    "login_search": login_search,
    "form_upload": form_upload,
    "table_loop": table_loop,
}
INPUTS: dict[str, dict[str, list[str]]] = {
    "login_search": LOGIN_SEARCH_INPUTS,
    "form_upload": FORM_UPLOAD_INPUTS,
    "table_loop": {},
}
