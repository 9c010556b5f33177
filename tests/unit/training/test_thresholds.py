import copy

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from training.config import ThresholdConfig
from training.thresholds import tune_thresholds
from training.train import content_rows, fallback_raises_micro_f1, prepare_data, tune_decision_rule


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


def per_label_reference(
    y_true: np.ndarray, scores: np.ndarray, default: float = 0.5, min_f1: float = 0.2
) -> np.ndarray:
    """The search one label at a time through scikit-learn's precision_recall_curve (the former implementation)."""
    thresholds = np.full(y_true.shape[1], default)
    for j in range(y_true.shape[1]):
        y, s = y_true[:, j], scores[:, j]
        if y.sum() == 0 or y.sum() == len(y):
            continue
        precision, recall, cutoffs = precision_recall_curve(y, s)
        f1 = np.divide(
            2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
        )[:-1]
        best_index = int(np.argmax(f1))
        lower = s[s < cutoffs[best_index]]
        if f1[best_index] >= min_f1 and lower.size:
            thresholds[j] = (cutoffs[best_index] + lower.max()) / 2
    return thresholds


def test_vectorised_search_equals_precision_recall_curve_per_label() -> None:
    rng = np.random.default_rng(7)
    rows, labels = 300, 40
    y = (rng.random((rows, labels)) < rng.uniform(0.005, 0.4, labels)).astype(np.int8)
    y[:, 0] = 0  # no positives
    y[:, 1] = 1  # all positive
    scores = np.clip(0.6 * y + rng.normal(0.2, 0.25, (rows, labels)), 0, 1)
    scores[:, 2:12] = np.round(scores[:, 2:12], 1)  # many ties, including ties across classes
    scores[:, 12] = 0.3  # one score for every row
    for min_f1 in (0.0, 0.2, 0.6):
        expected = per_label_reference(y, scores, min_f1=min_f1)
        np.testing.assert_array_equal(tune_thresholds(y, scores, min_f1=min_f1), expected)
    tuned = tune_thresholds(y, scores, min_f1=0.0)
    assert np.count_nonzero(tuned != 0.5) > 30  # the comparison covered tuned labels, not just defaults


def test_tolerance_takes_the_middle_of_the_f1_plateau() -> None:
    # Rows in descending score order; F1 when the top k are called positive:
    # k=4: 0.75, k=6: 0.80 (the best), k=7: 0.727; the other cut-offs are below 0.7.
    y = np.array([[1], [1], [0], [1], [0], [1], [0], [0], [0]])
    scores = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4], [0.3], [0.2], [0.1]])
    assert tune_thresholds(y, scores)[0] == pytest.approx(0.35)  # the best cut-off: k=6
    # Within 0.06 of the best: k=4 and k=6; the higher of the two middle ones is k=4.
    assert tune_thresholds(y, scores, f1_tolerance=0.06)[0] == pytest.approx(0.55)
    # Within 0.1: k=4, 6 and 7; the median is k=6 again.
    assert tune_thresholds(y, scores, f1_tolerance=0.1)[0] == pytest.approx(0.35)


def test_tolerance_keeps_the_default_rules() -> None:
    y = np.zeros((20, 1), dtype=int)
    y[3, 0] = 1  # no out-of-fold evidence (see above): the default stays, whatever the tolerance
    scores = np.linspace(0.01, 0.3, 20).reshape(-1, 1)
    scores[3, 0] = 0.0
    assert tune_thresholds(y, scores, default=0.5, f1_tolerance=0.05)[0] == 0.5
    y = np.zeros((40, 1), dtype=int)
    y[[15, 35], 0] = 1
    assert tune_thresholds(y, np.linspace(0.9, 0.0, 40).reshape(-1, 1), min_f1=0.2, f1_tolerance=0.05)[0] == 0.5


@pytest.mark.parametrize("tolerance", [0.0, 0.05])
def test_training_tunes_each_sets_decision_rule_on_content_rows_with_the_configured_tolerance(
    bundle, tolerance
) -> None:
    data = prepare_data(bundle.config).train
    model = copy.deepcopy(bundle)  # the session bundle is shared
    model.config = bundle.config.model_copy(update={"thresholds": ThresholdConfig(f1_tolerance=tolerance)})
    rng = np.random.default_rng(0)
    oof = {}
    for name in model.content_label_sets:
        y = data.label_matrix(name, model.label_names[name])
        oof[name] = np.clip(0.4 * y + rng.normal(0.3, 0.2, y.shape), 0, 1)
    tune_decision_rule(model, data, oof)
    content = content_rows(model, data)
    assert 0 < content.sum() < len(data)
    for name in model.content_label_sets:
        y = data.label_matrix(name, model.label_names[name])
        expected = tune_thresholds(y[content], oof[name][content], f1_tolerance=tolerance)
        np.testing.assert_array_equal(list(model.thresholds(name).values()), expected)
        fallback = fallback_raises_micro_f1(model.label_sets_[name], y[content], oof[name][content])
        assert model.at_least_one(name) is fallback
    assert list(model.thresholds("topic").values()) != list(bundle.thresholds("topic").values())
