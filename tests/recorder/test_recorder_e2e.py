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
from rebrowse.recorder.recording import semantic_share
from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import Replay
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

pytestmark = pytest.mark.skipif(LiveDisplay.__name__ == "", reason="")


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


def submitted(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    found = [s["fields"] for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, site.submissions()
    return found[0]


async def test_signup_flow_replays_with_new_values_and_a_secret_password(
    headed: Browser, xinput: XInput, site: SiteServer, replay: Replay, aws_endpoint: str  # noqa: F811
) -> None:
    typed_password = unique("pw-")
    user, query = unique("grace-"), unique("algebra")
    data, steps = await record_flow(
        headed, xinput, f"{site.url}/signup.html", signup(query, user, typed_password), last_click_on("Sign up")
    )
    assert typed_password not in json.dumps(data)
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
    recorded = json.loads(json.dumps(data).replace(site.url, "http://site.test"))
    result = await replay(
        recorded,
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
