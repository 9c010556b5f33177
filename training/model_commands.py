"""`topicframe train`, `evaluate` and `promote`: from labelled data to a registered model and its champion alias.

``training.cli`` registers these commands (in its order, so `--help` lists them where it always did).
Only typer and the package's light modules are imported at the top (``--help`` stays fast): each
command imports scikit-learn, MLflow and the rest in its body.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from training.cli_options import ConfigOption, ModelOption, ModelSha256Option, QuietOption
from training.console import console, print_promotion, print_reports, print_warning, progress_bar, set_quiet, working
from training.errors import TopicframeError

if TYPE_CHECKING:  # annotations only (postponed by the __future__ import): nothing is imported at run time
    from training.config import RunConfig


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
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="threads for the fit (default: every usable core): with more than one the role model is fitted "
            "beside the other label sets, and the primal solver's one-vs-rest labels (classifier.dual=false) several "
            "at once; the model is the same for any value",
        ),
    ] = None,
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
    # --data replaces the config's data, its test files too: said with what they were (a tester's config named
    # test.csv and the run tested on 20% of the new training file instead, without saying why).
    replaced_test = load_config(config, {}).data.test if data and not test_data else []
    if if_no_champion and _champion_exists(run_config.model_name):
        console.print(f"registry already has {run_config.model_name}@champion; not training")
        return
    _train_and_log(
        run_config, strict=strict, register=register, promote=promote, jobs=jobs, replaced_test=replaced_test
    )


def _train_and_log(
    run_config: RunConfig,
    *,
    strict: bool,
    register: bool,
    promote: bool,
    jobs: int | None = None,
    replaced_test: list[str] | None = None,
) -> None:
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
        replaced = ""
        if replaced_test:
            files = " ".join(replaced_test)
            replaced = f" (--data replaces the config's data.test too, {files}: pass --test-data {files} to keep it)"
        console.print(
            f"no test data given: the test part is {run_config.data.test_size:.0%} of the given data, "
            f"held out ({prepared.split_method}); pass --test-data (or data.test) to test on other data{replaced}"
        )
    with progress_bar() as bar:
        steps = run_config.cv.folds + 2  # each fold, the final fit, the evaluation
        task = bar.add_task("training", total=steps)

        def on_step(step: str) -> None:
            bar.update(task, advance=1, description=f"training (done: {step})")

        result = train_model(run_config, prepared, on_step=on_step, n_jobs=jobs)
    print_reports(result.test.reports, "test")
    cv_line = "  ".join(f"cv.{n}.micro_f1={r['micro_f1']:.3f}" for n, r in result.cv_reports.items())
    console.print(f"{cv_line}  (fit {result.fit_seconds:.1f}s)")
    with working("logging the run and the model to MLflow"):
        logged = log_training_run(run_config, result, register=register)
    where = f"MLflow run {logged.run_id} in experiment '{run_config.experiment}'"
    # What --model-sha256 and TOPICFRAME_MODEL_SHA256 check a downloaded model directory against.
    console.print(f"bundle_sha256 {logged.bundle_sha256}")
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
    else:
        console.print(
            f"the champion is unchanged: `topicframe promote {version}` scores both on the same test data "
            "and moves the alias if this version is better"
        )


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


def evaluate(
    data: Annotated[list[str], typer.Option("--data", help="labelled CSV file or glob (repeatable)")],
    model: ModelOption = None,
    config: ConfigOption = None,
    model_sha256: ModelSha256Option = None,
) -> None:
    """Score a registered or local model on a labelled CSV and print the metrics table."""
    from training.codebook import codebook_from_dict
    from training.dataset import label_sets_in_headers, load_labelled_data
    from training.registry import champion_uri, load_model
    from training.train import evaluate as evaluate_bundle

    bundle, ref = load_model(model or champion_uri(config), expected_sha256=model_sha256)
    codebooks = {name: codebook_from_dict(cb) for name, cb in bundle.codebooks.items()}
    # Data labelled for some of the model's sets (topics only, no roles) is evaluated on those sets.
    present = label_sets_in_headers(data, list(codebooks))
    if not present:
        raise TopicframeError(
            f"{', '.join(data)}: no column for any of the model's label sets ({', '.join(codebooks)}); "
            "nothing to evaluate"
        )
    if missing := [name for name in codebooks if name not in present]:
        also = ""
        if bundle.role_set in missing:
            also = f"; every row is scored, and the model's own {bundle.role_set} decides which rows get labels"
        print_warning(f"no {', '.join(missing)} column in the data: not evaluated{also}")
    roles = (bundle.config.roles.label_set, bundle.config.roles.content)
    # Checked and said as training checks and says them for its test data (a caption's topics were scored, and
    # duplicates dropped in silence): the reader refuses labels on a row of a non-content role.
    labelled = load_labelled_data(data, {name: codebooks[name] for name in present}, min_positives=0, roles=roles)
    for warning in labelled.warnings:
        print_warning(str(warning))
    for name in present:  # a blank column would score every paragraph as having no label, without a word
        if not any(labelled.labels[name]):
            print_warning(f"the {name} column has no label on any row: every paragraph is read as having no {name}")
    console.print(f"{ref.described}; {len(labelled)} paragraphs")
    print_reports(evaluate_bundle(bundle, labelled).reports, "evaluation")


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
    if not version.isdigit():
        raise TopicframeError(f"VERSION is a registered version's number (e.g. 3), not '{version}'")
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
