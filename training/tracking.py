"""Log a training run to MLflow: params, metrics, tags, datasets, artifacts, the model.

Everything that can fail (plots, reports, the saved bundle) is produced on disk
*before* the run starts; if logging still fails, the run is deleted so the UI
never shows a half-logged run.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from PIL import Image

from training.artifact_files import artifact_size
from training.config import RunConfig
from training.evaluation import indicator
from training.pyfunc import pyfunc_signature
from training.pyfunc_check import PYFUNC_SHA256_TAG, logged_model_sha256
from training.registry import use_tracking_store
from training.reports import NOTE_TAG, plot_label_set, run_description, write_misclassified, write_reports
from training.run_record import misclassified_rows, result_metrics, run_params, tuned_params
from training.sqlite_store import sqlite_file
from training.train import PreparedData, TrainingResult

PACKAGE_DIR = Path(__file__).resolve().parent
PYFUNC_DIGEST_FILE = "bundle_sha256.txt"  # the logged model's digest, read by `training.pyfunc`


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_version: str
    bundle_sha256: str


# MLflow 3's UI opens an experiment in its GenAI (traces) view unless the experiment says it is for
# model training: this tag (mlflow/server/js: "mlflow.experimentKind") makes it open on the runs table.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
ARTIFACTS_DIR = "mlartifacts"  # next to ./mlflow.db, as `mlflow server` names its artifact folder
RUNS_VIEW_KEY = "headline"
RUNS_VIEW_TAG = f"mlflow.sharedViewState.{RUNS_VIEW_KEY}"
VIEW_PARAMS = (
    "classifier.type",
    "classifier.C",
    "classifier.nb_weighting",
    "vectorizer.char_ngram_range",
    "context.neighbours",
    "cv.folds",
)


def git_commit() -> str:
    """The commit of the code that runs (this package's checkout), not of the working directory."""
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _local_store_db(client: MlflowClient) -> Path | None:
    """The SQLite file of an embedded store in the working directory (``./mlflow.db``), else None."""
    db = sqlite_file(client.tracking_uri)
    return db if db is not None and db.parent == Path.cwd().resolve() else None


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id, creating it so that the MLflow UI opens it as model training, not GenAI.

    In the embedded store (``./mlflow.db``) a new experiment's artifacts go to ``./mlartifacts/<id>``,
    recorded as that *relative* path: MLflow itself would record an absolute one, and moving the project
    folder would then lose every artifact. Relative paths resolve against the working directory, which
    for this store is the project folder (where ``mlflow.db`` is).
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return str(experiment.experiment_id)
    db = _local_store_db(client)
    experiment_id = client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    if db is not None:
        # MLflow has no API for a relative artifact location (it resolves every local path against the
        # cwd when the experiment is created), so the row is written once, here, right after creation.
        with sqlite3.connect(db) as connection:
            connection.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                (f"{ARTIFACTS_DIR}/{experiment_id}", int(experiment_id)),
            )
    return str(experiment_id)


def data_frames(data: PreparedData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and test parts as the frames their MLflow datasets are made of."""
    return _frame(data.train.to_records()), _frame(data.test.to_records())


def log_data_inputs(config: RunConfig, train_df: pd.DataFrame, test_df: pd.DataFrame) -> None:
    """The training and test data as the active run's MLflow datasets (contexts ``training`` and ``testing``)."""
    test_source = ",".join(config.data.test) or ",".join(config.data.train)
    with warnings.catch_warnings():  # a local path "can be interpreted in multiple ways": both are local
        warnings.simplefilter("ignore", UserWarning)
        train_ds = from_pandas(train_df, source=",".join(config.data.train), name="train")
        test_ds = from_pandas(test_df, source=test_source, name="test")
    mlflow.log_input(train_ds, context="training")
    mlflow.log_input(test_ds, context="testing")


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """A few scores named to sort together at the front of the MLflow runs table: ``score.<set>_micro_f1``
    (test) and ``score.cv_<set>_micro_f1`` (out-of-fold), copied from the full names compare and promotion use."""
    headline = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) == 2 and parts[1] == "micro_f1":
            headline[f"score.{parts[0]}_micro_f1"] = value
        elif len(parts) == 3 and parts[0] == "cv" and parts[2] == "micro_f1":
            headline[f"score.cv_{parts[1]}_micro_f1"] = value
    return headline


def set_runs_view(client: MlflowClient, experiment_id: str, metrics: list[str]) -> None:
    """A shared view of the runs table (the URL `topicframe ui` prints opens it): the headline metrics and
    the params that usually differ as columns, best test topic score first.

    MLflow's runs table shows no metric column until one is picked by hand; its "share view" feature
    stores a view as this experiment tag (mlflow/server/js: "mlflow.sharedViewState." + key, plain JSON).
    """
    columns = [f"metrics.`{name}`" for name in sorted(metrics)]
    columns += [f"params.`{name}`" for name in VIEW_PARAMS]
    first = next((c for c in columns if "score.topic_micro_f1" in c), columns[0])
    view = {"selectedColumns": columns, "orderByKey": first, "orderByAsc": False}
    client.set_experiment_tag(experiment_id, RUNS_VIEW_TAG, json.dumps(view))


# What `mlflow.register_model` prints to stderr: "Successfully registered model 'topicframe'." or "Registered
# model 'topicframe' already exists. Creating a new version of this model...", then "Created version '2' of
# model 'topicframe'." Beside train's own "registered topicframe version 2" line, testers read them as warnings.
_REGISTER_CHATTER = re.compile(
    r"(Successfully registered model |Registered model .* already exists\. |Created version ')"
)


def register_version(model_uri: str, name: str) -> ModelVersion:
    """`mlflow.register_model`, without its progress lines on stderr (anything else it prints is passed on)."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return mlflow.register_model(model_uri, name)
    finally:
        for line in said.getvalue().splitlines():
            if not _REGISTER_CHATTER.match(line):
                print(line, file=sys.stderr)


def run_name(config: RunConfig, data_digest: str | None = None) -> str:
    """A name that says what differs between runs: classifier, n-grams, regularisation (and NB weighting), and
    the training data (the first characters of its digest: six runs on six data sets had one name)."""
    if config.run_name:
        return config.run_name
    v, c = config.vectorizer, config.classifier
    parts = [c.type, f"word{v.word_ngram_range[0]}-{v.word_ngram_range[1]}"]
    if v.char_ngram_range:
        parts.append(f"char{v.char_ngram_range[0]}-{v.char_ngram_range[1]}")
    parts.append(f"alpha{c.alpha:g}" if c.type in ("sgd", "complement_nb") else f"C{c.C:g}")
    if c.type == "logreg" and c.nb_weighting:
        parts.append(f"nb{c.nb_weighting:g}")
    if data_digest:
        parts.append(f"data{data_digest[:6]}")
    return "_".join(parts)


def _frame(records: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records)


def prepare_artifacts(result: TrainingResult, workdir: Path) -> dict[str, Any]:
    """Write reports, plots, misclassified rows, test data and the bundle under ``workdir``."""
    bundle = result.bundle
    reports_dir = workdir / "reports"
    write_reports(reports_dir, result.test.reports, result.cv_reports)
    plots = []
    for name, labels in bundle.label_names.items():
        y_true = result.data.test.label_matrix(name, labels)
        y_pred = indicator(result.test.predicted[name], labels)
        scores = result.test.scores[name]
        plots += plot_label_set(workdir / "plots", name, labels, y_true, y_pred, scores, bundle.multi_label[name])
    test_records = result.data.test.to_records()
    wrong = misclassified_rows(result)
    write_misclassified(
        reports_dir / "misclassified_test.csv", test_records, result.test.predicted, bundle.label_sets, wrong
    )
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _frame(test_records).to_csv(data_dir / "test.csv", index=False)
    bundle_sha256 = bundle.save(workdir / "bundle")
    # Beside the model, for the pyfunc to verify the bundle with: passed as `model_config` MLflow would also log
    # it as a run param, where a digest has no business (the runs table and parallel coordinates pick it up).
    (workdir / PYFUNC_DIGEST_FILE).write_text(bundle_sha256 + "\n", encoding="utf-8")
    return {"bundle_sha256": bundle_sha256, "plots": plots}


def log_training_run(
    config: RunConfig, result: TrainingResult, register: bool = True, run_id: str | None = None
) -> LoggedRun:
    """Log one training run (and register its model); ``run_id`` completes an existing run instead.

    Completing an existing run (a sweep trial logged with params and metrics only)
    adds what it lacks: params and metrics it already has are left as they are.
    """
    client = use_tracking_store()
    mlflow.set_experiment(experiment_id=ensure_experiment(client, config.experiment))
    bundle = result.bundle
    with tempfile.TemporaryDirectory(prefix="topicframe-run-") as tmp:
        workdir = Path(tmp)
        prepared = prepare_artifacts(result, workdir)
        sha = prepared["bundle_sha256"]
        train_df, test_df = data_frames(result.data)
        example = pd.DataFrame({"text": result.data.test.texts[:3]})
        signature = pyfunc_signature(bundle, example["text"].tolist())

        resuming = run_id is not None
        name = run_name(config, bundle.data_digest)
        run = mlflow.start_run(run_id=run_id) if resuming else mlflow.start_run(run_name=name)
        run_id = run.info.run_id
        existing = client.get_run(run_id).data if resuming else None
        try:
            # as fitted (context off without articles), and what tuning decided (thresholds, the fallback)
            params = run_params(bundle.config, result.data) | tuned_params(bundle)
            metrics = result_metrics(result, artifact_size(workdir / "bundle"))
            metrics |= headline_metrics(metrics)
            if existing is not None:
                params = {k: v for k, v in params.items() if k not in existing.params}
                metrics = {k: v for k, v in metrics.items() if k not in existing.metrics}
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.set_tags(
                {
                    "git_commit": git_commit(),
                    "codebook_sha256": bundle.codebook_sha256,
                    "data_digest": bundle.data_digest,
                    "bundle_sha256": sha,
                    "split_method": result.data.split_method,
                    "fit_threads": str(result.fit_threads),
                    **({NOTE_TAG: run_description(config, result)} if existing is None else {}),
                }
            )
            log_data_inputs(config, train_df, test_df)
            mlflow.log_artifacts(str(workdir / "reports"), "reports")
            mlflow.log_artifacts(str(workdir / "plots"), "plots")
            # The same plots as keyed images too: MLflow's chart view sets a key's images of several runs side
            # by side, which plain artifact files are not (its compare view said "No common artifacts").
            for plot in sorted((workdir / "plots").glob("*.png")):
                with Image.open(plot) as image:
                    mlflow.log_image(image.convert("RGB"), key=plot.stem, step=0, synchronous=True)
            mlflow.log_artifacts(str(workdir / "data"), "data")
            model_info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PACKAGE_DIR / "mlflow_model.py"),
                artifacts={"bundle": str(workdir / "bundle"), "bundle_sha256": str(workdir / PYFUNC_DIGEST_FILE)},
                code_paths=[str(PACKAGE_DIR)],
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
            )
            # MLflow's loaders import the Python files logged with the model: their digest, read back from
            # the store, is what `topicframe model verify` checks a download against.
            pyfunc_sha = logged_model_sha256(client, model_info.model_id)
            mlflow.set_tag(PYFUNC_SHA256_TAG, pyfunc_sha)
            version = ""
            if register:
                mv = register_version(model_info.model_uri, config.model_name)
                version = str(mv.version)
                for key, value in {
                    "bundle_sha256": sha,
                    PYFUNC_SHA256_TAG: pyfunc_sha,
                    "data_digest": bundle.data_digest,
                    "codebook_sha256": bundle.codebook_sha256,
                }.items():
                    client.set_model_version_tag(config.model_name, version, key, value)
                mlflow.set_tag("registered_version", version)
        except BaseException as stopped:
            _release_interrupted_write(stopped)
            if resuming:  # the trial itself is complete and stays FINISHED; a retry adds what is missing
                mlflow.end_run()
                raise
            mlflow.end_run(status="FAILED")
            client.delete_run(run_id)  # no half-logged runs in the UI
            if register:  # nor a registered version of a deleted run (stopped between registering and tagging)
                for stray in client.search_model_versions(f"run_id = '{run_id}'"):
                    client.delete_model_version(stray.name, stray.version)
            raise
        mlflow.end_run()
    set_runs_view(client, run.info.experiment_id, list(headline_metrics(result_metrics(result, 0))))
    return LoggedRun(run_id, run.info.experiment_id, version, sha)


def _release_interrupted_write(stopped: BaseException) -> None:
    """Let go of the store connection a Ctrl-C or SIGTERM stopped in the middle of a write.

    An interrupted SQLite write keeps its transaction, and with it the database's write lock, for as long as its
    cursor lives, and the traceback's frames hold the cursor: ending and deleting the run then failed with
    "database is locked" (1 of 5 runs of the SIGTERM integration test here; `tests/unit/training/test_tracking_locks.py`
    shows the mechanism). The frames' locals are cleared (the traceback itself is kept) and the cycles collected.
    """
    seen: set[int] = set()
    exc: BaseException | None = stopped
    while exc is not None and id(exc) not in seen:  # the chain: an interrupt raised while handling another error
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__context__
    gc.collect()


def _pip_requirements() -> list[str]:
    # Pinned to this environment, what the pyfunc imports to read the model: the config is a pydantic model,
    # a classifier that is not weights + intercepts (linear SVM, NB) is read with skops, and a paragraph sent
    # with its own HTML or Markdown is read by training.markup (markdown-it-py, trafilatura).
    from importlib.metadata import version

    packages = (
        *("mlflow", "scikit-learn", "numpy", "scipy", "pandas", "pydantic", "skops", "pyyaml"),
        *("markdown-it-py", "trafilatura"),
    )
    return [f"{pkg}=={version(pkg)}" for pkg in packages]
