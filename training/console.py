"""Terminal output shared by the command modules: the two consoles, error lines, report tables.

``training.cli`` and ``training.cli_experiments`` both import this module, and it
imports neither of them (nor anything heavier than rich), so importing it for
``topicframe --help`` costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress

    from training.promotion import PromotionResult

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def print_error(message: str) -> None:
    """One red ``error: ...`` line on stderr, printed verbatim (no markup, no highlighting)."""
    errors.print(f"error: {message}", style="red", markup=False, highlight=False)


def print_warning(message: str) -> None:
    """One yellow line on stderr, printed verbatim."""
    errors.print(message, style="yellow", markup=False, highlight=False)


def print_plain(message: str, stderr: bool = False) -> None:
    """A line printed verbatim: paths, file:line problems and ids are never styled or wrapped in markup."""
    (errors if stderr else console).print(message, markup=False, highlight=False)


def progress_bar(*, counter: bool = False) -> Progress:
    """A transient bar on the output console: description, bar, [done/total], elapsed time."""
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    if counter:
        columns.append(TextColumn("{task.completed}/{task.total}"))
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def print_wide(table: Table) -> None:
    """Print at the table's natural width: wider than the terminal rather than folding ids and numbers."""
    natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(width=max(console.width, natural), soft_wrap=True).print(table)


def print_reports(reports: dict[str, dict[str, Any]], title: str) -> None:
    """One table per label set: precision, recall, F1 and support per label, the summary in the title."""
    for name, report in reports.items():
        summary = "  ".join(f"{k}={v:.3f}" for k, v in report.items() if k != "per_label")
        table = Table(title=f"{title} — {name}: {summary}", title_justify="left")
        for column in ("label", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for label, row in report["per_label"].items():
            table.add_row(
                label, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"])
            )
        console.print(table)


def print_promotion(result: PromotionResult) -> None:
    """The scores compared, the per-label F1 of both models, and whether the alias moved (and why)."""
    console.print(
        f"promotion on {result.metric}: candidate v{result.candidate_version} {result.candidate_score:.4f}"
        + (
            f" vs champion v{result.champion_version} {result.champion_score:.4f}"
            if result.champion_version and result.champion_score is not None
            else ""
        )
    )
    if result.per_label:
        table = Table(title="per-label F1 (same test data)", title_justify="left")
        for column in ("label", "champion", "candidate", "change"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for label, old, new in result.per_label:
            change = f"{new - old:+.3f}" if old is not None else "new"
            table.add_row(label, "-" if old is None else f"{old:.3f}", f"{new:.3f}", change)
        console.print(table)
    style = "green" if result.promoted else "yellow"
    console.print(f"{'promoted' if result.promoted else 'not promoted'}: {result.reason}", style=style)
