"""Log a training run to MLflow: params, metrics, tags, datasets, artifacts, the model.

Everything that can fail (plots, reports, the saved bundle) is produced on disk
*before* the run starts; if logging still fails, the run is deleted so the UI
never shows a half-logged run.
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from training.bundle import BUNDLE_FILE
from training.config import RunConfig
from training.evaluation import indicator
from training.pyfunc import prediction_frame
from training.registry import use_tracking_store
from training.reports import plot_label_set, write_misclassified, write_reports
from training.train import TrainingResult, result_metrics, run_params

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_version: str
    bundle_sha256: str


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run_name(config: RunConfig) -> str:
    """A name that says what differs between runs: classifier, n-grams, regularisation."""
    if config.run_name:
        return config.run_name
    v, c = config.vectorizer, config.classifier
    parts = [c.type, f"word{v.word_ngram_range[0]}-{v.word_ngram_range[1]}"]
    if v.char_ngram_range:
        parts.append(f"char{v.char_ngram_range[0]}-{v.char_ngram_range[1]}")
    parts.append(f"alpha{c.alpha:g}" if c.type in ("sgd", "complement_nb") else f"C{c.C:g}")
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
        plots += plot_label_set(workdir / "plots", name, labels, y_true, y_pred, result.test.scores[name])
    test_records = result.data.test.to_records()
    misclassified = write_misclassified(
        reports_dir / "misclassified_test.csv", test_records, result.test.predicted, bundle.label_sets
    )
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _frame(test_records).to_csv(data_dir / "test.csv", index=False)
    bundle_sha256 = bundle.save(workdir / "bundle")
    return {"misclassified": misclassified, "bundle_sha256": bundle_sha256, "plots": plots}


def log_training_run(
    config: RunConfig, result: TrainingResult, register: bool = True, run_id: str | None = None
) -> LoggedRun:
    """Log one training run (and register its model); ``run_id`` completes an existing run instead.

    Completing an existing run (a sweep trial logged with params and metrics only)
    adds what it lacks: params and metrics it already has are left as they are.
    """
    client = use_tracking_store()
    mlflow.set_experiment(config.experiment)
    bundle = result.bundle
    with tempfile.TemporaryDirectory(prefix="topicframe-run-") as tmp:
        workdir = Path(tmp)
        prepared = prepare_artifacts(result, workdir)
        sha = prepared["bundle_sha256"]
        train_df = _frame(result.data.train.to_records())
        test_df = _frame(result.data.test.to_records())
        example = pd.DataFrame({"text": result.data.test.texts[:3]})
        signature = infer_signature(example, prediction_frame(bundle, example["text"].tolist()))

        resuming = run_id is not None
        run = mlflow.start_run(run_id=run_id) if resuming else mlflow.start_run(run_name=run_name(config))
        run_id = run.info.run_id
        existing = client.get_run(run_id).data if resuming else None
        try:
            params = run_params(config, result.data)
            metrics = result_metrics(result, (workdir / "bundle" / BUNDLE_FILE).stat().st_size)
            metrics["test.misclassified_rows"] = float(prepared["misclassified"])
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
                }
            )
            test_source = ",".join(config.data.test) or ",".join(config.data.train)
            with warnings.catch_warnings():  # a local path "can be interpreted in multiple ways": both are local
                warnings.simplefilter("ignore", UserWarning)
                train_ds = from_pandas(train_df, source=",".join(config.data.train), name="train")
                test_ds = from_pandas(test_df, source=test_source, name="test")
            mlflow.log_input(train_ds, context="training")
            mlflow.log_input(test_ds, context="testing")
            mlflow.log_artifacts(str(workdir / "reports"), "reports")
            mlflow.log_artifacts(str(workdir / "plots"), "plots")
            mlflow.log_artifacts(str(workdir / "data"), "data")
            model_info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PACKAGE_DIR / "mlflow_model.py"),
                artifacts={"bundle": str(workdir / "bundle")},
                code_paths=[str(PACKAGE_DIR)],
                signature=signature,
                input_example=example,
                model_config={"bundle_sha256": sha},
                pip_requirements=_pip_requirements(),
            )
            version = ""
            if register:
                mv = mlflow.register_model(model_info.model_uri, config.model_name)
                version = str(mv.version)
                for key, value in {
                    "bundle_sha256": sha,
                    "data_digest": bundle.data_digest,
                    "codebook_sha256": bundle.codebook_sha256,
                }.items():
                    client.set_model_version_tag(config.model_name, version, key, value)
                mlflow.set_tag("registered_version", version)
        except BaseException:
            if resuming:  # the trial itself is complete and stays FINISHED; a retry adds what is missing
                mlflow.end_run()
                raise
            mlflow.end_run(status="FAILED")
            client.delete_run(run_id)  # no half-logged runs in the UI
            raise
        mlflow.end_run()
    return LoggedRun(run_id, run.info.experiment_id, version, sha)


def _pip_requirements() -> list[str]:
    # Pinned to this environment: the pyfunc must unpickle with the same scikit-learn.
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "numpy", "scipy", "pandas", "joblib", "pyyaml")
    return [f"{pkg}=={version(pkg)}" for pkg in packages]
