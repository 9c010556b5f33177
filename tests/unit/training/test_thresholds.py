import numpy as np

from training.thresholds import tune_thresholds


def test_threshold_separates_classes_and_maximises_f1() -> None:
    y = np.array([[0], [0], [0], [1], [1], [1]])
    scores = np.array([[0.1], [0.2], [0.35], [0.4], [0.8], [0.9]])
    (t,) = tune_thresholds(y, scores)
    assert 0.35 < t <= 0.4  # halfway between the last negative and the first positive
    assert ((scores[:, 0] >= t) == y[:, 0].astype(bool)).all()


def test_threshold_trades_precision_for_recall_when_it_pays() -> None:
    # One positive hides among negatives at 0.3: including it costs 1 FP, gains 1 TP -> F1 0.8 vs 0.67.
    y = np.array([[1], [1], [0], [1], [0], [0]])
    scores = np.array([[0.9], [0.8], [0.35], [0.3], [0.1], [0.05]])
    (t,) = tune_thresholds(y, scores)
    assert 0.1 < t <= 0.3


def test_label_without_positives_keeps_default() -> None:
    y = np.zeros((4, 2), dtype=int)
    y[:, 1] = [0, 1, 0, 1]
    thresholds = tune_thresholds(y, np.random.default_rng(0).random((4, 2)), default=0.5)
    assert thresholds[0] == 0.5


def test_label_with_no_out_of_fold_evidence_keeps_default() -> None:
    # One positive, scored 0 by the fold model that never saw it: the F1-optimal
    # cut-off would call every row positive (F1 2/(n+1)); keep the default instead.
    y = np.zeros((20, 1), dtype=int)
    y[3, 0] = 1
    scores = np.linspace(0.01, 0.3, 20).reshape(-1, 1)
    scores[3, 0] = 0.0
    (t,) = tune_thresholds(y, scores, default=0.5)
    assert t == 0.5


def test_label_with_low_best_f1_keeps_default() -> None:
    y = np.zeros((40, 1), dtype=int)
    y[[15, 35], 0] = 1  # both positives score low among many negatives: best F1 well below 0.2
    scores = np.linspace(0.9, 0.0, 40).reshape(-1, 1)
    assert tune_thresholds(y, scores, min_f1=0.2)[0] == 0.5
    assert tune_thresholds(y, scores, min_f1=0.0)[0] != 0.5  # without the floor it would be tuned
