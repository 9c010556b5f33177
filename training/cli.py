"""The ``topicframe`` command line: train, sweep, compare, diff, evaluate, classify, promote, agreement, ui, serve.

Every user-fixable error is printed as one line (what and where) with exit code 1;
no tracebacks.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from training.errors import TopicframeError

app = typer.Typer(help="Topic and framing classifier for news paragraphs.", no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

ModelOption = Annotated[
    str, typer.Option("--model", help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory")
]


def cli_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one clear line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        from training.dataset import DataValidationError

        try:
            return command(*args, **kwargs)
        except DataValidationError as exc:
            for problem in exc.problems:
                errors.print(str(problem), markup=False, highlight=False)
            count = sum(p.severity == "error" for p in exc.problems)
            errors.print(f"error: {count} problem(s) in the labelled data; nothing was trained or logged", style="red")
            raise typer.Exit(1) from None
        except TopicframeError as exc:
            errors.print(f"error: {exc}", style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except MlflowException as exc:
            errors.print(f"error: MLflow: {exc.message.splitlines()[0]}", style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except OSError as exc:
            errors.print(f"error: {exc}", style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def print_reports(reports: dict[str, dict[str, Any]], title: str) -> None:
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


def print_promotion(result: Any) -> None:
    console.print(
        f"promotion on {result.metric}: candidate v{result.candidate_version} {result.candidate_score:.4f}"
        + (f" vs champion v{result.champion_version} {result.champion_score:.4f}" if result.champion_version else "")
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


@app.command()
@cli_errors
def train(
    data: Annotated[list[str] | None, typer.Option("--data", help="labelled CSV file or glob (repeatable)")] = None,
    test_data: Annotated[
        list[str] | None, typer.Option("--test-data", help="held-out CSV file or glob (repeatable)")
    ] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="directory of <label_set>.yaml codebooks")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="run config YAML (experiments/*.yaml)")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment name")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="move alias 'champion' if this model beats it")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="treat data warnings (label floors) as errors")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key, e.g. classifier.C=2")] = None,
    if_no_champion: Annotated[
        bool, typer.Option("--if-no-champion", help="do nothing when the registry already has a champion")
    ] = False,
) -> None:
    """Validate the labelled CSVs, cross-validate, fit, evaluate, log to MLflow and register."""
    from training.config import load_config, parse_override
    from training.promotion import promote as promote_version
    from training.tracking import log_training_run
    from training.train import prepare_data, train_model

    overrides = dict(parse_override(item) for item in set_ or [])
    if data:
        overrides["data.train"] = data
        overrides["data.test"] = test_data or []
    elif test_data:
        overrides["data.test"] = test_data
    if labels:
        overrides["data.labels_dir"] = labels
    if experiment:
        overrides["experiment"] = experiment
    if config is not None and config.is_file() and _is_sweep_file(config):
        raise TopicframeError(f"{config}: a sweep file (it has 'parameters'); run `topicframe sweep {config}`")
    run_config = load_config(config, overrides)
    if if_no_champion and _champion_exists(run_config.model_name):
        console.print(f"registry already has {run_config.model_name}@champion; not training")
        return

    prepared = prepare_data(run_config, strict=strict)
    for warning in prepared.warnings:
        errors.print(str(warning), style="yellow", markup=False, highlight=False)
    console.print(
        f"data: {len(prepared.train)} training / {len(prepared.test)} test paragraphs ({prepared.split_method}); "
        f"label sets: {', '.join(prepared.codebooks)}"
    )
    steps = run_config.cv.folds + 2
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("training", total=steps)
        result = train_model(run_config, prepared, on_step=lambda step: bar.update(task, advance=1, description=step))
    print_reports(result.test.reports, "test")
    cv_line = "  ".join(f"cv.{n}.micro_f1={r['micro_f1']:.3f}" for n, r in result.cv_reports.items())
    console.print(f"{cv_line}  (fit {result.fit_seconds:.1f}s)")
    logged = log_training_run(run_config, result)
    console.print(
        f"MLflow run {logged.run_id} in experiment '{run_config.experiment}'; "
        f"registered {run_config.model_name} version {logged.model_version}"
    )
    if promote:
        print_promotion(promote_version(logged.model_version, run_config.model_name))


def _is_sweep_file(path: Path) -> bool:
    from training.sweep import is_sweep_file

    try:
        return is_sweep_file(path)
    except Exception:  # unreadable or not YAML: load_config reports it properly
        return False


def _champion_exists(model_name: str) -> bool:
    from training.registry import CHAMPION_ALIAS, resolve_model

    try:
        resolve_model(f"models:/{model_name}@{CHAMPION_ALIAS}")
    except TopicframeError:
        return False
    return True


@app.command()
@cli_errors
def evaluate(
    data: Annotated[list[str], typer.Option("--data", help="labelled CSV file or glob (repeatable)")],
    model: ModelOption = "models:/topicframe@champion",
) -> None:
    """Score a registered or local model on a labelled CSV and print the metrics table."""
    from training.codebook import codebook_from_dict
    from training.dataset import load_labelled_data
    from training.registry import load_model
    from training.train import evaluate as evaluate_bundle

    bundle, ref = load_model(model)
    codebooks = {name: codebook_from_dict(cb) for name, cb in bundle.codebooks.items()}
    labelled = load_labelled_data(data, codebooks, min_positives=0)
    console.print(f"model {ref.name} version {ref.version or '-'}; {len(labelled)} paragraphs")
    print_reports(evaluate_bundle(bundle, labelled).reports, "evaluation")


def read_paragraphs(file: Path) -> list[str]:
    from training.classify import split_paragraphs

    if not file.is_file():
        raise TopicframeError(f"{file}: file not found")
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        bad_line = file.read_bytes()[: exc.start].count(b"\n") + 1
        raise TopicframeError(f"{file}:{bad_line}: not valid UTF-8") from None
    if file.suffix == ".jsonl":
        paragraphs = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TopicframeError(f"{file}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
                raise TopicframeError(f"{file}:{number}: expected an object with a non-empty string field 'text'")
            paragraphs.append(record["text"])
    else:
        paragraphs = split_paragraphs(content)
    if not paragraphs:
        raise TopicframeError(f"{file}: no paragraphs found")
    return paragraphs


@app.command()
@cli_errors
def classify(
    file: Annotated[
        Path, typer.Argument(help=".txt (paragraphs separated by blank lines) or .jsonl (a 'text' field per line)")
    ],
    model: ModelOption = "models:/topicframe@champion",
    explain: Annotated[int, typer.Option("--explain", min=0, max=50, help="top-k terms per predicted label")] = 0,
) -> None:
    """Classify paragraphs from a file; prints JSON in the service's response schema."""
    from training.classify import classify as classify_paragraphs
    from training.registry import load_model

    paragraphs = read_paragraphs(file)
    bundle, ref = load_model(model)
    response = {
        "model": {"name": ref.name, "version": ref.version, "alias": ref.alias, "run_id": ref.run_id},
        **classify_paragraphs(bundle, paragraphs, explain=explain),
    }
    sys.stdout.write(json.dumps(response, indent=2, ensure_ascii=False) + "\n")


@app.command()
@cli_errors
def promote(
    version: Annotated[str, typer.Argument(help="registered model version to promote")],
    name: Annotated[str, typer.Option("--name", help="registered model name")] = "topicframe",
) -> None:
    """Move alias 'champion' to VERSION if it beats the current champion on the same test data."""
    from training.promotion import promote as promote_version

    result = promote_version(version, name)
    print_promotion(result)
    if not result.promoted and result.champion_version != version:
        raise typer.Exit(2)


@app.command()
@cli_errors
def agreement(
    file_a: Annotated[Path, typer.Argument(metavar="A", help="one annotation: a labelled CSV")],
    file_b: Annotated[Path, typer.Argument(metavar="B", help="another annotation of the same paragraphs")],
    label_sets: Annotated[
        str | None,
        typer.Option("--label-sets", help="comma list, e.g. role,topic,frame (default: label-set columns of both)"),
    ] = None,
    labels: Annotated[Path, typer.Option("--labels", help="directory of <label_set>.yaml codebooks")] = Path("labels"),
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the results as JSON to this file")] = None,
) -> None:
    """Inter-annotator agreement of A and B: Krippendorff's α, Cohen's κ, positive agreement and F1 per label."""
    from training.quality.agreement import compute_agreement, render_agreement, write_json

    names = None
    if label_sets is not None:
        names = [name.strip() for name in label_sets.split(",") if name.strip()]
        if not names:
            raise TopicframeError("--label-sets: give at least one label set, e.g. --label-sets role,topic")
    result = compute_agreement(file_a, file_b, labels, names)
    render_agreement(result, console, errors)
    if json_out is not None:
        write_json(result, json_out)
        console.print(f"wrote {json_out}", markup=False, highlight=False)


@app.command()
@cli_errors
def sweep(
    file: Annotated[Path, typer.Argument(help="sweep YAML (experiments/sweep.yaml)")],
    register_best: Annotated[
        bool, typer.Option("--register-best", help="log and register the best trial's model, then apply promotion")
    ] = False,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment name")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="treat data warnings (label floors) as errors")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a base config key, e.g. cv.folds=3")] = None,
) -> None:
    """Grid or random search: one MLflow parent run, one child run per trial, trials in parallel."""
    from training.cli_experiments import run_sweep_command

    run_sweep_command(file, register_best, experiment, strict, set_ or [])


@app.command()
@cli_errors
def compare(
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment name")] = "topicframe",
    metric: Annotated[str, typer.Option("--metric", help="metric to rank by")] = "cv.topic.micro_f1",
    top: Annotated[int, typer.Option("--top", min=1, help="how many runs")] = 10,
    sweep_run: Annotated[
        str | None, typer.Option("--sweep", help="only the trials of this sweep (parent run id)")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="print a markdown table")] = False,
) -> None:
    """The best runs side by side: the params that differ among them and the key metrics."""
    from training.cli_experiments import print_comparison

    print_comparison(experiment, metric, top, sweep_run, markdown)


@app.command()
@cli_errors
def diff(
    run_a: Annotated[str, typer.Argument(help="run id (or a unique prefix, as `compare` prints)")],
    run_b: Annotated[str, typer.Argument(help="run id whose logged test data is scored")],
    output: Annotated[Path | None, typer.Option("--output", help="write the changed paragraphs to this CSV")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="changed paragraphs to print")] = 20,
) -> None:
    """Per-label metric changes from RUN_A to RUN_B and the test paragraphs whose labels changed."""
    from training.cli_experiments import print_diff

    print_diff(run_a, run_b, output, limit)


@app.command()
@cli_errors
def ui(port: Annotated[int, typer.Option("--port", help="port for the MLflow UI")] = 5000) -> None:
    """Start the MLflow UI on the tracking store (MLFLOW_TRACKING_URI or ./mlflow.db)."""
    from training.registry import tracking_uri

    uri = tracking_uri()
    console.print(f"MLflow UI on http://127.0.0.1:{port} for {uri}")
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)],
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Serve the classification API (model from TOPICFRAME_MODEL_URI)."""
    # `python -m service` replaces this process (same pid, so signals and process groups still work):
    # the server then carries none of the command line's imports, and training never imports the
    # service that builds on it.
    command = [sys.executable, "-m", "service", "--host", host, "--port", str(port), "--workers", str(workers)]
    os.execv(sys.executable, command)


def main() -> None:
    # MLflow's INFO chatter ("Creating initial MLflow database tables...") drowns the results.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    app()


if __name__ == "__main__":
    main()
