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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from training.console import (
    console,
    errors,
    print_error,
    print_plain,
    print_promotion,
    print_reports,
    print_warning,
    progress_bar,
)
from training.errors import TopicframeError

if TYPE_CHECKING:  # annotations only (postponed by the __future__ import): nothing is imported at run time
    from training.config import RunConfig

# Only typer, rich and this package's light modules are imported up here: `--help` and `--version`
# must not pay for scikit-learn, pandas or MLflow, so every command imports what it needs in its body.

app = typer.Typer(help="Topic and framing classifier for news paragraphs.", no_args_is_help=True, add_completion=False)

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory "
        "[default: models:/NAME@champion, NAME the config's model_name]",
        show_default=False,
    ),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="run config YAML (experiments/*.yaml)")]


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
    pass  # the options above are the whole of it; the commands are below


def _loaded(module: str, name: str) -> type[BaseException] | None:
    """An exception class from ``module`` if that module has been imported, without importing it.

    An exception of a class whose module was never imported cannot have been raised,
    so the error handler need not import MLflow or pandas just to rule it out.
    """
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def cli_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known failures into one clear line and a non-zero exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TopicframeError as exc:
            data_error = _loaded("training.dataset", "DataValidationError")
            if data_error is not None and isinstance(exc, data_error):
                problems = exc.problems  # type: ignore[attr-defined]
                for problem in problems:
                    print_plain(str(problem), stderr=True)
                count = sum(p.severity == "error" for p in problems)
                print_error(f"{count} problem(s) in the labelled data; nothing was trained or logged")
            else:
                print_error(str(exc))
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


def champion_uri(config: Path | None) -> str:
    """``models:/NAME@champion`` for the config's ``model_name`` (the default config when none is given)."""
    from training.config import load_config
    from training.registry import CHAMPION_ALIAS

    return f"models:/{load_config(config).model_name}@{CHAMPION_ALIAS}"


@app.command()
@cli_errors
def train(
    data: Annotated[list[str] | None, typer.Option("--data", help="labelled CSV file or glob (repeatable)")] = None,
    test_data: Annotated[
        list[str] | None, typer.Option("--test-data", help="held-out CSV file or glob (repeatable)")
    ] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="directory of <label_set>.yaml codebooks")] = None,
    config: ConfigOption = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment name")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="move alias 'champion' if this model beats it")] = False,
    register: Annotated[
        bool,
        typer.Option(
            "--register/--no-register",
            help="register the model (the first one in the registry becomes champion); --no-register only logs the run",
        ),
    ] = True,
    strict: Annotated[bool, typer.Option("--strict", help="treat data warnings (label floors) as errors")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key, e.g. classifier.C=2")] = None,
    if_no_champion: Annotated[
        bool, typer.Option("--if-no-champion", help="do nothing when the registry already has a champion")
    ] = False,
) -> None:
    """Validate the labelled CSVs, cross-validate, fit, evaluate, log to MLflow and register.

    The first model registered under the config's model_name becomes its champion;
    later ones only with --promote (or `topicframe promote VERSION`), if they beat it.
    """
    from training.config import load_config, parse_override

    if promote and not register:
        raise TopicframeError("--promote needs a registered version: drop --no-register (or --promote)")
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
    _train_and_log(run_config, strict=strict, register=register, promote=promote)


def _train_and_log(run_config: RunConfig, *, strict: bool, register: bool, promote: bool) -> None:
    from training.promotion import claim_first_champion, first_champion_reason
    from training.promotion import promote as promote_version
    from training.tracking import log_training_run
    from training.train import prepare_data, train_model

    prepared = prepare_data(run_config, strict=strict)
    for warning in prepared.warnings:
        print_warning(str(warning))
    console.print(
        f"data: {len(prepared.train)} training / {len(prepared.test)} test paragraphs ({prepared.split_method}); "
        f"label sets: {', '.join(prepared.codebooks)}"
    )
    with progress_bar() as bar:
        task = bar.add_task("training", total=run_config.cv.folds + 2)
        result = train_model(run_config, prepared, on_step=lambda step: bar.update(task, advance=1, description=step))
    print_reports(result.test.reports, "test")
    cv_line = "  ".join(f"cv.{n}.micro_f1={r['micro_f1']:.3f}" for n, r in result.cv_reports.items())
    console.print(f"{cv_line}  (fit {result.fit_seconds:.1f}s)")
    logged = log_training_run(run_config, result, register=register)
    where = f"MLflow run {logged.run_id} in experiment '{run_config.experiment}'"
    if not register:
        console.print(f"{where}; not registered (--no-register): no model version, the champion is unchanged")
        return
    version = logged.model_version
    console.print(f"{where}; registered {run_config.model_name} version {version}")
    if promote:
        print_promotion(promote_version(version, run_config.model_name))
    elif claim_first_champion(version, run_config.model_name):
        console.print(first_champion_reason(version), style="green")


def _is_sweep_file(path: Path) -> bool:
    from training.sweep import is_sweep_file

    try:
        return is_sweep_file(path)
    except Exception:  # unreadable or not YAML: load_config reports it properly
        return False


def _champion_exists(model_name: str) -> bool:
    from training.promotion import current_champion
    from training.registry import use_tracking_store

    return current_champion(model_name, use_tracking_store()) is not None


@app.command()
@cli_errors
def evaluate(
    data: Annotated[list[str], typer.Option("--data", help="labelled CSV file or glob (repeatable)")],
    model: ModelOption = None,
    config: ConfigOption = None,
) -> None:
    """Score a registered or local model on a labelled CSV and print the metrics table."""
    from training.codebook import codebook_from_dict
    from training.dataset import load_labelled_data
    from training.registry import load_model
    from training.train import evaluate as evaluate_bundle

    bundle, ref = load_model(model or champion_uri(config))
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
    model: ModelOption = None,
    config: ConfigOption = None,
    explain: Annotated[int, typer.Option("--explain", min=0, max=50, help="top-k terms per predicted label")] = 0,
) -> None:
    """Classify paragraphs from a file; prints JSON in the service's response schema."""
    from training.classify import classify as classify_paragraphs
    from training.registry import load_model

    paragraphs = read_paragraphs(file)
    bundle, ref = load_model(model or champion_uri(config))
    response = {
        "model": {"name": ref.name, "version": ref.version, "alias": ref.alias, "run_id": ref.run_id},
        **classify_paragraphs(bundle, paragraphs, explain=explain),
    }
    sys.stdout.write(json.dumps(response, indent=2, ensure_ascii=False) + "\n")


@app.command()
@cli_errors
def promote(
    version: Annotated[str, typer.Argument(help="registered model version to promote")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="registered model name [default: the config's model_name]", show_default=False),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Move alias 'champion' to VERSION if it beats the current champion on the same test data."""
    from training.config import load_config
    from training.promotion import promote as promote_version

    result = promote_version(version, name or load_config(config).model_name)
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
        print_plain(f"wrote {json_out}")


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


# Commands that live with their concern (labelling loop, batch scoring); each module is light at import.
def _register_concern_commands() -> None:
    from training.batch.commands import register as register_batch
    from training.feedback.commands import register as register_feedback
    from training.quality.commands import register as register_quality

    for register in (register_quality, register_feedback, register_batch):
        register(app)


_register_concern_commands()


def main() -> None:
    # MLflow's INFO chatter ("Creating initial MLflow database tables...") drowns the results.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    app()


if __name__ == "__main__":
    main()
