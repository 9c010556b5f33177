"""The ``topicframe`` command line: the app, its version option, and the commands registered on it.

The commands live with their concern: train/evaluate/promote in `training.model_commands`, classify in
`training.classify_command`, the experiment commands' bodies in `training.cli_experiments`, and the
labelling loop, batch scoring and model conversion in their packages (`_register_concern_commands`);
agreement, sweep, compare, diff, ui and serve are declared here.

Every user-fixable error is printed as one line (what and where) with exit code 1;
no tracebacks.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from training.cli_options import QuietOption
from training.console import cli_errors, console, errors, print_plain, quiet_mlflow_progress, set_quiet
from training.errors import TopicframeError

# Only typer, rich and this package's light modules are imported up here (the command modules too):
# `--help` and `--version` must not pay for scikit-learn, pandas or MLflow, so every command imports
# what it needs in its body.

app = typer.Typer(help="Topic and framing classifier for news paragraphs.", no_args_is_help=True, add_completion=False)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("topicframe")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        console.print(f"topicframe {package_version()}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    pass  # the options above are the whole of it; the commands are registered below


def _register_model_commands() -> None:
    from training.classify_command import classify
    from training.model_commands import evaluate, promote, train

    for command in (train, evaluate, classify, promote):
        app.command()(cli_errors(command))


# Registered before the commands below are declared: `--help` lists commands in registration order.
_register_model_commands()


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
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the --json file if it exists")] = False,
) -> None:
    """Inter-annotator agreement of A and B: Krippendorff's α, Cohen's κ, positive agreement and F1 per label."""
    from training.cli_options import refuse_existing
    from training.quality.agreement import compute_agreement, render_agreement, write_json

    refuse_existing(json_out, overwrite)
    if file_a.exists() and file_b.exists() and file_a.resolve() == file_b.resolve():
        raise TopicframeError(f"{file_a} and {file_b} are the same file: give two annotations of the same paragraphs")
    names = None
    if label_sets is not None:
        names = [name.strip() for name in label_sets.split(",") if name.strip()]
        if not names:
            raise TopicframeError("--label-sets: give at least one label set, e.g. --label-sets role,topic")
    result = compute_agreement(file_a, file_b, labels, names)
    render_agreement(result, console, errors)
    if json_out is not None:
        write_json(result, json_out)
        print_plain(f"wrote {json_out}")
    # The figures stand for the rows compared; rows an error left out make the run fail, as bad data does
    # everywhere else (a script comparing passes must not read a partial agreement as a clean one).
    left_out = sum(problem["severity"] == "error" for problem in result["problems"])
    if left_out:
        raise TopicframeError(f"{left_out} error(s) above: agreement was computed without those rows")


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
    quiet: QuietOption = False,
) -> None:
    """Grid or random search: one MLflow parent run, one child run per trial, trials in parallel."""
    from training.cli_experiments import run_sweep_command

    set_quiet(quiet)
    run_sweep_command(file, register_best, experiment, strict, set_ or [])


@app.command()
@cli_errors
def compare(
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment name")] = "topicframe",
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="metric to rank by (default: the sweep's own with --sweep, else cv.topic.micro_f1)"
        ),
    ] = None,
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
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the --output file if it exists")] = False,
) -> None:
    """Per-label metric changes from RUN_A to RUN_B and the test paragraphs whose labels changed."""
    from training.cli_experiments import print_diff
    from training.cli_options import refuse_existing

    refuse_existing(output, overwrite)  # before the two runs' test data are scored
    print_diff(run_a, run_b, output, limit)


@app.command()
@cli_errors
def ui(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port for the MLflow UI")] = 5000,
    experiment: Annotated[
        str, typer.Option("--experiment", help="experiment whose runs table the printed URL opens")
    ] = "topicframe",
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="seconds to wait for the server to answer")
    ] = 120.0,
) -> None:
    """Start the MLflow UI on the tracking store and print the URL of the experiment's runs table.

    The server (`mlflow server`, on 127.0.0.1) runs until Ctrl-C. With the embedded store (./mlflow.db)
    it serves the artifacts in ./mlartifacts.
    """
    from training.cli_experiments import run_ui

    raise typer.Exit(run_ui(port, experiment, timeout))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="worker processes, each with its own model")] = 1,
) -> None:
    """Serve the classification API (model from TOPICFRAME_MODEL_URI)."""
    # `python -m service` replaces this process (same pid, so signals and process groups still work):
    # the server then carries none of the command line's imports, and training never imports the
    # service that builds on it.
    command = [sys.executable, "-m", "service", "--host", host, "--port", str(port), "--workers", str(workers)]
    os.execv(sys.executable, command)


# Commands that live with their concern (labelling loop, batch scoring); each module is light at import.
def _register_concern_commands() -> None:
    from training.artifact_commands import register as register_artifact
    from training.batch.commands import register as register_batch
    from training.feedback.commands import register as register_feedback
    from training.quality.commands import register as register_quality

    for register in (register_quality, register_feedback, register_batch, register_artifact):
        register(app)


_register_concern_commands()


def main() -> None:
    # MLflow's INFO chatter ("Creating initial MLflow database tables...") drowns the results.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # MLflow's defaults (120 s timeout, 7 retries, backoff factor 2) kept a command silent for ~4 minutes on a
    # registry that is down; bounded as the service bounds them (MLFLOW_HTTP_REQUEST_* in the environment win).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    quiet_mlflow_progress()  # piped output and logs stay free of MLflow's download bars
    app()


if __name__ == "__main__":
    main()
