"""Downloads replayed on the fixture site: clicks expecting a download, and URLs saved as PDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rebrowse.demo.site import download_bytes, render_pdf
from rebrowse.engine.run import RunResult
from tests.engine.conftest import Replay, automation
from tests.engine.test_interaction import click, interact, outputs, read_text


def download_link(row: str) -> str:
    """The locator of a table row's download link."""
    return f'locator("#row-{row}").get_by_role("link", name="Download")'


def download(row: str, **fields: Any) -> dict[str, Any]:
    """A click on a row's download link, expecting the download."""
    return click(download_link(row), expect_download=True, **fields)


def saved(result: RunResult) -> dict[str, bytes]:
    """The downloaded files of a successful run by name, read back from disk."""
    assert result.status == "success", result.error
    files = {d.filename: Path(d.path).read_bytes() for d in result.downloads}
    assert all(Path(d.path).parent == Path(result.out_dir) / "downloads" for d in result.downloads)
    assert [d.size for d in result.downloads] == [len(content) for content in files.values()]
    return files


# ---------------------------------------------------------------------------------------------------------
# click_element with expect_download


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "invoice_2.txt"),  # the server's name
        ("second-invoice", "second-invoice.txt"),  # the browser's extension is added
        ("second.dat", "second.dat"),  # a name with an extension is kept
        ("../../escape.txt", "escape.txt"),  # never outside downloads/
    ],
)
async def test_click_saves_the_download_under_its_name(replay: Replay, requested: str | None, expected: str) -> None:
    node = download("2", **({"download_filename": requested} if requested else {}))
    result = await replay(automation("table.html", [node]))
    assert saved(result) == {expected: download_bytes("invoice_2.txt")}
    assert result.steps[0].detail == f"downloaded {expected}"


async def test_download_metadata_placeholders_are_resolved_when_the_file_is_saved(replay: Replay) -> None:
    metadata = {
        "customer": "{customer[0]}",
        "invoice": "{invoice_name[0]}",  # extracted by the step before
        "note": 'says "{note[0]}"',
        "tags": ["static", "{customer[0]}"],
        "count": 2,
    }
    nodes = [
        read_text('locator("#row-4 .name")', "invoice_name"),
        download("4", download_filename="invoice-{customer[0]}", download_metadata=metadata),
    ]
    inputs = {"customer": ["acme"], "note": ['quotes " and \\ backslashes']}
    result = await replay(automation("table.html", nodes, parameters={"input_parameters": inputs}))
    assert saved(result) == {"invoice-acme.txt": download_bytes("invoice_4.txt")}
    assert result.downloads[0].metadata == {
        "customer": "acme",
        "invoice": "Invoice 4",
        "note": 'says "quotes " and \\ backslashes"',
        "tags": ["static", "acme"],
        "count": 2,
    }
    written = json.loads((Path(result.out_dir) / "downloads.json").read_text())
    assert written[0]["metadata"] == result.downloads[0].metadata


async def test_downloads_in_a_loop_get_their_own_names_and_metadata(replay: Replay) -> None:
    body = download(
        "{invoice[index]}",
        download_filename="invoice",
        download_metadata={"invoice": "{invoice[index]}", "position": "{index}"},
    )
    loop = {"type": "for_loop_node", "variable_name": "invoice", "nodes": [body]}
    result = await replay(automation("table.html", [loop], parameters={"input_parameters": {"invoice": ["1", "3"]}}))
    assert saved(result) == {
        "invoice.txt": download_bytes("invoice_1.txt"),
        "invoice_2.txt": download_bytes("invoice_3.txt"),  # the second file does not overwrite the first
    }
    assert [d.metadata for d in result.downloads] == [
        {"invoice": "1", "position": "0"},
        {"invoice": "3", "position": "1"},
    ]


async def test_download_metadata_with_an_unknown_placeholder_fails(replay: Replay) -> None:
    node = download("1", download_metadata={"who": "{nobody[0]}"})
    result = await replay(automation("table.html", [node]), unchecked=True)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"nodes[0] (click_element on {download_link('1')}):")
    assert "{nobody[0]}" in result.error
    assert result.downloads == []


async def test_a_download_link_that_opens_a_new_tab_is_saved_and_the_run_stays_on_its_page(replay: Replay) -> None:
    node = click('get_by_role("link", name="Download in a new tab")', expect_download=True)
    result = await replay(automation("tabs.html", [node, read_text('locator("#status")', "status")]))
    assert saved(result) == {"statement.txt": download_bytes("statement.txt")}
    assert outputs(result) == {"status": "Tab 1"}  # still on the page the link was on
    assert (result.steps[-1].url or "").endswith("/tabs.html")


async def test_click_that_downloads_nothing_fails(replay: Replay) -> None:
    node = click('locator("#status")', expect_download=True)
    result = await replay(automation("table.html", [node]), download_timeout_s=0.5)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0] (click_element on locator("#status")):')
    assert "download" in result.error
    assert result.downloads == []
    assert list((Path(result.out_dir) / "downloads").iterdir()) == []


async def test_download_timeout_seconds_of_the_action_replaces_the_deployments(replay: Replay) -> None:
    # The deployment would wait 10 minutes, longer than the attempt may last: only the action's wait fails the step.
    node = click('locator("#status")', expect_download=True, download_timeout_seconds=0.5)
    result = await replay(automation("table.html", [node]), download_timeout_s=600.0, timeout_minutes=1.0)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0] (click_element on locator("#status")):')
    assert "500ms" in result.error and "download" in result.error


async def test_select_option_passes_its_download_timeout_too(replay: Replay) -> None:
    node = interact(
        "select_option",
        {
            "command": 'locator("#country")',
            "select_values": ["gb"],
            "expect_download": True,
            "download_timeout_seconds": 0.5,
        },
    )
    result = await replay(automation("select.html", [node]), download_timeout_s=600.0, timeout_minutes=1.0)
    assert result.status == "failed"
    assert result.error is not None and "500ms" in result.error


# ---------------------------------------------------------------------------------------------------------
# download_file


def fetch_file(**fields: Any) -> dict[str, Any]:
    """A download_file node."""
    return interact("download_file", fields)


async def test_download_file_saves_the_url_and_names_its_path(replay: Replay) -> None:
    nodes = [fetch_file(file_url="http://site.test/download/{name[0]}", output_variable_name="invoice_path")]
    params = {"input_parameters": {"name": ["invoice_5.txt"]}}
    result = await replay(automation("table.html", nodes, parameters=params))
    assert saved(result) == {"invoice_5.txt": download_bytes("invoice_5.txt")}
    assert result.steps[0].detail == "downloaded invoice_5.txt"


async def test_a_downloaded_file_can_be_uploaded_by_a_later_step(replay: Replay) -> None:
    nodes = [
        fetch_file(file_url="http://site.test/download/invoice_6.txt"),
        interact("go_to_url", {"url": "http://site.test/upload.html"}),
        interact("upload_file", {"command": 'get_by_label("Document")', "file_path": "{downloaded_file_path[0]}"}),
        read_text('locator("#status")', "status"),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["status"] == f"file: invoice_6.txt ({len(download_bytes('invoice_6.txt'))} bytes)"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("{where[0]}", "file_url must be an http:// or https:// URL, got 'file:///etc/passwd'"),
        ("http://site.test/files/missing.txt", "answered HTTP 404"),
    ],
)
async def test_download_file_that_cannot_be_fetched_fails_its_step(replay: Replay, url: str, expected: str) -> None:
    params = {"input_parameters": {"where": ["file:///etc/passwd"]}}
    result = await replay(automation("table.html", [fetch_file(file_url=url)], parameters=params))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (download_file):")
    assert expected in result.error
    assert result.downloads == []


# ---------------------------------------------------------------------------------------------------------
# download_url_as_pdf


def save_pdf(**fields: Any) -> dict[str, Any]:
    """A download_url_as_pdf node."""
    return interact("download_url_as_pdf", fields)


async def test_a_pdf_url_is_saved_byte_for_byte(replay: Replay) -> None:
    result = await replay(automation("pdf.html", [save_pdf(url="http://site.test/files/report.pdf")]))
    files = saved(result)
    assert files == {"report.pdf": render_pdf("rebrowse report: report")}
    assert files["report.pdf"].startswith(b"%PDF")


async def test_a_pdf_url_with_a_requested_name(replay: Replay) -> None:
    node = save_pdf(url="http://site.test/files/report.pdf", download_filename="q3-{who[0]}")
    result = await replay(automation("pdf.html", [node], parameters={"input_parameters": {"who": ["ada"]}}))
    assert saved(result) == {"q3-ada.pdf": render_pdf("rebrowse report: report")}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"url": "http://site.test/table.html"}, "table.pdf"),
        ({}, "table.pdf"),  # the current page
        ({"download_filename": "invoices"}, "invoices.pdf"),
    ],
)
async def test_an_html_page_is_rendered_to_pdf(replay: Replay, fields: dict[str, Any], expected: str) -> None:
    result = await replay(automation("table.html", [save_pdf(**fields)]))
    files = saved(result)
    assert list(files) == [expected]
    content = files[expected]
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    assert b"<table" not in content


async def test_a_url_that_answers_an_error_is_not_saved(replay: Replay) -> None:
    result = await replay(automation("pdf.html", [save_pdf(url="http://site.test/files/missing.txt")]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (download_url_as_pdf):")
    assert "HTTP 404" in result.error
    assert result.downloads == []
