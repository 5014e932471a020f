"""A safe evaluator for if_else conditions, set_variable expressions and api_call poll conditions.

Optexity `eval`s these strings after pasting values into them. Here the expression is parsed once,
variables are bound as values, and a restricted simpleeval interpreter walks the tree: no imports,
no dunders, no calls except a few pure functions and non-growing string/dict methods, and bounded
sizes for strings and powers.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from typing import Any

from simpleeval import (
    DEFAULT_OPERATORS,
    AttributeDoesNotExist,
    EvalWithCompoundTypes,
    FeatureNotAvailable,
    FunctionNotDefined,
    InvalidExpression,
    NameNotDefined,
    NumberTooHigh,
)

from rebrowse.automation.placeholders import substitute
from rebrowse.errors import ExpressionInvalid, RebrowseError

MAX_EXPRESSION_LENGTH = 2000
MAX_NODES = 400
MAX_STRING_LENGTH = 100_000
MAX_POWER_BITS = 4096
MAX_ROUND_DIGITS = 100

# Methods that cannot grow their result past their input, and that never mutate a bound variable.
_ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            "lower",
            "upper",
            "strip",
            "lstrip",
            "rstrip",
            "startswith",
            "endswith",
            "split",
            "rsplit",
            "splitlines",
            "partition",
            "rpartition",
            "find",
            "rfind",
            "index",
            "rindex",
            "count",
            "removeprefix",
            "removesuffix",
            "title",
            "capitalize",
            "casefold",
            "swapcase",
            "isdigit",
            "isdecimal",
            "isnumeric",
            "isalpha",
            "isalnum",
            "isspace",
            "islower",
            "isupper",
            "istitle",
        }
    ),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
}


def _sum(values: Iterable[object]) -> float:
    # The builtin also concatenates lists given a start value, which can grow without bound.
    total: float = 0
    for value in values:
        if not isinstance(value, int | float):
            raise TypeError("sum() adds numbers only")
        total += value
    return total


def _round(number: float, ndigits: int | None = None) -> float:
    # round(5, -10**9) would compute 10**(10**9).
    if ndigits is not None and abs(ndigits) > MAX_ROUND_DIGITS:
        raise NumberTooHigh(f"round() to {ndigits} digits is not allowed")
    return round(number, ndigits)


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "len": len,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "sum": _sum,
    "any": any,
    "all": all,
    "sorted": sorted,
}


def _add(left: Any, right: Any) -> object:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        if len(left) + len(right) > MAX_STRING_LENGTH:
            raise NumberTooHigh(f"results longer than {MAX_STRING_LENGTH} are not allowed")
    return left + right


def _multiply(left: Any, right: Any) -> object:
    # Repeating a list would let one short expression build a huge nested structure.
    if isinstance(left, list | tuple) or isinstance(right, list | tuple):
        raise FeatureNotAvailable("repeating a list is not allowed")
    for text, times in ((left, right), (right, left)):
        if isinstance(text, str) and isinstance(times, int) and len(text) * times > MAX_STRING_LENGTH:
            raise NumberTooHigh(f"results longer than {MAX_STRING_LENGTH} are not allowed")
    return left * right


def _modulo(left: Any, right: Any) -> object:
    # `"%999999999d" % 1` would allocate a gigabyte: printf-style formatting is not offered.
    if isinstance(left, str):
        raise FeatureNotAvailable("string formatting with % is not allowed")
    return left % right


def _power(base: Any, exponent: Any) -> object:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and exponent * abs(base).bit_length() > MAX_POWER_BITS:
            raise NumberTooHigh(f"{base} ** {exponent} is too large")
    return base**exponent


_OPERATORS = DEFAULT_OPERATORS | {
    ast.Add: _add,
    ast.Mult: _multiply,
    ast.Mod: _modulo,
    ast.Pow: _power,
}


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with literals for lists/tuples/dicts/sets, but no comprehensions or f-strings,
    only our functions, and attribute access limited to dict keys and _ALLOWED_METHODS."""

    def __init__(self, names: Mapping[str, object]) -> None:
        super().__init__(operators=_OPERATORS, functions=dict(_FUNCTIONS), names=names)
        self.functions = dict(_FUNCTIONS)
        for node in (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.JoinedStr, ast.FormattedValue):
            self.nodes.pop(node, None)
        self.nodes[ast.Attribute] = self._attribute

    def _attribute(self, node: ast.Attribute) -> object:
        if node.attr.startswith("_"):
            raise FeatureNotAvailable(f"access to `{node.attr}` is not allowed")
        value = self._eval(node.value)
        # api_call results are dicts written as `api_result.body.status`: keys win over dict methods.
        if isinstance(value, dict) and node.attr in value:
            return value[node.attr]
        allowed = _ALLOWED_METHODS.get(type(value), frozenset())
        if node.attr in allowed:
            return getattr(value, node.attr)
        if isinstance(value, dict):
            raise AttributeDoesNotExist(node.attr, self.expr)
        raise FeatureNotAvailable(f"`.{node.attr}` is not allowed on a {type(value).__name__}")


def evaluate(expression: str, names: Mapping[str, object]) -> object:
    """Evaluate an expression with `names` bound as values; raise ExpressionInvalid if it is not allowed.

    The result is plain data (text, numbers, booleans, None, lists and dicts of them), as variables, outputs and
    the database hold it: `api.items()` gives a list of [key, value] pairs, not a view nothing can store.
    """
    tree = _parse(expression, names)
    try:
        result = _Evaluator(names).eval(expression, previously_parsed=tree)
    except RebrowseError:
        raise
    except Exception as exc:
        # Any failure of an expression (type errors, missing keys, limits) is the expression's fault.
        raise ExpressionInvalid(f"expression `{expression}`: {_reason(exc)}") from None
    return _plain(result, expression)


def check_expression(expression: str) -> None:
    """Raise ExpressionInvalid when the expression can never run (too long, not Python, too complex): what can be
    told before any variable has a value, when an automation is loaded."""
    _parse(expression, {})


def _plain(value: object, expression: str) -> object:
    """The value as plain data; ExpressionInvalid for what a variable cannot hold (a method, NaN...)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionInvalid(f"expression `{expression}` gives {value}, which is not a number a variable holds")
        return value
    if isinstance(value, dict):
        return {_plain_key(key, expression): _plain(item, expression) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
        return [_plain(item, expression) for item in value]
    hint = ": call the method, e.g. `.items()`" if callable(value) else ""
    raise ExpressionInvalid(
        f"expression `{expression}` gives a {type(value).__name__}, which is not a value a variable can hold"
        f" (text, a number, true/false, null, a list or an object){hint}"
    )


def _plain_key(key: object, expression: str) -> str | int | float | bool | None:
    if key is None or isinstance(key, str | int | float | bool):
        return key
    raise ExpressionInvalid(f"expression `{expression}` gives an object with a {type(key).__name__} as a key")


def _reason(exc: Exception) -> str:
    if isinstance(exc, NameNotDefined):
        return f"unknown name `{exc.name}`"
    if isinstance(exc, FunctionNotDefined):
        return f"`{exc.func_name}()` is not an allowed function"
    if isinstance(exc, AttributeDoesNotExist):
        return f"no attribute or key `{exc.attr}`"
    if isinstance(exc, InvalidExpression):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def evaluate_condition(expression: str, names: Mapping[str, object]) -> bool:
    """Evaluate an expression and take its truth value."""
    return bool(evaluate(expression, names))


def _parse(expression: str, names: Mapping[str, object]) -> ast.expr:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionInvalid(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionInvalid(f"expression `{expression}` is not valid: {exc}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExpressionInvalid(f"expression `{expression}` is too complex")
    return _Placeholders(names).visit(tree.body)  # type: ignore[no-any-return]


class _Placeholders(ast.NodeTransformer):
    """Optexity writes `{flag[0]} == "yes"`: drop the braces when the root name is bound, and fill
    placeholders inside string literals with their values (as literal text, never as code)."""

    def __init__(self, names: Mapping[str, object]) -> None:
        self.names = names

    def visit_Set(self, node: ast.Set) -> ast.expr:
        if len(node.elts) == 1:
            root = _path_root(node.elts[0])
            if root is not None and root in self.names:
                return self.visit(node.elts[0])  # type: ignore[no-any-return]
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, str) and "{" in node.value:
            return ast.copy_location(ast.Constant(substitute(node.value, self.names, strict=False)), node)
        return node


def _path_root(node: ast.expr) -> str | None:
    """The variable name at the root of `name`, `name[0]`, `name.a.b[1]`, or None for anything else."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Subscript) and not (
            isinstance(node.slice, ast.Constant) and type(node.slice.value) is int
        ):
            return None
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
