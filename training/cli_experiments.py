"""Bodies of the experiment commands (`sweep`, `compare`, `diff`); `training.cli` declares their options."""

from __future__ import annotations

import sys
from pathlib import Path

from rich import box
from rich.table import Table

from training.compare import comparison_table, find_runs, markdown_table
from training.config import parse_override
from training.console import console, print_plain, print_promotion, print_warning, print_wide, progress_bar
from training.diff import diff_runs, write_changes
from training.errors import TopicframeError
from training.registry import use_tracking_store
from training.sweep import load_sweep


def run_sweep_command(file: Path, register: bool, experiment: str | None, strict: bool, sets: list[str]) -> None:
    # Imported here: the MLflow model-logging side is only needed by this command.
    from training.sweep_run import TrialOutcome, prepare_all, register_best, run_sweep

    overrides = dict(parse_override(item) for item in sets)
    if experiment:
        overrides["experiment"] = experiment
    sweep = load_sweep(file, overrides)  # every trial's config is validated here, before anything runs
    prepared = prepare_all(sweep, strict=strict)
    for part in prepared.values():
        for problem in part.warnings:
            print_warning(str(problem))
    first = next(iter(prepared.values()))
    metric = sweep.spec.metric
    console.print(
        f"sweep {sweep.name}: {len(sweep.trials)} trials ({sweep.spec.method}) ranked by {metric}; "
        f"data: {len(first.train)} training / {len(first.test)} test paragraphs ({first.split_method})"
    )
    scores: list[float] = []
    with progress_bar(counter=True) as bar:
        task = bar.add_task("trials", total=len(sweep.trials))

        def on_trial(outcome: TrialOutcome) -> None:
            if outcome.error:
                print_plain(f"trial {outcome.index} failed: {outcome.error}", stderr=True)
            else:
                scores.append(outcome.metrics[metric])
            best = f" (best so far {max(scores):.4f})" if scores else ""
            bar.update(task, advance=1, description=f"trials{best}")

        result = run_sweep(sweep, prepared, on_trial)
    console.print(markdown_table(*result.table), markup=False, highlight=False)
    best_run = result.ranked[0]
    console.print(
        f"MLflow parent run {result.parent_run_id} in experiment '{sweep.base.experiment}': "
        f"{len(result.ranked)} trials, {len(result.failed)} failed, {result.workers} worker(s); "
        f"best {best_run.name} ({best_run.run_id}) {metric}={best_run.metrics[metric]:.4f}"
    )
    if register:
        console.print(f"re-fitting {best_run.name} to log and register its model …")
        logged, promotion, warning = register_best(sweep, prepared, result)
        if warning:
            print_warning(f"warning: {warning}")
        console.print(f"registered {result.best_trial.config.model_name} version {logged.model_version}")
        print_promotion(promotion)


def print_comparison(experiment: str, metric: str, top: int, sweep: str | None, markdown: bool) -> None:
    runs = find_runs(use_tracking_store(), experiment, metric, top, sweep)
    if not runs:
        raise TopicframeError(f"no finished run in experiment '{experiment}' has metric {metric}")
    header, rows = comparison_table(runs, metric)
    if markdown:
        sys.stdout.write(markdown_table(header, rows))
        return
    table = Table(title=f"{experiment}: top {len(runs)} by {metric}", title_justify="left", box=box.SIMPLE_HEAD)
    first_metric = header.index(metric)
    for i, column in enumerate(header):
        # Dotted names break at the last dot, keeping columns narrow; cells never wrap.
        title = "\n".join(column.rsplit(".", 1)) if "." in column else column
        table.add_column(title, justify="right" if i >= first_metric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    print_wide(table)


def print_diff(run_a: str, run_b: str, output: Path | None, limit: int) -> None:
    result = diff_runs(run_a, run_b)
    names = [f"{r.info.run_name} ({r.info.run_id[:8]})" for r in (result.run_a, result.run_b)]
    table = Table(title=f"test metrics: A = {names[0]}, B = {names[1]}", title_justify="left")
    for column in ("label set", "label", "f1 A", "f1 B", "change", "precision A→B", "recall A→B", "support"):
        table.add_column(column, justify="left" if column.startswith("label") else "right")
    for row in result.labels:
        pr = [f"{row.a[s]:.3f}→{row.b[s]:.3f}" if s in row.a and s in row.b else "" for s in ("precision", "recall")]
        change = row.b["f1"] - row.a["f1"]
        style = "green" if change > 0.0005 else "red" if change < -0.0005 else None
        support = "" if row.support is None else f"{row.support:.0f}"
        cells = [f"{row.a['f1']:.3f}", f"{row.b['f1']:.3f}", f"{change:+.3f}", *pr, support]
        table.add_row(row.label_set, row.label, *cells, style=style)
    print_wide(table)
    if result.note:
        console.print(result.note, style="yellow")
        return
    fixed = sum(_labels(p.gold) == _labels(p.b) for p in result.paragraphs)
    broken = sum(_labels(p.gold) == _labels(p.a) for p in result.paragraphs)
    console.print(
        f"{len({p.id for p in result.paragraphs})} of {result.n_test} test paragraphs changed labels "
        f"({len(result.paragraphs)} label-set predictions; B fixed {fixed}, broke {broken})"
    )
    if result.paragraphs and limit:
        shown = result.paragraphs[:limit]
        changes = Table(title=f"changed predictions (first {len(shown)})", title_justify="left")
        for column in ("id", "set", "gold", "A", "B", "text"):
            changes.add_column(column, overflow="fold")
        for p in shown:
            text = p.text if len(p.text) <= 90 else p.text[:89] + "…"
            changes.add_row(p.id, p.label_set, p.gold, p.a, p.b, text)
        print_wide(changes)
    if output:
        write_changes(output, result.paragraphs)
        console.print(f"wrote {len(result.paragraphs)} rows to {output}")


def _labels(joined: str) -> set[str]:
    return set(filter(None, joined.split(";")))
