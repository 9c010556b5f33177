"""Running a sweep: trials in worker processes, one MLflow parent run with one child run per trial.

Workers only fit and evaluate; every MLflow call happens in this (the parent)
process, so all runs land in the same tracking store whatever it is, and the
workers need no connection to it. Child runs are light: params, metrics,
tags and the trial's ``config.yaml`` (``topicframe train --config`` on it
reproduces the trial). ``--register-best`` re-fits the best trial — trials are
deterministic, so the re-fit is the same model — and completes the best child
run with everything ``topicframe train`` logs, the model included.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import yaml
from matplotlib.ticker import MaxNLocator
from mlflow.tracking import MlflowClient

from training.compare import (
    SWEEP_ROLE,
    TIMING_METRICS,
    RunSummary,
    comparison_table,
    lower_is_better,
    markdown_table,
    rank,
    write_csv,
)
from training.errors import TopicframeError
from training.evaluation import too_few_for_cv
from training.machine import usable_cores
from training.promotion import PromotionResult, promote
from training.registry import use_tracking_store
from training.run_record import result_metrics
from training.sweep import Sweep, Trial, worker_count
from training.tracking import (
    LoggedRun,
    data_frames,
    ensure_experiment,
    git_commit,
    headline_metrics,
    log_data_inputs,
    log_training_run,
)
from training.train import PreparedData, prepare_data, train_model
from training.trial import TrialOutcome, data_key, limit_threads, run_trial


@dataclass
class SweepResult:
    parent_run_id: str
    experiment_id: str
    workers: int
    ranked: list[RunSummary]  # successful trials, best first
    failed: list[tuple[Trial, str]]
    best_trial: Trial
    table: tuple[list[str], list[list[str]]]


def prepare_all(sweep: Sweep, strict: bool = False) -> dict[str, PreparedData]:
    """Validate the data once per distinct data section (usually one), before any trial runs."""
    prepared: dict[str, PreparedData] = {}
    for trial in sweep.trials:
        key = data_key(trial.config)
        if key not in prepared:
            prepared[key] = prepare_data(trial.config, strict=strict)
        # The data is read once, with the first trial's cv.folds: a swept cv.folds is checked here for each trial
        # (a second trial's 40 folds on 25 articles failed as a logged run after the first had run).
        too_few = too_few_for_cv(prepared[key].train, trial.config.cv.folds)
        if too_few:
            raise TopicframeError(f"{sweep.path}: {trial.described}: {too_few}")
    return prepared


def execute(trials: list[Trial], prepared: dict[str, PreparedData], workers: int) -> Iterator[TrialOutcome]:
    """Outcomes in completion order; trials run in ``workers`` processes (in-process for one)."""
    if workers == 1:
        for trial in trials:
            yield run_trial(trial, prepared[data_key(trial.config)])
        return
    # spawn, not fork: the parent has threads (progress bar, HTTP pools) that fork would copy mid-state.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=limit_threads)
    try:
        # The trials share the cores: each fits its labels in its share of them.
        threads = max(1, usable_cores() // workers)
        futures = [pool.submit(run_trial, t, prepared[data_key(t.config)], threads) for t in trials]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool:
        raise TopicframeError(
            "a trial worker died (out of memory?): lower max_parallel or raise memory_per_trial_mb"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _log_trial(
    client: MlflowClient,
    sweep: Sweep,
    trial: Trial,
    outcome: TrialOutcome,
    commit: str,
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> str:
    tags = {SWEEP_ROLE: "trial", "sweep.trial": str(trial.index), "sweep.name": sweep.name, "git_commit": commit}
    with mlflow.start_run(run_name=trial.name, nested=True, tags=tags | outcome.tags) as child:
        mlflow.log_params(outcome.params)
        log_data_inputs(trial.config, *frames)  # the datasets `topicframe train` logs (trials had none)
        mlflow.log_text(yaml.safe_dump(trial.config.model_dump(mode="json"), sort_keys=False), "config.yaml")
        if outcome.error:
            mlflow.set_tag("sweep.error", outcome.error[:5000])
        else:
            mlflow.log_metrics(outcome.metrics | headline_metrics(outcome.metrics))
    if outcome.error:
        client.set_terminated(child.info.run_id, "FAILED")  # after the context manager marked it FINISHED
    return child.info.run_id


def plot_metric(path: Path, sweep: Sweep, summaries: dict[int, RunSummary], metric: str) -> None:
    """One panel per swept key: every trial's metric, and a line through the best at each value."""
    keys = list(sweep.spec.parameters)
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        runs = [summaries[t.index] for t in sweep.trials if t.index in summaries]
        points = [(r.params[key], r.metrics[metric]) for r in runs]
        numeric = all(_is_number(x) for x, _ in points)
        order = sorted({x for x, _ in points}, key=lambda v: float(v) if numeric else v)
        position = {v: (float(v) if numeric else i) for i, v in enumerate(order)}
        ax.scatter([position[x] for x, _ in points], [y for _, y in points], alpha=0.6)
        pick = min if lower_is_better(metric) else max
        ax.plot([position[v] for v in order], [pick(y for x, y in points if x == v) for v in order], marker="o")
        if numeric and min(map(float, order)) > 0 and max(map(float, order)) / min(map(float, order)) >= 10:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(order)), order)
        elif all(float(v).is_integer() for v in order):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"sweep {sweep.name}: {metric} per swept value (line: best)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def run_sweep(
    sweep: Sweep, prepared: dict[str, PreparedData], on_trial: Callable[[TrialOutcome], None] | None = None
) -> SweepResult:
    """Run every trial, log the parent and child runs, write the comparison, tag the best child."""
    client = use_tracking_store()
    mlflow.set_experiment(experiment_id=ensure_experiment(client, sweep.base.experiment))
    spec, metric = sweep.spec, sweep.spec.metric
    workers = worker_count(len(sweep.trials), spec.max_parallel, spec.memory_per_trial_mb)
    commit = git_commit()
    by_index = {t.index: t for t in sweep.trials}
    summaries: dict[int, RunSummary] = {}
    failed: list[tuple[Trial, str]] = []
    frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}  # per data section, made once
    tags = {SWEEP_ROLE: "parent", "sweep.name": sweep.name, "git_commit": commit}
    with mlflow.start_run(run_name=f"sweep-{sweep.name}", tags=tags) as parent:
        mlflow.log_params(
            {
                "sweep.method": spec.method,
                "sweep.metric": metric,
                "sweep.seed": str(spec.seed),
                "sweep.trials": str(len(sweep.trials)),
                "sweep.parameters": ",".join(spec.parameters),
                "sweep.workers": str(workers),
            }
        )
        mlflow.log_text(sweep.path.read_text(), "sweep.yaml")
        mlflow.log_text(yaml.safe_dump(sweep.base.model_dump(mode="json"), sort_keys=False), "base_config.yaml")
        for outcome in execute(sweep.trials, prepared, workers):
            trial = by_index[outcome.index]
            key = data_key(trial.config)
            if key not in frames:
                frames[key] = data_frames(prepared[key])
            run_id = _log_trial(client, sweep, trial, outcome, commit, frames[key])
            if outcome.error:
                failed.append((trial, outcome.error))
            else:
                summaries[trial.index] = RunSummary(run_id, trial.name, outcome.params, outcome.metrics)
            if on_trial:
                on_trial(outcome)
        mlflow.set_tag("sweep.failed_trials", str(len(failed)))  # findable in the UI's runs table
        if not summaries:
            raise TopicframeError(f"every trial failed; trial {failed[0][0].index}: {failed[0][1]}")
        # Ties go to the earlier trial: rank() is stable over trials in expansion order.
        ranked = rank([summaries[i] for i in sorted(summaries)], metric)
        best = ranked[0]
        table = comparison_table(ranked, metric, always=list(spec.parameters))
        with tempfile.TemporaryDirectory(prefix="topicframe-sweep-") as tmp:
            out = Path(tmp)
            write_csv(out / "comparison.csv", *table)
            notes = "".join(f"\n- trial {t.index} ({t.name}) failed: {err}\n" for t, err in failed)
            title = f"# Sweep {sweep.name}: {len(ranked)} trials by {metric}\n\n"
            (out / "comparison.md").write_text(title + markdown_table(*table) + notes)
            plot_metric(out / f"{metric}_vs_params.png", sweep, summaries, metric)
            mlflow.log_artifacts(tmp)
        client.set_tag(best.run_id, "sweep.best", "true")
        mlflow.set_tag("best_run_id", best.run_id)
        mlflow.log_metric(f"best_{metric}", best.metrics[metric])
    best_trial = next(t for t in sweep.trials if summaries.get(t.index) is best)
    return SweepResult(parent.info.run_id, parent.info.experiment_id, workers, ranked, failed, best_trial, table)


def register_best(
    sweep: Sweep, prepared: dict[str, PreparedData], result: SweepResult
) -> tuple[LoggedRun, PromotionResult, str]:
    """Re-fit the best trial, log its model into its child run, register it and apply the promotion rules.

    Returns the logged run, the promotion result and a warning ('' when the
    re-fit reproduced the trial's metric).
    """
    trial, best = result.best_trial, result.ranked[0]
    metric = sweep.spec.metric
    refit = train_model(trial.config, prepared[data_key(trial.config)])
    warning = ""
    score = result_metrics(refit, 0).get(metric)
    if metric not in TIMING_METRICS and (score is None or abs(score - best.metrics[metric]) > 1e-9):
        warning = f"re-fit of trial {trial.index} gave {metric}={score}, the trial gave {best.metrics[metric]}"
    logged = log_training_run(trial.config, refit, register=True, run_id=best.run_id)
    rules = trial.config.promotion
    promoted = promote(
        logged.model_version, trial.config.model_name, min_gain=rules.min_gain, max_regression=rules.max_regression
    )
    return logged, promoted, warning
