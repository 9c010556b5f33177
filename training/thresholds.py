"""Per-label decision thresholds tuned on out-of-fold scores."""

from __future__ import annotations

import numpy as np


def tune_thresholds(
    y_true: np.ndarray, scores: np.ndarray, default: float = 0.5, min_f1: float = 0.2, f1_tolerance: float = 0.0
) -> np.ndarray:
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

    With ``f1_tolerance`` > 0 the threshold is the median of the cut-offs whose F1 is within that much of the
    best (the middle of the plateau), not the single best one: the F1 curve is flat near its top, so its
    arg-max moves with a handful of out-of-fold scores, and a retrained model's labels would flip with it.
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
    if f1_tolerance > 0:
        best_row = _middle_of_plateau(f1, best_row, best_f1 - f1_tolerance)
    has_lower = best_row < n_rows - 1  # otherwise the cut-off would call every row positive
    lower = s_sorted[np.minimum(best_row + 1, n_rows - 1), columns]
    tuned = (s_sorted[best_row, columns] + lower) / 2
    keep = has_lower & (best_f1 >= min_f1)
    thresholds[np.flatnonzero(searched)[keep]] = tuned[keep]
    return thresholds


def _middle_of_plateau(f1: np.ndarray, best_row: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per column, the median row among the cut-offs with F1 >= ``floor`` (rows in descending score order).

    The last row is never a candidate (it would call every row positive); a column whose only candidate
    is the last row keeps ``best_row``, and the keep/default rules of the caller still apply to it.
    """
    candidate = f1 >= floor  # non-cut-off rows hold F1 -1, below any floor
    candidate[-1] = False
    counts = candidate.sum(axis=0)
    # The ((count + 1) // 2)-th candidate from the top: the median, or the higher of the two middle ones.
    wanted = (counts + 1) // 2
    is_wanted = candidate & (np.cumsum(candidate, axis=0) == wanted)
    return np.where(counts > 0, np.argmax(is_wanted, axis=0), best_row)
