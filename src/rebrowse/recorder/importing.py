"""Turn a Playwright Python script (codegen's sync or async output, or a hand-written one of that shape) into an
Optexity automation.

The script is parsed with `ast` and never run. Its statements are followed in execution order (module level, then
the functions it calls) and each page call becomes a node; Playwright's set-up and tear-down are recognised as
such. Whatever has no faithful node is an error naming its line: nothing is dropped silently.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rebrowse.automation.loading import load_automation
from rebrowse.automation.locator import parse_locator
from rebrowse.automation.placeholders import references
from rebrowse.errors import AutomationInvalid, LocatorInvalid, RebrowseError

# Modules a codegen script imports for its set-up; importing anything else means the script does more than drive
# a page.
SETUP_MODULES = frozenset({"playwright", "re", "asyncio", "pytest"})
PLAYWRIGHT_ENTRIES = frozenset({"sync_playwright", "async_playwright"})
LAUNCHES = frozenset({"launch", "new_context", "new_page", "connect", "connect_over_cdp"})
TEARDOWN = frozenset({"close"})
EXPECT_TIMEOUT_S = 5.0  # Playwright's default for expect()
_WHAT_LENGTH = 80


class ScriptUntranslatable(RebrowseError):
    """The script has statements (or --param literals) that no automation node can express."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class Untranslatable(Exception):
    """One statement or expression that has no faithful translation."""

    def __init__(self, node: ast.AST, why: str) -> None:
        self.node = node
        self.why = why
        super().__init__(why)


@dataclass(frozen=True)
class Parameter:
    """`--param name=literal`: the literal, wherever typed, selected, uploaded or expected, becomes `{name[0]}`."""

    name: str
    literal: str


def import_script(source: str, script_name: str, parameters: list[Parameter]) -> dict[str, Any]:
    """The automation JSON of a Playwright script; ScriptUntranslatable lists every problem (nothing is partial)."""
    try:
        tree = ast.parse(source, filename=script_name)
    except SyntaxError as exc:
        raise ScriptUntranslatable([f"{script_name} line {exc.lineno}: not valid Python ({exc.msg})"]) from None
    translator = _Translator(source, parameters=parameters)
    translator.module(tree)
    errors = [
        f"{script_name} line {getattr(node, 'lineno', 0)}: {translator.describe(node)} cannot be translated ({why})"
        for node, why in translator.errors
    ]
    if translator.url is None and not errors:
        errors.append(f"{script_name}: no page.goto(...) found (an automation starts at a URL)")
    inputs, param_errors = apply_parameters(translator.nodes, parameters, translator.parameters_used)
    errors.extend(param_errors)
    if errors:
        raise ScriptUntranslatable(errors)
    data = {"url": translator.url, "parameters": {"input_parameters": inputs}, "nodes": translator.nodes}
    try:
        load_automation(data)
    except AutomationInvalid as exc:
        raise ScriptUntranslatable([f"{script_name}: the result does not validate: {e}" for e in exc.errors]) from None
    return data


# ---------------------------------------------------------------------------------------------------------
# Parameters


def parse_parameter(pair: str) -> Parameter:
    """`name=literal`; ValueError naming the pair otherwise."""
    name, sep, literal = pair.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not literal:
        raise ValueError(f"--param expects name=literal with a Python identifier as name, got {pair!r}")
    return Parameter(name, literal)


# The interaction kinds whose values a person types, selects or uploads, and the field holding them.
TYPED_FIELDS = (("input_text", "input_text"), ("select_option", "select_values"), ("upload_file", "file_path"))


def typed_values(nodes: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    """The (payload, key) of every value a node types, selects or uploads (select values are a list)."""
    for node in nodes:
        action = node.get("interaction_action", {})
        for kind, key in (
            ("input_text", "input_text"),
            ("select_option", "select_values"),
            ("upload_file", "file_path"),
        ):
            if kind in action:
                yield action[kind], key


def longest_first(parameters: list[Parameter]) -> list[Parameter]:
    """The order to replace literals in: a literal that contains another is replaced whole."""
    return sorted(parameters, key=lambda p: len(p.literal), reverse=True)


def placeholder(parameter: Parameter) -> str:
    return f"{{{parameter.name}[0]}}"


def apply_parameters(
    nodes: list[dict[str, Any]], parameters: list[Parameter], used: set[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Replace each literal by its placeholder in typed values; the input parameters and the errors (`used`: the
    names already placed in expectations)."""
    inputs: dict[str, list[str]] = {}
    errors: list[str] = []
    for parameter in longest_first(parameters):
        if parameter.name in inputs:
            errors.append(f"--param {parameter.name} is given twice")
            continue
        found = parameter.name in used
        for payload, key in typed_values(nodes):
            values = payload[key] if isinstance(payload[key], list) else [payload[key]]
            replaced = [value.replace(parameter.literal, placeholder(parameter)) for value in values]
            found = found or replaced != values
            payload[key] = replaced if isinstance(payload[key], list) else replaced[0]
        if not found:
            where = "typed, selected, uploaded or expected"
            errors.append(f"--param {parameter.name}={parameter.literal}: the literal is not {where} anywhere")
        inputs[parameter.name] = [parameter.literal]
    return inputs, errors


# ---------------------------------------------------------------------------------------------------------
# Expressions


def unawait(node: ast.expr) -> ast.expr:
    """The awaited expression (the async codegen awaits every call)."""
    return node.value if isinstance(node, ast.Await) else node


def root_name(node: ast.expr) -> str | None:
    """The name a chain of calls and attributes starts from: `page` for `page.get_by_role(...).click()`."""
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def method_call(node: ast.expr) -> tuple[ast.expr, str, ast.Call] | None:
    """(receiver, method, call) of `receiver.method(...)`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.value, node.func.attr, node
    return None


def text(node: ast.expr) -> str:
    """A string literal's value; anything computed at run time has no place in an automation."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        refuse_placeholders(node, node.value)
        return node.value
    raise Untranslatable(node, "only a string literal can be used here")


def refuse_placeholders(node: ast.AST, value: str) -> None:
    """A literal the engine would read as a placeholder (`{name}`) would not be replayed as the script typed it."""
    found = references(value)
    if found:
        raise Untranslatable(node, f"{{{found[0].name}...}} would be read as a placeholder of the automation")


def texts(node: ast.expr) -> list[str]:
    """A string literal or a list of them."""
    if isinstance(node, ast.List | ast.Tuple):
        return [text(item) for item in node.elts]
    return [text(node)]


def only_keywords(call: ast.Call, allowed: frozenset[str], positional: int) -> dict[str, ast.expr]:
    """The keyword arguments of a call, refusing the options that have no node field."""
    if len(call.args) != positional:
        raise Untranslatable(call, f"{positional} positional argument(s) expected")
    given: dict[str, ast.expr] = {}
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg not in allowed:
            raise Untranslatable(keyword.value, f"option {keyword.arg or '**'}= has no automation field")
        given[keyword.arg] = keyword.value
    return given


def interaction(kind: str, payload: dict[str, Any], **node: Any) -> dict[str, Any]:
    return {"type": "action_node", "interaction_action": {kind: payload}, **node}


# What each locator method becomes: the interaction kind, the options it accepts, and the number of positional
# arguments.
_CLICKS = frozenset({"button", "force"})
ELEMENT_ACTIONS: dict[str, tuple[str, frozenset[str], int]] = {
    "click": ("click_element", _CLICKS, 0),
    "dblclick": ("click_element", _CLICKS, 0),
    "fill": ("input_text", frozenset(), 1),
    "type": ("input_text", frozenset(), 1),
    "press_sequentially": ("input_text", frozenset(), 1),
    "press": ("key_press", frozenset(), 1),
    "check": ("check", frozenset(), 0),
    "uncheck": ("uncheck", frozenset(), 0),
    "hover": ("hover", frozenset(), 0),
    "select_option": ("select_option", frozenset(), 1),
    "set_input_files": ("upload_file", frozenset(), 1),
}


def element_payload(method: str, call: ast.Call, command: str) -> tuple[str, dict[str, Any]]:
    """The interaction kind and payload of `<locator>.method(...)`."""
    kind, allowed, positional = ELEMENT_ACTIONS[method]
    options = only_keywords(call, allowed, positional)
    payload: dict[str, Any] = {"command": command}
    if kind == "click_element":
        payload["double_click"] = method == "dblclick"
        if "button" in options:
            payload["button"] = text(options["button"])
        if "force" in options:
            force = options["force"]
            if not (isinstance(force, ast.Constant) and isinstance(force.value, bool)):
                raise Untranslatable(force, "force must be True or False")
            payload["force"] = force.value
    elif kind == "input_text":
        # Playwright's fill and type do not click the field first, unlike Optexity's default.
        payload |= {"input_text": text(call.args[0]), "click_before_input": False}
        payload["fill_or_type"] = "fill" if method == "fill" else "type"
    elif kind == "key_press":
        payload["type"] = text(call.args[0])
    elif kind == "select_option":
        payload["select_values"] = texts(call.args[0])
    elif kind == "upload_file":
        paths = texts(call.args[0])
        if len(paths) != 1:
            raise Untranslatable(call.args[0], "upload_file sets one file")
        payload["file_path"] = paths[0]
    return kind, payload


# The interactions that may start a download the step waits for.
DOWNLOADING = frozenset({"click_element", "select_option"})

# expect(...) matchers on a locator: the assert_locator_node assertion, and whether the locator must hold a text.
MATCHERS: dict[str, tuple[str, str | None]] = {
    "to_be_visible": ("to_be_visible", None),
    "not_to_be_hidden": ("to_be_visible", None),
    "to_be_hidden": ("to_be_hidden", None),
    "not_to_be_visible": ("to_be_hidden", None),
    "to_have_text": ("to_be_visible", "^{}$"),
    "to_contain_text": ("to_be_visible", "{}"),
}


# ---------------------------------------------------------------------------------------------------------
# Statements


Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class _Translator:
    """Walks the script in execution order, tracking its pages (tabs) and downloads, and collects nodes."""

    source: str
    url: str | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[ast.AST, str]] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    calling: set[str] = field(default_factory=set)
    setup: set[str] = field(default_factory=set)  # the names of playwright, browsers and contexts
    tabs: list[str] = field(default_factory=list)  # page names, in the order their tabs opened
    current: str | None = None
    unopened: set[str] = field(default_factory=set)  # pages from new_page() whose goto opens their tab
    downloads: dict[str, dict[str, Any]] = field(default_factory=dict)  # download (or its _info) -> click payload
    popups: set[str] = field(default_factory=set)
    all_closed: bool = False
    expectations: int = 0
    parameters: list[Parameter] = field(default_factory=list)
    parameters_used: set[str] = field(default_factory=set)  # the --param names an expect() text took

    def describe(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.source, node) or ast.unparse(node)
        first = segment.strip().splitlines()[0] if segment.strip() else segment
        if len(first) > _WHAT_LENGTH:
            first = first[: _WHAT_LENGTH - 3] + "..."
        return f"`{first}`"

    def module(self, tree: ast.Module) -> None:
        self.block(tree.body)

    def block(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            try:
                self.statement(statement)
            except Untranslatable as exc:
                self.errors.append((exc.node, exc.why))

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            self.imports(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(node)
        elif isinstance(node, ast.Expr):
            self.expression(unawait(node.value))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.assign(node.targets[0].id, unawait(node.value))
        elif isinstance(node, ast.With | ast.AsyncWith):
            self.with_block(node)
        elif isinstance(node, ast.If) and is_main_guard(node):
            self.block(node.body)
        else:
            raise Untranslatable(node, "rebrowse translates page actions and Playwright's set-up only")

    def imports(self, node: ast.Import | ast.ImportFrom) -> None:
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for module in modules:
            if module.split(".")[0] not in SETUP_MODULES:
                raise Untranslatable(node, f"module {module} is not part of a Playwright script's set-up")

    def function(self, node: Function) -> None:
        self.functions[node.name] = node
        # A pytest-style test (codegen's Pytest target) is run by pytest with a `page`.
        if node.name.startswith("test_") and [arg.arg for arg in node.args.args] == ["page"]:
            self.open_first_tab("page")
            self.call_function(node)

    def call_function(self, node: Function) -> None:
        if node.name in self.calling:
            raise Untranslatable(node, "a recursive call has no fixed sequence of steps")
        self.calling.add(node.name)
        self.setup.update(arg.arg for arg in node.args.args if arg.arg != "page")
        self.block(node.body)
        self.calling.discard(node.name)

    def expression(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return  # a docstring
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            self.call_function(self.functions[node.func.id])
            return
        if is_asyncio_run(node) and isinstance(node, ast.Call):
            self.expression(node.args[0])
            return
        found = method_call(node)
        if found is None:
            raise Untranslatable(node, "not a page action")
        receiver, method, call = found
        if isinstance(receiver, ast.Call) and is_expect(receiver):
            self.expectation(receiver, method, call)
            return
        root = root_name(receiver)
        if root in self.setup and isinstance(receiver, ast.Name) and method in TEARDOWN:
            return  # closing the context or browser ends the script, as the end of the automation does
        if root in self.downloads and isinstance(receiver, ast.Name) and method == "save_as":
            self.save_download(root, call)
        elif root in self.tabs or root in self.unopened:
            self.page_call(root, receiver, method, call)
        else:
            raise Untranslatable(node, "not a call on a page, a locator or a download")

    def assign(self, name: str, value: ast.expr) -> None:
        if isinstance(value, ast.Attribute) and value.attr == "value" and isinstance(value.value, ast.Name):
            source = value.value.id
            if source in self.popups:
                self.tabs[self.tabs.index(source)] = name
                self.current = name if self.current == source else self.current
                return
            if source in self.downloads:
                self.downloads[name] = self.downloads[source]
                return
        found = method_call(value)
        if found is not None and root_name(found[0]) in self.setup and found[1] in LAUNCHES:
            self.launch(name, found[1], found[2])
            return
        raise Untranslatable(value, "only Playwright's set-up, popups and downloads can be assigned")

    def launch(self, name: str, method: str, call: ast.Call) -> None:
        if method == "new_page":
            if self.tabs or self.all_closed:
                self.unopened.add(name)
            else:
                self.open_first_tab(name)
            return
        # A browser's launch options only change how it is shown; a context's options change what the page does.
        if method == "new_context" and (call.args or call.keywords):
            raise Untranslatable(call, "context options have no automation field")
        self.setup.add(name)

    def open_first_tab(self, name: str) -> None:
        self.tabs = [name]
        self.current = name

    def with_block(self, node: ast.With | ast.AsyncWith) -> None:
        items = [unawait(item.context_expr) for item in node.items]
        if all(isinstance(item, ast.Call) and isinstance(item.func, ast.Name) for item in items):
            names = {item.func.id for item in items if isinstance(item, ast.Call) and isinstance(item.func, ast.Name)}
            if names <= PLAYWRIGHT_ENTRIES:
                self.setup.update(
                    item.optional_vars.id for item in node.items if isinstance(item.optional_vars, ast.Name)
                )
                self.block(node.body)
                return
        self.expecting(node, {})

    def expecting(self, node: ast.With | ast.AsyncWith, waits: dict[str, str]) -> None:
        """`with page.expect_download() as info:` / `expect_popup()` around one action (nested for both)."""
        for item in node.items:
            found = method_call(unawait(item.context_expr))
            if (
                found is None
                or found[1] not in ("expect_download", "expect_popup")
                or root_name(found[0]) not in self.tabs
                or not isinstance(item.optional_vars, ast.Name)
            ):
                raise Untranslatable(item.context_expr, "only expect_download() and expect_popup() wrap an action")
            only_keywords(found[2], frozenset(), 0)
            waits[found[1]] = item.optional_vars.id
        if len(node.body) != 1:
            raise Untranslatable(node, "an expect_download() or expect_popup() block must hold exactly one action")
        inner = node.body[0]
        if isinstance(inner, ast.With | ast.AsyncWith):
            self.expecting(inner, waits)
            return
        found = method_call(unawait(inner.value)) if isinstance(inner, ast.Expr) else None
        if found is None or root_name(found[0]) not in self.tabs:
            raise Untranslatable(inner, "not a page action")
        receiver, method, call = found
        page = root_name(receiver)
        assert page is not None  # checked just above
        node_json = self.element_action(page, receiver, method, call)
        payload = next(iter(node_json["interaction_action"].values()))
        if "expect_download" in waits:
            if next(iter(node_json["interaction_action"])) not in DOWNLOADING:
                raise Untranslatable(inner, "a download is expected only from a click or a select_option")
            payload["expect_download"] = True
            self.downloads[waits["expect_download"]] = payload
        if "expect_popup" in waits:
            node_json["expect_new_tab"] = True
            self.tabs.append(waits["expect_popup"])
            self.popups.add(waits["expect_popup"])
        self.nodes.append(node_json)
        if "expect_popup" in waits:
            # The engine works on the newest tab after a step that opens one.
            self.current = waits["expect_popup"]

    def save_download(self, name: str, call: ast.Call) -> None:
        only_keywords(call, frozenset(), 1)
        path = text(call.args[0])
        # The run keeps its downloads together; the file keeps the name the script saved it under.
        self.downloads[name]["download_filename"] = path.replace("\\", "/").rsplit("/", 1)[-1]

    def page_call(self, page: str, receiver: ast.expr, method: str, call: ast.Call) -> None:
        if isinstance(receiver, ast.Name):
            if method == "goto":
                self.goto(page, call)
            elif method == "close":
                self.close(page, call)
            else:
                raise Untranslatable(call, f"page.{method}() has no automation node")
            return
        self.nodes.append(self.element_action(page, receiver, method, call))

    def element_action(self, page: str, receiver: ast.expr, method: str, call: ast.Call) -> dict[str, Any]:
        if method not in ELEMENT_ACTIONS:
            raise Untranslatable(call, f"{method}() is not an element action rebrowse replays")
        command = self.command(page, receiver)
        kind, payload = element_payload(method, call, command)
        self.use_tab(page, call)
        return interaction(kind, payload)

    def command(self, page: str, locator: ast.expr) -> str:
        """The Optexity command of a locator chain: the chain without its page, checked by rebrowse's parser."""
        segment = ast.get_source_segment(self.source, locator)
        prefix = f"{page}."
        if segment is None or not segment.startswith(prefix) or "\n" in segment:
            segment = ast.unparse(locator)
        command = segment.removeprefix(prefix)
        refuse_placeholders(locator, command)
        try:
            parse_locator(command)
        except LocatorInvalid as exc:
            raise Untranslatable(locator, str(exc)) from None
        return command

    def use_tab(self, page: str, at: ast.AST) -> None:
        """Make `page` the automation's current tab, switching to it when the script acts on another."""
        if self.all_closed:
            raise Untranslatable(at, "every tab is closed by then")
        if page in self.unopened:
            raise Untranslatable(at, f"{page} is used before {page}.goto() opens it")
        if self.url is None:
            raise Untranslatable(at, "an action before the first page.goto()")
        if page != self.current:
            self.nodes.append(interaction("switch_tab", {"tab_index": self.tabs.index(page)}))
            self.current = page

    def goto(self, page: str, call: ast.Call) -> None:
        only_keywords(call, frozenset(), 1)
        url = text(call.args[0])
        if page in self.unopened:
            self.unopened.discard(page)
            self.tabs.append(page)
            self.current = page
            self.nodes.append(interaction("go_to_url", {"url": url, "new_tab": True}))
        elif self.url is None and not self.all_closed:
            self.url = url
        else:
            self.use_tab(page, call)
            self.nodes.append(interaction("go_to_url", {"url": url}))

    def close(self, page: str, call: ast.Call) -> None:
        only_keywords(call, frozenset(), 0)
        if page in self.unopened:
            self.unopened.discard(page)
            return
        self.use_tab(page, call)
        if len(self.tabs) == 1:
            self.all_closed = True  # the run ends with its last tab: later page actions are errors
            return
        self.nodes.append(interaction("close_current_tab", {}))
        self.tabs.remove(page)
        self.current = self.tabs[-1]  # as the engine continues in the last remaining tab

    def text_filter(self, expected: str, pattern: str) -> str:
        """The filter narrowing a locator to the text an expect() asks for: case-sensitive as expect's, unless a
        parameter makes the text known only at run time (then Playwright's has_text: any case, a substring)."""
        with_placeholders = expected
        for parameter in longest_first(self.parameters):
            if parameter.literal in with_placeholders:
                with_placeholders = with_placeholders.replace(parameter.literal, placeholder(parameter))
                self.parameters_used.add(parameter.name)
        if with_placeholders != expected:
            return f".filter(has_text={json.dumps(with_placeholders)})"
        regex = pattern.format(re.escape(expected))
        return f".filter(has_text=re.compile({json.dumps(regex)}))"

    def expectation(self, expect: ast.Call, matcher: str, call: ast.Call) -> None:
        """`expect(locator).matcher(...)`: an assert_locator_node, and a fail_state when it does not hold."""
        if len(expect.args) != 1 or expect.keywords or matcher not in MATCHERS:
            raise Untranslatable(call, "rebrowse asserts visibility, hiding or the text of a locator")
        target = unawait(expect.args[0])
        page = root_name(target)
        if page not in self.tabs or isinstance(target, ast.Name):
            raise Untranslatable(target, "expect() on a locator of a page is supported")
        assertion, pattern = MATCHERS[matcher]
        options = only_keywords(call, frozenset({"timeout"}), 0 if pattern is None else 1)
        command = self.command(page, target)
        if pattern is not None:
            command += self.text_filter(text(call.args[0]), pattern)
        self.use_tab(page, call)
        self.expectations += 1
        name = f"expectation_{self.expectations}"
        timeout = timeout_seconds(options["timeout"]) if "timeout" in options else EXPECT_TIMEOUT_S
        message = f"line {call.lineno}: {self.describe(call).strip('`')} did not hold"
        self.nodes += [
            {
                "type": "assert_locator_node",
                "locator": command,
                "assertion": assertion,
                "output_variable_name": name,
                "timeout": timeout,
            },
            {
                "type": "if_else_node",
                "condition": f"not {name}[0]",
                "if_nodes": [{"type": "action_node", "fail_state_action": {"failure_message": message}}],
            },
        ]


def timeout_seconds(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value) / 1000
    raise Untranslatable(node, "timeout must be a number of milliseconds")


def is_expect(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "expect"


def is_asyncio_run(node: ast.expr) -> bool:
    found = method_call(node)
    return (
        found is not None
        and isinstance(found[0], ast.Name)
        and found[0].id == "asyncio"
        and found[1] == "run"
        and len(found[2].args) == 1
    )


def is_main_guard(node: ast.If) -> bool:
    test = node.test
    return (
        not node.orelse
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
