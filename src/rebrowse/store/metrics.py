"""The figures of /metrics as the database holds them: aggregates of the tasks and callback tables, and the durable
counters (`metric_counters`) of what leaves no other trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rebrowse.store.database import Connection

# One pass over the tasks table. Bucket numbers follow Prometheus' `le` (a value equal to a bound belongs to
# that bound's bucket): width_bucket puts values equal to a threshold in the bucket above, so it is given the
# negated values and bounds, and n - result is the index of the first bound >= the value (n: above them all).
TASK_FIGURES = """
SELECT endpoint_name, status, wait_bucket, run_bucket, attempts,
    GROUPING(wait_bucket) AS no_wait, GROUPING(run_bucket) AS no_run, GROUPING(attempts) AS no_attempts,
    GROUPING(endpoint_name) AS no_endpoint,
    count(*) AS n, coalesce(sum(wait_s), 0) AS wait_sum, coalesce(sum(run_s), 0) AS run_sum,
    coalesce(sum(llm_calls), 0) AS llm_calls, coalesce(sum(llm_failed_calls), 0) AS llm_failed_calls,
    coalesce(sum(llm_input_tokens), 0) AS llm_input_tokens, coalesce(sum(llm_output_tokens), 0) AS llm_output_tokens
FROM (
    SELECT endpoint_name, status, wait_s, run_s, llm_calls, llm_failed_calls, llm_input_tokens, llm_output_tokens,
        %(wait_n)s - width_bucket(-wait_s, %(wait_bounds)s) AS wait_bucket,
        %(run_n)s - width_bucket(-run_s, %(run_bounds)s) AS run_bucket,
        CASE WHEN run_s IS NOT NULL THEN retry_count + 1 END AS attempts
    FROM (
        SELECT endpoint_name, status, retry_count,
            date_part('epoch', started_at - created_at) AS wait_s,
            CASE WHEN completed_at IS NOT NULL THEN date_part('epoch', completed_at - started_at) END AS run_s,
            (llm_usage->>'calls')::bigint AS llm_calls, (llm_usage->>'failed_calls')::bigint AS llm_failed_calls,
            (llm_usage->>'input_tokens')::bigint AS llm_input_tokens,
            (llm_usage->>'output_tokens')::bigint AS llm_output_tokens
        FROM tasks
    ) AS timed
) AS bucketed
GROUP BY GROUPING SETS ((status), (wait_bucket), (endpoint_name, status, run_bucket), (attempts), (endpoint_name))
"""

# A delivered attempt is one the receiver answered with 2xx (as the sender decides); a given-up event is one
# the outbox marked failed.
OTHER_FIGURES = """
SELECT
    count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS delivered,
    count(*) FILTER (WHERE status_code IS NULL OR status_code NOT BETWEEN 200 AND 299) AS failed_attempt,
    (SELECT count(*) FROM callback_events WHERE state = 'failed') AS gave_up,
    (SELECT coalesce(sum(value), 0) FROM metric_counters WHERE name = %(restarts)s) AS browser_restarts
FROM callback_attempts
"""


async def task_rows(
    conn: Connection, wait_buckets_s: Sequence[float], run_buckets_s: Sequence[float]
) -> list[dict[str, Any]]:
    """TASK_FIGURES' rows, one per group of every grouping set, for these histogram bounds (ascending)."""
    params = {
        "wait_n": len(wait_buckets_s),
        "wait_bounds": negated(wait_buckets_s),
        "run_n": len(run_buckets_s),
        "run_bounds": negated(run_buckets_s),
    }
    return await (await conn.execute(TASK_FIGURES, params)).fetchall()


def negated(bounds: Sequence[float]) -> list[float]:
    """The bounds negated, smallest first (what width_bucket needs to count values at or below a bound)."""
    return sorted(-bound for bound in bounds)


async def other_figures(conn: Connection, restarts_counter: str) -> dict[str, Any]:
    """OTHER_FIGURES' one row, with the browser restarts counted under `restarts_counter`."""
    row = await (await conn.execute(OTHER_FIGURES, {"restarts": restarts_counter})).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return row


async def add_to_counter(conn: Connection, name: str, amount: int) -> None:
    """Add `amount` to a durable counter (created at 0 on first use)."""
    await conn.execute(
        "INSERT INTO metric_counters (name, value) VALUES (%(name)s, %(amount)s)"
        " ON CONFLICT (name) DO UPDATE SET value = metric_counters.value + EXCLUDED.value, updated_at = now()",
        {"name": name, "amount": amount},
    )
