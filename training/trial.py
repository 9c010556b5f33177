"""One sweep trial, as run in a worker process: fit, evaluate, measure; no MLflow here.

Kept apart from the MLflow side so a worker imports only scikit-learn and the
training pipeline: it starts faster, and it has no tracking connection to share.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from training.bundle import BUNDLE_FILE
from training.config import RunConfig
from training.reports import NOTE_TAG, run_description
from training.run_record import result_metrics, run_params, tuned_params
from training.sweep import Trial
from training.train import PreparedData, train_model


@dataclass
class TrialOutcome:
    index: int
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    error: str = ""


def data_key(config: RunConfig) -> str:
    # The split depends on the data section and (for a random hold-out) on the seed.
    return config.data.model_dump_json() + f"|{config.seed}"


def run_trial(trial: Trial, prepared: PreparedData, n_jobs: int | None = None) -> TrialOutcome:
    """Fit and evaluate one trial (in a worker, ``n_jobs`` threads: `train_model`); nothing here talks to MLflow."""
    try:
        result = train_model(trial.config, prepared, n_jobs=n_jobs)
        with tempfile.TemporaryDirectory(prefix="topicframe-trial-") as tmp:
            result.bundle.save(tmp)  # measured as saved, like the size logged by `topicframe train`
            size = (Path(tmp) / BUNDLE_FILE).stat().st_size
    except Exception as exc:  # a config that cannot be fitted fails its trial, not the sweep
        return TrialOutcome(trial.index, run_params(trial.config, prepared), error=f"{type(exc).__name__}: {exc}")
    # What `topicframe train` records too (trials had no description, split_method or fit_threads).
    tags = {
        "codebook_sha256": result.bundle.codebook_sha256,
        "data_digest": result.bundle.data_digest,
        "split_method": prepared.split_method,
        "fit_threads": str(result.fit_threads),
        NOTE_TAG: run_description(trial.config, result),
    }
    # as fitted (`training.bundle.without_context`), and what tuning decided
    params = run_params(result.bundle.config, prepared) | tuned_params(result.bundle)
    return TrialOutcome(trial.index, params, result_metrics(result, size), tags)


def limit_threads() -> None:
    # Trials already use every core; nested BLAS/OpenMP threads would only oversubscribe them.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
