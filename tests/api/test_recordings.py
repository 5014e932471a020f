"""Recording in a worker slot through the API (`rebrowse serve` with live view): the owner drives the recording
browser with real RFB key and pointer messages through the API's bridge, sees the steps arrive, stops, edits and
saves the draft, and the saved automation runs with other values; nobody else may drive, watch or read it."""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from rebrowse.browser.display import live_view_available
from rebrowse.demo.site import SiteServer
from rebrowse.live import rfb
from tests.engine.test_security import aws_endpoint  # noqa: F401  (a fixture: moto's Secrets Manager)
from tests.serving import ADMIN_KEY, Served, serve
from tests.waiting import eventually

pytestmark = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")

KEY_EVENT, POINTER_EVENT = 4, 5  # RFB client message types
BINARY = Subprotocol("binary")
REACH_S = 90.0
KEYSYMS = {"Tab": 0xFF09, "Return": 0xFF0D}


@pytest.fixture
def served(aws_endpoint: str) -> Iterator[Served]:  # noqa: F811
    # One slot, so its live view is the whole screen; the AWS endpoint is moto's, for the secret a run needs.
    with serve("--slots", "1", env={"REBROWSE_SCREEN": "1280x720", "AWS_ENDPOINT_URL": aws_endpoint}) as running:
        yield running


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, headers={"x-api-key": ADMIN_KEY}, timeout=30) as client:
        yield client


async def other_account(api: httpx.AsyncClient) -> dict[str, str]:
    created = await api.post("/api/v1/accounts", json={"name": f"other-{uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    return {"x-api-key": created.json()["key"]["api_key"]}


async def recording_where(
    api: httpx.AsyncClient, recording_id: str, what: str, holds: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        response = await api.get(f"/api/v1/recordings/{recording_id}")
        assert response.status_code == 200, response.text
        seen.clear()
        seen.update(response.json())
        return holds(seen)

    try:
        await eventually(reached, timeout_s=REACH_S, what=f"recording {recording_id}: {what}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen}") from None
    return seen


class Viewer:
    """An RFB client on the recording's live view, through the API's bridge."""

    def __init__(self, stream: rfb.WebSocketStream, framebuffer: rfb.Framebuffer) -> None:
        self.stream = stream
        self.framebuffer = framebuffer

    async def point(self, buttons: int) -> None:
        width, height = self.framebuffer.width, self.framebuffer.height
        await self.stream.write(struct.pack(">BBHH", POINTER_EVENT, buttons, width // 2, height - 40))

    async def key(self, name: str) -> None:
        keysym = KEYSYMS.get(name, ord(name[0]))
        for down in (1, 0):
            await self.stream.write(struct.pack(">BBxxI", KEY_EVENT, down, keysym))

    async def type(self, text: str) -> None:
        for char in text:
            await self.key(char)

    async def flush(self) -> None:
        """Return once the server has handled what was sent (it handles a client's messages in order)."""
        await rfb.request_update(self.stream, self.framebuffer, incremental=False)
        await rfb.read_update(self.stream, self.framebuffer)


@asynccontextmanager
async def viewing(api: httpx.AsyncClient, served: Served, task_id: str, *, control: bool) -> AsyncIterator[Viewer]:
    asked = await api.get(f"/api/v1/tasks/{task_id}/stream", params={"control": control})
    assert asked.status_code == 200, asked.text
    parts = urlsplit(asked.json()["stream_url"])
    url = f"ws://{urlsplit(served.url).netloc}{parts.path}?{parts.query}"
    async with connect(url, subprotocols=[BINARY], max_size=None) as connection:
        stream = rfb.WebSocketStream(connection)
        yield Viewer(stream, await rfb.handshake(stream))


def fills(recording: dict[str, Any]) -> list[str]:
    return [step["description"] for step in recording["steps"] if step["kind"] == "fill"]


def interactions(draft: dict[str, Any]) -> list[str]:
    return [next(iter(node["interaction_action"])) for node in draft["nodes"]]


async def test_record_drive_edit_save_and_run_with_other_values(
    api: httpx.AsyncClient,
    served: Served,
    site: SiteServer,
    aws_endpoint: str,  # noqa: F811
) -> None:
    started = await api.post("/api/v1/recordings", json={"url": f"{site.url}/form.html"})
    assert started.status_code == 202, started.text
    recording_id = started.json()["recording_id"]
    await recording_where(
        api, recording_id, "the page opened", lambda r: [s["kind"] for s in r["steps"]] == ["navigate"]
    )
    name, email = f"Ada {uuid.uuid4().hex[:8]}", f"ada-{uuid.uuid4().hex[:8]}@example.com"

    # A view-only viewer's keys never reach the browser.
    async with viewing(api, served, recording_id, control=False) as viewer:
        await viewer.point(0)
        await viewer.key("Tab")
        await viewer.type("nobody")
        await viewer.flush()
    async with viewing(api, served, recording_id, control=True) as viewer:
        await viewer.point(1)  # a click on the page below the form: its window gets the keys
        await viewer.point(0)
        await viewer.flush()
        await viewer.key("Tab")
        await viewer.type(name)
        await viewer.flush()
        await recording_where(api, recording_id, "the name typed", lambda r: any(name in f for f in fills(r)))
        await viewer.key("Tab")
        await viewer.type(email)
        await viewer.flush()
        await recording_where(api, recording_id, "the email typed", lambda r: any(email in f for f in fills(r)))
        await viewer.key("Return")
        await viewer.flush()
        await eventually(lambda: any(s["fields"].get("full_name") == name for s in site.submissions()), what="sent")

    # Each typed field's locator was counted on the page when recorded: exactly one element.
    recorded = await recording_where(
        api,
        recording_id,
        "the Enter and the checked locators",
        lambda r: (
            r["steps"][-1]["kind"] == "press"
            and all(step["matches"] == 1 and not step["ambiguous"] for step in r["steps"] if step["kind"] == "fill")
        ),
    )
    assert not any("nobody" in step["description"] for step in recorded["steps"])
    stopped = await api.post(f"/api/v1/recordings/{recording_id}/stop")
    assert stopped.status_code == 200, stopped.text
    done = await recording_where(
        api, recording_id, "its draft", lambda r: r["draft"] is not None and r["status"] != "running"
    )
    assert done["status"] == "success", done["error"]
    draft = done["draft"]
    assert draft["url"] == f"{site.url}/form.html"
    assert draft["parameters"]["input_parameters"] == {"full_name": [name], "email": [email]}
    kinds = interactions(draft)
    assert [kind for kind in kinds if kind == "input_text"] == ["input_text", "input_text"], draft["nodes"]
    assert draft["nodes"][-1]["interaction_action"]["key_press"]["type"] == "Enter", draft["nodes"]
    assert (await api.post(f"/api/v1/recordings/{recording_id}/stop")).status_code == 409

    # Edit: drop the click that focused the page and the Tab presses, put the email first, rename a parameter,
    # make one secret.
    extra = [index for index, kind in enumerate(kinds[:-1]) if kind != "input_text"]  # the last one is Enter
    edits: list[dict[str, Any]] = [{"op": "delete", "node": index} for index in reversed(extra)]
    edits += [
        {"op": "move", "node": 1, "to": 0},
        {"op": "rename", "parameter": "full_name", "to": "person"},
        {"op": "secret", "parameter": "email"},
    ]
    edited = await api.post(f"/api/v1/recordings/{recording_id}/edits", json={"edits": edits})
    assert edited.status_code == 200, edited.text
    draft = edited.json()["draft"]
    assert interactions(draft) == ["input_text", "input_text", "key_press"]
    assert draft["parameters"] == {"input_parameters": {"person": [name]}, "secure_parameters": {"email": []}}
    assert draft["nodes"][0]["interaction_action"]["input_text"]["input_text"] == "{email[0]}"
    assert draft["nodes"][1]["interaction_action"]["input_text"]["input_text"] == "{person[0]}"
    bad = await api.post(
        f"/api/v1/recordings/{recording_id}/edits", json={"edits": [{"op": "rename", "parameter": "x", "to": "y"}]}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "edits[0]", bad.text

    endpoint = f"recorded-{uuid.uuid4().hex[:6]}"
    vault_email = f"vault-{uuid.uuid4().hex[:8]}@example.com"
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_endpoint).create_secret(
        Name=endpoint, SecretString=vault_email
    )
    secure = {"email": [{"amazon_secrets_manager": {"secret_name": endpoint, "region_name": "us-east-1"}}]}

    # Run once, unsaved: the draft as it is now, with the values recorded.
    once = await api.post(f"/api/v1/recordings/{recording_id}/run", json={"secure_parameters": secure})
    assert once.status_code == 202, once.text
    await run_ended(api, once.json()["task_id"])
    assert [s["fields"]["email"] for s in site.submissions() if s["fields"].get("full_name") == name] == [
        email,  # the recording itself
        vault_email,  # the run of the draft
    ]
    unknown = await api.post(f"/api/v1/recordings/{recording_id}/run", json={"input_parameters": {"nope": ["x"]}})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["path"] == "input_parameters.nope"
    sourceless = await api.post(f"/api/v1/recordings/{recording_id}/run", json={})
    assert sourceless.status_code == 400 and sourceless.json()["errors"][0]["path"] == "secure_parameters.email"

    saved = await api.post(f"/api/v1/recordings/{recording_id}/save", json={"endpoint_name": endpoint})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1

    other_name = f"Grace {uuid.uuid4().hex[:8]}"
    run = await api.post(
        "/api/v1/inference",
        json={"endpoint_name": endpoint, "input_parameters": {"person": [other_name]}, "secure_parameters": secure},
    )
    assert run.status_code == 202, run.text
    await run_ended(api, run.json()["task_id"])
    [fields] = [s["fields"] for s in site.submissions() if s["fields"].get("full_name") == other_name]
    assert fields["email"] == vault_email


async def run_ended(api: httpx.AsyncClient, task_id: str) -> None:
    """Wait for the task to end, and check it succeeded."""

    async def ended() -> bool:
        return (await api.get(f"/api/v1/tasks/{task_id}")).json()["completed_at"] is not None

    await eventually(ended, timeout_s=REACH_S, what=f"task {task_id} to end")
    detail = (await api.get(f"/api/v1/tasks/{task_id}")).json()
    assert detail["status"] == "success", detail["error"]


async def test_another_account_cannot_drive_watch_or_read_a_recording(api: httpx.AsyncClient, site: SiteServer) -> None:
    started = await api.post("/api/v1/recordings", json={"url": f"{site.url}/form.html"})
    assert started.status_code == 202, started.text
    recording_id = started.json()["recording_id"]
    await recording_where(api, recording_id, "running", lambda r: r["status"] == "running")
    other = await other_account(api)
    for control in (True, False):
        asked = await api.get(f"/api/v1/tasks/{recording_id}/stream", params={"control": control}, headers=other)
        assert asked.status_code == 404
    assert (await api.get(f"/api/v1/recordings/{recording_id}", headers=other)).status_code == 404
    assert (await api.post(f"/api/v1/recordings/{recording_id}/stop", headers=other)).status_code == 404
    save = {"endpoint_name": "stolen"}
    assert (await api.post(f"/api/v1/recordings/{recording_id}/save", json=save, headers=other)).status_code == 404
    # A draft before the recording stops: a conflict that says what to do.
    early = await api.post(f"/api/v1/recordings/{recording_id}/save", json=save)
    assert early.status_code == 409 and "stop it first" in early.json()["detail"]
    assert (await api.post(f"/api/v1/tasks/{recording_id}/cancel")).status_code == 200
    ended = await recording_where(api, recording_id, "cancelled", lambda r: r["status"] == "cancelled")
    assert ended["draft"] is None


async def test_a_bad_or_refused_url_is_a_400_naming_url(api: httpx.AsyncClient) -> None:
    for url, says in [
        ("ftp://example.com/", "must be an http:// or https:// URL"),
        ("http://169.254.169.254/latest/meta-data", "the browser may not open it: the egress policy denies"),
    ]:
        refused = await api.post("/api/v1/recordings", json={"url": url})
        assert refused.status_code == 400, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == "url" and says in error["message"], error
