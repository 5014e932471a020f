"""The dashboard end to end: headless Chromium on the pages of a real `rebrowse serve` with a live-view worker."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from playwright.async_api import Dialog, Locator, Page, Route, expect

from rebrowse.demo.site import SiteServer, download_bytes
from tests.dashboard.conftest import Receiver, Served
from tests.serving import ADMIN_KEY
from tests.waiting import eventually

EXAMPLE_SEED = "JBSWY3DPEHPK3PXP"
SEED = "GEZDGNBVGY3TQOJQ"  # typed into the run form: it must never come back to the browser
RUNNING_S = 20  # the automation's explicit pause: long enough to watch it live on a busy machine
LONG_S = 120  # a task that keeps the worker's one slot busy
# Keeps the page's WebSockets (noVNC's) where the test can reach them.
KEEP_SOCKETS = """
const NativeWebSocket = window.WebSocket;
window.liveSockets = [];
window.WebSocket = function (...args) {
    const socket = new NativeWebSocket(...args);  // a real one: noVNC checks its prototype's methods
    window.liveSockets.push(socket);
    return socket;
};
Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
window.WebSocket.prototype = NativeWebSocket.prototype;
"""


def automation(site: SiteServer, *, pause_s: float) -> dict[str, Any]:
    """Reads a row of the fixture table, pauses, downloads the row's file named after the input."""
    return {
        "url": f"{site.url}/table.html",
        "parameters": {
            "input_parameters": {"who": ["nobody"]},
            "secure_parameters": {"otp": [{"totp": {"totp_secret": EXAMPLE_SEED}}]},
        },
        "nodes": [
            {
                "type": "action_node",
                "extraction_action": {
                    "locator": {
                        "command": 'locator("#row-1 .name")',
                        "extraction_format": {"invoice": "str"},
                        "output_variable_name": "invoice",
                    }
                },
            },
            {"type": "action_node", "sleep_action": {"sleep_time": pause_s}},
            {
                "type": "action_node",
                "interaction_action": {
                    "click_element": {
                        "command": 'locator("#row-1 .download-link")',
                        "expect_download": True,
                        "download_filename": "invoice_{who[0]}.txt",
                    }
                },
            },
        ],
    }


def put(served: Served, name: str, definition: dict[str, Any]) -> None:
    response = served.api.put(f"/api/v1/automations/{name}", json={"automation": definition})
    assert response.status_code == 200, response.text


def submit(served: Served, name: str, who: str) -> str:
    body = {"endpoint_name": name, "input_parameters": {"who": [who]}}
    response = served.api.post("/api/v1/inference", json=body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def sign_in(page: Page, served: Served, key: str = ADMIN_KEY) -> None:
    await page.goto(f"{served.url}/")
    await expect(page).to_have_url(re.compile(r"/sign-in$"))
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/tasks$"))


async def canvas_brightness(page: Page) -> float:
    """The mean brightness (0-255) of the middle of the live view's canvas; 0 before it has one."""
    value = await page.evaluate(
        """() => {
            const canvas = document.querySelector("#live-screen canvas");
            if (!canvas || canvas.width < 100) return 0;
            const ctx = canvas.getContext("2d");
            const w = Math.floor(canvas.width / 2), hgt = Math.floor(canvas.height / 2);
            const data = ctx.getImageData(Math.floor(w / 2), Math.floor(hgt / 2), w, hgt).data;
            let sum = 0;
            for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
            return sum / (data.length / 4);
        }"""
    )
    return float(value)


async def test_sign_in_refuses_a_wrong_key_and_sign_out_ends_the_session(dashboard: Page, served: Served) -> None:
    await dashboard.goto(f"{served.url}/tasks")
    await expect(dashboard).to_have_url(re.compile(r"/sign-in\?next=%2Ftasks$"))
    await dashboard.get_by_label("API key").fill("rb_not_a_key")
    await dashboard.get_by_role("button", name="Sign in").click()
    await expect(dashboard.get_by_role("alert")).to_contain_text("Invalid API key")
    # By keyboard alone: the key field has the focus, Enter submits.
    await expect(dashboard.get_by_label("API key")).to_be_focused()
    await dashboard.keyboard.press("Control+A")
    await dashboard.keyboard.type(ADMIN_KEY)
    await dashboard.keyboard.press("Enter")
    await expect(dashboard).to_have_url(re.compile(r"/tasks$"))
    await expect(dashboard.locator("#who")).to_have_text("admin")
    cookies = await dashboard.context.cookies()
    session = next(c for c in cookies if c["name"] == "rebrowse_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and ADMIN_KEY not in session["value"]

    await dashboard.get_by_role("button", name="Sign out").click()
    await expect(dashboard).to_have_url(re.compile(r"/sign-in$"))
    await dashboard.goto(f"{served.url}/keys")
    await expect(dashboard).to_have_url(re.compile(r"/sign-in\?next=%2Fkeys$"))
    await dashboard.get_by_label("API key").fill(ADMIN_KEY)
    await dashboard.get_by_role("button", name="Sign in").click()
    await expect(dashboard).to_have_url(f"{served.url}/keys")  # back where the session ran out

    await dashboard.get_by_role("button", name="Sign out").click()
    await expect(dashboard).to_have_url(re.compile(r"/sign-in$"))
    await dashboard.goto(f"{served.url}/sign-in?next=%2F%5Cexample.com%2F")  # "/\\example.com/" is another site
    await dashboard.get_by_label("API key").fill(ADMIN_KEY)
    await dashboard.get_by_role("button", name="Sign in").click()
    await expect(dashboard).to_have_url(f"{served.url}/tasks")


async def test_sign_in_goes_to_a_next_page_of_this_site_only(dashboard: Page, served: Served, site: SiteServer) -> None:
    elsewhere = site.url.removeprefix("http://")  # another origin: the fixture site, on another port
    hostile = [
        f"/.//{elsewhere}/table.html",
        f"/..//{elsewhere}/table.html",
        f"/%2e//{elsewhere}/table.html",
        f"/tasks/..//{elsewhere}/table.html",
        f"//{elsewhere}/table.html",
        f"/\\{elsewhere}/table.html",
        f"/\t/{elsewhere}/table.html",
        f"{site.url}/table.html",
        "javascript:alert(1)",
    ]
    for next_page in [*hostile, "/tasks?status=failed"]:
        # Leave the signed-in page first: signed out under it, its refresh would go to the sign-in page itself and
        # abort the navigation below.
        await dashboard.goto("about:blank")
        await dashboard.context.clear_cookies()
        await dashboard.goto(f"{served.url}/sign-in?{urlencode({'next': next_page})}")
        await dashboard.get_by_label("API key").fill(ADMIN_KEY)
        await dashboard.get_by_role("button", name="Sign in").click()
        expected = "/tasks?status=failed" if next_page.startswith("/tasks?") else "/tasks"
        await expect(dashboard).to_have_url(f"{served.url}{expected}")
        await expect(dashboard.locator("#who")).to_have_text("admin")


async def test_upload_run_watch_live_then_see_the_result_and_redeliver_its_callback(
    dashboard: Page, served: Served, site: SiteServer, receiver: Receiver
) -> None:
    page = dashboard
    name = f"table_{uuid.uuid4().hex[:8]}"
    await page.add_init_script(KEEP_SOCKETS)
    await sign_in(page, served)
    await page.get_by_role("link", name="Automations").click()
    await page.get_by_label("Endpoint name").fill(name)

    broken = automation(site, pause_s=RUNNING_S)
    broken["nodes"][1]["sleep_action"]["sleep_tme"] = broken["nodes"][1]["sleep_action"].pop("sleep_time")
    await page.get_by_label("…or paste the automation JSON").fill(json.dumps(broken))
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert").locator("li code").first).to_have_text(re.compile(r"^nodes\[1\]"))
    await page.get_by_label("…or paste the automation JSON").fill("{not json")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_contain_text("not valid JSON")

    valid = json.dumps(automation(site, pause_s=RUNNING_S)).encode()
    await page.get_by_label("Automation JSON file").set_input_files(
        {"name": "table.json", "mimeType": "application/json", "buffer": valid}
    )
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(f"/automations/{name}$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)

    secret = page.get_by_label("otp · totp.totp_secret")
    assert await secret.get_attribute("type") == "password"
    await secret.fill(SEED)
    await page.get_by_label("who", exact=True).fill("ada")
    await page.get_by_label("who is unique").check()
    await page.get_by_text("More options").click()
    await page.get_by_label("Callback URL").fill(receiver.url)
    await page.get_by_role("button", name="Run", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"), timeout=15_000)
    await page.evaluate("() => { window.notReloaded = true; }")

    # While it runs: the task's browser in the live view (a white page, where the screen starts black).
    live_status = page.locator("#live-status")
    await expect(live_status).to_contain_text("Live", timeout=60_000)
    # A dropped connection is replaced by a new one, with a fresh stream URL (its token is short-lived).
    await page.evaluate("() => window.liveSockets[0].close()")
    await eventually(lambda: _sockets(page, 2), timeout_s=30, what="the live view to reconnect")
    first, second = await page.evaluate("() => window.liveSockets.map((socket) => socket.url)")
    assert "/websockify?token=" in second and second != first
    await expect(live_status).to_contain_text("Live", timeout=30_000)
    await eventually(lambda: _bright(page), timeout_s=60, what="the task's page in the live-view canvas")

    # When it ends, the page shows the result by itself.
    header = page.get_by_role("heading", level=1)
    await expect(header.locator(".badge")).to_have_text("success", timeout=90_000)
    assert await page.evaluate("() => window.notReloaded === true")
    await expect(page.get_by_role("region", name="Live view")).to_be_hidden()
    await expect(page.locator("#task-outputs pre")).to_contain_text('"invoice": "Invoice 1"')
    await expect(page.locator("#task-inputs")).to_contain_text('"ada"')
    await expect(page.locator("#task-inputs tr", has_text="otp")).to_contain_text("••••")
    assert SEED not in await page.content()
    await expect(page.locator("#task-timeline")).to_contain_text("Attempt 1")
    await expect(page.locator("#task-steps tr.step")).to_have_count(3)
    await expect(page.locator("#task-steps img.thumb").first).to_have_js_property("complete", True)
    assert await page.locator("#task-steps img.thumb").first.evaluate("img => img.naturalWidth") > 0
    final = page.get_by_role("img", name="The page when the task ended")
    await expect(final).to_have_js_property("complete", True)
    assert await final.evaluate("img => img.naturalWidth") > 0
    link = page.get_by_role("link", name="invoice_ada.txt")
    downloaded = await page.request.get(f"{served.url}{await link.get_attribute('href')}")
    assert downloaded.ok and await downloaded.body() == download_bytes("invoice_1.txt")

    callbacks = page.locator("#task-callbacks")
    await expect(callbacks.locator(".badge").first).to_have_text("delivered", timeout=60_000)
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["status"] == "success"
    await page.get_by_role("button", name="Redeliver callback").click()
    await expect(callbacks.locator("tbody tr")).to_have_count(2, timeout=60_000)
    await eventually(lambda: len(receiver.bodies) == 2, what="the redelivered callback")
    assert receiver.bodies[1]["event_id"] == receiver.bodies[0]["event_id"]

    # Re-run: the form comes back filled with the task's inputs (not its secrets), and opens the new task.
    first_task = page.url
    await page.get_by_role("link", name="Re-run").click()
    await expect(page.get_by_label("who", exact=True)).to_have_value("ada")
    await expect(page.get_by_label("who is unique")).to_be_checked()
    await expect(page.get_by_label("otp · totp.totp_secret")).to_have_value("")
    await page.get_by_role("button", name="Run", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"), timeout=15_000)
    assert page.url != first_task
    page.once("dialog", accept)
    await page.get_by_role("button", name="Cancel task").click()
    await expect(header.locator(".badge")).to_have_text("cancelled", timeout=30_000)


async def accept(dialog: Dialog) -> None:
    await dialog.accept()


async def _bright(page: Page) -> bool:
    return await canvas_brightness(page) > 200


async def _sockets(page: Page, count: int) -> bool:
    return bool(await page.evaluate(f"() => window.liveSockets.length === {count}"))


async def test_cancel_a_queued_task_and_find_it_by_its_status(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"slow_{uuid.uuid4().hex[:8]}"
    put(served, name, automation(site, pause_s=LONG_S))
    blocker = submit(served, name, "first")  # the worker's one slot runs this one; the next waits
    waiting = submit(served, name, "second")
    try:
        await sign_in(dashboard, served)
        await dashboard.goto(f"{served.url}/tasks/{waiting}")
        badge = dashboard.get_by_role("heading", level=1).locator(".badge")
        await expect(badge).to_have_text("queued")
        await expect(dashboard.locator("#task-outputs")).to_have_text("No outputs yet.")
        # Cancel asks first: dismissed, nothing happens.
        asked: list[str] = []

        async def dismiss(dialog: Dialog) -> None:
            asked.append(dialog.message)
            await dialog.dismiss()

        dashboard.once("dialog", dismiss)
        await dashboard.get_by_role("button", name="Cancel task").click()
        await eventually(lambda: len(asked) == 1, what="the confirmation")
        assert asked[0].startswith(f"Cancel task {waiting[:8]}?")
        assert served.api.get(f"/api/v1/tasks/{waiting}").json()["status"] == "queued"
        dashboard.once("dialog", accept)
        await dashboard.get_by_role("button", name="Cancel task").click()
        await expect(badge).to_have_text("cancelled")
        await expect(dashboard.get_by_role("button", name="Cancel task")).to_be_hidden()
        # Ended: it says so, and a cancel someone asked for is not a failure in red.
        await expect(dashboard.locator("#main .notice")).to_have_text("Cancelled.")
        await expect(dashboard.get_by_text("Cancellation requested")).to_have_count(0)
        await expect(dashboard.locator("#task-outputs")).to_have_text("No outputs.")
        ended = dashboard.locator("#task-timeline .note", has_text="Task cancelled by user")
        await expect(ended).to_have_class(re.compile(r"\bnote-info\b"))
        colours = [await _colour(dashboard.locator("#task-timeline .badge-cancelled")), await _colour(ended)]
        assert not any(_reddish(colour) for colour in colours), colours

        await dashboard.goto(f"{served.url}/tasks")
        await dashboard.get_by_label("Status").select_option("cancelled")
        await dashboard.get_by_label("Endpoint").fill(name)
        await dashboard.get_by_role("button", name="Filter").click()
        await expect(dashboard).to_have_url(re.compile(r"status=cancelled"))
        rows = dashboard.locator("table.tasks tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-task-id", waiting)
    finally:
        served.api.post(f"/api/v1/tasks/{blocker}/cancel")


async def test_the_task_list_pages_by_cursor_and_refreshes_while_tasks_run(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"quick_{uuid.uuid4().hex[:8]}"
    put(served, name, automation(site, pause_s=0))
    submitted = [submit(served, name, who) for who in ("a", "b", "c")]
    await sign_in(dashboard, served)
    await dashboard.goto(f"{served.url}/tasks?endpoint_name={name}&limit=2")
    rows = dashboard.locator("table.tasks tbody tr")
    await expect(rows).to_have_count(2)
    assert [await r.get_attribute("data-task-id") for r in await rows.all()] == submitted[:0:-1]
    await dashboard.evaluate("() => { window.notReloaded = true; }")
    # Refreshed in place until every task shown has ended.
    await expect(rows.locator(".badge").filter(has_text="success")).to_have_count(2, timeout=120_000)
    assert await dashboard.evaluate("() => window.notReloaded === true")

    await dashboard.get_by_role("link", name="Older →").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-task-id", submitted[0])
    await expect(dashboard.get_by_role("link", name="Older →")).to_have_count(0)
    await dashboard.get_by_role("link", name="← Newest").click()
    await expect(rows).to_have_count(2)


async def test_a_step_shows_what_the_egress_policy_blocked(dashboard: Page, served: Served) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/"
    page = f'data:text/html,<img src="{metadata}"><p id="shown">shown</p>'
    read = {"command": 'locator("#shown")', "extraction_format": {"shown": "str"}, "output_variable_name": "shown"}
    name = f"blocked_{uuid.uuid4().hex[:8]}"
    nodes = [{"type": "action_node", "extraction_action": {"locator": read}}]
    put(served, name, {"url": page, "parameters": {"input_parameters": {"who": ["x"]}}, "nodes": nodes})
    task_id = submit(served, name, "x")
    await sign_in(dashboard, served)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")
    note = dashboard.locator("tr.step-note")
    await expect(note).to_contain_text(f"Blocked by the egress policy: {metadata} (link-local address)", timeout=60_000)


async def test_a_new_key_is_shown_once_and_revoking_the_session_key_signs_out(dashboard: Page, served: Served) -> None:
    await sign_in(dashboard, served)
    await dashboard.get_by_role("link", name="API keys").click()
    key_name = f"e2e-{uuid.uuid4().hex[:6]}"
    await dashboard.get_by_label("Name of the new key").fill(key_name)
    await dashboard.get_by_role("button", name="Create key").click()
    shown = dashboard.get_by_label("The new API key")
    await expect(shown).to_be_focused()
    value = await shown.input_value()
    assert value.startswith("rb_")
    await dashboard.reload()
    await expect(dashboard.locator("table tbody tr", has_text=key_name)).to_have_count(1)
    assert value not in await dashboard.content()

    await dashboard.get_by_role("button", name="Sign out").click()
    await expect(dashboard).to_have_url(re.compile(r"/sign-in$"))
    await sign_in(dashboard, served, value)
    await dashboard.goto(f"{served.url}/keys")

    warned: list[str] = []

    async def warn_then_accept(dialog: Dialog) -> None:
        warned.append(dialog.message)
        await dialog.accept()

    await expect(dashboard.locator("tr", has_text=key_name).locator(".chip")).to_have_text("this session")
    dashboard.on("dialog", warn_then_accept)
    await dashboard.get_by_role("button", name=re.compile(f"^Revoke key {key_name}")).click()
    await expect(dashboard).to_have_url(re.compile(r"/sign-in\?next=%2Fkeys$"))
    assert served.api.get("/api/v1/keys").json()["keys"][-1]["revoked_at"] is not None
    assert len(warned) == 1 and "signs you out" in warned[0]


async def test_the_api_docs_render_offline_from_the_assets_in_the_package(dashboard: Page, served: Served) -> None:
    elsewhere: list[str] = []

    async def only_the_server(route: Route) -> None:
        if route.request.url.startswith(served.url):
            await route.continue_()
        else:
            elsewhere.append(f"{route.request.resource_type} {route.request.url}")
            await route.abort()

    await dashboard.route("**/*", only_the_server)
    await dashboard.goto(f"{served.url}/docs")
    await expect(dashboard.locator(".opblock-summary-path", has_text="/api/v1/inference").first).to_be_visible()
    await dashboard.goto(f"{served.url}/redoc")
    await expect(dashboard.get_by_role("heading", name="rebrowse", exact=False).first).to_be_visible()
    await expect(dashboard.get_by_text("/api/v1/inference").first).to_be_attached()
    # ReDoc's footer asks its CDN for a logo and hides it when unreachable: nothing else leaves the server.
    assert [request for request in elsewhere if not request.startswith("image ")] == []


async def _colour(element: Locator) -> str:
    return str(await element.evaluate("el => getComputedStyle(el).color"))


def _reddish(colour: str) -> bool:
    """Whether a computed "rgb(r, g, b)" is a red (the colour of failures)."""
    r, g, b = (int(part) for part in re.findall(r"\d+", colour)[:3])
    return r > 120 and r > 2 * g and r > 2 * b


def finished(served: Served, task_id: str) -> bool:
    return bool(served.api.get(f"/api/v1/tasks/{task_id}").json()["status"] == "success")


async def fits(page: Page, path: str) -> None:
    """Nothing of the page is off-screen (no sideways scrolling) and no timestamp is cut in its cell."""
    await page.goto(path)
    await expect(page.locator("#main h1")).to_be_visible()
    await expect(page.locator("#main")).not_to_contain_text("Loading…")
    await fits_as_shown(page, path)


async def fits_as_shown(page: Page, path: str) -> None:
    """`fits` for what the page shows now (after the test opened something on it)."""
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    beyond = await page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter((el) => el.getClientRects().length > 0 && el.getBoundingClientRect().right > innerWidth + 1)
            .map((el) => `${el.tagName}.${el.className}: ${el.textContent.slice(0, 40)}`)"""
    )
    assert width[0] <= width[1], f"{path} is {width[0]} px wide in a {width[1]} px window"
    assert beyond == [], f"off-screen on {path} (also inside scrolling tables): {beyond}"
    cut = await page.evaluate(
        """() => [...document.querySelectorAll("time")]
            .map((t) => t.closest("td, dd, li, p") || t)
            .filter((cell) => cell.scrollWidth > cell.clientWidth)
            .map((cell) => cell.textContent)"""
    )
    assert cut == [], f"timestamps cut on {path}: {cut}"


async def test_every_page_fits_a_desktop_and_a_phone(dashboard: Page, served: Served, site: SiteServer) -> None:
    name = f"widths_{uuid.uuid4().hex[:8]}"
    put(served, name, automation(site, pause_s=0))
    task_id = submit(served, name, "widths")
    await eventually(lambda: finished(served, task_id), timeout_s=120, what="the task to succeed")
    await sign_in(dashboard, served)
    paths = ["/tasks", "/keys", "/automations", f"/automations/{name}", f"/tasks/{task_id}", "/messages", "/proxies"]
    for width, height in ((1280, 800), (390, 844)):
        await dashboard.set_viewport_size({"width": width, "height": height})
        for path in paths:
            await fits(dashboard, f"{served.url}{path}")
    # On a phone a task is a compact card: a few lines, not a screenful.
    await dashboard.goto(f"{served.url}/tasks?task_id={task_id}")
    card = dashboard.locator(f'tr[data-task-id="{task_id}"]')
    box = await card.bounding_box()
    assert box is not None and box["height"] < 160, box  # four short lines
    await expect(card.locator("td").nth(5)).to_be_hidden()  # started: on the task's page


async def test_find_a_task_by_part_of_its_id_or_of_its_endpoint(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"Find_{uuid.uuid4().hex[:8]}"
    put(served, name, automation(site, pause_s=0))
    task_id = submit(served, name, "find")
    await sign_in(dashboard, served)
    rows = dashboard.locator("table.tasks tbody tr")

    await dashboard.get_by_label("Task id").fill(f"  {task_id[:8]} ")  # pasted, with the spaces around it
    await dashboard.get_by_role("button", name="Filter").click()
    await expect(dashboard).to_have_url(f"{served.url}/tasks?task_id={task_id[:8]}")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-task-id", task_id)

    await dashboard.get_by_label("Task id").fill("")
    await dashboard.get_by_label("Endpoint").fill(name[2:].upper())  # a part of it, in other capitals
    await dashboard.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-task-id", task_id)

    nothing = f"nothing_{uuid.uuid4().hex[:8]}"
    await dashboard.get_by_label("Endpoint").fill(nothing)
    await dashboard.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_text(f'No task matches endpoint "{nothing}" — clear the filter.')
    await rows.first.get_by_role("link", name="clear the filter").click()
    await expect(dashboard).to_have_url(f"{served.url}/tasks")
    await expect(dashboard.get_by_label("Endpoint")).to_have_value("")


async def test_no_navigation_before_sign_in_and_an_unknown_page_says_so(dashboard: Page, served: Served) -> None:
    await dashboard.goto(f"{served.url}/sign-in")
    await expect(dashboard.get_by_label("API key")).to_be_visible()
    await expect(dashboard.get_by_role("navigation", name="Main")).to_be_hidden()
    await expect(dashboard.get_by_role("link", name="Tasks")).to_be_hidden()

    response = await dashboard.goto(f"{served.url}/nowhere/at/all")
    assert response is not None and response.status == 404
    await expect(dashboard.get_by_role("heading", level=1)).to_have_text("Not found")
    await expect(dashboard.locator("#main")).to_contain_text("There is no page at /nowhere/at/all.")
    await dashboard.get_by_role("link", name="Go to the dashboard's home").click()
    await expect(dashboard).to_have_url(re.compile(r"/sign-in$"))

    for method in ("GET", "POST"):
        answer = served.api.request(method, "/api/v1/nowhere")
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/json", answer.text
    for path in ("/api", "/static/dashboard/nowhere.js", "/trace-viewer/nowhere.js"):
        answer = served.api.get(path)
        assert answer.status_code == 404 and "text/html" not in answer.headers["content-type"], path


async def test_the_task_page_shows_the_inputs_it_ran_with_and_readable_screenshots(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"defaults_{uuid.uuid4().hex[:8]}"
    put(served, name, automation(site, pause_s=0))
    response = served.api.post("/api/v1/inference", json={"endpoint_name": name, "input_parameters": {}})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    await eventually(lambda: finished(served, task_id), timeout_s=120, what="the task to succeed")
    await sign_in(dashboard, served)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")
    inputs = dashboard.locator("#task-inputs")
    await expect(inputs.locator("tr", has_text="who")).to_contain_text('"nobody"')
    await expect(inputs.locator("tr", has_text="who").locator(".chip")).to_have_text("default")
    await expect(inputs.locator("tr", has_text="otp")).to_contain_text("••••")
    await expect(inputs).not_to_contain_text("No parameters")
    assert EXAMPLE_SEED not in await dashboard.content()

    thumb = dashboard.locator("#task-steps img.thumb").first
    await expect(thumb).to_have_js_property("complete", True)
    box = await thumb.bounding_box()
    assert box is not None and box["width"] >= 300, box  # large enough to read
    link = dashboard.locator("#task-steps a:has(img.thumb)").first
    assert await link.get_attribute("href") == await thumb.get_attribute("src")
    assert await link.get_attribute("target") == "_blank"  # the full size, beside the page
