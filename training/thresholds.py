"""Per-label decision thresholds tuned on out-of-fold scores."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve


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
    """
    thresholds = np.full(y_true.shape[1], default, dtype=np.float64)
    for j in range(y_true.shape[1]):
        y, s = y_true[:, j], scores[:, j]
        if y.sum() == 0 or y.sum() == len(y):
            continue
        precision, recall, cutoffs = precision_recall_curve(y, s)
        f1 = np.divide(
            2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
        )[:-1]  # the last point (recall 0) has no cut-off
        best_index = int(np.argmax(f1))
        best = cutoffs[best_index]
        lower = s[s < best]
        if f1[best_index] < min_f1 or not lower.size:
            continue
        thresholds[j] = (best + lower.max()) / 2
    return thresholds
