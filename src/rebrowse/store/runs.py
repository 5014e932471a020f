"""An automation's runs over time: its tasks per day (UTC), their outcomes and durations, and its last failure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rebrowse.store.database import Connection

# Every day of the window gets a row (days without runs count zeros), and the () grouping set adds the whole
# window's row (`day` NULL). A run's duration is from its start to its end, for runs that ended on their own
# (cancelled ones stopped early and would pull the figures down).
RUNS_BY_DAY = """
WITH ran AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status,
        CASE WHEN status IN ('success', 'failed', 'killed')
            THEN date_part('epoch', completed_at - started_at) END AS duration_s
    FROM tasks
    WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND kind = 'automation'
        AND (created_at AT TIME ZONE 'UTC')::date > (now() AT TIME ZONE 'UTC')::date - %(days)s
), window_days AS (
    SELECT generate_series(
        (now() AT TIME ZONE 'UTC')::date - %(days)s + 1, (now() AT TIME ZONE 'UTC')::date, interval '1 day'
    )::date AS day
)
SELECT window_days.day, GROUPING(window_days.day) = 1 AS whole_window,
    count(ran.status) AS total,
    count(*) FILTER (WHERE ran.status = 'success') AS succeeded,
    count(*) FILTER (WHERE ran.status IN ('failed', 'killed')) AS failed,
    count(*) FILTER (WHERE ran.status = 'cancelled') AS cancelled,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY ran.duration_s) AS median_duration_s,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY ran.duration_s) AS p95_duration_s
FROM window_days LEFT JOIN ran ON ran.day = window_days.day
GROUP BY GROUPING SETS ((window_days.day), ())
ORDER BY whole_window, window_days.day
"""

LAST_FAILURE = """
SELECT id AS task_id, coalesce(completed_at, created_at) AS failed_at, automation_version AS version,
    split_part(coalesce(error, ''), E'\\n', 1) AS error
FROM tasks
WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND kind = 'automation'
    AND status IN ('failed', 'killed')
ORDER BY coalesce(completed_at, created_at) DESC
LIMIT 1
"""


@dataclass(frozen=True)
class RunCounts:
    total: int
    succeeded: int
    failed: int  # failed or killed
    cancelled: int
    median_duration_s: float | None
    p95_duration_s: float | None


@dataclass(frozen=True)
class DayRuns(RunCounts):
    day: date


@dataclass(frozen=True)
class LastFailure:
    task_id: uuid.UUID
    failed_at: datetime
    version: int
    error: str  # its first line


@dataclass(frozen=True)
class RunsOverTime:
    overall: RunCounts
    per_day: list[DayRuns]  # oldest first, every day of the window
    last_failure: LastFailure | None  # the newest, however old


async def runs_over_time(conn: Connection, account_id: uuid.UUID, endpoint_name: str, days: int) -> RunsOverTime:
    """The automation's runs created in the last `days` UTC days (today included), and its last failure."""
    params = {"account": account_id, "endpoint": endpoint_name, "days": days}
    rows = await (await conn.execute(RUNS_BY_DAY, params)).fetchall()
    per_day = [DayRuns(**counts(row), day=row["day"]) for row in rows if not row["whole_window"]]
    overall = RunCounts(**counts(next(row for row in rows if row["whole_window"])))
    failure = await (await conn.execute(LAST_FAILURE, params)).fetchone()
    return RunsOverTime(overall, per_day, LastFailure(**failure) if failure else None)


def counts(row: dict[str, Any]) -> dict[str, Any]:
    """A row's figures, without its grouping columns."""
    return {key: value for key, value in row.items() if key not in ("day", "whole_window")}
