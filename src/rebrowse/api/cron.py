"""Cron expressions of schedules: checked, matched against a tick in the schedule's time zone, and the next run."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

CRON_FIELDS = 5  # minute hour day-of-month month day-of-week: a schedule fires at most once a minute


def cron_expression(cron: str) -> str:
    """A five-field cron expression (ValueError saying what is wrong otherwise)."""
    fields = cron.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(f"must have 5 fields (minute hour day-of-month month day-of-week), not {len(fields)}")
    if not croniter.is_valid(cron):
        raise ValueError(f"{cron!r} is not a valid cron expression")
    return " ".join(fields)


def time_zone(name: str) -> str:
    """An IANA time zone name such as Europe/Paris (ValueError otherwise)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)") from None
    return name


def minute_of(moment: datetime) -> datetime:
    """The minute a moment falls in (ticks are whole minutes, in UTC)."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def matches(cron: str, timezone: str, tick: datetime) -> bool:
    """Whether the cron expression, read in its time zone, includes this tick's minute."""
    return bool(croniter.match(cron, minute_of(tick).astimezone(ZoneInfo(timezone))))


def next_run(cron: str, timezone: str, after: datetime) -> datetime:
    """The first minute after `after` that the cron expression (in its time zone) includes, in UTC."""
    following: datetime = croniter(cron, after.astimezone(ZoneInfo(timezone))).get_next(datetime)
    return following.astimezone(UTC)
