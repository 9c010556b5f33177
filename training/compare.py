"""Side-by-side run comparison: the params that differ plus the key metrics.

The terminal twin of MLflow's compare view. The same table is written by a
sweep (``comparison.csv``/``comparison.md`` on the parent run) and printed by
``topicframe compare`` over the runs of an experiment.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.errors import TopicframeError

if TYPE_CHECKING:  # no MLflow import at run time: sweep workers import this module through training.sweep
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

DEFAULT_METRIC = "cv.topic.micro_f1"
# Metrics of cost, not quality, under the names every run logs (run_record.result_metrics): never a tie-breaker
# for "same model", always ranked ascending. The one home of these names.
TIMING_METRICS = ("fit_seconds", "model_size_bytes")
MISCLASSIFIED_METRIC = "test.misclassified_rows"  # test rows with any label set wrong (`training.run_record`)
SWEEP_ROLE = "sweep.role"  # "parent" on a sweep's parent run, "trial" on its children
DEFAULT_COMPARE_METRIC = "cv.topic.micro_f1"  # `compare` without --metric (and without --sweep)
# Runs logged before the digest moved to its own artifact file carry it as a param (MLflow 3 logs a pyfunc's
# model_config as run params); it differs for every model without saying how the runs were configured.
IGNORED_PARAMS = frozenset({"bundle_sha256"})
TUNED_PREFIX = "tuned."  # `training.run_record.tuned_params`
_SUMMARY = re.compile(r"^(?P<set>[^.]+)\.(?:micro_f1|macro_f1|accuracy)$")


# How a run's test part was chosen (its `split_method` tag) when no training row of another run can be in it:
# separate test files, or rows the data itself marks 'test' (which every run on that data holds out).
SEPARATE_TEST_DATA = ("test files", "split column")


def held_out_from_own_files(run: Run) -> str | None:
    """How the run's test part was held out from its own training files (``--data`` without ``--test-data``), or
    None when it was tested on separate data. Another model, trained on other files, may have been trained on
    those rows: a comparison of the two on them is not on unseen data (`promote`, `diff`)."""
    method = run.data.tags.get("split_method", "")
    return method if method and method not in SEPARATE_TEST_DATA else None


def test_data_digest(run: Run) -> str | None:
    """The digest of the data the run was tested on (its MLflow dataset input in the "testing" context)."""
    for dataset_input in run.inputs.dataset_inputs if run.inputs else []:
        if any(tag.key == "mlflow.data.context" and tag.value == "testing" for tag in dataset_input.tags):
            return str(dataset_input.dataset.digest)
    return None


@dataclass
class RunSummary:
    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        return cls(run.info.run_id, run.info.run_name or "", dict(run.data.params), dict(run.data.metrics))


def lower_is_better(metric: str) -> bool:
    """Losses, times and sizes sort ascending; scores descending."""
    return metric.endswith(("hamming_loss", "misclassified_rows", *TIMING_METRICS))


def rank(runs: list[RunSummary], metric: str) -> list[RunSummary]:
    """Best first; runs without the metric are dropped; ties keep their order (stable sort)."""
    scored = [r for r in runs if metric in r.metrics]
    sign = 1.0 if lower_is_better(metric) else -1.0
    return sorted(scored, key=lambda r: sign * r.metrics[metric])


def varying_params(runs: list[RunSummary]) -> list[str]:
    """Param names whose values are not the same in every run (a missing param counts as a value)."""
    # `tuned.*` are what training decided (thresholds), not how the run was configured: they differ between
    # almost any two runs and would bury the settings that do.
    keys = sorted(k for k in {k for r in runs for k in r.params} - IGNORED_PARAMS if not k.startswith(TUNED_PREFIX))
    return [k for k in keys if len({r.params.get(k) for r in runs}) > 1]


def key_metrics(runs: list[RunSummary], metric: str) -> list[str]:
    """The sort metric, then test and CV micro/macro F1 (and accuracy) of every label set, then fit time."""
    present = {m for r in runs for m in r.metrics}
    label_sets: list[str] = []
    for r in runs:  # the runs' own label-set order (``data.label_sets``), then any others
        label_sets += [s for s in r.params.get("data.label_sets", "").split(",") if s and s not in label_sets]
    label_sets += sorted({m["set"] for name in present if (m := _SUMMARY.match(name))} - set(label_sets))
    wanted = [metric]
    for prefix in ("", "cv."):
        for label_set in label_sets:
            for stat in ("micro_f1", "macro_f1", "accuracy"):
                wanted.append(f"{prefix}{label_set}.{stat}")
    wanted.append(TIMING_METRICS[0])
    ordered = list(dict.fromkeys(wanted))
    return [m for m in ordered if m in present]


def comparison_table(
    runs: list[RunSummary], metric: str, always: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows (already ranked runs): name, short id, differing params (and ``always``), key metrics."""
    params = list(dict.fromkeys([*(always or []), *varying_params(runs)]))
    metrics = key_metrics(runs, metric)
    header = ["run", "run_id", *params, *metrics]
    rows = []
    for r in runs:
        values = [_number(m, r.metrics[m]) if m in r.metrics else "-" for m in metrics]
        # "-": the run has no such param; "none": the param is unset (a None config value logs as "").
        rows.append([r.name, r.run_id[:8], *[r.params.get(p, "-") or "none" for p in params], *values])
    return header, rows


def _number(metric: str, value: float) -> str:
    if metric.endswith("seconds"):
        return f"{value:.1f}"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.0f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)]) + "\n"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def find_runs(
    client: MlflowClient, experiment: str, metric: str, top: int, sweep: str | None = None
) -> list[RunSummary]:
    """The ``top`` best finished runs of an experiment on ``metric``; sweep parents are left out.

    A sweep's parent only summarises its children (which are listed themselves),
    so it would show the best trial twice.
    """
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise TopicframeError(f"experiment '{experiment}' not found in the tracking store")
    filters = ["attributes.status = 'FINISHED'"]
    if sweep:
        filters.append(f"tags.mlflow.parentRunId = '{sweep_parent(client, sweep).info.run_id}'")
    order = "ASC" if lower_is_better(metric) else "DESC"
    kept: list[RunSummary] = []
    token: str | None = None
    while len(kept) < top:
        page = client.search_runs(
            [found.experiment_id],
            filter_string=" and ".join(filters),
            order_by=[f"metrics.`{metric}` {order}"],
            max_results=200,
            page_token=token,
        )
        kept += [
            RunSummary.of(run)
            for run in page
            if run.data.tags.get(SWEEP_ROLE) != "parent" and metric in run.data.metrics
        ]
        token = page.token
        if not token:
            break
    return rank(kept, metric)[:top]


def sweep_parent(client: MlflowClient, run_id: str) -> Run:
    """The sweep's parent run ``run_id`` names; a trial or a training run is an error that says so."""
    run = resolve_run(client, run_id)
    if run.data.tags.get(SWEEP_ROLE) == "parent":
        return run
    parent = run.data.tags.get("mlflow.parentRunId")
    what = f"a trial of sweep run {parent[:8]}" if parent else "not a sweep's run"
    raise TopicframeError(
        f"--sweep {run_id}: run {run.info.run_id[:8]} ({run.info.run_name}) is {what}; give the parent run's id, "
        "which `topicframe sweep` prints"
    )


def resolve_run(client: MlflowClient, run_id: str) -> Run:
    """A run by full id or by the short id that ``compare`` prints (a unique prefix)."""
    if len(run_id) >= 32:
        return client.get_run(run_id)
    if not re.fullmatch(r"[0-9a-f]{4,31}", run_id):
        raise TopicframeError(f"{run_id}: not a run id (32 hex digits, or a prefix of at least 4)")
    experiments = [e.experiment_id for e in client.search_experiments()]
    matches = client.search_runs(experiments, filter_string=f"attributes.run_id LIKE '{run_id}%'", max_results=2)
    if len(matches) != 1:
        raise TopicframeError(f"{run_id}: {'no run' if not matches else 'more than one run'} has an id starting so")
    return matches[0]


def describe(value: Any) -> str:
    """A swept value as it appears in params (``[1, 2]`` -> ``1,2``)."""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return "" if value is None else str(value)
