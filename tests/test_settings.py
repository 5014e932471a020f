"""Server settings from the environment: live view and the VNC addresses."""

from __future__ import annotations

import pytest

from rebrowse.settings import ServerSettings


def test_live_view_is_on_unless_switched_off() -> None:
    assert ServerSettings.from_env({}).live_view
    assert ServerSettings.from_env({"REBROWSE_LIVE_VIEW": "1"}).live_view
    for off in ("0", "false", "no", "OFF"):
        assert not ServerSettings.from_env({"REBROWSE_LIVE_VIEW": off}).live_view


def test_the_vnc_servers_listen_on_loopback_unless_told_otherwise() -> None:
    settings = ServerSettings.from_env({})
    assert (settings.vnc_listen, settings.vnc_advertise) == ("127.0.0.1", "127.0.0.1")
    private = ServerSettings.from_env({"REBROWSE_VNC_LISTEN": "10.0.0.5"})
    assert (private.vnc_listen, private.vnc_advertise) == ("10.0.0.5", "10.0.0.5")
    named = ServerSettings.from_env({"REBROWSE_VNC_LISTEN": "0.0.0.0", "REBROWSE_VNC_ADVERTISE": "worker-3.internal"})
    assert (named.vnc_listen, named.vnc_advertise) == ("0.0.0.0", "worker-3.internal")


def test_a_wildcard_listen_address_needs_an_advertised_one() -> None:
    with pytest.raises(ValueError, match="REBROWSE_VNC_ADVERTISE"):
        ServerSettings.from_env({"REBROWSE_VNC_LISTEN": "0.0.0.0"})


def test_a_bad_screen_size_is_named() -> None:
    with pytest.raises(ValueError, match="REBROWSE_SCREEN must be WIDTHxHEIGHT"):
        ServerSettings.from_env({"REBROWSE_SCREEN": "big"})
    assert ServerSettings.from_env({"REBROWSE_SCREEN": "1280x720"}).screen == (1280, 720)


def test_message_retention_and_the_slack_api_url() -> None:
    default = ServerSettings.from_env({})
    assert (default.message_retention_s, default.slack_api_url) == (86400.0, "https://slack.com/api")
    custom = ServerSettings.from_env(
        {"REBROWSE_MESSAGE_RETENTION": "600", "REBROWSE_SLACK_API_URL": "http://127.0.0.1:9999/api/"}
    )
    assert (custom.message_retention_s, custom.slack_api_url) == (600.0, "http://127.0.0.1:9999/api")
    with pytest.raises(ValueError, match="REBROWSE_MESSAGE_RETENTION must be a number of seconds"):
        ServerSettings.from_env({"REBROWSE_MESSAGE_RETENTION": "a day"})
    with pytest.raises(ValueError, match="REBROWSE_SLACK_API_URL must be an http"):
        ServerSettings.from_env({"REBROWSE_SLACK_API_URL": "slack.com/api"})
