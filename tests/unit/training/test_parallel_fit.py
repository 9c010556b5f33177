"""One-vs-rest labels fitted in parallel threads (`train_model(n_jobs=2)`) give the same weights as one at a
time on a plain sparse problem. (This small case passing does not make threads safe: on the default corpus
two threaded trainings differ from each other, see `train_model`, which is why it fits sequentially.)"""

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from sklearn.multiclass import OneVsRestClassifier

from training.config import ClassifierConfig
from training.estimators import build_classifier, label_weights


def problem(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(400, 300, density=0.05, format="csr", random_state=seed, dtype=np.float64)
    truth = rng.normal(size=(300, 6))
    y = (np.asarray(X @ truth) + rng.normal(scale=0.1, size=(400, 6)) > 0.1).astype(np.int64)
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
    config = ClassifierConfig(type=kind, C=1000.0, class_weight=None)
    assert isinstance(build_classifier(config, True, seed=0), OneVsRestClassifier)
    sequential = fitted_weights(config, n_jobs=1)
    np.testing.assert_array_equal(fitted_weights(config, n_jobs=2), sequential)
    assert np.abs(sequential).sum() > 0


@pytest.mark.parametrize("multi_label", [True, False])
def test_calibrated_svm_is_kept_out_of_threads(multi_label: bool) -> None:
    # liblinear's dual solver shares one process-wide RNG: fitted in threads, calibration folds or labels
    # would interleave its draws and the model would change from run to run.
    classifier = build_classifier(ClassifierConfig(type="linear_svm", C=0.5), multi_label, seed=0)
    calibrated = classifier.estimator if multi_label else classifier
    assert calibrated.n_jobs == 1
    if multi_label:
        assert classifier.n_jobs == 1
