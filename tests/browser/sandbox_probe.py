"""Run as another user by test_sandbox: launch Chromium (or the executable given) as rebrowse does and print what
chrome://sandbox says, or why the launch was refused."""

from __future__ import annotations

import asyncio
import sys

from playwright.async_api import async_playwright

from rebrowse.browser.launch import ChromiumUnsandboxable, launch_chromium


async def main(executable: str | None) -> None:
    async with async_playwright() as playwright:
        try:
            browser = await launch_chromium(playwright, executable=executable)
        except ChromiumUnsandboxable as exc:
            print(f"refused: {exc}")
            return
        try:
            page = await browser.new_page()
            await page.goto("chrome://sandbox")
            print(await page.locator("body").inner_text())
        finally:
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
