"""Splits, cross-validation and metrics.

Test split, in order of precedence: separate test files; the ``split`` column;
grouped by ``article_id`` (no article on both sides); iterative multi-label
stratification. Cross-validation on the training part uses the same grouping
and gives the out-of-fold scores that thresholds are tuned on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from training.dataset import LabelledData
from training.errors import TopicframeError


def stacked_targets(data: LabelledData, label_names: dict[str, list[str]]) -> np.ndarray:
    """All label sets side by side, for stratifying on every label at once."""
    return np.hstack([data.label_matrix(name, names) for name, names in label_names.items()])


def article_groups(data: LabelledData) -> list[str] | None:
    """The group of every row for the splits that keep an article whole: its ``article_id``, or the row alone
    when it has none (a correction exported without one). None when no row has an ``article_id``.

    Every row is grouped as soon as one has an article: one row without an id must not turn the whole
    data set into a row-level split, which puts paragraphs of one article on both sides of a fold."""
    if all(a is None for a in data.article_ids):
        return None
    return [a if a is not None else f"\x00row {i}" for i, a in enumerate(data.article_ids)]


def cannot_hold_out(data: LabelledData) -> str | None:
    """Why no test part can be held out of ``data`` (no test files, no split column), or None. scikit-learn's
    splitters would stop with a traceback naming their own parameters."""
    groups = article_groups(data)
    if groups is not None:
        if len(set(groups)) < 2:
            return (
                f"{len(data)} row(s) in one article: the test part is held out by article_id, so at least 2 "
                "articles are needed (or give --test-data, or a split column)"
            )
    elif len(data) < 2:
        return f"{len(data)} row(s): too few to hold out a test part (or give --test-data, or a split column)"
    return None


def too_few_for_cv(train: LabelledData, folds: int) -> str | None:
    """Why the training part cannot be cross-validated (the out-of-fold scores tune the thresholds), or None."""
    if len(train) < folds:
        return f"the training part has {len(train)} row(s); cross-validation needs at least cv.folds ({folds})"
    groups = article_groups(train)
    if groups is not None and len(set(groups)) < folds:
        return (
            f"the training part has {len(set(groups))} article(s) (a row without an article_id counts as one); "
            f"the folds keep articles whole, so cv.folds ({folds}) can be at most that: lower cv.folds"
        )
    return None


def split_train_test(
    data: LabelledData, label_names: dict[str, list[str]], test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of train and test, and how they were chosen."""
    rows = np.arange(len(data))
    if any(s is not None for s in data.splits):
        test = np.array([s == "test" for s in data.splits])
        return rows[~test], rows[test], "split column"
    groups = article_groups(data)
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(rows, groups=groups))
        alone = sum(a is None for a in data.article_ids)
        return train, test, "grouped by article_id" + (f" ({alone} row(s) without one, each alone)" if alone else "")
    y = stacked_targets(data, label_names)
    mss = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train, test = next(mss.split(rows, y))
    return train, test, "iterative multi-label stratification"


def cv_folds(
    data: LabelledData, label_names: dict[str, list[str]], folds: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rows = np.arange(len(data))
    groups = article_groups(data)
    if groups is not None:
        too_few = too_few_for_cv(data, folds)
        if too_few:  # never a silent fall-back to folds that split articles
            raise TopicframeError(too_few)
        yield from GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, groups=groups)
    else:
        y = stacked_targets(data, label_names)
        yield from MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y)


def out_of_fold_scores(
    data: LabelledData,
    label_names: dict[str, list[str]],
    folds: int,
    seed: int,
    fit_and_score: Callable[[LabelledData, LabelledData], dict[str, np.ndarray]],
    on_fold: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Scores for every training row from a model that did not see it."""
    oof = {name: np.zeros((len(data), len(names))) for name, names in label_names.items()}
    for train, held_out in cv_folds(data, label_names, folds, seed):
        scores = fit_and_score(data.subset(train), data.subset(held_out))
        for name in oof:
            oof[name][held_out] = scores[name]
        if on_fold:
            on_fold()
    return oof


def indicator(decided: list[list[str]], labels: list[str]) -> np.ndarray:
    index = {name: j for j, name in enumerate(labels)}
    y = np.zeros((len(decided), len(labels)), dtype=np.int8)
    for i, row in enumerate(decided):
        for label in row:
            y[i, index[label]] = 1
    return y


def score_label_set(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], multi_label: bool) -> dict[str, Any]:
    """Micro/macro F1, subset accuracy, hamming loss and a per-label table."""
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    report: dict[str, Any] = {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "per_label": {
            label: {
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "f1": float(f1[j]),
                "support": int(support[j]),
            }
            for j, label in enumerate(labels)
        },
    }
    if not multi_label:
        report["accuracy"] = report["subset_accuracy"]
    return report


# The metric names a label set's report gives (``[cv.]<set>.<stat>`` and ``[cv.]<set>.<per-label stat>.<label>``):
# what a sweep's ``metric:`` is checked against before any trial runs.
SET_STATS = (
    "micro_f1",
    "macro_f1",
    "subset_accuracy",
    "hamming_loss",
    "accuracy",  # single-label sets
    "cardinality",  # multi-label content sets
    "cardinality_gold",
    "cardinality_ratio",
    "non_content_recall",  # the role set
    "non_content_gated_recall",
)
PER_LABEL_STATS = ("precision", "recall", "f1", "support")


def flat_metrics(reports: dict[str, dict[str, Any]], prefix: str = "") -> dict[str, float]:
    """`{"topic": report}` -> MLflow metric names such as ``topic.f1.trade``."""
    metrics: dict[str, float] = {}
    for name, report in reports.items():
        for key, value in report.items():
            if key == "per_label":
                for label, row in value.items():
                    for stat, number in row.items():
                        metrics[f"{prefix}{name}.{stat}.{label}"] = float(number)
            else:
                metrics[f"{prefix}{name}.{key}"] = float(value)
    return metrics


def cardinality(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Mean labels per paragraph, predicted and true, and their ratio (1.0 = as many labels as the annotators)."""
    gold = float(y_true.sum(axis=1).mean()) if len(y_true) else 0.0
    predicted = float(y_pred.sum(axis=1).mean()) if len(y_pred) else 0.0
    return {"cardinality": predicted, "cardinality_gold": gold, "cardinality_ratio": predicted / gold if gold else 0.0}


def role_report(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], content: list[str]) -> dict[str, float]:
    """What the role decision rule depends on: of the paragraphs that are truly not content (bylines,
    captions, promos, footers), the share given exactly their role, and the share kept away from
    labels at all (any non-content role)."""
    truth, predicted = y_true.argmax(axis=1), y_pred.argmax(axis=1)
    content_columns = [labels.index(role) for role in content if role in labels]
    non_content = ~np.isin(truth, content_columns)
    if not non_content.any():
        return {"non_content_recall": 0.0, "non_content_gated_recall": 0.0}
    return {
        "non_content_recall": float((predicted[non_content] == truth[non_content]).mean()),
        "non_content_gated_recall": float((~np.isin(predicted[non_content], content_columns)).mean()),
    }
