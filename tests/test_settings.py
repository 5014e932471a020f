"""Server settings from the environment: live view, the VNC addresses and where artifacts are stored."""

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


def test_artifacts_go_to_object_storage_when_a_url_says_so() -> None:
    local = ServerSettings.from_env({})
    assert (local.artifacts_bucket, local.artifacts_presigned, local.artifacts_retention_s) == (None, False, None)
    s3 = ServerSettings.from_env(
        {
            "REBROWSE_ARTIFACTS_URL": "s3://team-artifacts/prod/rebrowse/",
            "REBROWSE_ARTIFACTS_PRESIGNED": "true",
            "REBROWSE_ARTIFACTS_PRESIGNED_TTL": "60",
            "REBROWSE_ARTIFACTS_RETENTION_DAYS": "30",
        }
    )
    assert (s3.artifacts_bucket, s3.artifacts_prefix) == ("team-artifacts", "prod/rebrowse")
    assert (s3.artifacts_presigned, s3.artifacts_presigned_ttl_s, s3.artifacts_retention_s) == (True, 60.0, 30 * 86400)
    assert ServerSettings.from_env({"REBROWSE_ARTIFACTS_URL": "s3://bucket"}).artifacts_prefix == ""


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"REBROWSE_ARTIFACTS_URL": "https://bucket/prefix"}, "REBROWSE_ARTIFACTS_URL must be s3://"),
        ({"REBROWSE_ARTIFACTS_URL": "s3:///prefix"}, "REBROWSE_ARTIFACTS_URL must be s3://"),
        ({"REBROWSE_ARTIFACTS_URL": "s3://bucket/a/../b"}, "REBROWSE_ARTIFACTS_URL: the prefix"),
        ({"REBROWSE_ARTIFACTS_PRESIGNED": "maybe"}, "REBROWSE_ARTIFACTS_PRESIGNED must be one of"),
        ({"REBROWSE_ARTIFACTS_PRESIGNED_TTL": "0"}, "REBROWSE_ARTIFACTS_PRESIGNED_TTL must be more than 0"),
        ({"REBROWSE_ARTIFACTS_RETENTION_DAYS": "a week"}, "REBROWSE_ARTIFACTS_RETENTION_DAYS must be a number"),
    ],
)
def test_a_bad_artifacts_setting_is_named(variables: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ServerSettings.from_env(variables)


def test_cors_origins_are_origins() -> None:
    settings = ServerSettings.from_env({"REBROWSE_CORS_ORIGINS": "https://app.example.com/, http://127.0.0.1:3000"})
    assert settings.cors_origins == ("https://app.example.com", "http://127.0.0.1:3000")
    assert ServerSettings.from_env({}).cors_origins == ()
    for bad in ("app.example.com", "https://app.example.com/dashboard", "ftp://files.example.com"):
        with pytest.raises(ValueError, match=r"REBROWSE_CORS_ORIGINS: .* is not an origin"):
            ServerSettings.from_env({"REBROWSE_CORS_ORIGINS": bad})


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


def test_trace_keeps_failed_attempts_by_default_and_takes_the_old_flag() -> None:
    assert ServerSettings.from_env({}).engine.trace == "on_failure"
    for value, mode in (("always", "always"), ("NEVER", "never"), ("1", "always"), ("0", "never"), ("on", "always")):
        assert ServerSettings.from_env({"REBROWSE_TRACE": value}).engine.trace == mode
    with pytest.raises(ValueError, match="REBROWSE_TRACE must be one of never, on_failure, always"):
        ServerSettings.from_env({"REBROWSE_TRACE": "sometimes"})
