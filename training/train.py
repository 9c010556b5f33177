"""The training pipeline, free of MLflow: validated data -> fitted, evaluated `ModelBundle`.

`prepare_data` validates every input file before anything is fitted; `train_model`
cross-validates on the training part to tune per-label thresholds on
out-of-fold scores, fits the final model on the whole training part and scores
it on the test part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from training.bundle import ModelBundle, without_context
from training.codebook import Codebook, check_label_columns, in_column_order, load_codebooks
from training.config import RunConfig
from training.dataset import ColumnMap, LabelledData, expand_paths, load_labelled_data, read_header
from training.evaluation import (
    cannot_hold_out,
    cardinality,
    indicator,
    out_of_fold_scores,
    role_report,
    score_label_set,
    split_train_test,
    too_few_for_cv,
)
from training.features import ArticleLayout
from training.label_set import LabelSetModel
from training.machine import labels_fitted_in_threads, usable_cores
from training.problems import DataValidationError, Problem, first_row_of_each_text
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
    fit_threads: int = 1  # how many labels were fitted at once: it changes fit_seconds, never the model


def column_map(config: RunConfig) -> ColumnMap:
    d = config.data
    return ColumnMap(
        text=d.text_column,
        id=d.id_column,
        article_id=d.article_id_column,
        split=d.split_column,
        position=d.position_column,
        label_sets=dict(d.label_columns),
    )


def load_data(
    config: RunConfig,
    paths: list[str],
    codebooks: dict[str, Codebook],
    strict: bool,
    min_positives: int,
    prefer_feedback: bool = False,
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
        prefer_feedback=prefer_feedback,
        roles=(config.roles.label_set, config.roles.content),
    )


def label_set_codebooks(config: RunConfig) -> dict[str, Codebook]:
    """The codebooks to train: ``data.label_sets``, or (unset) every codebook in the labels directory,
    each of which must then have its column in every data file (the role set first, then column order)."""
    d = config.data
    codebooks = load_codebooks(d.labels_dir, d.label_sets)
    if d.label_sets is not None:
        return codebooks
    check_label_columns(codebooks, d.label_columns, d.labels_dir)
    header = next(filter(None, (_header_if_readable(path, d.encoding) for path in expand_paths(d.train + d.test))), [])
    return in_column_order(codebooks, header, d.label_columns, config.roles.label_set)


def _header_if_readable(path: Path, encoding: str) -> list[str]:
    """A file's column names, or [] for a file that is missing, empty, UTF-16 or semicolon-separated: such a
    file is said at its line 1 with every other file's problems (it stopped the reading here, and the other
    files' row problems were found only once it was fixed)."""
    if not path.is_file():
        return []
    try:
        return read_header(path, encoding)
    except DataValidationError:
        return []


def leaked_test_paragraphs(
    test: LabelledData, training_rows: dict[str, str], role_set: str | None, content_roles: list[str]
) -> list[Problem]:
    """A test content paragraph whose text is also in the training data (``training_rows``: text -> first row);
    a layout line ("###", "3-minute read") may recur."""
    return [
        Problem(
            test.sources[i].rsplit(":", 1)[0],
            int(test.sources[i].rsplit(":", 1)[1]),
            f"this test paragraph also appears in the training data ({training_rows[text]})",
        )
        for i, text in enumerate(test.texts)
        if text in training_rows and (role_set not in test.labels or test.labels[role_set][i][0] in content_roles)
    ]


def prepare_data(config: RunConfig, strict: bool = False) -> PreparedData:
    """Load codebooks and every data file; raise one error listing all problems."""
    codebooks = label_set_codebooks(config)
    problems: list[Problem] = []
    loaded: list[LabelledData | None] = []
    texts_read: dict[str, str] = {}  # the training files' texts when they have problems, for the leak check
    # Label floors and corrections apply to the training data; the test set is gold, never rewritten.
    train_part = (config.data.train, config.data.min_positives, config.data.prefer_feedback)
    for paths, floor, prefer_feedback in (train_part, (config.data.test, 0, False)):
        if not paths:
            loaded.append(None)
            continue
        try:
            part = load_data(config, paths, codebooks, strict, floor, prefer_feedback)
            problems.extend(part.warnings)
            loaded.append(part)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            loaded.append(None)
            if len(loaded) == 1:
                texts_read = exc.texts_read or {}
    data, test = loaded
    # Built once (rebuilt per test row it cost 6 s on NYT CAP's 24,750 rows).
    training_rows = first_row_of_each_text(data.texts, data.sources) if data is not None else texts_read
    if test is not None and training_rows:  # reported with every other problem, not after they are fixed
        problems += leaked_test_paragraphs(test, training_rows, config.roles.label_set, config.roles.content)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)
    assert data is not None
    label_names = {name: cb.label_names for name, cb in codebooks.items()}

    def too_small(message: str) -> DataValidationError:
        # Said with the data's warnings: a dropped duplicate row is often why there are too few rows or articles.
        return DataValidationError([*problems, Problem(", ".join(config.data.train), None, message)])

    if test is not None:
        train, method = data, "test files"
    else:
        held_out = None if any(s is not None for s in data.splits) else cannot_hold_out(data)
        if held_out:
            raise too_small(held_out)
        train_rows, test_rows, method = split_train_test(data, label_names, config.data.test_size, config.seed)
        train, test = data.subset(train_rows), data.subset(test_rows)
        if not len(test):  # only a split column can leave it empty
            raise too_small("the split column marks no row 'test': nothing to score the model on (or give --test-data)")
    too_few = too_few_for_cv(train, config.cv.folds)
    if too_few:
        raise too_small(too_few)
    return PreparedData(codebooks, train, test, method, problems + context_warnings(config, train))


def context_warnings(config: RunConfig, train: LabelledData) -> list[Problem]:
    """Context asked for, but every training paragraph stands alone: the model leaves the blocks out
    (`training.bundle.without_context`), and says so before it is fitted."""
    if without_context(config) is config or article_layout(train).known.any():
        return []
    message = (
        "no article has two paragraphs (no article_id column?): the model is trained without the context "
        "blocks (context.neighbours, context.headline and context.article are logged as 0)"
    )
    return [Problem(", ".join(config.data.train), None, message, "warning")]


def article_layout(data: LabelledData) -> ArticleLayout:
    """Rows grouped into their articles, in file (or ``position``) order; rows without an article stand alone."""
    return ArticleLayout.from_article_ids(data.article_ids)


def score_decisions(
    bundle: ModelBundle,
    data: LabelledData,
    scores: dict[str, np.ndarray],
    predicted: dict[str, list[list[str]]],
    read_as_content: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Per label set: the usual report; the role set adds per-role accuracy, content sets their cardinality.

    Cardinality is per content paragraph: by the gold roles, or, for data without them, by the roles the model
    read (``read_as_content``), so that the figure means the same with and without a role column."""
    reports = {}
    gold_content = content_rows(bundle, data)
    if read_as_content is not None and (bundle.role_set is None or bundle.role_set not in data.labels):
        gold_content = read_as_content
    for name, labels in bundle.label_names.items():
        if name not in data.labels:
            continue  # data labelled for some of the model's sets only (`topicframe evaluate`)
        y_true = data.label_matrix(name, labels)
        y_pred = indicator(predicted[name], labels)
        reports[name] = score_label_set(y_true, y_pred, labels, bundle.multi_label[name])
        if name == bundle.role_set:
            reports[name] |= role_report(y_true, y_pred, labels, bundle.config.roles.content)
        elif bundle.multi_label[name]:
            reports[name] |= cardinality(y_true[gold_content], y_pred[gold_content])
    return reports


def content_rows(bundle: ModelBundle, data: LabelledData) -> np.ndarray:
    """Rows whose true role is a content role (every row when the model has no role set)."""
    if bundle.role_set is None or bundle.role_set not in data.labels:
        return np.ones(len(data), dtype=bool)
    return np.isin([row[0] for row in data.labels[bundle.role_set]], bundle.config.roles.content)


def evaluate(bundle: ModelBundle, data: LabelledData) -> Evaluation:
    scored = bundle.score(data.texts, layout=article_layout(data))
    scores = dict(scored.scores)
    predicted = {name: bundle.decide(name, s, scored.labelled) for name, s in scores.items()}
    if scored.roles is not None and bundle.role_set is not None:
        assert scored.role_scores is not None
        scores[bundle.role_set] = scored.role_scores
        predicted[bundle.role_set] = [[role] for role in scored.roles]
    return Evaluation(score_decisions(bundle, data, scores, predicted, scored.content), scores, predicted)


def tune_decision_rule(bundle: ModelBundle, data: LabelledData, oof: dict[str, np.ndarray]) -> None:
    """Each multi-label set's thresholds (tuned on out-of-fold scores, or fixed) and, with
    ``decision.at_least_one: tuned``, whether a paragraph with no passing label gets its top label.

    Both are tuned on the paragraphs that can carry labels: a caption's missing topics say nothing about where
    a topic's threshold belongs.
    """
    config = bundle.config
    gold_content = content_rows(bundle, data)
    for name in bundle.content_label_sets:
        labels = bundle.label_names[name]
        if not bundle.multi_label[name]:
            continue
        y, scores = data.label_matrix(name, labels)[gold_content], oof[name][gold_content]
        if config.thresholds.strategy == "f1":
            bundle.set_thresholds(name, tune_thresholds(y, scores, f1_tolerance=config.thresholds.f1_tolerance))
        else:
            bundle.set_thresholds(name, np.full(len(labels), config.thresholds.fixed))
        if config.decision.at_least_one == "tuned":
            bundle.set_at_least_one(name, fallback_raises_micro_f1(bundle.label_sets_[name], y, scores))


def fallback_raises_micro_f1(model: LabelSetModel, y_true: np.ndarray, scores: np.ndarray) -> bool:
    """Whether ``at_least_one`` would raise micro-F1 on these rows (out-of-fold scores and their true labels):
    how training decides, per set, whether to give a paragraph with no passing label its top label."""

    def micro_f1(at_least_one: bool) -> float:
        predicted = indicator(replace(model, at_least_one=at_least_one).decide(scores), model.labels)
        return float(f1_score(y_true, predicted, average="micro", zero_division=0))

    return micro_f1(True) > micro_f1(False)


def fold_scorer(
    config: RunConfig, codebooks: dict[str, Codebook]
) -> Callable[[LabelledData, LabelledData], dict[str, np.ndarray]]:
    """Fit the configured model on one fold's rows and score the held-out rows as articles: the cross-validation
    step of `topicframe train`, shared by the label audit and the threshold benchmark."""
    names = {name: cb.label_names for name, cb in codebooks.items()}

    def fit_and_score(fold_train: LabelledData, fold_test: LabelledData) -> dict[str, np.ndarray]:
        targets = {name: fold_train.label_matrix(name, labels) for name, labels in names.items()}
        model = ModelBundle(config, codebooks).fit(fold_train.texts, targets, layout=article_layout(fold_train))
        return model.predict_proba(fold_test.texts, layout=article_layout(fold_test))

    return fit_and_score


def train_model(
    config: RunConfig,
    prepared: PreparedData,
    on_step: Callable[[str], None] | None = None,
    n_jobs: int | None = None,
) -> TrainingResult:
    """Cross-validate, tune thresholds, fit the final model and evaluate it.

    One-vs-rest labels are fitted ``n_jobs`` at a time in threads (default: every usable core): liblinear
    releases the GIL and the threads share one feature matrix. The model does not depend on ``n_jobs``
    (`tests/unit/training/test_parallel_fit.py`); a sweep running trials in several processes gives each its
    share of the cores.
    """
    step = on_step or (lambda _: None)
    codebooks = prepared.codebooks
    label_names = {name: cb.label_names for name, cb in codebooks.items()}
    train = prepared.train

    def targets(data: LabelledData) -> dict[str, np.ndarray]:
        return {name: data.label_matrix(name, labels) for name, labels in label_names.items()}

    started = time.perf_counter()
    threads = n_jobs or usable_cores()
    with labels_fitted_in_threads(threads):
        oof = out_of_fold_scores(
            train,
            label_names,
            config.cv.folds,
            config.seed,
            fold_scorer(config, codebooks),
            on_fold=lambda: step("cv fold"),
        )
        bundle = ModelBundle(config, codebooks).fit(
            train.texts, targets(train), data_digest=train.digest(), layout=article_layout(train)
        )
    step("final fit")
    fit_seconds = time.perf_counter() - started

    tune_decision_rule(bundle, train, oof)
    # Out-of-fold roles decide which paragraphs are content, as the model's own roles will at prediction time.
    oof_content = np.ones(len(train), dtype=bool)
    if bundle.role_set is not None:
        oof_roles = bundle.decide(bundle.role_set, oof[bundle.role_set])
        oof_content = np.isin([row[0] for row in oof_roles], config.roles.content)
    # Out-of-fold metrics use the tuned thresholds, so they are slightly optimistic
    # for multi-label sets; the test metrics are the honest figure.
    oof_predicted = {name: bundle.decide(name, scores, oof_content) for name, scores in oof.items()}
    cv_reports = score_decisions(bundle, train, oof, oof_predicted)

    result = evaluate(bundle, prepared.test)
    step("evaluate")
    bundle.metrics = {
        f"{name}.{key}": float(value)
        for name, report in result.reports.items()
        for key, value in report.items()
        if key != "per_label"
    }
    return TrainingResult(bundle, prepared, result, cv_reports, fit_seconds, threads)
