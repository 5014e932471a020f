"""Commands that talk to a running control plane: keys, automations, submit, status, tasks.

They use REBROWSE_URL (default http://127.0.0.1:8000) and REBROWSE_API_KEY.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from rebrowse.cli.common import (
    EXIT_FAILED,
    DataDir,
    Params,
    Priority,
    Unique,
    fail,
    invalid_input_exits,
    out,
    parse_pairs,
    read_text_file,
)
from rebrowse.cli.lazy import server_module
from rebrowse.cli.words import WordsCommand, WordsGroup
from rebrowse.client import Client
from rebrowse.client.errors import APIConnectionError, RebrowseAPIError, WaitTimeout

keys_app = typer.Typer(cls=WordsGroup, no_args_is_help=True, help="Create, list and revoke API keys.")
automations_app = typer.Typer(cls=WordsGroup, no_args_is_help=True, help="Store and inspect named automations.")

Url = Annotated[
    str | None, typer.Option("--url", metavar="URL", envvar="REBROWSE_URL", help="The API (default 127.0.0.1:8000)")
]
Key = Annotated[str | None, typer.Option("--api-key", metavar="KEY", envvar="REBROWSE_API_KEY", help="Your API key")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table")]


ID_COLUMNS = frozenset({"id", "task"})


@contextmanager
def api_client(url: str | None, key: str | None) -> Iterator[Client]:
    """A client; API errors and an unreachable server become one line on stderr and exit 1 (2 for bad input)."""
    try:
        with Client(url, key) as client:
            yield client
    except RebrowseAPIError as exc:
        raise fail(api_problem(exc), 2 if exc.status_code in (400, 404, 409, 422) else EXIT_FAILED) from None
    except APIConnectionError as exc:
        raise fail(f"{exc} (set REBROWSE_URL or --url)", EXIT_FAILED) from None
    except ValueError as exc:
        raise fail(str(exc)) from None


def api_problem(exc: RebrowseAPIError) -> str:
    """The API's error for a person: its message, then each field's problem on its own line; a message that only
    joins those problems is not said again."""
    problems = [str(e) for e in exc.errors]
    if problems == [exc.message] or not problems:
        return exc.message
    heading = "the request is invalid:" if exc.message == "; ".join(problems) else exc.message
    return "\n".join([heading, *(f"  {p}" for p in problems)])


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    grid = Table(title=title)
    for column in columns:
        # Ids are copied into other commands: never shortened with an ellipsis, whatever the terminal's width.
        # A long name folds onto the next line rather than losing its end to an ellipsis: it is copied too.
        grid.add_column(
            column, no_wrap=column in ID_COLUMNS, min_width=36 if column in ID_COLUMNS else None, overflow="fold"
        )
    for row in rows:
        grid.add_row(*(escape("" if v is None else str(v)) for v in row))
    out.print(grid)


@keys_app.command("create", cls=WordsCommand)
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key")] = "default",
    account: Annotated[
        str | None, typer.Option(metavar="NAME", help="Create a new account with this name (admin keys only)")
    ] = None,
    role: Annotated[str | None, typer.Option(help="member (default), owner or admin: at most your key's")] = None,
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help="On the server's machine: a new admin key made in its database (no API key needed), for an "
            "installation left without one",
        ),
    ] = False,
    data_dir: DataDir = None,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Create a key (shown once)."""
    if admin:
        if account or role:
            raise fail("--admin makes an admin key in the admin account: it takes no --account or --role")
        # Made in the database itself, on the server's machine: the one remote command needing the server parts.
        server_module("rebrowse.cli.server").create_admin_key(name, data_dir)
        return
    with api_client(url, api_key) as client:
        if account:
            created = client.request("POST", "/api/v1/accounts", json={"name": account, "key_name": name})
            key = created["key"]
            out.print(f"account {escape(created['name'])} ({created['account_id']})", highlight=False)
        else:
            key = client.request("POST", "/api/v1/keys", json={"name": name, "role": role})
    out.print(f"key {key['id']} ({escape(key['name'])}): {escape(key['api_key'])}", highlight=False)
    out.print("store it now: it is not shown again", style="dim")


@keys_app.command("list", cls=WordsCommand)
def keys_list(url: Url = None, api_key: Key = None) -> None:
    """The keys of your account."""
    with api_client(url, api_key) as client:
        keys = client.request("GET", "/api/v1/keys")["keys"]
    rows = [[k["id"], k["name"], k["prefix"] + "…", k["role"], k["created_at"], k["revoked_at"]] for k in keys]
    table("API keys", ["id", "name", "prefix", "role", "created", "revoked"], rows)


@keys_app.command("revoke", cls=WordsCommand)
def keys_revoke(key_id: str, url: Url = None, api_key: Key = None) -> None:
    """Revoke a key of your account."""
    with api_client(url, api_key) as client:
        client.request("DELETE", f"/api/v1/keys/{key_id}")
    out.print(f"revoked {escape(key_id)}")


@automations_app.command("push", cls=WordsCommand)
def automations_push(
    name: str,
    file: Path,
    description: Annotated[str | None, typer.Option(metavar="TEXT", help="What the automation does")] = None,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Store FILE as a new version of the automation NAME."""
    with invalid_input_exits(f"automation {file}"):
        text = read_text_file(file)
        try:
            automation = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{file}: not JSON ({exc})") from None
    with api_client(url, api_key) as client:
        saved = client.request(
            "PUT", f"/api/v1/automations/{name}", json={"automation": automation, "description": description}
        )
    out.print(f"{escape(saved['endpoint_name'])} version {saved['version']} ({saved['total_nodes']} nodes)")


@automations_app.command("list", cls=WordsCommand)
def automations_list(as_json: AsJson = False, url: Url = None, api_key: Key = None) -> None:
    """Your automations, newest version of each."""
    with api_client(url, api_key) as client:
        found = client.request("GET", "/api/v1/automations")["automations"]
    if as_json:
        out.print_json(data=found)
        return
    rows = [[a["endpoint_name"], a["version"], a["description"], a["created_at"]] for a in found]
    table("automations", ["name", "version", "description", "updated"], rows)


@automations_app.command("show", cls=WordsCommand)
def automations_show(name: str, url: Url = None, api_key: Key = None) -> None:
    """The newest version of an automation, as JSON."""
    with api_client(url, api_key) as client:
        out.print_json(data=client.request("GET", f"/api/v1/automations/{name}"))


@automations_app.command("delete", cls=WordsCommand)
def automations_delete(name: str, url: Url = None, api_key: Key = None) -> None:
    """Delete the automation NAME with all its versions (its tasks stay)."""
    with api_client(url, api_key) as client:
        client.request("DELETE", f"/api/v1/automations/{name}")
    out.print(f"deleted {escape(name)}")


@automations_app.command("versions", cls=WordsCommand)
def automations_versions(name: str, as_json: AsJson = False, url: Url = None, api_key: Key = None) -> None:
    """The versions of the automation NAME, newest first (the newest runs)."""
    with api_client(url, api_key) as client:
        found = client.request("GET", f"/api/v1/automations/{name}")["versions"]
    if as_json:
        out.print_json(data=found)
        return
    rows = [[v["version"], v["description"], v["created_at"]] for v in found]
    table(f"{name} versions", ["version", "description", "saved"], rows)


@automations_app.command("diff", cls=WordsCommand)
def automations_diff(
    name: str, from_version: int, to_version: int, as_json: AsJson = False, url: Url = None, api_key: Key = None
) -> None:
    """What changed in the automation NAME from version FROM_VERSION to TO_VERSION: a unified diff of its JSON,
    then its description and settings."""
    with api_client(url, api_key) as client:
        diff = client.diff_automation(name, from_version, to_version)
    if as_json:
        out.print_json(data=diff)
        return
    for line in diff["diff"].splitlines():
        out.print(escape(line), style=DIFF_STYLES.get(line[:1]), highlight=False, soft_wrap=True)
    for change in diff["changes"]:
        out.print(f"{escape(change['field'])}: {change['before']!r} -> {change['after']!r}", highlight=False)
    if diff["secure_values_changed"]:
        out.print("secure parameter values changed (sealed: not shown)")
    if not diff["diff"] and not diff["changes"] and not diff["secure_values_changed"]:
        out.print(f"versions {from_version} and {to_version} are the same")


DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}


@automations_app.command("rollback", cls=WordsCommand)
def automations_rollback(
    name: str, version: int, as_json: AsJson = False, url: Url = None, api_key: Key = None
) -> None:
    """Store VERSION of the automation NAME again as its newest version (its JSON, secure values, settings)."""
    with api_client(url, api_key) as client:
        saved = client.rollback_automation(name, version)
    if as_json:
        out.print_json(data=saved)
        return
    out.print(f"{escape(saved['endpoint_name'])} version {saved['version']} (the same as version {version})")


def submit(
    endpoint: str,
    param: Params = [],  # noqa: B006
    unique: Unique = [],  # noqa: B006
    priority: Priority = None,
    wait: Annotated[bool, typer.Option(help="Wait for the end and print the result")] = False,
    reuse_session: Annotated[
        bool | None,
        typer.Option(
            "--reuse-session/--no-reuse-session",
            help="Start from the browser state the login's last successful run kept, and keep this run's"
            " (default: the automation's setting)",
            show_default=False,
        ),
    ] = None,
    use_proxy: Annotated[
        bool | None,
        typer.Option(
            "--use-proxy/--no-use-proxy",
            help="Go through the upstream proxy (default: the automation's setting)",
            show_default=False,
        ),
    ] = None,
    proxy_session_id: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Replaces {session_id} in the proxy's user name (default: the task's id)"),
    ] = None,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Queue a run of the automation ENDPOINT and print its task id (and, with --wait, its result)."""
    with invalid_input_exits("parameters"):
        params = parse_pairs(param)
    with api_client(url, api_key) as client:
        task_id = client.submit(
            endpoint,
            params,
            unique=unique or None,
            priority=priority,
            reuse_session=reuse_session,
            use_proxy=use_proxy,
            proxy_session_id=proxy_session_id,
        )
        out.print(task_id, highlight=False)
        if not wait:
            return
        try:
            task = client.wait(task_id)
        except WaitTimeout as exc:
            raise fail(str(exc), EXIT_FAILED) from None
    out.print_json(data=task.model_dump(mode="json"))
    if task.status != "success":
        raise typer.Exit(EXIT_FAILED)


def status(task_id: str, as_json: AsJson = False, url: Url = None, api_key: Key = None) -> None:
    """A task's status, timestamps, error and outputs."""
    with api_client(url, api_key) as client:
        task = client.request("GET", f"/api/v1/tasks/{task_id}")
    if as_json:
        out.print_json(data=task)
        return
    summary = {"task": task["task_id"], "automation": task["endpoint_name"], "status": task["status"]}
    summary |= {k: task[k] for k in ("created_at", "started_at", "completed_at", "error") if task.get(k)}
    for name, value in summary.items():
        out.print(f"[bold]{name}[/]: {escape(str(value))}", highlight=False)
    if task.get("output_data"):
        out.print("[bold]outputs[/]:")
        out.print_json(data=task["output_data"])


def cancel(task_id: str, url: Url = None, api_key: Key = None) -> None:
    """Cancel a task: a waiting one at once, a running one within seconds."""
    with api_client(url, api_key) as client:
        cancelled = client.cancel(task_id)
    out.print(f"{escape(task_id)}: {escape(cancelled.message)}", highlight=False)


def tasks(
    status: Annotated[str | None, typer.Option(help="Only tasks with this status")] = None,
    endpoint: Annotated[str | None, typer.Option(metavar="NAME", help="Only tasks of this automation")] = None,
    limit: Annotated[int, typer.Option(metavar="COUNT", help="How many")] = 20,
    as_json: AsJson = False,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Your newest tasks, as a table."""
    query = {
        "limit": str(limit),
        **({"status": status} if status else {}),
        **({"endpoint_name": endpoint} if endpoint else {}),
    }
    with api_client(url, api_key) as client:
        page = client.request("GET", "/api/v1/tasks", params=query)
    if as_json:
        out.print_json(data=page["tasks"])
        return
    rows = [
        [t["task_id"], t["endpoint_name"], t["status"], t["created_at"], t["completed_at"], t["error"]]
        for t in page["tasks"]
    ]
    table("tasks", ["task", "endpoint", "status", "created", "completed", "error"], rows)
