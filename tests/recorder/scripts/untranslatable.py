import os
from playwright.sync_api import Playwright, sync_playwright, expect

open("/tmp/rebrowse-import-must-not-exist", "w").write("ran")


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch()
    context = browser.new_context()
    page = context.new_page()
    page.goto("http://site.test/form.html")
    page.mouse.click(10, 20)
    page.get_by_label("Full name").fill(os.environ["NAME"])
    expect(page).to_have_url("http://site.test/form.html")
    for row in range(3):
        page.locator("#submit").click()
    page.get_by_label("Region").select_option("eu-west")
    print("done")
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
