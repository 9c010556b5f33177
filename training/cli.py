"""The ``topicframe`` command line: train, sweep, compare, diff, evaluate, classify, promote, agreement, ui, serve.

Every user-fixable error is printed as one line (what and where) with exit code 1;
no tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from training.console import (
    cli_errors,
    console,
    errors,
    print_plain,
    print_promotion,
    print_reports,
    print_warning,
    progress_bar,
    set_quiet,
    working,
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
ModelSha256Option = Annotated[
    str | None,
    typer.Option(
        "--model-sha256",
        help="for a model directory: its digest (the registry version's bundle_sha256 tag, or what "
        "`topicframe model convert` printed), which every file is checked against",
        show_default=False,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="no progress bars (also off when the output is not a terminal)"),
]


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
    prefer_feedback: Annotated[
        bool,
        typer.Option(
            "--prefer-feedback",
            help="a row with the same text as an exported correction (id 'feedback-...') takes the correction's "
            "labels instead of being a conflict; prints how many rows were overridden",
        ),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Validate the labelled CSVs, cross-validate, fit, evaluate, log to MLflow and register.

    The first model registered under the config's model_name becomes its champion;
    later ones only with --promote (or `topicframe promote VERSION`), if they beat it.
    """
    from training.config import load_config, parse_override

    set_quiet(quiet)
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
    if prefer_feedback:
        overrides["data.prefer_feedback"] = True
    if config is not None and config.is_file() and _is_sweep_file(config):
        raise TopicframeError(f"{config}: a sweep file (it has 'parameters'); run `topicframe sweep {config}`")
    run_config = load_config(config, overrides)
    if if_no_champion and _champion_exists(run_config.model_name):
        console.print(f"registry already has {run_config.model_name}@champion; not training")
        return
    _train_and_log(run_config, strict=strict, register=register, promote=promote)


def _train_and_log(run_config: RunConfig, *, strict: bool, register: bool, promote: bool) -> None:
    with working("loading scikit-learn and MLflow"):  # seconds on a busy machine: not in silence
        from training.promotion import claim_first_champion, first_champion_reason
        from training.promotion import promote as promote_version
        from training.tracking import log_training_run
        from training.train import prepare_data, train_model

    with working("loading and validating the data"):
        prepared = prepare_data(run_config, strict=strict)
    for warning in prepared.warnings:
        print_warning(str(warning))
    console.print(
        f"data: {len(prepared.train)} training / {len(prepared.test)} test paragraphs ({prepared.split_method}); "
        f"label sets: {', '.join(prepared.codebooks)}"
    )
    if not run_config.data.test and prepared.split_method != "split column":
        console.print(
            f"no test data given: the test part is {run_config.data.test_size:.0%} of the given data, "
            f"held out ({prepared.split_method}); pass --test-data (or data.test) to test on other data"
        )
    with progress_bar() as bar:
        steps = run_config.cv.folds + 2  # each fold, the final fit, the evaluation
        task = bar.add_task("training", total=steps)

        def on_step(step: str) -> None:
            bar.update(task, advance=1, description=f"training (done: {step})")

        result = train_model(run_config, prepared, on_step=on_step)
    print_reports(result.test.reports, "test")
    cv_line = "  ".join(f"cv.{n}.micro_f1={r['micro_f1']:.3f}" for n, r in result.cv_reports.items())
    console.print(f"{cv_line}  (fit {result.fit_seconds:.1f}s)")
    with working("logging the run and the model to MLflow"):
        logged = log_training_run(run_config, result, register=register)
    where = f"MLflow run {logged.run_id} in experiment '{run_config.experiment}'"
    if not register:
        console.print(f"{where}; not registered (--no-register): no model version, the champion is unchanged")
        return
    version = logged.model_version
    console.print(f"{where}; registered {run_config.model_name} version {version}")
    if promote:
        rules = run_config.promotion
        print_promotion(
            promote_version(
                version, run_config.model_name, min_gain=rules.min_gain, max_regression=rules.max_regression
            )
        )
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
    model_sha256: ModelSha256Option = None,
) -> None:
    """Score a registered or local model on a labelled CSV and print the metrics table."""
    from training.codebook import codebook_from_dict
    from training.dataset import load_labelled_data
    from training.registry import champion_uri, load_model
    from training.train import evaluate as evaluate_bundle

    bundle, ref = load_model(model or champion_uri(config), expected_sha256=model_sha256)
    codebooks = {name: codebook_from_dict(cb) for name, cb in bundle.codebooks.items()}
    labelled = load_labelled_data(data, codebooks, min_positives=0)
    console.print(f"model {ref.name} version {ref.version or '-'}; {len(labelled)} paragraphs")
    print_reports(evaluate_bundle(bundle, labelled).reports, "evaluation")


def read_paragraphs(file: Path, input_format: str | None = None) -> tuple[list[str], list[str] | None]:
    """Paragraphs (and their ids, when the input has them) from a .txt, .jsonl or .csv file or ``-`` (stdin).

    The format comes from ``input_format``, else the suffix; stdin is JSONL when it starts with ``{``,
    else text. JSONL records and CSV rows may carry an ``id``, echoed in the output.
    """
    from training.classify import split_paragraphs

    name = "<stdin>" if str(file) == "-" else str(file)
    if name == "<stdin>":
        raw = sys.stdin.buffer.read()
    elif not file.is_file():
        raise TopicframeError(f"{file}: file not found")
    else:
        raw = file.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TopicframeError(f"{name}:{line}: not valid UTF-8") from None
    kind = input_format or (file.suffix.lstrip(".") if name != "<stdin>" else "")
    if kind not in ("jsonl", "csv"):
        kind = "jsonl" if name == "<stdin>" and content.lstrip().startswith("{") else "txt"
    texts: list[str] = []
    ids: list[str] = []
    if kind == "jsonl":
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TopicframeError(f"{name}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
                raise TopicframeError(f"{name}:{number}: expected an object with a non-empty string field 'text'")
            texts.append(record["text"])
            ids.append(str(record.get("id", "")))
    elif kind == "csv":
        texts, ids = _csv_paragraphs(content, name)
    else:
        texts = split_paragraphs(content)
    if not texts:
        raise TopicframeError(f"{name}: no paragraphs found")
    return texts, (ids if any(ids) else None)


def _csv_paragraphs(content: str, name: str) -> tuple[list[str], list[str]]:
    import csv
    import io

    from training.dataset import MAX_FIELD_CHARS

    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if reader.fieldnames is None or "text" not in reader.fieldnames:
        raise TopicframeError(f"{name}:1: expected a 'text' column; header has: {', '.join(reader.fieldnames or [])}")
    texts, ids = [], []
    try:
        for row in reader:
            if not (row.get("text") or "").strip():
                raise TopicframeError(f"{name}:{reader.line_num}: empty text")
            texts.append(row["text"])
            ids.append(row.get("id") or "")
    except csv.Error as exc:
        raise TopicframeError(f"{name}:{reader.line_num}: unreadable CSV record ({exc})") from None
    return texts, ids


OUTPUT_FORMATS = ("table", "json", "jsonl", "csv")


@app.command()
@cli_errors
def classify(
    file: Annotated[
        Path,
        typer.Argument(
            help="- (stdin), .txt (paragraphs separated by blank lines), .jsonl ('text' and optional 'id' "
            "per line) or .csv ('text' and optional 'id' columns)"
        ),
    ],
    model: ModelOption = None,
    config: ConfigOption = None,
    explain: Annotated[int, typer.Option("--explain", min=0, max=50, help="top-k terms per predicted label")] = 0,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table, json (the service's response schema), jsonl (one paragraph per line) or csv "
            "[default: table on a terminal, else json]",
            show_default=False,
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="txt, jsonl or csv [default: from the suffix; stdin: jsonl if it starts with '{', else txt]",
            show_default=False,
        ),
    ] = None,
    model_sha256: ModelSha256Option = None,
) -> None:
    """Classify the paragraphs of one article, in page order; ids given in the input are echoed.

    Decision rule: a paragraph whose role is not body or headline gets no topic and no frame; otherwise a
    label is given when its score reaches that label's own threshold (tuned on out-of-fold scores to
    maximise its F1), then at most decision.max_labels labels, each scoring at least decision.relative_to_top
    of the top one; single-label sets take the top score. GET /v1/labels shows the thresholds.
    """
    from training.classify import classify as classify_paragraphs
    from training.registry import champion_uri, load_model

    chosen = output_format or ("table" if console.is_terminal else "json")
    if chosen not in OUTPUT_FORMATS:
        raise TopicframeError(f"--format {chosen}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if input_format is not None and input_format not in ("txt", "jsonl", "csv"):
        raise TopicframeError(f"--input-format {input_format}: expected txt, jsonl or csv")
    paragraphs, ids = read_paragraphs(file, input_format)
    bundle, ref = load_model(model or champion_uri(config), expected_sha256=model_sha256)
    result = classify_paragraphs(bundle, paragraphs, explain=explain)
    if ids is not None:
        for item, paragraph_id in zip(result["paragraphs"], ids, strict=True):
            item["id"] = paragraph_id
    model_info = {"name": ref.name, "version": ref.version, "alias": ref.alias, "run_id": ref.run_id}
    from training.console import write_classification

    write_classification(chosen, {"model": model_info, **result}, bundle)


@app.command()
@cli_errors
def promote(
    version: Annotated[
        str | None, typer.Argument(help="registered model version to promote (not with --rollback)", show_default=False)
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="registered model name [default: the config's model_name]", show_default=False),
    ] = None,
    config: ConfigOption = None,
    min_gain: Annotated[
        float | None,
        typer.Option(
            "--min-gain",
            min=0,
            help="the primary metric must beat the champion's by more than this [default: promotion.min_gain, 0]",
            show_default=False,
        ),
    ] = None,
    max_regression: Annotated[
        float | None,
        typer.Option(
            "--max-regression",
            min=0,
            help="largest micro-F1 drop allowed on any other label set [default: promotion.max_regression, 0.01]",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="move the alias even if VERSION does not win (the comparison is shown)")
    ] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="point 'champion' back at the version it held before its last move")
    ] = False,
) -> None:
    """Move alias 'champion' to VERSION if it beats the current champion on the same test data.

    VERSION must gain more than --min-gain on the primary metric (topic.micro_f1) and lose at most
    --max-regression of micro-F1 on any other label set; exit status 2 when it does not.
    """
    from training.config import load_config
    from training.promotion import promote as promote_version
    from training.promotion import rollback as rollback_champion

    run_config = load_config(config)
    model_name = name or run_config.model_name
    if rollback:
        if version is not None or force:
            raise TopicframeError("--rollback takes no VERSION and no --force: it restores the previous champion")
        console.print(f"{model_name}: {rollback_champion(model_name).reason}", style="green")
        return
    if version is None:
        raise TopicframeError("give the VERSION to promote (or --rollback)")
    rules = run_config.promotion
    result = promote_version(
        version,
        model_name,
        min_gain=rules.min_gain if min_gain is None else min_gain,
        max_regression=rules.max_regression if max_regression is None else max_regression,
        force=force,
    )
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
def ui(
    port: Annotated[int, typer.Option("--port", help="port for the MLflow UI")] = 5000,
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
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
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
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    app()


if __name__ == "__main__":
    main()
