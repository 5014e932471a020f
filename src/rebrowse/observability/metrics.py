"""Prometheus figures of the control plane, read from PostgreSQL at scrape time.

The API, the workers and the callback sender may run on different machines, so a figure born in a worker
reaches the API through the database: most are computed from the tasks and callback tables, which already
hold them; what leaves no other trace (a browser restart) is added to `metric_counters` by the worker.
Only live-view connections are counted in memory, by the API process that bridges them.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from rebrowse.store import metrics as metric_figures
from rebrowse.store.database import Connection

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ACTIVE_STATUSES = ("queued", "allocated", "running")
WAIT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
RUN_BUCKETS_S = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
ATTEMPT_BUCKETS = (1.0, 2.0, 3.0, 4.0, 5.0, 10.0)
BROWSER_RESTARTS = "browser_restarts"
CALLBACK_OUTCOMES = ("delivered", "failed_attempt", "gave_up")
# The LlmUsage fields of the tasks' llm_usage column, each summed per endpoint into rebrowse_llm_<field>_total.
LLM_FIELDS = ("calls", "failed_calls", "input_tokens", "output_tokens")
LLM_HELP = {
    "calls": "Questions finished tasks asked a model (every attempt's), by endpoint.",
    "failed_calls": "Questions to a model that got no valid answer, in finished tasks, by endpoint.",
    "input_tokens": "Tokens finished tasks sent to a model, by endpoint.",
    "output_tokens": "Tokens a model answered finished tasks with, by endpoint.",
}


@dataclass
class Histogram:
    """Observations counted per bucket (not cumulative; the last bucket is above every bound) and their sum."""

    bounds: Sequence[float]
    counts: list[int] = field(init=False)
    total: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def add(self, bucket: int, count: int, total: float) -> None:
        """Count `count` observations summing to `total` in bucket number `bucket`."""
        self.counts[bucket] += count
        self.total += total

    def observe(self, value: float, count: int = 1) -> None:
        """Count `count` observations of `value`."""
        self.add(bisect.bisect_left(self.bounds, value), count, value * count)

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus exposes them: (upper bound, observations at or below it), ending at +Inf."""
        running, buckets = 0, []
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            running += count
            buckets.append((le_label(bound), float(running)))
        return buckets


def le_label(bound: float) -> str:
    """A bucket bound as Prometheus clients write it: 0.5, 1.0, +Inf."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


@dataclass
class Figures:
    """Everything /metrics reports that lives in the database."""

    queue_depth: dict[str, int]
    wait: Histogram
    runs: dict[tuple[str, str], Histogram]
    attempts: Histogram
    callbacks: dict[str, int]
    browser_restarts: int
    # Per endpoint whose tasks asked a model: the LLM_FIELDS summed over its finished tasks.
    llm: dict[str, dict[str, int]] = field(default_factory=dict)


class LiveViewConnections:
    """The live-view bridges of this API process: open now, and opened since it started."""

    def __init__(self) -> None:
        self.open = 0
        self.opened = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count one bridge while it is open."""
        self.open += 1
        self.opened += 1
        try:
            yield
        finally:
            self.open -= 1


async def read_figures(conn: Connection) -> Figures:
    """The figures of every process, aggregated in two queries whatever the number of tasks."""
    task_rows = await metric_figures.task_rows(conn, WAIT_BUCKETS_S, RUN_BUCKETS_S)
    other = await metric_figures.other_figures(conn, BROWSER_RESTARTS)
    figures = Figures(
        queue_depth=dict.fromkeys(ACTIVE_STATUSES, 0),
        wait=Histogram(WAIT_BUCKETS_S),
        runs={},
        attempts=Histogram(ATTEMPT_BUCKETS),
        callbacks={outcome: int(other[outcome]) for outcome in CALLBACK_OUTCOMES},
        browser_restarts=int(other["browser_restarts"]),
    )
    for row in task_rows:
        add_task_row(figures, row)
    return figures


def add_task_row(figures: Figures, row: dict[str, Any]) -> None:
    """One grouping set's row of store.metrics.task_rows into the figure it belongs to."""
    count = int(row["n"])
    if not row["no_run"]:
        if row["run_bucket"] is not None:
            key = (row["endpoint_name"], row["status"])
            histogram = figures.runs.setdefault(key, Histogram(RUN_BUCKETS_S))
            histogram.add(row["run_bucket"], count, float(row["run_sum"]))
    elif not row["no_wait"]:
        if row["wait_bucket"] is not None:
            figures.wait.add(row["wait_bucket"], count, float(row["wait_sum"]))
    elif not row["no_attempts"]:
        if row["attempts"] is not None:
            figures.attempts.observe(float(row["attempts"]), count)
    elif row["status"] in figures.queue_depth:
        figures.queue_depth[row["status"]] = count
    elif not row["no_endpoint"] and row["llm_calls"] > 0:
        figures.llm[row["endpoint_name"]] = {name: int(row[f"llm_{name}"]) for name in LLM_FIELDS}


class FiguresCollector(Collector):
    """Hands prometheus_client the metric families of one scrape."""

    def __init__(self, figures: Figures, live_view: LiveViewConnections) -> None:
        self.figures = figures
        self.live_view = live_view

    def collect(self) -> Iterable[Metric]:
        yield from task_families(self.figures)
        yield from delivery_families(self.figures)
        yield from llm_families(self.figures)
        yield from live_view_families(self.live_view)


def task_families(figures: Figures) -> Iterator[Metric]:
    """Queue depth, wait and run time, attempts."""
    depth = GaugeMetricFamily("rebrowse_queue_depth", "Tasks not yet finished, by status.", labels=["status"])
    for status, count in figures.queue_depth.items():
        depth.add_metric([status], count)
    yield depth
    wait = HistogramMetricFamily("rebrowse_task_wait_seconds", "Time from submission to the first attempt's start.")
    wait.add_metric([], figures.wait.cumulative(), figures.wait.total)
    yield wait
    runs = HistogramMetricFamily(
        "rebrowse_task_run_seconds",
        "Time from a task's start to its end (all attempts), by endpoint and final status.",
        labels=["endpoint", "status"],
    )
    for (endpoint, status), histogram in sorted(figures.runs.items()):
        runs.add_metric([endpoint, status], histogram.cumulative(), histogram.total)
    yield runs
    attempts = HistogramMetricFamily("rebrowse_task_attempts", "Attempts made by each finished task that started.")
    attempts.add_metric([], figures.attempts.cumulative(), figures.attempts.total)
    yield attempts


def delivery_families(figures: Figures) -> Iterator[Metric]:
    """Browser restarts and callback deliveries."""
    yield CounterMetricFamily(
        "rebrowse_browser_restarts",
        "Chromium restarts in worker slots (crashed or over its memory limit).",
        value=figures.browser_restarts,
    )
    deliveries = CounterMetricFamily(
        "rebrowse_callback_deliveries",
        "Callback delivery attempts that succeeded or failed, and events given up on.",
        labels=["outcome"],
    )
    for outcome, count in figures.callbacks.items():
        deliveries.add_metric([outcome], count)
    yield deliveries


def llm_families(figures: Figures) -> Iterator[Metric]:
    """LLM calls and tokens of finished tasks (counted when the task ends, from its record)."""
    for name in LLM_FIELDS:
        family = CounterMetricFamily(f"rebrowse_llm_{name}", LLM_HELP[name], labels=["endpoint"])
        for endpoint, totals in sorted(figures.llm.items()):
            family.add_metric([endpoint], totals[name])
        yield family


def live_view_families(live_view: LiveViewConnections) -> Iterator[Metric]:
    """Live-view bridges of this API process."""
    yield GaugeMetricFamily(
        "rebrowse_live_view_open_connections", "Live-view streams this API process bridges now.", value=live_view.open
    )
    yield CounterMetricFamily(
        "rebrowse_live_view_connections", "Live-view streams this API process has bridged.", value=live_view.opened
    )


def exposition(figures: Figures, live_view: LiveViewConnections) -> bytes:
    """The figures in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures, live_view))
    return generate_latest(registry)
