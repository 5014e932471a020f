"""`pip install rebrowse` without the `[server]` extra: the SDK and the remote commands work, the others say how to
install what they need. Each case runs a fresh Python whose import system refuses the server packages, as on a
machine where they were never installed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

from rebrowse.cli.lazy import NEEDS_SERVER, SERVER_PACKAGES
from tests.client.conftest import Api, api, queue, settings

__all__ = ["api", "queue", "settings"]

ROOT = Path(__file__).resolve().parent.parent
LIGHT = {"httpx", "pydantic", "rich", "typer"}
# The top-level modules of the server packages (what a missing `[server]` extra leaves unimportable).
BLOCKED = sorted(SERVER_PACKAGES)
RUN_DEADLINE_S = 120

# The start of every child's program: a meta-path finder ahead of every other refuses the blocked packages and
# records each attempt; at exit, the attempts and any blocked module loaded all the same are printed last on stderr.
NOT_INSTALLED = """
import atexit, importlib.abc, json, runpy, sys

blocked = frozenset(sys.argv.pop(1).split(","))
attempts = []


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def report():
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in blocked)
    print(json.dumps({"attempts": attempts, "loaded": loaded}), file=sys.stderr)


atexit.register(report)
sys.meta_path.insert(0, NotInstalled())
"""
CLI = 'sys.argv[0] = "rebrowse"\nrunpy.run_module("rebrowse.cli", run_name="__main__")\n'


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    attempts: list[str]
    loaded: list[str]


async def without_server_parts(program: str, *args: str, env: dict[str, str] | None = None) -> Ran:
    """Run `program` with `args` in a Python where the server packages are not importable (without blocking this
    loop, which may be serving the API the child calls)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        NOT_INSTALLED + program,
        ",".join(BLOCKED),
        *args,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_DEADLINE_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    *text, report = stderr.decode().rstrip("\n").split("\n")
    imports = json.loads(report)
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), "\n".join(text), imports["attempts"], imports["loaded"])


async def test_the_sdk_imports_and_works_without_the_server_parts() -> None:
    code = """
import hashlib, hmac, rebrowse, rebrowse.cli
secret = "00ff" * 8
body = b'{"task_id": "t"}'
signature = "v1=" + hmac.new(bytes.fromhex(secret), b"1700000000." + body, hashlib.sha256).hexdigest()
assert rebrowse.verify_signature(secret, body, "1700000000", signature, now=1700000000)
for client in (rebrowse.Client("http://127.0.0.1:1", "key"), rebrowse.AsyncClient("http://127.0.0.1:1", "key")):
    print(type(client).__name__, client.base_url, issubclass(rebrowse.APIConnectionError, rebrowse.RebrowseError))
"""
    ran = await without_server_parts(code)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split("\n")[:2] == ["Client http://127.0.0.1:1 True", "AsyncClient http://127.0.0.1:1 True"]
    # Not one server package was even looked for: nothing on these paths imports them, not even inside a try.
    assert ran.attempts == [] and ran.loaded == []


async def test_help_lists_every_command_and_marks_those_needing_the_extra() -> None:
    ran = await without_server_parts(CLI, "--help")
    assert ran.returncode == 0, ran.stderr
    for command in ("submit", "status", "cancel", "tasks", "keys", "automations", "serve", "run", "record"):
        assert f" {command} " in ran.stdout, command
    assert "not installed: pip install 'rebrowse[server]'" in ran.stdout
    assert ran.loaded == []


async def test_server_and_local_commands_say_how_to_install_the_extra(tmp_path: Path) -> None:
    automation = tmp_path / "a.json"
    automation.write_text("{}")
    for args in (
        ["serve"],
        ["serve", "--port", "8123", "--demo"],
        ["run", str(automation), "-p", "q=1"],
        ["validate", str(automation)],
        ["worker"],
        ["keys", "create", "--admin"],
    ):
        ran = await without_server_parts(CLI, *args)
        assert ran.returncode == 1, (args, ran.stderr)
        assert NEEDS_SERVER in ran.stderr, args
        assert "Traceback" not in ran.stderr and ran.loaded == [], args


async def test_remote_commands_work_against_a_running_api(api: Api) -> None:
    env = {"REBROWSE_URL": api.url, "REBROWSE_API_KEY": api.key}
    listed = await without_server_parts(CLI, "automations", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [a["endpoint_name"] for a in json.loads(listed.stdout)] == ["lookup"]
    submitted = await without_server_parts(CLI, "submit", "lookup", "-p", "email=light@example.com", env=env)
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    status = await without_server_parts(CLI, "status", task_id, "--json", env=env)
    assert status.returncode == 0, status.stderr
    task = json.loads(status.stdout)
    assert task["task_id"] == task_id and task["input_parameters"]["email"] == ["light@example.com"]
    assert listed.loaded == submitted.loaded == status.loaded == []


def normalized(name: str) -> str:
    """A distribution's name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalized(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]) for line in requirements}


def test_the_base_install_is_light_and_the_server_extra_has_the_rest() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = requirement_names(project["dependencies"])
    server = requirement_names(project["optional-dependencies"]["server"])
    assert base == LIGHT
    assert not base & server
    # The modules whose absence the CLI reads as "the extra is missing": each is installed by a server package
    # (directly, or as one's dependency), none by a base one, and every server package has one of them.
    installers = packages_distributions()
    assert all(module in installers for module in SERVER_PACKAGES), SERVER_PACKAGES - set(installers)
    recognised = {normalized(name) for module in SERVER_PACKAGES for name in installers[module]}
    assert server <= recognised, server - recognised
    assert not recognised & base
