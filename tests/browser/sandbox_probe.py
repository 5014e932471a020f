"""Run as another user by test_sandbox: launch Chromium as rebrowse does and print what chrome://sandbox says."""

from __future__ import annotations

import asyncio

from playwright.async_api import async_playwright

from rebrowse.browser.launch import launch_chromium


async def main() -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            page = await browser.new_page()
            await page.goto("chrome://sandbox")
            print(await page.locator("body").inner_text())
        finally:
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
