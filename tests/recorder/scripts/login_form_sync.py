import re
from playwright.sync_api import Playwright, sync_playwright, expect


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch(headless=False)
    context = browser.new_context()
    page = context.new_page()
    page.goto("http://site.test/login.html")
    page.get_by_label("Username").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").click()
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status")).to_have_text("Signed in as ada")
    page.goto("http://site.test/form.html")
    page.get_by_label("Full name").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Region").select_option("eu-west")
    page.get_by_label("Subscribe to the newsletter").check()
    page.get_by_label("Attachment").set_input_files("notes.txt")
    page.get_by_label("Notes").press_sequentially("Analytical Engine")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#status")).to_contain_text("submitted")
    expect(page.locator("#field-full_name")).to_have_text("Ada Lovelace")

    # ---------------------
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
