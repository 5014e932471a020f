"""Settings, read once from the environment at the entry points and passed down from there.

pydantic-settings reads them (`EngineSettings`, `ServerSettings`): one field per variable, named REBROWSE_<FIELD>
unless a field says otherwise (DATABASE_URL, AWS_ENDPOINT_URL and the providers' keys keep their own names).
`from_env` is given the environment to read (os.environ at the entry points, a dict in tests); constructing a
settings object directly reads nothing, so no module reads the environment behind its caller's back. A value that
cannot be used raises ConfigurationError naming its variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from rebrowse.browser.upstream import ProxyInvalid, UpstreamProxy
from rebrowse.errors import ConfigurationError
from rebrowse.llm.config import LlmConfig
from rebrowse.ssrf import AllowList

ScreenshotMode = Literal["never", "on_failure", "every_step"]
SCREENSHOT_MODES: tuple[ScreenshotMode, ...] = ("never", "on_failure", "every_step")
# Which attempts keep their Playwright trace: none, the failed ones, or all (recording costs alike in each case).
TraceMode = Literal["never", "on_failure", "always"]
TRACE_MODES: tuple[TraceMode, ...] = ("never", "on_failure", "always")
LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")
LogLevel = Literal["debug", "info", "warning", "error"]
LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
WILDCARD_ADDRESSES = ("0.0.0.0", "::")
SESSION_TTL_S = 7 * 24 * 3600.0
PREFIX = "REBROWSE_"


class MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over the mapping `from_env` was given rather than os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # the variables are matched without regard to case (pydantic-settings' default); an empty one is unset
        return {name.lower(): value for name, value in self.environ.items() if value}


class EnvironmentSettings(BaseSettings):
    """Settings of REBROWSE_* variables, read from the environment `from_env` is given and from nothing else."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="forbid", validate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: from_env passes the variables it read, tests and benchmarks pass values.
        return (init_settings,)

    # Fields that are no variable of their own: from_env computes them from several variables, or only the command
    # line sets them.
    NOT_VARIABLES: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def read(cls, environ: Mapping[str, str], **values: Any) -> Self:
        """The settings of `environ`'s variables, then `values` (which win); ConfigurationError names a bad one."""
        variables = {k: v for k, v in MappingSource(cls, environ)().items() if k not in cls.NOT_VARIABLES}
        try:
            return cls(**{**variables, **values})
        except ValidationError as exc:
            raise ConfigurationError(cls.problem(exc)) from None

    @classmethod
    def problem(cls, exc: ValidationError) -> str:
        """The first problem, in the words of the validator that found it, or naming the variable."""
        error = exc.errors()[0]
        found = (error.get("ctx") or {}).get("error")
        if isinstance(found, ValueError):
            return str(found)
        name = str(error["loc"][0]) if error["loc"] else ""
        return f"{variable_of(name, cls.model_fields.get(name))}: {error['msg']}"


def variable_of(name: str, info: FieldInfo | None) -> str:
    """The environment variable of a field."""
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else f"{PREFIX}{name.upper()}"


def parsed(parse: Callable[[str], Any]) -> BeforeValidator:
    """A validator that parses a variable's text with `parse` and lets values given as such through."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def trace_mode(value: str) -> str:
    """REBROWSE_TRACE: never, on_failure or always; the yes/no words it took before mean always/never."""
    value = value.lower()
    if value in TRUE_WORDS:
        return "always"
    if value in FALSE_WORDS:
        return "never"
    if value not in TRACE_MODES:
        raise ConfigurationError(f"REBROWSE_TRACE must be one of {', '.join(TRACE_MODES)} (or 1/0)")
    return value


def yes_word(value: str) -> bool:
    """Yes when the value is one of TRUE_WORDS; anything else is no."""
    return value.lower() in TRUE_WORDS


def unless_no_word(value: str) -> bool:
    """On unless the value is one of FALSE_WORDS."""
    return value.lower() not in FALSE_WORDS


def flag(variable: str) -> Callable[[str], bool]:
    """A yes/no variable; ConfigurationError naming it when it is neither."""

    def parse(value: str) -> bool:
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigurationError(f"{variable} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}")
        return value.lower() in TRUE_WORDS

    return parse


def choice(variable: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    """The value (lower-cased) when it is one of `choices`; ConfigurationError naming the variable otherwise."""

    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise ConfigurationError(f"{variable} must be one of {', '.join(choices)}")
        return value.lower()

    return parse


def seconds(variable: str) -> Callable[[str], float]:
    """A duration in seconds, more than 0; ConfigurationError naming the variable otherwise."""

    def parse(value: str) -> float:
        try:
            found = float(value)
        except ValueError:
            raise ConfigurationError(f"{variable} must be a number of seconds") from None
        if found <= 0:
            raise ConfigurationError(f"{variable} must be more than 0")
        return found

    return parse


YesWord = Annotated[bool, parsed(yes_word)]
UnlessNoWord = Annotated[bool, parsed(unless_no_word)]


class EngineSettings(EnvironmentSettings):
    """What an operator configures for the engine (replays by `rebrowse run` and by the workers)."""

    NOT_VARIABLES = frozenset({"llm"})

    model_config = SettingsConfigDict(arbitrary_types_allowed=True)  # LlmConfig may hold pydantic-ai models

    chromium: str | None = None
    # REBROWSE_CHROME_PATH: Google Chrome, for automations whose browser_channel is chrome
    chrome: str | None = Field(default=None, validation_alias="REBROWSE_CHROME_PATH")
    allow_python_scripts: YesWord = False
    screenshots: Annotated[ScreenshotMode, parsed(choice("REBROWSE_SCREENSHOTS", SCREENSHOT_MODES))] = "on_failure"
    # REBROWSE_TRACE: never, on_failure or always (1/0 kept: always/never)
    trace: Annotated[TraceMode, parsed(trace_mode)] = "on_failure"
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    onepassword_token: str | None = Field(default=None, validation_alias="OP_SERVICE_ACCOUNT_TOKEN", repr=False)
    # REBROWSE_LLM_*: several variables checked together (llm/config.py), so from_env reads them
    llm: LlmConfig = Field(default_factory=LlmConfig)
    # REBROWSE_HEALING (on unless 0/false/no/off): an element step whose command fails falls back to the model
    healing: UnlessNoWord = True
    # REBROWSE_CAPTCHA_BY_PERSON: a captcha_action waits for a person to solve it (else automations with one are
    # refused at load: no model ever solves a captcha)
    captcha_by_person: YesWord = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        """Engine settings from the environment; an invalid value raises ConfigurationError naming the variable."""
        env = os.environ if environ is None else environ
        return cls.read(env, llm=LlmConfig.from_env(env))


def artifacts_location(url: str | None) -> dict[str, str]:
    """artifacts_bucket and artifacts_prefix from REBROWSE_ARTIFACTS_URL (s3://bucket/prefix); none when unset."""
    if not url:
        return {}
    parsed_url = urlsplit(url)
    if parsed_url.scheme != "s3" or not parsed_url.netloc or parsed_url.query or parsed_url.fragment:
        raise ConfigurationError("REBROWSE_ARTIFACTS_URL must be s3://bucket or s3://bucket/prefix")
    prefix = parsed_url.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ConfigurationError("REBROWSE_ARTIFACTS_URL: the prefix may not hold empty, '.' or '..' parts")
    return {"artifacts_bucket": parsed_url.netloc, "artifacts_prefix": prefix}


def retention(days: str) -> float:
    """REBROWSE_ARTIFACTS_RETENTION_DAYS in seconds; ConfigurationError when it is not a positive number."""
    try:
        value = float(days)
    except ValueError:
        raise ConfigurationError("REBROWSE_ARTIFACTS_RETENTION_DAYS must be a number of days") from None
    if value <= 0:
        raise ConfigurationError("REBROWSE_ARTIFACTS_RETENTION_DAYS must be more than 0")
    return value * 86400


def origins(variable: str) -> Callable[[str], tuple[str, ...]]:
    """Comma-separated web origins; ConfigurationError naming the variable when one is not an origin."""

    def parse(value: str) -> tuple[str, ...]:
        found = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        for origin in found:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
                raise ConfigurationError(
                    f"{variable}: {origin!r} is not an origin such as https://app.example.com or *"
                )
        return found

    return parse


def proxy_from_env(env: Mapping[str, str]) -> UpstreamProxy | None:
    """REBROWSE_PROXY_URL with REBROWSE_PROXY_BYPASS; ConfigurationError naming the variable that is not valid."""
    url = env.get("REBROWSE_PROXY_URL", "").strip()
    bypass = env.get("REBROWSE_PROXY_BYPASS", "").split(",")
    if not url:
        if any(entry.strip() for entry in bypass):
            raise ConfigurationError("REBROWSE_PROXY_BYPASS is set without REBROWSE_PROXY_URL")
        return None
    try:
        return UpstreamProxy.parse(url, bypass)
    except ProxyInvalid as exc:
        variable = "REBROWSE_PROXY_BYPASS" if str(exc).startswith("bypass") else "REBROWSE_PROXY_URL"
        raise ConfigurationError(f"{variable}: {exc}") from None


def allow_hosts(variable: str) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated allow-list; ConfigurationError naming the variable when an entry is not valid."""

    def parse(value: str) -> tuple[str, ...]:
        entries = tuple(h.strip() for h in value.split(",") if h.strip())
        try:
            AllowList.parse(entries)
        except ValueError as exc:
            raise ConfigurationError(f"{variable}: {exc}") from None
        return entries

    return parse


def browser_egress_from_env(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], bool]:
    """REBROWSE_BROWSER_ALLOW_HOSTS and REBROWSE_BROWSER_DENY_PRIVATE, for `rebrowse run --deny-internal` (which has
    no server settings); ConfigurationError naming the variable that is not valid."""
    env = os.environ if environ is None else environ
    hosts = allow_hosts("REBROWSE_BROWSER_ALLOW_HOSTS")(env.get("REBROWSE_BROWSER_ALLOW_HOSTS") or "")
    deny_private = env.get("REBROWSE_BROWSER_DENY_PRIVATE") or ""
    return hosts, bool(deny_private) and flag("REBROWSE_BROWSER_DENY_PRIVATE")(deny_private)


def screen_size(value: str) -> tuple[int, int]:
    """REBROWSE_SCREEN as (width, height); ConfigurationError when it is not WIDTHxHEIGHT."""
    width, sep, height = value.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) >= 320 and int(height) >= 240):
        raise ConfigurationError("REBROWSE_SCREEN must be WIDTHxHEIGHT, at least 320x240 (e.g. 1920x1080)")
    return (int(width), int(height))


def slack_url(url: str) -> str:
    """REBROWSE_SLACK_API_URL, an http(s) URL."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError("REBROWSE_SLACK_API_URL must be an http:// or https:// URL")
    return url.rstrip("/")


class ServerSettings(EnvironmentSettings):
    """Settings of the control plane and workers (`rebrowse serve|api|worker|migrate`)."""

    NOT_VARIABLES = frozenset({"artifacts_bucket", "artifacts_prefix", "proxy", "engine", "host", "port", "slots"})
    model_config = SettingsConfigDict(arbitrary_types_allowed=True)  # UpstreamProxy

    # DATABASE_URL (not printed: it may hold a password); None: start the embedded PostgreSQL in data_dir
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL", repr=False)
    data_dir: Path = Path(".rebrowse")
    artifacts_dir: Path | None = None  # default: data_dir/artifacts (must be shared by API and workers)
    # REBROWSE_ARTIFACTS_URL=s3://bucket/prefix: artifacts in S3-compatible object storage instead of artifacts_dir
    artifacts_bucket: str | None = None
    artifacts_prefix: str = ""
    # REBROWSE_ARTIFACTS_PRESIGNED: the API redirects downloads and screenshots to a presigned URL of the object
    # (valid REBROWSE_ARTIFACTS_PRESIGNED_TTL seconds) instead of streaming it
    artifacts_presigned: Annotated[bool, parsed(flag("REBROWSE_ARTIFACTS_PRESIGNED"))] = False
    artifacts_presigned_ttl_s: Annotated[float, parsed(seconds("REBROWSE_ARTIFACTS_PRESIGNED_TTL"))] = Field(
        default=300.0, validation_alias="REBROWSE_ARTIFACTS_PRESIGNED_TTL"
    )
    # REBROWSE_ARTIFACTS_RETENTION_DAYS: the files of tasks that ended longer ago are deleted; None: kept
    artifacts_retention_s: Annotated[float | None, parsed(retention)] = Field(
        default=None, validation_alias="REBROWSE_ARTIFACTS_RETENTION_DAYS"
    )
    # REBROWSE_SECRET_KEY: seals secrets at rest; default: kept in data_dir/secret.key
    secret_key: bytes | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # how clients reach the API (download links in callbacks)
    # REBROWSE_API_KEY: the first admin key, for scripted set-ups
    admin_api_key: str | None = Field(default=None, validation_alias="REBROWSE_API_KEY", repr=False)
    slots: int = 1
    worker_name: str | None = None
    callback_allow_hosts: Annotated[
        tuple[str, ...], NoDecode, parsed(allow_hosts("REBROWSE_CALLBACK_ALLOW_HOSTS"))
    ] = ()
    # REBROWSE_BROWSER_ALLOW_HOSTS: hosts, host:port and networks that tasks (their browser, api_call, file_url)
    # may reach although the egress policy denies them (loopback, link-local, this machine's own addresses)
    browser_allow_hosts: Annotated[tuple[str, ...], NoDecode, parsed(allow_hosts("REBROWSE_BROWSER_ALLOW_HOSTS"))] = ()
    # REBROWSE_BROWSER_DENY_PRIVATE: tasks may not reach private networks either
    browser_deny_private: Annotated[bool, parsed(flag("REBROWSE_BROWSER_DENY_PRIVATE"))] = False
    # REBROWSE_CALLBACK_BACKOFF_CAP: the longest wait between two delivery attempts of a callback, so delivery
    # resumes at most this long after a receiver is back
    callback_backoff_cap_s: Annotated[float, parsed(seconds("REBROWSE_CALLBACK_BACKOFF_CAP"))] = Field(
        default=3600.0, validation_alias="REBROWSE_CALLBACK_BACKOFF_CAP"
    )
    # REBROWSE_LIVE_VIEW (on unless 0/false/no/off): the slots' Chromium runs headed on an Xvfb display with a tile
    # per slot, each watchable over VNC, wherever Xvfb and x11vnc are installed; headless elsewhere.
    live_view: UnlessNoWord = True
    # REBROWSE_SCREEN=WIDTHxHEIGHT: a slot's tile and page size
    screen: Annotated[tuple[int, int], NoDecode, parsed(screen_size)] = (1920, 1080)
    vnc_listen: str = "127.0.0.1"  # REBROWSE_VNC_LISTEN: the address each slot's VNC server binds
    vnc_advertise: str = "127.0.0.1"  # REBROWSE_VNC_ADVERTISE: the host the API reaches them by (default: listen)
    # REBROWSE_STREAM_TOKEN_TTL: how long a live-view URL stays valid
    stream_token_ttl_s: Annotated[float, parsed(seconds("REBROWSE_STREAM_TOKEN_TTL"))] = Field(
        default=60.0, validation_alias="REBROWSE_STREAM_TOKEN_TTL"
    )
    heartbeat_interval_s: Annotated[float, parsed(seconds("REBROWSE_HEARTBEAT_INTERVAL"))] = Field(
        default=5.0, validation_alias="REBROWSE_HEARTBEAT_INTERVAL"
    )
    # REBROWSE_STALLED_AFTER: a worker silent this long is presumed dead and its tasks recovered
    stalled_after_s: Annotated[float, parsed(seconds("REBROWSE_STALLED_AFTER"))] = Field(
        default=20.0, validation_alias="REBROWSE_STALLED_AFTER"
    )
    # REBROWSE_METRICS_TOKEN: bearer token of /metrics; unset: loopback only
    metrics_token: str | None = Field(default=None, repr=False)
    # REBROWSE_CORS_ORIGINS: origins (scheme://host[:port], or *) whose pages may call the API with a key and load
    # the noVNC client; none by default
    cors_origins: Annotated[tuple[str, ...], NoDecode, parsed(origins("REBROWSE_CORS_ORIGINS"))] = ()
    # REBROWSE_LOG_FORMAT or --log-format: json lines, or text for people
    log_format: Annotated[LogFormat, parsed(choice("REBROWSE_LOG_FORMAT", LOG_FORMATS))] = "json"
    # REBROWSE_LOG_LEVEL or --log-level: of rebrowse's own loggers
    log_level: Annotated[LogLevel, parsed(choice("REBROWSE_LOG_LEVEL", LOG_LEVELS))] = "info"
    # REBROWSE_MESSAGE_RETENTION: seconds an inbound message (2FA codes) is kept before the workers delete it
    message_retention_s: Annotated[float, parsed(seconds("REBROWSE_MESSAGE_RETENTION"))] = Field(
        default=86400.0, validation_alias="REBROWSE_MESSAGE_RETENTION"
    )
    # REBROWSE_SLACK_API_URL: Slack's Web API, for Slack 2FA codes
    slack_api_url: Annotated[str, parsed(slack_url)] = "https://slack.com/api"
    # REBROWSE_PROXY_URL (http://USER:PASSWORD@HOST:PORT, `{session_id}` allowed in USER) and REBROWSE_PROXY_BYPASS
    # (comma-separated hosts, addresses, networks): the server's upstream proxy for tasks with use_proxy
    proxy: UpstreamProxy | None = None
    # REBROWSE_SESSION_TTL: seconds a warm session's state stays usable after the run that kept it (7 days)
    session_ttl_s: Annotated[float, parsed(seconds("REBROWSE_SESSION_TTL"))] = Field(
        default=SESSION_TTL_S, validation_alias="REBROWSE_SESSION_TTL"
    )
    engine: EngineSettings = Field(default_factory=EngineSettings)

    @model_validator(mode="before")
    @classmethod
    def advertised_vnc_address(cls, data: Any) -> Any:
        """REBROWSE_VNC_ADVERTISE defaults to the listen address, which must then be one the API can reach."""
        if isinstance(data, dict) and data.get("vnc_listen") and not data.get("vnc_advertise"):
            listen = data["vnc_listen"]
            if listen in WILDCARD_ADDRESSES:
                raise ConfigurationError(
                    f"REBROWSE_VNC_LISTEN={listen} needs REBROWSE_VNC_ADVERTISE: the address the API reaches this "
                    "worker by"
                )
            return {**data, "vnc_advertise": listen}
        return data

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
        return cls.read(
            env,
            **artifacts_location(env.get("REBROWSE_ARTIFACTS_URL")),
            proxy=proxy_from_env(env),
            engine=EngineSettings.from_env(env),
            **{k: v for k, v in overrides.items() if v is not None},
        )
