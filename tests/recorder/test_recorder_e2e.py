"""The recorder end to end: a headed Chromium on a virtual screen, driven with real X input (xdotool) on fixture
site flows; what was recorded replays with other parameter values, and the site receives those."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from playwright.async_api import Browser, async_playwright

from rebrowse.automation.parameters import AwsSecret, SecureParameter
from rebrowse.browser.display import LiveDisplay
from rebrowse.demo.site import SiteServer
from rebrowse.recorder.recording import Step, describe_step, semantic_share
from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import ORIGIN, Replay
from tests.engine.test_security import aws_endpoint  # noqa: F401  (a fixture: moto's Secrets Manager)
from tests.recorder.driving import (
    DOWNLOAD,
    NEW_TAB,
    XInput,
    headed_chromium,
    last_click_on,
    record_flow,
    registration,
    screen,
    signup,
    unique,
)


@pytest.fixture(scope="module")
async def display() -> AsyncIterator[LiveDisplay]:
    async with screen() as started:
        yield started


@pytest.fixture(scope="module")
async def headed(display: LiveDisplay) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await headed_chromium(playwright, display)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def xinput(display: LiveDisplay) -> XInput:
    return XInput(display.display, display.xauthority)


def on_site(data: dict[str, Any], site: SiteServer) -> dict[str, Any]:
    """The recording with its URLs written for the replay helper's origin."""
    loaded: dict[str, Any] = json.loads(json.dumps(data).replace(site.url, ORIGIN))
    return loaded


def submitted(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s["fields"] for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, site.submissions()
    return found[0]


async def test_signup_flow_replays_with_new_values_and_a_secret_password(
    headed: Browser,
    xinput: XInput,
    site: SiteServer,
    replay: Replay,
    aws_endpoint: str,  # noqa: F811
) -> None:
    typed_password = unique("pw-")
    user, query = unique("grace-"), unique("algebra")
    streamed: list[list[Step]] = []  # what a dashboard would show as the steps come
    data, steps = await record_flow(
        headed,
        xinput,
        f"{site.url}/signup.html",
        signup(query, user, typed_password),
        last_click_on("Sign up"),
        streamed.append,
    )
    assert typed_password not in json.dumps(data)
    assert typed_password not in " ".join(describe_step(step) for update in streamed for step in update)
    assert [step.kind for step in streamed[-1]][-1] == "click"
    assert data["parameters"] == {
        "input_parameters": {"course_search": [query], "user_name": [user], "level": ["expert"]},
        "secure_parameters": {"password": []},
    }
    assert semantic_share(steps)[0] == semantic_share(steps)[1]
    assert submitted(site, "user_name", user)["password"] == typed_password  # the recording itself signed up

    vault_password = unique("vault-")
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_endpoint).create_secret(
        Name="signup", SecretString=vault_password
    )
    secret = SecureParameter(amazon_secrets_manager=AwsSecret(secret_name="signup", region_name="us-east-1"))
    new_user, new_query = unique("hopper-"), unique("geometry")
    result = await replay(
        on_site(data, site),
        inputs={"course_search": [new_query], "user_name": [new_user], "level": ["beginner"]},
        secure={"password": [secret]},
        secrets=SecretResolver(aws_endpoint_url=aws_endpoint),
    )
    assert result.status == "success", result.error
    fields = submitted(site, "user_name", new_user)
    assert (fields["password"], fields["level"], fields["query"], fields["terms"]) == (
        vault_password,
        "beginner",
        new_query,
        "accepted",
    )


async def test_select_checkbox_and_radio_replay_with_other_values(
    headed: Browser, xinput: XInput, site: SiteServer, replay: Replay
) -> None:
    name, email = unique("Ada "), unique("ada-") + "@example.com"
    data, steps = await record_flow(
        headed, xinput, f"{site.url}/form.html", registration(name, email), last_click_on("Submit")
    )
    assert data["parameters"]["input_parameters"] == {"full_name": [name], "email": [email], "region": ["eu-west"]}
    kinds = [next(iter(node["interaction_action"])) for node in data["nodes"]]
    assert kinds == ["input_text", "input_text", "select_option", "check", "check", "click_element"]
    assert semantic_share(steps) == (6, 6)
    assert submitted(site, "full_name", name)["region"] == "eu-west"

    other = unique("Grace ")
    inputs = {"full_name": [other], "email": ["grace@example.com"], "region": ["ap-south"]}
    result = await replay(on_site(data, site), inputs=inputs)
    assert result.status == "success", result.error
    fields = submitted(site, "full_name", other)
    assert (fields["email"], fields["region"], fields["newsletter"], fields["plan"]) == (
        "grace@example.com",
        "ap-south",
        "yes",
        "pro",
    )


async def test_download_and_new_tab_replay(headed: Browser, xinput: XInput, site: SiteServer, replay: Replay) -> None:
    data, _ = await record_flow(headed, xinput, f"{site.url}/downloads.html", DOWNLOAD, last_click_on("Download"))
    assert data["nodes"] == [
        {
            "type": "action_node",
            "interaction_action": {
                "click_element": {
                    "command": 'get_by_role("link", name="Download the report")',
                    "double_click": False,
                    "expect_download": True,
                }
            },
        }
    ]
    result = await replay(on_site(data, site))
    assert result.status == "success", result.error
    assert [download.filename for download in result.downloads] == ["report.txt"]

    data, _ = await record_flow(headed, xinput, f"{site.url}/downloads.html", NEW_TAB, last_click_on("Back to tabs"))
    assert data["nodes"][0]["expect_new_tab"] is True
    back = data["nodes"][1]["interaction_action"]["click_element"]
    assert back["command"] == 'get_by_role("link", name="Back to tabs")'
    result = await replay(on_site(data, site))
    assert result.status == "success", result.error
    # The link exists only in the tab the button opened: the replay clicked it there.
    assert result.steps[-1].url is not None and result.steps[-1].url.endswith("/tab2.html")
