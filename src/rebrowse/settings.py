"""Settings, read once from the environment at the entry points and passed down from there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from rebrowse.browser.upstream import ProxyInvalid, UpstreamProxy
from rebrowse.callbacks.ssrf import AllowList
from rebrowse.engine.options import ScreenshotMode, TraceMode
from rebrowse.llm.config import LlmConfig
from rebrowse.observability.logs import LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel

SCREENSHOT_MODES = ("never", "on_failure", "every_step")
TRACE_MODES = ("never", "on_failure", "always")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
WILDCARD_ADDRESSES = ("0.0.0.0", "::")
SESSION_TTL_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Settings:
    """What an operator configures through REBROWSE_* (and the libraries' own) environment variables."""

    chromium: str | None = None
    chrome: str | None = None  # REBROWSE_CHROME_PATH: Google Chrome, for automations whose browser_channel is chrome
    allow_python_scripts: bool = False
    screenshots: ScreenshotMode = "on_failure"
    trace: TraceMode = "on_failure"  # REBROWSE_TRACE: never, on_failure or always (1/0 kept: always/never)
    aws_endpoint_url: str | None = None
    onepassword_token: str | None = None
    llm: LlmConfig = field(default_factory=LlmConfig)
    # REBROWSE_HEALING (on unless 0/false/no/off): an element step whose command fails falls back to the model
    healing: bool = True
    # REBROWSE_CAPTCHA_BY_PERSON: a captcha_action waits for a person to solve it (else automations with one are
    # refused at load: no model ever solves a captcha)
    captcha_by_person: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment; an invalid value raises ValueError naming the variable."""
        env = os.environ if environ is None else environ
        screenshots = env.get("REBROWSE_SCREENSHOTS", "on_failure")
        if screenshots not in SCREENSHOT_MODES:
            raise ValueError(f"REBROWSE_SCREENSHOTS must be one of {', '.join(SCREENSHOT_MODES)}")
        return cls(
            chromium=env.get("REBROWSE_CHROMIUM") or None,
            chrome=env.get("REBROWSE_CHROME_PATH") or None,
            allow_python_scripts=env.get("REBROWSE_ALLOW_PYTHON_SCRIPTS", "").lower() in TRUE_WORDS,
            screenshots=cast(ScreenshotMode, screenshots),
            trace=trace_from_env(env),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            onepassword_token=env.get("OP_SERVICE_ACCOUNT_TOKEN") or None,
            llm=LlmConfig.from_env(env),
            healing=env.get("REBROWSE_HEALING", "on").lower() not in FALSE_WORDS,
            captcha_by_person=env.get("REBROWSE_CAPTCHA_BY_PERSON", "").lower() in TRUE_WORDS,
        )


@dataclass(frozen=True)
class ServerSettings:
    """Settings of the control plane and workers (`rebrowse serve|api|worker|migrate`)."""

    database_url: str | None = None  # None: start the embedded PostgreSQL in data_dir
    data_dir: Path = Path(".rebrowse")
    artifacts_dir: Path | None = None  # default: data_dir/artifacts (must be shared by API and workers)
    # REBROWSE_ARTIFACTS_URL=s3://bucket/prefix: artifacts in S3-compatible object storage instead of artifacts_dir
    artifacts_bucket: str | None = None
    artifacts_prefix: str = ""
    # REBROWSE_ARTIFACTS_PRESIGNED: the API redirects downloads and screenshots to a presigned URL of the object
    # (valid REBROWSE_ARTIFACTS_PRESIGNED_TTL seconds) instead of streaming it
    artifacts_presigned: bool = False
    artifacts_presigned_ttl_s: float = 300.0
    # REBROWSE_ARTIFACTS_RETENTION_DAYS: the files of tasks that ended longer ago are deleted; None: kept
    artifacts_retention_s: float | None = None
    secret_key: bytes | None = None  # seals secrets at rest; default: kept in data_dir/secret.key
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how clients reach the API (download links in callbacks)
    admin_api_key: str | None = None  # REBROWSE_API_KEY: the first admin key, for scripted set-ups
    slots: int = 1
    worker_name: str | None = None
    callback_allow_hosts: tuple[str, ...] = ()
    # REBROWSE_BROWSER_ALLOW_HOSTS: hosts, host:port and networks that tasks (their browser, api_call, file_url)
    # may reach although the egress policy denies them (loopback, link-local, this machine's own addresses)
    browser_allow_hosts: tuple[str, ...] = ()
    browser_deny_private: bool = False  # REBROWSE_BROWSER_DENY_PRIVATE: tasks may not reach private networks either
    # REBROWSE_CALLBACK_BACKOFF_CAP: the longest wait between two delivery attempts of a callback, so delivery
    # resumes at most this long after a receiver is back
    callback_backoff_cap_s: float = 3600.0
    # REBROWSE_LIVE_VIEW (on unless 0/false/no/off): the slots' Chromium runs headed on an Xvfb display with a tile
    # per slot, each watchable over VNC, wherever Xvfb and x11vnc are installed; headless elsewhere.
    live_view: bool = True
    screen: tuple[int, int] = (1920, 1080)  # REBROWSE_SCREEN=WIDTHxHEIGHT: a slot's tile and page size
    vnc_listen: str = "127.0.0.1"  # REBROWSE_VNC_LISTEN: the address each slot's VNC server binds
    vnc_advertise: str = "127.0.0.1"  # REBROWSE_VNC_ADVERTISE: the host the API reaches them by (default: listen)
    stream_token_ttl_s: float = 60.0  # REBROWSE_STREAM_TOKEN_TTL: how long a live-view URL stays valid
    heartbeat_interval_s: float = 5.0
    stalled_after_s: float = 20.0  # a worker silent this long is presumed dead and its tasks recovered
    metrics_token: str | None = None  # REBROWSE_METRICS_TOKEN: bearer token of /metrics; unset: loopback only
    # REBROWSE_CORS_ORIGINS: origins (scheme://host[:port], or *) whose pages may call the API with a key and load
    # the noVNC client; none by default
    cors_origins: tuple[str, ...] = ()
    log_format: LogFormat = "json"  # REBROWSE_LOG_FORMAT or --log-format: json lines, or text for people
    log_level: LogLevel = "info"  # REBROWSE_LOG_LEVEL or --log-level: of rebrowse's own loggers
    # REBROWSE_MESSAGE_RETENTION: seconds an inbound message (2FA codes) is kept before the workers delete it
    message_retention_s: float = 86400.0
    slack_api_url: str = "https://slack.com/api"  # REBROWSE_SLACK_API_URL: Slack's Web API, for Slack 2FA codes
    # REBROWSE_PROXY_URL (http://USER:PASSWORD@HOST:PORT, `{session_id}` allowed in USER) and REBROWSE_PROXY_BYPASS
    # (comma-separated hosts, addresses, networks): the server's upstream proxy for tasks with use_proxy
    proxy: UpstreamProxy | None = None
    # REBROWSE_SESSION_TTL: seconds a warm session's state stays usable after the run that kept it (7 days)
    session_ttl_s: float = SESSION_TTL_S
    engine: Settings = field(default_factory=Settings)

    @property
    def artifacts(self) -> Path:
        return self.artifacts_dir or self.data_dir / "artifacts"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Server settings from the environment, then the command line's overrides (None means not given)."""
        env = os.environ if environ is None else environ
        key = env.get("REBROWSE_SECRET_KEY")
        browser_allow, browser_deny_private = browser_egress_from_env(env)
        values: dict[str, Any] = {
            "database_url": env.get("DATABASE_URL") or None,
            "data_dir": Path(env.get("REBROWSE_DATA_DIR", ".rebrowse")),
            "artifacts_dir": Path(env["REBROWSE_ARTIFACTS_DIR"]) if env.get("REBROWSE_ARTIFACTS_DIR") else None,
            **artifacts_location(env.get("REBROWSE_ARTIFACTS_URL")),
            "artifacts_presigned": flag_from_env(env, "REBROWSE_ARTIFACTS_PRESIGNED"),
            "artifacts_retention_s": retention_from_env(env.get("REBROWSE_ARTIFACTS_RETENTION_DAYS")),
            "secret_key": key.encode() if key else None,
            "public_url": env.get("REBROWSE_PUBLIC_URL") or None,
            "admin_api_key": env.get("REBROWSE_API_KEY") or None,
            "metrics_token": env.get("REBROWSE_METRICS_TOKEN") or None,
            "worker_name": env.get("REBROWSE_WORKER_NAME") or None,
            "callback_allow_hosts": allow_hosts_from_env(env, "REBROWSE_CALLBACK_ALLOW_HOSTS"),
            "browser_allow_hosts": browser_allow,
            "browser_deny_private": browser_deny_private,
            "cors_origins": origins_from_env(env, "REBROWSE_CORS_ORIGINS"),
            "proxy": proxy_from_env(env),
            "engine": Settings.from_env(env),
            **seconds_from_env(
                env,
                heartbeat_interval_s="REBROWSE_HEARTBEAT_INTERVAL",
                stalled_after_s="REBROWSE_STALLED_AFTER",
                stream_token_ttl_s="REBROWSE_STREAM_TOKEN_TTL",
                callback_backoff_cap_s="REBROWSE_CALLBACK_BACKOFF_CAP",
                artifacts_presigned_ttl_s="REBROWSE_ARTIFACTS_PRESIGNED_TTL",
                message_retention_s="REBROWSE_MESSAGE_RETENTION",
                session_ttl_s="REBROWSE_SESSION_TTL",
            ),
            "slack_api_url": slack_api_url_from_env(env),
            "live_view": env.get("REBROWSE_LIVE_VIEW", "on").lower() not in FALSE_WORDS,
            "screen": screen_from_env(env.get("REBROWSE_SCREEN")),
            **vnc_addresses(env.get("REBROWSE_VNC_LISTEN"), env.get("REBROWSE_VNC_ADVERTISE")),
            "log_format": choice_from_env(env, "REBROWSE_LOG_FORMAT", LOG_FORMATS, "json"),
            "log_level": choice_from_env(env, "REBROWSE_LOG_LEVEL", LOG_LEVELS, "info"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def trace_from_env(env: Mapping[str, str]) -> TraceMode:
    """REBROWSE_TRACE: never, on_failure (the default) or always; the yes/no words it took before mean always/never."""
    value = (env.get("REBROWSE_TRACE") or "on_failure").lower()
    if value in TRUE_WORDS:
        return "always"
    if value in FALSE_WORDS:
        return "never"
    if value not in TRACE_MODES:
        raise ValueError(f"REBROWSE_TRACE must be one of {', '.join(TRACE_MODES)} (or 1/0)")
    return cast(TraceMode, value)


def seconds_from_env(env: Mapping[str, str], **names: str) -> dict[str, float]:
    """Durations in seconds from the variables given (field=VARIABLE) that are set; ValueError names a bad one."""
    found: dict[str, float] = {}
    for field_name, variable in names.items():
        if env.get(variable):
            try:
                found[field_name] = float(env[variable])
            except ValueError:
                raise ValueError(f"{variable} must be a number of seconds") from None
            if found[field_name] <= 0:
                raise ValueError(f"{variable} must be more than 0")
    return found


def artifacts_location(url: str | None) -> dict[str, str]:
    """artifacts_bucket and artifacts_prefix from REBROWSE_ARTIFACTS_URL (s3://bucket/prefix); none when unset."""
    if not url:
        return {}
    parsed = urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError("REBROWSE_ARTIFACTS_URL must be s3://bucket or s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ValueError("REBROWSE_ARTIFACTS_URL: the prefix may not hold empty, '.' or '..' parts")
    return {"artifacts_bucket": parsed.netloc, "artifacts_prefix": prefix}


def retention_from_env(days: str | None) -> float | None:
    """REBROWSE_ARTIFACTS_RETENTION_DAYS in seconds; None when unset; ValueError when it is not a positive number."""
    if not days:
        return None
    try:
        value = float(days)
    except ValueError:
        raise ValueError("REBROWSE_ARTIFACTS_RETENTION_DAYS must be a number of days") from None
    if value <= 0:
        raise ValueError("REBROWSE_ARTIFACTS_RETENTION_DAYS must be more than 0")
    return value * 86400


def origins_from_env(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    """The comma-separated web origins in `variable`; ValueError naming it when one is not an origin."""
    origins = tuple(o.strip().rstrip("/") for o in env.get(variable, "").split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError(f"{variable}: {origin!r} is not an origin such as https://app.example.com or *")
    return origins


def proxy_from_env(env: Mapping[str, str]) -> UpstreamProxy | None:
    """REBROWSE_PROXY_URL with REBROWSE_PROXY_BYPASS; ValueError naming the variable that is not valid."""
    url = env.get("REBROWSE_PROXY_URL", "").strip()
    bypass = env.get("REBROWSE_PROXY_BYPASS", "").split(",")
    if not url:
        if any(entry.strip() for entry in bypass):
            raise ValueError("REBROWSE_PROXY_BYPASS is set without REBROWSE_PROXY_URL")
        return None
    try:
        return UpstreamProxy.parse(url, bypass)
    except ProxyInvalid as exc:
        variable = "REBROWSE_PROXY_BYPASS" if str(exc).startswith("bypass") else "REBROWSE_PROXY_URL"
        raise ValueError(f"{variable}: {exc}") from None


def allow_hosts_from_env(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    """The comma-separated allow-list in `variable`; ValueError naming it when an entry is not valid."""
    entries = tuple(h.strip() for h in env.get(variable, "").split(",") if h.strip())
    try:
        AllowList.parse(entries)
    except ValueError as exc:
        raise ValueError(f"{variable}: {exc}") from None
    return entries


def browser_egress_from_env(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], bool]:
    """REBROWSE_BROWSER_ALLOW_HOSTS and REBROWSE_BROWSER_DENY_PRIVATE, for the server settings and for
    `rebrowse run --deny-internal` (which has none); ValueError naming the variable that is not valid."""
    env = os.environ if environ is None else environ
    return allow_hosts_from_env(env, "REBROWSE_BROWSER_ALLOW_HOSTS"), flag_from_env(
        env, "REBROWSE_BROWSER_DENY_PRIVATE"
    )


def flag_from_env(env: Mapping[str, str], variable: str) -> bool:
    """A yes/no variable (unset: no); ValueError naming it when it is neither."""
    value = env.get(variable, "").lower()
    if value and value not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(f"{variable} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}")
    return value in TRUE_WORDS


def vnc_addresses(listen: str | None, advertise: str | None) -> dict[str, str]:
    """vnc_listen and vnc_advertise from their variables; ValueError when the API could not find the servers."""
    found = {"vnc_listen": listen} if listen else {}
    if advertise:
        found["vnc_advertise"] = advertise
    elif listen in WILDCARD_ADDRESSES:
        raise ValueError(
            f"REBROWSE_VNC_LISTEN={listen} needs REBROWSE_VNC_ADVERTISE: the address the API reaches this worker by"
        )
    elif listen:
        found["vnc_advertise"] = listen
    return found


def choice_from_env(env: Mapping[str, str], variable: str, choices: tuple[str, ...], default: str) -> str:
    """The variable's value (lower-cased) when it is one of `choices`; ValueError naming it otherwise."""
    value = (env.get(variable) or default).lower()
    if value not in choices:
        raise ValueError(f"{variable} must be one of {', '.join(choices)}")
    return value


def screen_from_env(value: str | None) -> tuple[int, int]:
    """REBROWSE_SCREEN as (width, height); ValueError when it is not WIDTHxHEIGHT."""
    if not value:
        return (1920, 1080)
    width, sep, height = value.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) >= 320 and int(height) >= 240):
        raise ValueError("REBROWSE_SCREEN must be WIDTHxHEIGHT, at least 320x240 (e.g. 1920x1080)")
    return (int(width), int(height))


def slack_api_url_from_env(env: Mapping[str, str]) -> str:
    """REBROWSE_SLACK_API_URL, an http(s) URL; Slack's own by default."""
    url = env.get("REBROWSE_SLACK_API_URL") or "https://slack.com/api"
    if not url.startswith(("http://", "https://")):
        raise ValueError("REBROWSE_SLACK_API_URL must be an http:// or https:// URL")
    return url.rstrip("/")
