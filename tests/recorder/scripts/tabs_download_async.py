import asyncio
import re
from playwright.async_api import Playwright, async_playwright, expect


async def run(playwright: Playwright) -> None:
    browser = await playwright.chromium.launch(headless=False)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto("http://site.test/table.html")
    async with page.expect_download() as download_info:
        await page.locator("#row-2").get_by_role("link", name="Download").click()
    download = await download_info.value
    await download.save_as("/tmp/invoices/second_invoice.txt")
    await page.goto("http://site.test/tabs.html")
    async with page.expect_popup() as page1_info:
        await page.get_by_role("link", name="Open tab 2").click()
    page1 = await page1_info.value
    await expect(page1.locator("#status")).to_have_text("Tab 2")
    await page.get_by_role("button", name="Open tab 3").hover()
    await page1.close()
    await page.goto("http://site.test/frames.html")
    await page.locator("#frame").content_frame.get_by_role("button").first.click()
    await expect(page.locator("#status")).to_contain_text("Frame button")
    await expect(page.get_by_text("Clicked in frame")).to_be_hidden()

    # ---------------------
    await context.close()
    await browser.close()


async def main() -> None:
    async with async_playwright() as playwright:
        await run(playwright)


asyncio.run(main())
