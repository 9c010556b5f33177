"""The training pipeline, free of MLflow: validated data -> fitted, evaluated `ModelBundle`.

`prepare_data` validates every input file before anything is fitted; `train_model`
cross-validates on the training part to tune per-label thresholds on
out-of-fold scores, fits the final model on the whole training part and scores
it on the test part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from training.bundle import ModelBundle
from training.codebook import Codebook, load_codebooks
from training.config import RunConfig, flatten_params
from training.dataset import ColumnMap, DataValidationError, LabelledData, Problem, load_labelled_data
from training.evaluation import flat_metrics, indicator, out_of_fold_scores, score_label_set, split_train_test
from training.thresholds import tune_thresholds


@dataclass
class PreparedData:
    codebooks: dict[str, Codebook]
    train: LabelledData
    test: LabelledData
    split_method: str
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class Evaluation:
    reports: dict[str, dict[str, Any]]
    scores: dict[str, np.ndarray]
    predicted: dict[str, list[list[str]]]


@dataclass
class TrainingResult:
    bundle: ModelBundle
    data: PreparedData
    test: Evaluation
    cv_reports: dict[str, dict[str, Any]]
    fit_seconds: float


def column_map(config: RunConfig) -> ColumnMap:
    d = config.data
    return ColumnMap(
        text=d.text_column,
        id=d.id_column,
        article_id=d.article_id_column,
        split=d.split_column,
        label_sets=dict(d.label_columns),
    )


def load_data(
    config: RunConfig, paths: list[str], codebooks: dict[str, Codebook], strict: bool, min_positives: int
) -> LabelledData:
    d = config.data
    return load_labelled_data(
        paths,
        codebooks,
        column_map(config),
        separator=d.separator,
        encoding=d.encoding,
        min_positives=min_positives,
        strict=strict,
    )


def prepare_data(config: RunConfig, strict: bool = False) -> PreparedData:
    """Load codebooks and every data file; raise one error listing all problems."""
    codebooks = load_codebooks(config.data.labels_dir, config.data.label_sets)
    problems: list[Problem] = []
    loaded: list[LabelledData | None] = []
    for paths, floor in ((config.data.train, config.data.min_positives), (config.data.test, 0)):
        if not paths:
            loaded.append(None)
            continue
        try:
            part = load_data(config, paths, codebooks, strict, floor)  # label floors apply to training data
            problems.extend(part.warnings)
            loaded.append(part)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            loaded.append(None)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)
    data, test = loaded
    assert data is not None
    label_names = {name: cb.label_names for name, cb in codebooks.items()}
    if test is not None:
        overlap = set(data.texts) & set(test.texts)
        if overlap:
            problems = [
                Problem(
                    test.sources[i].rsplit(":", 1)[0],
                    int(test.sources[i].rsplit(":", 1)[1]),
                    "this test paragraph also appears in the training data",
                )
                for i, t in enumerate(test.texts)
                if t in overlap
            ]
            raise DataValidationError(problems)
        return PreparedData(codebooks, data, test, "test files", problems)
    train_rows, test_rows, method = split_train_test(data, label_names, config.data.test_size, config.seed)
    return PreparedData(codebooks, data.subset(train_rows), data.subset(test_rows), method, problems)


def evaluate(bundle: ModelBundle, data: LabelledData) -> Evaluation:
    scores = bundle.predict_proba(data.texts)
    predicted = {name: bundle.decide(name, s) for name, s in scores.items()}
    reports = {}
    for name, labels in bundle.label_names.items():
        y_true = data.label_matrix(name, labels)
        reports[name] = score_label_set(y_true, indicator(predicted[name], labels), labels, bundle.multi_label[name])
    return Evaluation(reports, scores, predicted)


def train_model(
    config: RunConfig, prepared: PreparedData, on_step: Callable[[str], None] | None = None
) -> TrainingResult:
    """Cross-validate, tune thresholds, fit the final model and evaluate it."""
    step = on_step or (lambda _: None)
    codebooks = prepared.codebooks
    label_names = {name: cb.label_names for name, cb in codebooks.items()}
    train = prepared.train

    def targets(data: LabelledData) -> dict[str, np.ndarray]:
        return {name: data.label_matrix(name, labels) for name, labels in label_names.items()}

    def fit_and_score(fold_train: LabelledData, fold_test: LabelledData) -> dict[str, np.ndarray]:
        fold_model = ModelBundle(config, codebooks).fit(fold_train.texts, targets(fold_train))
        return fold_model.predict_proba(fold_test.texts)

    started = time.perf_counter()
    # liblinear calls BLAS for tiny vector operations; threaded OpenBLAS only adds synchronisation, and on a
    # busy machine its spinning threads made fits 10-20x slower (measured: 64 s against 3 s on the default corpus).
    with threadpool_limits(1, user_api="blas"):
        oof = out_of_fold_scores(
            train, label_names, config.cv.folds, config.seed, fit_and_score, on_fold=lambda: step("cv fold")
        )
        bundle = ModelBundle(config, codebooks).fit(train.texts, targets(train), data_digest=train.digest())
    step("final fit")
    fit_seconds = time.perf_counter() - started

    cv_reports = {}
    y_train = targets(train)
    for name, labels in label_names.items():
        if codebooks[name].multi_label and config.thresholds.strategy == "f1":
            bundle.set_thresholds(name, tune_thresholds(y_train[name], oof[name]))
        elif codebooks[name].multi_label:
            bundle.set_thresholds(name, np.full(len(labels), config.thresholds.fixed))
        # Out-of-fold metrics use the tuned thresholds, so they are slightly optimistic
        # for multi-label sets; the test metrics are the honest figure.
        oof_pred = indicator(bundle.decide(name, oof[name]), labels)
        cv_reports[name] = score_label_set(y_train[name], oof_pred, labels, codebooks[name].multi_label)

    result = evaluate(bundle, prepared.test)
    step("evaluate")
    bundle.metrics = {
        f"{name}.{key}": float(value)
        for name, report in result.reports.items()
        for key, value in report.items()
        if key != "per_label"
    }
    return TrainingResult(bundle, prepared, result, cv_reports, fit_seconds)


def run_params(config: RunConfig, data: PreparedData) -> dict[str, str]:
    """Every config key under its dotted name, plus the sizes and origin of the split."""
    params = flatten_params(config)
    params.update(
        {
            "data.n_train": str(len(data.train)),
            "data.n_test": str(len(data.test)),
            "data.split_method": data.split_method,
        }
    )
    return params


def result_metrics(result: TrainingResult, model_size_bytes: int) -> dict[str, float]:
    """Test and out-of-fold (``cv.``) metrics, fit time and model size, under the names runs share."""
    metrics = flat_metrics(result.test.reports) | flat_metrics(result.cv_reports, prefix="cv.")
    return metrics | {"fit_seconds": result.fit_seconds, "model_size_bytes": float(model_size_bytes)}
