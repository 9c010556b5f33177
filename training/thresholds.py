"""Per-label decision thresholds tuned on out-of-fold scores."""

from __future__ import annotations

import numpy as np


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray, default: float = 0.5, min_f1: float = 0.2) -> np.ndarray:
    """For each label, the threshold that maximises that label's F1.

    ``y_true`` and ``scores`` are (rows x labels) out-of-fold matrices. The
    threshold is placed halfway between the best cut-off score and the next
    lower score seen, so it does not sit exactly on one training paragraph.
    A label with no positives keeps ``default``. So does a label whose best
    out-of-fold F1 is below ``min_f1`` or whose best cut-off would call every
    row positive (Yang's SCut.fbr): for a label with a handful of positives,
    which some fold models never see, the "best" cut-off sits among the
    negatives and only adds false positives on new data.

    All labels are searched at once: one sort of the score matrix, then cumulative counts, with the
    same arithmetic as scikit-learn's ``precision_recall_curve`` (``tests/unit/training/test_thresholds.py``
    checks equality with it); a cut-off at a tied score counts every tied row as positive, and among
    equally good cut-offs the lowest wins, as ``np.argmax`` over that curve picks it.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    n_rows, n_labels = y_true.shape
    thresholds = np.full(n_labels, default, dtype=np.float64)
    positives = y_true.sum(axis=0)
    searched = (positives > 0) & (positives < n_rows)
    if not searched.any():
        return thresholds
    y, s = y_true[:, searched], scores[:, searched]
    order = np.argsort(-s, axis=0, kind="stable")  # highest score first, per label
    s_sorted = np.take_along_axis(s, order, axis=0)
    true_positives = np.cumsum(np.take_along_axis(y, order, axis=0), axis=0, dtype=np.float64)
    predicted = np.arange(1, n_rows + 1, dtype=np.float64)[:, None]
    precision = true_positives / predicted
    recall = true_positives / true_positives[-1]
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
    )
    # A cut-off is a distinct score: only the last row of each run of ties is one (the others are not reachable).
    is_cutoff = np.ones_like(s_sorted, dtype=bool)
    is_cutoff[:-1] = s_sorted[:-1] != s_sorted[1:]
    f1[~is_cutoff] = -1.0
    # The lowest of equally good cut-offs = the last row (in descending order) holding the maximum.
    best_row = n_rows - 1 - np.argmax(f1[::-1], axis=0)
    columns = np.arange(s.shape[1])
    best_f1 = f1[best_row, columns]
    has_lower = best_row < n_rows - 1  # otherwise the cut-off would call every row positive
    lower = s_sorted[np.minimum(best_row + 1, n_rows - 1), columns]
    tuned = (s_sorted[best_row, columns] + lower) / 2
    keep = has_lower & (best_f1 >= min_f1)
    thresholds[np.flatnonzero(searched)[keep]] = tuned[keep]
    return thresholds
