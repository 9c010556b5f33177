"""`LabelSetModel`: the fitted part of one label set and its decision rule (thresholds, caps).

`training.bundle.ModelBundle` holds one per label set; `training.artifact` saves and loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from training.scoring import LinearScorer

if TYPE_CHECKING:
    from training.config import DecisionConfig


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


def decision_settings(decision: DecisionConfig, multi_label: bool) -> dict[str, Any]:
    """The configured caps and top-label fallback as `LabelSetModel` fields (a single-label set has none).

    ``at_least_one: tuned`` starts off: training decides it per set from out-of-fold scores.
    """
    if not multi_label:
        return {"max_labels": None, "relative_to_top": 0.0, "at_least_one": False}
    return {
        "max_labels": decision.max_labels,
        "relative_to_top": decision.relative_to_top,
        "at_least_one": decision.at_least_one is True,
    }
