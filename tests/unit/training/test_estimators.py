"""The naive-Bayes-weighted logistic regression (`classifier.nb_weighting`)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from training.artifact import SKOPS_TRUSTED
from training.config import ClassifierConfig
from training.estimators import (
    NBWeightedLogisticRegression,
    build_classifier,
    nb_log_count_ratio,
    without_nb_weighting,
)
from training.scoring import LinearScorer


def toy_data(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(300, 40, density=0.15, format="csr", random_state=seed, dtype=np.float32)
    y = (rng.random(300) < 0.3).astype(int)
    return X, y


def test_log_count_ratio_by_hand() -> None:
    # Column 0 in both positive rows only, column 1 in every row, column 2 in no row.
    X = sp.csr_matrix(np.array([[1, 1, 0], [2, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=np.float32))
    y = np.array([1, 1, 0, 0])
    # Smoothed counts p = [3, 3, 1] (sum 7), q = [1, 3, 1] (sum 5).
    expected = np.abs(np.log((np.array([3, 3, 1]) / 7) / (np.array([1, 3, 1]) / 5)))
    np.testing.assert_allclose(nb_log_count_ratio(X, y), expected)
    ratio = nb_log_count_ratio(X, y)
    assert ratio[0] > ratio[1] and ratio[0] > ratio[2]  # the column that tells the classes apart weighs most


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_fitted_model_is_logistic_regression_on_scaled_columns_with_the_ratio_folded_in(weight: float) -> None:
    X, y = toy_data()
    ratio = 1 - weight + weight * nb_log_count_ratio(X, y)
    weighted = NBWeightedLogisticRegression(nb_weighting=weight, C=3.0, solver="liblinear").fit(X, y)
    plain_on_scaled = LogisticRegression(C=3.0, solver="liblinear").fit(X @ sp.diags(ratio), y)
    np.testing.assert_allclose(weighted.coef_, plain_on_scaled.coef_ * ratio, rtol=1e-5, atol=1e-7)
    # Scored on the *unscaled* columns, it gives what the plain model gives on the scaled ones.
    np.testing.assert_allclose(
        weighted.predict_proba(X), plain_on_scaled.predict_proba(X @ sp.diags(ratio)), rtol=1e-5, atol=1e-7
    )
    assert not np.allclose(weighted.coef_, LogisticRegression(C=3.0, solver="liblinear").fit(X, y).coef_)


def test_no_weighting_is_plain_logistic_regression() -> None:
    X, y = toy_data()
    unweighted = NBWeightedLogisticRegression(nb_weighting=0.0, C=3.0, solver="liblinear").fit(X, y)
    np.testing.assert_allclose(unweighted.coef_, LogisticRegression(C=3.0, solver="liblinear").fit(X, y).coef_)


def test_option_builds_one_vs_rest_that_saves_as_a_plain_linear_scorer() -> None:
    X, _ = toy_data()
    Y = (np.random.default_rng(1).random((300, 3)) < 0.3).astype(int)
    classifier = build_classifier(ClassifierConfig(nb_weighting=1.0), multi_label=True, seed=0).fit(X, Y)
    assert all(isinstance(e, NBWeightedLogisticRegression) for e in classifier.estimators_)
    scorer = LinearScorer.from_classifier(classifier)
    assert scorer is not None and scorer.reproduces(classifier, X)
    # Single-label sets (roles) keep the multinomial model: the ratio is a per-label, binary notion.
    single = build_classifier(ClassifierConfig(nb_weighting=1.0), multi_label=False, seed=0)
    assert type(single) is LogisticRegression


def test_a_classifier_saved_whole_holds_scikit_learns_types_only() -> None:
    # A label never positive in training makes one-vs-rest keep a constant predictor, so the set's classifier is
    # saved whole by skops, which trusts no type of ours: the NB-weighted fits become the plain models they equal.
    X, _ = toy_data()
    Y = (np.random.default_rng(1).random((300, 3)) < 0.3).astype(int)
    Y[:, 2] = 0
    fitted = build_classifier(ClassifierConfig(nb_weighting=0.5), multi_label=True, seed=0).fit(X, Y)
    expected = fitted.predict_proba(X)
    plain = without_nb_weighting(fitted)
    assert not any(isinstance(e, NBWeightedLogisticRegression) for e in [plain.estimator, *plain.estimators_])
    loaded = sio.loads(sio.dumps(plain), trusted=SKOPS_TRUSTED)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
