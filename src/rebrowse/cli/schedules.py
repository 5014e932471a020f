"""`rebrowse schedules`: scheduled runs of an automation on a running control plane (SDK only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from rebrowse.cli.common import Params, Priority, Unique, invalid_input_exits, out, parse_pairs
from rebrowse.cli.remote import AsJson, Key, Url, api_client, table
from rebrowse.cli.words import WordsCommand, WordsGroup
from rebrowse.client.models import Schedule

schedules_app = typer.Typer(cls=WordsGroup, no_args_is_help=True, help="Run automations on a cron schedule.")


def when(schedule: Schedule) -> str:
    return f"{schedule.cron} ({schedule.timezone})"


def moment(at: datetime | None) -> str:
    """A tick as the minute it is, in UTC (the schedules' times are whole minutes)."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at else ""


def shown(schedule: Schedule) -> str:
    state = "paused" if schedule.paused else f"next run {moment(schedule.next_run_at)}"
    return f"{escape(schedule.name)}: {escape(schedule.endpoint_name)} at {escape(when(schedule))}, {state}"


@schedules_app.command("list", cls=WordsCommand)
def schedules_list(as_json: AsJson = False, url: Url = None, api_key: Key = None) -> None:
    """Your schedules, with their next and last runs."""
    with api_client(url, api_key) as client:
        found = client.list_schedules()
    if as_json:
        out.print_json(data=[s.model_dump(mode="json") for s in found])
        return
    rows = [
        [
            s.name,
            s.endpoint_name,
            when(s),
            "paused" if s.paused else moment(s.next_run_at),
            moment(s.last_run_at),
            s.last_task_id,
            s.last_error or s.last_task_status,
        ]
        for s in found
    ]
    table("schedules", ["name", "automation", "when", "next run", "last run", "task", "last result"], rows)


@schedules_app.command("set", cls=WordsCommand)
def schedules_set(
    name: str,
    cron: Annotated[
        str, typer.Option(metavar="CRON", help="minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5'")
    ],
    endpoint: Annotated[str, typer.Option(metavar="NAME", help="The automation to run")],
    timezone: Annotated[str, typer.Option(metavar="ZONE", help="The IANA time zone the cron is read in")] = "UTC",
    param: Params = [],  # noqa: B006
    unique: Unique = [],  # noqa: B006
    priority: Priority = None,
    paused: Annotated[bool, typer.Option(help="Create it paused")] = False,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Create or replace the schedule NAME: a run of --endpoint at every minute --cron matches in --timezone."""
    with invalid_input_exits("parameters"):
        params = parse_pairs(param)
    with api_client(url, api_key) as client:
        schedule = client.put_schedule(
            name,
            endpoint,
            params,
            cron=cron,
            timezone=timezone,
            paused=paused,
            unique=unique or None,
            priority=priority,
        )
    out.print(shown(schedule), highlight=False)


@schedules_app.command("pause", cls=WordsCommand)
def schedules_pause(name: str, url: Url = None, api_key: Key = None) -> None:
    """Stop firing the schedule NAME (the ticks until it is resumed are skipped)."""
    with api_client(url, api_key) as client:
        out.print(shown(client.pause_schedule(name)), highlight=False)


@schedules_app.command("resume", cls=WordsCommand)
def schedules_resume(name: str, url: Url = None, api_key: Key = None) -> None:
    """Fire the schedule NAME again from its next tick."""
    with api_client(url, api_key) as client:
        out.print(shown(client.resume_schedule(name)), highlight=False)


@schedules_app.command("delete", cls=WordsCommand)
def schedules_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Delete the schedule NAME (the tasks it submitted stay)."""
    if not yes:
        typer.confirm(f"Delete the schedule {name}?", abort=True)
    with api_client(url, api_key) as client:
        client.delete_schedule(name)
    out.print(f"deleted {escape(name)}")
