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
