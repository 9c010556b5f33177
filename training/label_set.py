"""`LabelSetModel`: the fitted part of one label set and its decision rule (thresholds, caps).

`training.bundle.ModelBundle` holds one per label set; `training.artifact` saves and loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from training.scoring import LinearScorer


@dataclass
class LabelSetModel:
    """The fitted part of one label set.

    Logistic models keep only their `LinearScorer` (one weight matrix, the exact
    same probabilities); other classifiers keep the scikit-learn estimator and a
    weight matrix for explanations. Storing the weights once keeps the saved
    model, and every serving worker's memory, a third of what three copies took.
    """

    name: str
    labels: list[str]
    multi_label: bool
    classifier: Any  # the fitted scikit-learn classifier; None when `scorer` reproduces it
    weights: np.ndarray | None  # labels x features, for explanations when there is no scorer
    thresholds: np.ndarray
    scorer: LinearScorer | None = None
    # Codebook columns the classifier has (a single-label set can miss a label with no training row).
    columns: np.ndarray | None = None
    max_labels: int | None = None
    relative_to_top: float = 0.0
    at_least_one: bool = False  # a row none of whose labels passes gets its top label (multi-label sets)

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.scorer is not None:
            return self.widen(self.scorer.predict_proba(X))
        return self.widen(np.asarray(self.classifier.predict_proba(X), dtype=np.float64))

    def widen(self, scores: np.ndarray) -> np.ndarray:
        """Scores over the classifier's classes -> scores over the codebook's labels, in codebook order."""
        if self.columns is None or len(self.columns) == len(self.labels):
            return scores
        # Widen to codebook order: a label the classifier never saw scores 0, and column j is always label j.
        widened = np.zeros((scores.shape[0], len(self.labels)))
        widened[:, self.columns] = scores
        return widened

    def term_weights(self, label: int, features: np.ndarray) -> np.ndarray:
        """The weights of `features` (column indices) for one label."""
        if self.columns is not None and label not in self.columns:
            return np.zeros(len(features))
        column = int(np.searchsorted(self.columns, label)) if self.columns is not None else label
        if self.scorer is not None:
            return self.scorer.weights[features, column]
        assert self.weights is not None
        return self.weights[column, features]

    def decide(self, scores: np.ndarray) -> list[list[str]]:
        """Labels per row, highest score first. Single-label sets always pick the argmax.

        Multi-label sets keep the labels that pass their own threshold, then (when configured)
        only those within ``relative_to_top`` of the row's best score, at most ``max_labels``. With
        ``at_least_one``, a row where no label passes gets its top-scoring label.
        """
        labels = self.labels
        if not self.multi_label:
            return [[labels[j]] for j in np.argmax(scores, axis=1).tolist()]
        passed = scores >= self.thresholds
        if self.relative_to_top:
            passed &= scores >= self.relative_to_top * scores.max(axis=1, keepdims=True)
        if self.at_least_one and len(labels):
            empty = np.flatnonzero(~passed.any(axis=1))
            passed[empty, np.argmax(scores[empty], axis=1)] = True
        # Whole-matrix numpy, then plain lists: per-element numpy indexing costs more than the decision.
        order = np.argsort(-scores, axis=1, kind="stable").tolist()
        decided = [[labels[j] for j in row if ok[j]] for row, ok in zip(order, passed.tolist(), strict=True)]
        if self.max_labels:
            decided = [row[: self.max_labels] for row in decided]
        return decided


def fallback_raises_micro_f1(model: LabelSetModel, y_true: np.ndarray, scores: np.ndarray) -> bool:
    """Whether ``at_least_one`` would raise micro-F1 on these rows (out-of-fold scores and their true labels):
    how training decides, per set, whether to give a paragraph with no passing label its top label."""

    def micro_f1(at_least_one: bool) -> float:
        decided = replace(model, at_least_one=at_least_one).decide(scores)
        index = {label: j for j, label in enumerate(model.labels)}
        predicted = np.zeros(y_true.shape, dtype=bool)
        for i, row in enumerate(decided):
            predicted[i, [index[label] for label in row]] = True
        true = y_true.astype(bool)
        return 2 * float((true & predicted).sum()) / max(float(true.sum() + predicted.sum()), 1.0)

    return micro_f1(True) > micro_f1(False)
