"""Terminal output shared by the command modules: the two consoles, error lines, report tables.

``training.cli`` and ``training.cli_experiments`` both import this module, and it
imports neither of them (nor anything heavier than rich), so importing it for
``topicframe --help`` costs next to nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from training.errors import TopicframeError

if TYPE_CHECKING:
    from rich.progress import Progress

    from training.promotion import PromotionResult

console = Console(soft_wrap=True, emoji=False)
errors = Console(stderr=True, soft_wrap=True, emoji=False)
_quiet = False  # set by --quiet: no progress bars (results and errors still print)


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet
    quiet_mlflow_progress()


def quiet_mlflow_progress() -> None:
    """MLflow draws its own tqdm bars for artifact downloads and uploads: only where ours would show."""
    if not shows_progress():
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"


def shows_progress() -> bool:
    """Progress only on a terminal, and not with --quiet: piped output and logs stay clean."""
    return not _quiet and console.is_terminal


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
    """A transient bar on the output console: description, bar, [done/total], elapsed time.

    Disabled (silent) with --quiet or when the output is not a terminal.
    """
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    if counter:
        columns.append(TextColumn("{task.completed}/{task.total}"))
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True, disable=not shows_progress())


@contextmanager
def working(description: str) -> Iterator[None]:
    """A pulsing bar with the elapsed time while one long step runs, then one line saying how long it took."""
    import time

    started = time.perf_counter()
    with progress_bar() as bar:
        bar.add_task(description, total=None)
        yield
    if shows_progress():
        console.print(f"{description}: {time.perf_counter() - started:.1f}s", style="dim", highlight=False)


def print_wide(table: Table) -> None:
    """Print at the table's natural width: wider than the terminal rather than folding ids and numbers."""
    natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(width=max(console.width, natural), soft_wrap=True, emoji=False).print(table)


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
    if len(result.per_set) > 1:
        console.print(
            "micro-F1 per label set (champion -> candidate): "
            + ", ".join(
                f"{name} {'-' if old is None else f'{old:.4f}'} -> {new:.4f}"
                for name, (old, new) in result.per_set.items()
            )
        )
    if result.caveat:
        print_warning(result.caveat)
    style = "green" if result.promoted else "yellow"
    console.print(f"{'promoted' if result.promoted else 'not promoted'}: {result.reason}", style=style)


def write_classification(output_format: str, response: dict[str, Any], bundle: Any) -> None:
    """`topicframe classify` output: a table (with the decision rule), JSON, JSONL or CSV on stdout."""
    import csv
    import json
    import sys

    paragraphs = response["paragraphs"]
    if output_format == "json":
        sys.stdout.write(json.dumps(response, indent=2, ensure_ascii=False) + "\n")
        return
    if output_format == "jsonl":
        for item in paragraphs:
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
        return
    label_sets = list(paragraphs[0]["labels"]) if paragraphs else []
    has_ids, has_roles = any("id" in p for p in paragraphs), any("role" in p for p in paragraphs)
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            [
                *(["id"] if has_ids else []),
                "index",
                *(["role", "role_score"] if has_roles else []),
                "read",
                "known_words",
                *label_sets,
                "text",
            ]
        )
        for p in paragraphs:
            writer.writerow(
                [
                    *([p.get("id", "")] if has_ids else []),
                    p["index"],
                    *([p.get("role", ""), p.get("role_score", "")] if has_roles else []),
                    str(p.get("read", "")).lower(),
                    p.get("known_words", ""),
                    *(";".join(p["labels"][name]) for name in label_sets),
                    p["text"],
                ]
            )
        return
    from training.classify import describe_decision_rule

    model = response["model"]
    registered = f"version {model['version']}" if model["version"] else "(a directory, not a registered version)"
    table = Table(title=f"model {model['name']} {registered}", title_justify="left")
    for column in ("id" if has_ids else "#", *(["role"] if has_roles else []), *label_sets, "paragraph"):
        table.add_column(column, overflow="fold")
    for p in paragraphs:
        text = p["text"] if len(p["text"]) <= 90 else p["text"][:89] + "…"
        # A paragraph the model did not read (another language) says so rather than "-", which reads as "no label".
        unlabelled = "not read" if p.get("read") is False else "-"
        labelled = [", ".join(p["labels"][name]) or unlabelled for name in label_sets]
        # A role given with --role has no score: it is the caller's, not the role model's.
        given = p.get("role_score") is None
        role = [p["role"] if given else f"{p['role']} {p['role_score']:.2f}"] if has_roles else []
        table.add_row(*(Text(cell) for cell in (str(p.get("id", p["index"])), *role, *labelled, text)))
    console.print(table)
    console.print(describe_decision_rule(bundle), style="dim", markup=False, highlight=False)


def _loaded(module: str, name: str) -> type[BaseException] | None:
    """An exception class from ``module`` if that module has been imported, without importing it.

    An exception of a class whose module was never imported cannot have been raised,
    so the error handler need not import MLflow or pandas just to rule it out.
    """
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


# What a command did not do when its labelled data was refused (it stops before any of it).
_NOTHING_DONE = {
    "train": "nothing was trained or logged",
    "sweep": "nothing was trained or logged",
    "audit": "nothing was audited or logged",
    "evaluate": "nothing was scored",
}


# scikit-learn's OneVsRestClassifier warns once per fold and label that has no positive (or no negative) in the
# fold's training part ("Label not 6 is present in all training examples") and scores it constant: raw lines in
# the terminal, for what the data check's label floors already report by name. Set in the command's (main)
# thread, before any worker starts.
_LABEL_WITHOUT_POSITIVES = r"Label (not )?\S+ is present in all training examples"


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what is left in its buffer would fail again when Python flushes it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test's captured output): nothing will be flushed to a pipe
        pass


def _interrupt_in(owner: int) -> Callable[[int, Any], None]:
    """A SIGTERM handler that raises KeyboardInterrupt in process ``owner`` only.

    A forked copy of the process inherits the handler: cleanlab's multiprocessing pool (`audit`) forks its
    workers and stops them with SIGTERM. There SIGTERM must end the process as it does by default. Raised in a
    worker forked a moment before, the KeyboardInterrupt escaped multiprocessing's start-up code and the worker
    ran on as a second copy of its caller: in CI, a second pytest session that failed the audit test and held
    the job until its 90-minute timeout."""

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt

    return handler


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a CI timeout, a container being stopped) stops the command as Ctrl-C does, so what it
    cleans up on Ctrl-C is cleaned up then too: a run being logged is ended and deleted, a batch's staging output
    removed, the MLflow UI's server stopped. By default SIGTERM ended Python at once: a tester's `train` stopped
    while logging left a run RUNNING for good, with its metrics and a pending model."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt_in(os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cli_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one clear line and a non-zero exit code; SIGTERM and Ctrl-C into status 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_as_interrupt(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_LABEL_WITHOUT_POSITIVES, category=UserWarning)
                return command(*args, **kwargs)
        except KeyboardInterrupt:
            print_error(f"interrupted: {_NOTHING_DONE.get(command.__name__, 'stopped')}")
            raise typer.Exit(130) from None
        except TopicframeError as exc:
            data_error = _loaded("training.problems", "DataValidationError")
            if data_error is not None and isinstance(exc, data_error):
                problems = exc.problems  # type: ignore[attr-defined]
                for problem in problems:
                    print_plain(str(problem), stderr=True)
                count = sum(p.severity == "error" for p in problems)
                not_done = _NOTHING_DONE.get(command.__name__, "stopped")
                print_error(f"{count} problem(s) in the labelled data; {not_done}")
            else:
                print_error(str(exc))
            raise typer.Exit(1) from None
        except BrokenPipeError:
            # The reader went away (`classify ... --format jsonl | head`): stop quietly, not with "error: [Errno
            # 32] Broken pipe"; status 1, as rich's console ends the commands whose output goes through it.
            _silence_stdout()
            raise typer.Exit(1) from None
        except OSError as exc:
            print_error(str(exc))
            raise typer.Exit(1) from None
        except Exception as exc:
            mlflow_error = _loaded("mlflow.exceptions", "MlflowException")
            if mlflow_error is None or not isinstance(exc, mlflow_error):
                raise
            print_error(f"MLflow: {exc.message.splitlines()[0]}")  # type: ignore[attr-defined]
            raise typer.Exit(1) from None

    return wrapper
