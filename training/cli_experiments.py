"""Bodies of the experiment commands (`sweep`, `compare`, `diff`); `training.cli` declares their options."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from rich import box
from rich.table import Table

from training.compare import DEFAULT_COMPARE_METRIC, comparison_table, find_runs, markdown_table, sweep_parent
from training.config import parse_override
from training.console import (
    console,
    print_plain,
    print_promotion,
    print_warning,
    print_wide,
    progress_bar,
    working,
)
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
    with working("loading and validating the data"):
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
        with working(f"re-fitting {best_run.name} to log and register its model"):
            logged, promotion, warning = register_best(sweep, prepared, result)
        if warning:
            print_warning(f"warning: {warning}")
        console.print(f"registered {result.best_trial.config.model_name} version {logged.model_version}")
        print_promotion(promotion)
    if result.failed:
        # Exit 1 so a script running the sweep notices: the ranking (and a registered best) leaves these trials out.
        failed_trial, why = result.failed[0]
        raise TopicframeError(
            f"{len(result.failed)} of {len(sweep.trials)} trials failed "
            f"(trial {failed_trial.index}, {failed_trial.name}: {why}); "
            f"the ranking is of the other {len(result.ranked)}, and the parent run's comparison.md lists every failure"
        )


def print_comparison(experiment: str, metric: str | None, top: int, sweep: str | None, markdown: bool) -> None:
    client = use_tracking_store(create=False)
    if metric is None:  # a sweep's trials are ranked by the metric the sweep chose them by
        sweep_metric = sweep_parent(client, sweep).data.params.get("sweep.metric") if sweep else None
        metric = sweep_metric or DEFAULT_COMPARE_METRIC
    runs = find_runs(client, experiment, metric, top, sweep)
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
    for caveat in result.caveats:
        print_warning(caveat)
    if result.note:
        console.print(result.note, style="yellow")
        if output:  # asked for, and not written: say so (it went unmentioned)
            console.print(f"{output} not written: there are no paragraph changes to list", style="yellow")
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


def ui_url(base: str, experiment_id: str | None) -> str:
    """The runs table of the experiment (the experiments list without one), in the machine-learning view."""
    if experiment_id is None:
        return f"{base}/#/experiments"
    from training.tracking import RUNS_VIEW_KEY

    # workflowType: the "Model training" side of MLflow 3's UI (it opens on GenAI otherwise);
    # viewStateShareKey: the view `tracking.set_runs_view` stores, with the headline metric columns.
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={RUNS_VIEW_KEY}"


def run_ui(port: int, experiment: str, timeout: float) -> int:
    """Start `mlflow server` on the tracking store, print the runs table's URL once it answers, wait for it."""
    import os
    import socket
    import subprocess
    import time
    import urllib.request

    from training.registry import hide_passwords, tracking_uri
    from training.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

    # A port another server holds would answer /health below, and the URL printed would be that server's runs.
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise TopicframeError(f"--port {port}: in use ({err.strerror}); give another --port") from None
    uri = tracking_uri()
    client = use_tracking_store()
    found = client.get_experiment_by_name(experiment)
    if found is not None and found.tags.get(EXPERIMENT_KIND_TAG) is None:  # logged before the tag existed
        client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if uri.startswith("sqlite:///") and not os.environ.get("MLFLOW_TRACKING_URI"):
        command += ["--artifacts-destination", "mlartifacts"]  # the embedded store's folder, relative
    base = f"http://127.0.0.1:{port}"
    console.print(f"starting the MLflow UI on {base} for {hide_passwords(uri)} …")
    # MLflow 3's server also starts a job runner (three huey consumers and their workers, for GenAI scorers and
    # trace roll-ups) unless told not to: eight more processes, 2 GB of memory and 40 s of CPU at start, for
    # jobs topicframe never submits. A user who wants them sets the variable.
    environment = {**os.environ}
    environment.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    # Its own process group: `mlflow server` starts uvicorn workers, and stopping this command (Ctrl-C or
    # SIGTERM) must stop all of them, not leave a server holding the port.
    server = subprocess.Popen(command, env=environment, start_new_session=True)  # SIGTERM: as Ctrl-C (cli_errors)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise TopicframeError(f"mlflow server exited with status {server.returncode} (is port {port} free?)")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TopicframeError(f"mlflow server did not answer on {base} within {timeout:g}s")
            time.sleep(0.3)
        url = ui_url(base, None if found is None else str(found.experiment_id))
        what = f"experiment '{experiment}' runs" if found is not None else f"experiments (no '{experiment}' yet)"
        console.print(f"MLflow UI ready — {what}: {url}  (Ctrl-C stops it)", highlight=False)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
