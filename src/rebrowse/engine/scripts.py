"""Python scripts of an automation (only where the deployment allows them), called as Optexity calls them.

`code_fn(page)` for python_script_action and `code_fn(axtree, page)` for a python_script extraction; a script that
names a parameter `ctx` (or `context`) also gets a ScriptContext, the same helpers Optexity's scripts have.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from rebrowse.automation.parameters import ParameterValue
from rebrowse.engine.downloads import record_file
from rebrowse.engine.state import Step
from rebrowse.errors import RebrowseError, StepFailed

logger = logging.getLogger(__name__)

# The names by which a script asks for the context (a name, not a position: a third parameter may mean anything).
CONTEXT_NAMES = ("ctx", "context")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ScriptContext:
    """What a script may use beyond the page: the run's downloads, its variables and a state shared by its scripts."""

    def __init__(self, step: Step) -> None:
        self._step = step

    async def save_download(
        self,
        filename: str,
        content: bytes | str | None = None,
        *,
        path: str | Path | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Path:
        """Record `content` (or the file at `path`) as a download of the run, named after `filename` (made safe and
        unique); returns where it was saved."""
        if (content is None) == (path is None):
            raise ValueError("save_download needs exactly one of content or path")
        if content is None:
            data = Path(str(path)).read_bytes()
        else:
            data = content.encode() if isinstance(content, str) else bytes(content)
        if not data:
            raise ValueError(f"save_download was given no bytes for {filename!r}")
        return await record_file(self._step, filename, data, metadata)

    @property
    def downloads_dir(self) -> Path:
        """The run's downloads directory."""
        return self._step.state.writer.downloads_dir

    @property
    def state(self) -> dict[str, Any]:
        """A dict every script of this attempt shares (each script runs in a fresh namespace)."""
        return self._step.state.script_state

    @property
    def variables(self) -> dict[str, Any]:
        """The variables earlier steps generated."""
        return self._step.state.generated

    @property
    def input_parameters(self) -> Mapping[str, Sequence[ParameterValue]]:
        """The run's input values (secure parameters are not among them)."""
        return self._step.state.inputs

    @property
    def unique_parameters(self) -> dict[str, Any]:
        """Optexity's per-login key values: the engine has none (the queue keeps them), so always empty here."""
        return {}

    async def get_page(self) -> Page:
        """The tab the run is on."""
        return self._step.page

    def log(self, message: object, level: str = "info") -> None:
        """Log a line tagged with the script's node, at debug, info, warning or error."""
        if level.lower() not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r} (use one of {', '.join(LOG_LEVELS)})")
        log: Callable[..., None] = getattr(logger, level.lower())
        log("[python_script %s] %s", self._step.record.path, message)


async def run_script(step: Step, source: str, *args: Any) -> Any:
    """Run an automation's `code_fn(*args)`; any error of the script fails the step with its type and message."""
    if not step.state.options.allow_python_scripts:
        raise RebrowseError("python scripts are disabled (set REBROWSE_ALLOW_PYTHON_SCRIPTS=1 to allow them)")
    try:
        code_fn = load_code_fn(step, source)
        return await call_code_fn(code_fn, args, ScriptContext(step))
    except StepFailed:
        raise
    except Exception as exc:
        # The script's own failure, told as the step's error (never a traceback in place of the run's result).
        raise StepFailed(f"the script raised {type(exc).__name__}: {exc}") from None


def load_code_fn(step: Step, source: str) -> Callable[..., Any]:
    """The `async def code_fn` the script defines."""
    namespace: dict[str, Any] = {}
    # The operator opted in to running this automation's code; nothing from inputs is spliced into it.
    exec(compile(source, f"<{step.record.path}>", "exec"), namespace)  # noqa: S102
    code_fn = namespace.get("code_fn")
    if not inspect.iscoroutinefunction(code_fn):
        raise StepFailed("the script must define `async def code_fn(...)`")
    return code_fn


async def call_code_fn(code_fn: Callable[..., Any], args: tuple[Any, ...], ctx: ScriptContext) -> Any:
    """Await `code_fn(*args)`, adding the context where the function names a parameter for it."""
    parameters = inspect.signature(code_fn).parameters
    wanted = next((parameters[name] for name in CONTEXT_NAMES if name in parameters), None)
    if wanted is None or wanted.kind is inspect.Parameter.VAR_KEYWORD:
        return await code_fn(*args)
    if wanted.kind is inspect.Parameter.POSITIONAL_ONLY:
        return await code_fn(*args, ctx)
    return await code_fn(*args, **{wanted.name: ctx})
