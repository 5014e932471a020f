"""The one shape every benchmark reports in: a measure, its target, the figure, the baseline and their ratio."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

Collect = Callable[[list[str], Console], list["Measure"]]
COLUMNS = ("measure", "target", "figure", "baseline", "ratio", "verdict")


@dataclass(frozen=True)
class Measure:
    """One row: `met` is None when the measure has no target of its own (it only gives context)."""

    name: str
    target: str
    figure: str
    baseline: str = "—"
    ratio: float | None = None
    met: bool | None = None

    def cells(self, *, markup: bool = True) -> tuple[str, ...]:
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}"
        return (self.name, self.target, self.figure, self.baseline, ratio, verdict(self.met, markup=markup))


def verdict(met: bool | None, *, markup: bool = True) -> str:
    if met is None:
        return "—"
    word = "met" if met else "missed"
    if not markup:
        return word
    return f"[green]{word}[/]" if met else f"[red]{word}[/]"


def measures_table(title: str, measures: Iterable[Measure]) -> Table:
    """The rows as a rich table."""
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("measure", "baseline") else "right")
    for measure in measures:
        table.add_row(*measure.cells())
    return table


def measures_markdown(measures: Iterable[Measure]) -> str:
    """The rows as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(measure.cells(markup=False)) + " |" for measure in measures]
    return "\n".join(lines) + "\n"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wide_console() -> Console:
    """A console whose table rows stay on one line, also when the output is a file."""
    console = Console()
    console.width = max(console.width, 132)
    return console


def run_alone(title: str, collect: Collect, argv: list[str], failures: tuple[type[Exception], ...]) -> int:
    """One benchmark as a script: its table, or what failed and exit status 1."""
    console = wide_console()
    try:
        rows = collect(argv, console)
    except failures as exc:
        Console(stderr=True).print(f"[red]FAILED[/] {exc}", highlight=False)
        return 1
    console.print(measures_table(title, rows))
    return 0
