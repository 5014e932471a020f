"""The fixture/demo HTTP server: static files, every dynamic route, and its lifecycle."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from bench.baselines import BASELINES
from bench.replay import load_flow
from playwright.async_api import BrowserContext, FilePayload, Page, expect

from rebrowse.automation.loading import load_automation_file
from rebrowse.demo.automation import DEMO_AUTOMATION, DEMO_SITE, rebase_urls
from rebrowse.demo.site import SESSION_COOKIE, SiteServer, download_bytes

FIXTURE_ROOT = Path(__file__).parent / "site"
FIXTURE_PAGES = sorted(p.name for p in FIXTURE_ROOT.glob("*.html"))


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer(FIXTURE_ROOT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(site: SiteServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=10) as http:
        yield http


# static files


@pytest.mark.parametrize("name", FIXTURE_PAGES)
def test_every_fixture_page_is_served_as_html_with_a_status_element(client: httpx.Client, name: str) -> None:
    response = client.get(f"/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert 'id="status"' in response.text


def test_directory_without_index_and_missing_files_are_not_found(client: httpx.Client) -> None:
    assert client.get("/").status_code == 404
    assert client.get("/missing.html").status_code == 404


def test_paths_cannot_escape_the_root(client: httpx.Client) -> None:
    # tests/conftest.py sits one level above the root.
    assert (FIXTURE_ROOT.parent / "conftest.py").is_file()
    assert client.get("/%2e%2e/conftest.py").status_code == 404


def test_demo_site_serves_its_pages_and_redirects_the_index() -> None:
    with SiteServer(DEMO_SITE) as demo, httpx.Client(base_url=demo.url) as http:
        for name in ("login.html", "dashboard.html", "record.html", "portal.css"):
            assert http.get(f"/{name}").status_code == 200, name
        assert http.get("/portal.css").headers["content-type"] == "text/css; charset=utf-8"
        assert "url=login.html" in http.get("/").text


def test_demo_automation_loads_and_starts_at_the_login_page() -> None:
    automation = load_automation_file(DEMO_AUTOMATION)
    assert automation.url == "http://127.0.0.1:8765/login.html"
    assert automation.parameters.input_parameters == {
        "username": ["ada"],
        "password": ["lovelace"],
        "query": ["invoice"],
    }


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_bench_flows_load_once_aimed_at_the_server(name: str) -> None:
    automation = load_flow(name, "http://127.0.0.1:41234")
    assert automation.url.startswith("http://127.0.0.1:41234/")


def test_rebase_urls_rewrites_only_url_fields() -> None:
    data = {
        "url": "http://127.0.0.1:0/a.html",
        "nodes": [{"go_to_url": {"url": "http://127.0.0.1:0/b.html"}, "input_text": "http://127.0.0.1:0/"}],
    }
    assert rebase_urls(data, "http://127.0.0.1:0", "http://127.0.0.1:5") == {
        "url": "http://127.0.0.1:5/a.html",
        "nodes": [{"go_to_url": {"url": "http://127.0.0.1:5/b.html"}, "input_text": "http://127.0.0.1:0/"}],
    }


# dynamic routes


def test_search_answers_matching_records_in_shape(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"q": "invoice acme"}).json()
    assert body == {
        "query": "invoice acme",
        "results": [{"id": 1, "title": "Invoice 1042 - Acme Robotics", "href": "record.html?id=1"}],
    }
    everything = client.get("/api/search", params={"q": ""}).json()["results"]
    assert len(everything) == 12
    assert client.get("/api/search", params={"q": "no such thing"}).json()["results"] == []


def test_record_route_returns_labelled_fields_or_not_found(client: httpx.Client) -> None:
    record = client.get("/api/record", params={"id": "3"}).json()
    assert record["title"] == "Service contract - Acme Robotics"
    assert record["customer"] == "Acme Robotics"
    assert client.get("/api/record", params={"id": "99"}).status_code == 404


def test_multipart_submission_records_fields_and_file_digest(client: httpx.Client, site: SiteServer) -> None:
    # Bytes that look like line ends and a boundary must come through untouched.
    content = bytes(range(256)) + b"\r\n--boundary\r\n\r\n" + b"\x00tail\r"
    response = client.post(
        "/api/submit",
        data={"full_name": "Ada <b>Lovelace</b>", "tags": ["a", "b"], "city": "Zürich"},
        files={"attachment": ("notes.bin", content, "application/octet-stream")},
    )
    assert response.status_code == 200
    assert "Thank you! We received 3 fields and 1 file." in response.text
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in response.text
    assert "<b>" not in response.text
    [submission] = client.get("/api/submissions").json()
    assert submission["fields"] == {"full_name": "Ada <b>Lovelace</b>", "tags": ["a", "b"], "city": "Zürich"}
    assert submission["files"] == [
        {
            "field": "attachment",
            "filename": "notes.bin",
            "content_type": "application/octet-stream",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    ]
    assert site.submissions() == [submission]


def test_urlencoded_submission_is_recorded(client: httpx.Client) -> None:
    response = client.post("/api/submit", data={"email": "ada@example.com"})
    assert response.status_code == 200
    assert "We received 1 field and 0 files." in response.text
    assert client.get("/api/submissions").json()[-1]["fields"] == {"email": "ada@example.com"}


def test_submission_with_an_unknown_body_type_is_rejected(client: httpx.Client) -> None:
    response = client.post("/api/submit", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert client.get("/api/submissions").json() == []


def test_login_with_demo_credentials_redirects_with_a_session_cookie(client: httpx.Client) -> None:
    assert client.get("/api/session").status_code == 401
    response = client.post("/api/login", data={"username": "ada", "password": "lovelace"})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard.html"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    session = client.get("/api/session")
    assert session.status_code == 200
    assert session.json() == {"user": "ada"}


def test_login_with_a_wrong_password_redirects_back_with_an_error(client: httpx.Client) -> None:
    response = client.post("/api/login", data={"username": "ada", "password": "babbage"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login.html?error=1"
    assert "set-cookie" not in response.headers
    assert client.get("/api/session").status_code == 401


def test_download_is_an_attachment_with_deterministic_bytes(client: httpx.Client) -> None:
    first = client.get("/download/invoice_3.txt")
    assert first.status_code == 200
    assert first.headers["content-disposition"] == 'attachment; filename="invoice_3.txt"'
    assert first.content.startswith(b"rebrowse download invoice_3.txt\n")
    assert first.content == client.get("/download/invoice_3.txt").content == download_bytes("invoice_3.txt")


def test_download_names_are_restricted(client: httpx.Client) -> None:
    assert client.get("/download/bad%22name").status_code == 404
    assert client.get("/download/.hidden").status_code == 404


def test_pdf_is_inline_valid_and_deterministic(client: httpx.Client) -> None:
    response = client.get("/files/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf == client.get("/files/report.pdf").content
    # Every cross-reference entry must point at the object it numbers.
    match = re.search(rb"startxref\n(\d+)\n", pdf)
    assert match is not None
    xref = pdf[int(match.group(1)) :]
    assert xref.startswith(b"xref\n0 6\n")
    offsets = [int(line[:10]) for line in xref.split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)


def test_job_is_pending_for_two_polls_then_done(client: httpx.Client) -> None:
    statuses = [client.get("/api/job", params={"id": "j1"}).json()["status"] for _ in range(4)]
    assert statuses == ["pending", "pending", "done", "done"]
    assert client.get("/api/job", params={"id": "j2"}).json() == {"id": "j2", "status": "pending"}
    assert client.get("/api/job").status_code == 400


def test_recent_lists_items_and_the_server_time(client: httpx.Client) -> None:
    body = client.get("/api/recent").json()
    assert len(body["items"]) == 5
    assert {"id", "title", "status"} <= body["items"][0].keys()
    assert datetime.fromisoformat(body["server_time"]).tzinfo is not None


def test_echo_headers_returns_the_request_headers(client: httpx.Client) -> None:
    body = client.get("/echo-headers", headers={"X-Probe": "42"}).json()
    assert body["x-probe"] == "42"
    assert body["host"].startswith("127.0.0.1:")


def test_unknown_post_route_is_not_found(client: httpx.Client) -> None:
    assert client.post("/api/nothing", data={"a": "1"}).status_code == 404


# lifecycle


def test_url_is_only_available_while_running() -> None:
    server = SiteServer(FIXTURE_ROOT)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    with pytest.raises(RuntimeError):
        _ = server.url


def test_stop_returns_despite_kept_alive_connections_and_closes_the_port() -> None:
    server = SiteServer(FIXTURE_ROOT)
    server.start()
    try:
        port = int(server.url.rsplit(":", 1)[1])
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/table.html").status_code == 200  # leaves a kept-alive connection open
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            stopper.join(timeout=10)
            assert not stopper.is_alive()
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_missing_root_is_refused() -> None:
    with pytest.raises(FileNotFoundError):
        SiteServer(FIXTURE_ROOT / "nope").start()


# the fixture pages in a real browser


async def test_login_page_signs_in_and_the_dashboard_shows_the_user(page: Page, site: SiteServer) -> None:
    await page.goto(f"{site.url}/login.html")
    await page.get_by_label("Username").fill("ada")
    await page.get_by_label("Password").fill("lovelace")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#status")).to_have_text("Signed in as ada")
    assert page.url == f"{site.url}/dashboard.html"


async def test_search_page_renders_results_after_the_backend_answers(page: Page, site: SiteServer) -> None:
    await page.goto(f"{site.url}/search.html")
    await page.get_by_label("Search").fill("service contract")
    await page.get_by_label("Search").press("Enter")
    contracts = ["Acme Robotics", "Umbrella Health", "Wayne Enterprises"]
    await expect(page.locator("#results .result-title")).to_have_text(
        [f"Service contract - {customer}" for customer in contracts]
    )
    await expect(page.locator("#status")).to_have_text("3 results")


async def test_form_page_posts_multipart_with_the_file(page: Page, site: SiteServer) -> None:
    content = b"%PDF-1.4 pretend\r\n" * 10
    await page.goto(f"{site.url}/form.html")
    await page.get_by_label("Full name").fill("Ada Lovelace")
    await page.locator("#region").select_option(label="West Europe")
    await page.get_by_label("Subscribe to the newsletter").check()
    await page.get_by_label("Pro").check()
    upload: FilePayload = {"name": "cv.pdf", "mimeType": "application/pdf", "buffer": content}
    await page.get_by_label("Attachment").set_input_files(files=[upload])
    await page.locator("#submit").click()
    await expect(page.locator("#confirmation")).to_have_text("Thank you! We received 6 fields and 1 file.")
    [submission] = site.submissions()
    assert submission["fields"]["region"] == "eu-west"
    assert submission["fields"]["newsletter"] == "yes"
    assert submission["fields"]["plan"] == "pro"
    assert submission["files"][0]["sha256"] == hashlib.sha256(content).hexdigest()


async def test_keys_page_logs_key_combinations(page: Page, site: SiteServer) -> None:
    await page.goto(f"{site.url}/keys.html")
    keys = ["Control+a", "Enter", "Tab", "Escape", "ArrowDown"]
    for key in keys:
        await page.keyboard.press(key)
    await expect(page.locator("#key-log li")).to_have_text(keys)


async def test_buttons_page_needs_force_for_the_covered_button(page: Page, site: SiteServer) -> None:
    await page.goto(f"{site.url}/buttons.html")
    with pytest.raises(Exception, match="intercepts pointer events"):
        await page.locator("#covered").click(timeout=500)
    await expect(page.locator("#status")).to_have_text("Nothing yet")
    await page.locator("#covered").click(force=True)
    await expect(page.locator("#status")).to_have_text("covered click")


BASELINE_TEXTS = {
    "login_search": [
        "\n".join(
            f"Invoice {number} - {customer}"
            for number, customer in [
                (1042, "Acme Robotics"),
                (1043, "Globex Logistics"),
                (1044, "Initech"),
                (1045, "Umbrella Health"),
                (1046, "Stark Industries"),
                (1047, "Wayne Enterprises"),
            ]
        )
    ],
    "form_upload": ["Thank you! We received 6 fields and 1 file."],
    "table_loop": [str(n) for n in range(1, 11)],
}


@pytest.mark.parametrize("name", sorted(BASELINES))
async def test_bench_baselines_complete_their_flow(context: BrowserContext, site: SiteServer, name: str) -> None:
    assert await BASELINES[name](context, site.url) == BASELINE_TEXTS[name]
