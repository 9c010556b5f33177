"""What a run records about a fitted model, the same for `topicframe train` and a sweep trial: its params (the
config as fitted, the data's sizes, what tuning decided) and its metrics (test, out-of-fold, the misclassified
test rows, fit time and size). No MLflow here: trial workers compute these and the parent logs them."""

from __future__ import annotations

from training.bundle import ModelBundle
from training.compare import MISCLASSIFIED_METRIC, TUNED_PREFIX
from training.config import RunConfig, flatten_params
from training.evaluation import flat_metrics
from training.train import PreparedData, TrainingResult


def run_params(config: RunConfig, data: PreparedData) -> dict[str, str]:
    """Every config key under its dotted name, plus the sizes and origin of the split; ``data.label_sets`` is
    the sets trained (discovered from the codebooks when the config leaves it unset), for runs and trials alike."""
    params = flatten_params(config)
    params.update(
        {
            "data.label_sets": ",".join(data.codebooks),
            "data.n_train": str(len(data.train)),
            "data.n_test": str(len(data.test)),
            "data.split_method": data.split_method,
        }
    )
    return params


def tuned_params(bundle: ModelBundle) -> dict[str, str]:
    """What training decided from the out-of-fold scores, beside the config that asked for it: each content
    label's threshold and, per set, whether the top-label fallback was kept (`decision.at_least_one: tuned`
    logged only "tuned"; the outcome was in the model's files alone)."""
    params = {}
    for name in bundle.content_label_sets:
        for label, threshold in bundle.thresholds(name).items():
            params[f"{TUNED_PREFIX}{name}.threshold.{label}"] = f"{threshold:.4g}"
        if bundle.multi_label[name]:
            params[f"{TUNED_PREFIX}{name}.at_least_one"] = str(bundle.at_least_one(name)).lower()
    return params


def result_metrics(result: TrainingResult, model_size_bytes: int) -> dict[str, float]:
    """Test and out-of-fold (``cv.``) metrics, the count of misclassified test rows, fit time and model size,
    under the names runs and sweep trials share."""
    metrics = flat_metrics(result.test.reports) | flat_metrics(result.cv_reports, prefix="cv.")
    return metrics | {
        MISCLASSIFIED_METRIC: float(len(misclassified_rows(result))),
        "fit_seconds": result.fit_seconds,
        "model_size_bytes": float(model_size_bytes),
    }


def misclassified_rows(result: TrainingResult) -> list[int]:
    """The test rows whose predicted labels differ from the gold ones in any set: counted in the metrics and
    written to ``reports/misclassified_test.csv`` (`training.reports.write_misclassified`)."""
    test, predicted = result.data.test, result.test.predicted
    return [
        i for i in range(len(test)) if any(set(test.labels[name][i]) != set(predicted[name][i]) for name in predicted)
    ]
