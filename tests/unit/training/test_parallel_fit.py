"""One-vs-rest labels fitted in parallel threads (`train_model` uses every core) give the same weights as one at a
time. The whole default model is checked the same way in `test_bundle.py`
(`test_scores_equal_scikit_learns_own_classifier`: the session bundle is fitted in threads, the reference
sequentially)."""

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits

from tests.conftest import LABELS, subset_articles, unsorted_copy
from training.bundle import ModelBundle
from training.config import ClassifierConfig, load_config
from training.estimators import build_classifier, label_weights
from training.train import article_layout, prepare_data


def problem(seed: int = 0, n_rows: int = 400, n_features: int = 300) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, n_features, density=0.05, format="csr", random_state=seed, dtype=np.float64)
    truth = rng.normal(size=(n_features, 6))
    y = (np.asarray(X @ truth) + rng.normal(scale=0.1, size=(n_rows, 6)) > 0.1).astype(np.int64)
    return X, y


def fitted_weights(config: ClassifierConfig, n_jobs: int, multi_label: bool = True) -> np.ndarray:
    X, y = problem()
    classifier = build_classifier(config, multi_label, seed=0)
    with parallel_config(backend="threading", n_jobs=n_jobs):
        classifier.fit(X, y if multi_label else y.argmax(axis=1))
    n_labels = y.shape[1] if multi_label else len(classifier.classes_)
    return label_weights(classifier, n_labels, X.shape[1])


@pytest.mark.parametrize("kind", ["logreg", "sgd", "complement_nb"])
def test_one_vs_rest_in_threads_equals_sequential(kind: str) -> None:
    config = ClassifierConfig(type=kind, C=1000.0, class_weight=None, dual=False)  # the primal solver, in threads
    assert isinstance(build_classifier(config, True, seed=0), OneVsRestClassifier)
    sequential = fitted_weights(config, n_jobs=1)
    np.testing.assert_array_equal(fitted_weights(config, n_jobs=2), sequential)
    assert np.abs(sequential).sum() > 0


def test_label_sets_fitted_in_threads_share_a_matrix_they_do_not_rewrite() -> None:
    # The race this guards: liblinear's input check (`np.max(X)`) made each label's thread sort the shared
    # matrix in place; two threads sorting one matrix at once gave a different model on every run.
    config = load_config(None, {"classifier.C": 10.0, "classifier.dual": False})  # primal: labels in threads
    model = ModelBundle(config, {})
    model.multi_label, model.label_names = {"topic": True}, {"topic": [f"l{i}" for i in range(6)]}
    X, y = problem(seed=1, n_rows=3000, n_features=4000)
    fitted = []
    for n_jobs in (1, 2, 2, 2, 2, 2):
        shared = unsorted_copy(X)
        with threadpool_limits(1, user_api="blas"), parallel_config(backend="threading", n_jobs=n_jobs):
            fitted.append(model._fit_label_set("topic", shared, y, config.classifier).scorer.weights)
        assert shared.has_canonical_format
    for weights in fitted[1:]:
        np.testing.assert_array_equal(weights, fitted[0])


def test_dual_logistic_regression_is_kept_out_of_threads() -> None:
    # The dual solver shuffles coordinates from liblinear's process-wide generator too; sequential, it gives the
    # same model whatever the caller's joblib backend, and the same scores as the primal solver to the tolerance.
    config = ClassifierConfig(C=3.0, dual=True)
    classifier = build_classifier(config, multi_label=True, seed=0)
    assert classifier.n_jobs == 1 and classifier.estimator.dual
    np.testing.assert_array_equal(fitted_weights(config, n_jobs=2), fitted_weights(config, n_jobs=1))
    X, y = problem()
    dual = build_classifier(config, True, seed=0).fit(X, y).predict_proba(X)
    primal = build_classifier(ClassifierConfig(C=3.0, dual=False), True, seed=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(dual, primal, atol=1e-3)


@pytest.mark.parametrize("multi_label", [True, False])
def test_calibrated_svm_is_kept_out_of_threads(multi_label: bool) -> None:
    # liblinear's dual solver shares one process-wide RNG: fitted in threads, calibration folds or labels
    # would interleave its draws and the model would change from run to run.
    classifier = build_classifier(ClassifierConfig(type="linear_svm", C=0.5), multi_label, seed=0)
    calibrated = classifier.estimator if multi_label else classifier
    assert calibrated.n_jobs == 1
    if multi_label:
        assert classifier.n_jobs == 1


def test_role_model_fitted_beside_the_content_sets_equals_one_fitted_before_them(tmp_path) -> None:
    # With more than one thread the role model's solver runs in a thread of its own while the content sets
    # are fitted; the model must not depend on it.
    train = subset_articles(LABELS / "paragraphs.csv", tmp_path / "train.csv", 30)
    config = load_config(None, {"data.train": [str(train)], "data.test": [], "data.labels_dir": str(LABELS)})
    prepared = prepare_data(config)
    data, codebooks = prepared.train, prepared.codebooks
    targets = {name: data.label_matrix(name, codebook.label_names) for name, codebook in codebooks.items()}
    weights = []
    for n_jobs in (1, 2):
        model = ModelBundle(config, codebooks)
        with threadpool_limits(1, user_api="blas"), parallel_config(backend="threading", n_jobs=n_jobs):
            model.fit(data.texts, targets, layout=article_layout(data))
        weights.append({name: model.label_sets_[name].scorer.weights for name in model.label_sets})
    assert list(weights[0]) == ["role", "topic", "frame"]
    for name, fitted in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], fitted)
