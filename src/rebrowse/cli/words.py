"""Help in words: every command's options and arguments say what to give (NAME=VALUE, FILE, URL), never a Python
type (`<str>`, `<list[str]>`, `<bool>`) as Typer prints them by default.

Options honour `metavar`, and each option names its own. What Typer offers no setting for is handled here, in the
command classes every command of the CLI is made with: an on/off flag (`--help` included) shows nothing after its
name, an argument shows its word and no type column, and the usage line shows `ENDPOINT`, not `{endpoint}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typer._click import Command
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Context, Parameter


class WordsArgument(TyperArgument):
    """An argument named by its metavar alone: Typer shows an argument's type even when it has a metavar."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"


def in_words(param: Parameter) -> Parameter:
    """`param` as the help shows it: a flag without a type, an argument without one and in capitals."""
    if isinstance(param, TyperOption):
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()
    elif isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = (param.name or "value").upper()
        # Typer builds its own argument class with no way to pass another: the instance takes the subclass that
        # only changes how it is displayed (no state of its own, so swapping the class is safe).
        param.__class__ = WordsArgument
    return param


class InWords(Command):
    """What the command classes below share: their parameters, and the help option made later, in words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = [in_words(p) for p in self.params]

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        return None if option is None else in_words(option)  # type: ignore[return-value]


class WordsCommand(InWords, TyperCommand):
    """A command whose help is in words."""


class WordsGroup(InWords, TyperGroup):
    """A group whose help is in words (its own options, e.g. `--version`, and `--help`)."""
