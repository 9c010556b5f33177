"""Scikit-learn building blocks: the TF-IDF vectorizer and the linear classifiers.

One vectorizer is shared by all label sets, so the service transforms a request's
paragraphs once. Each label set gets its own classifier: one-vs-rest for
multi-label sets, a native multiclass model for single-label sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from training.config import ClassifierConfig, VectorizerConfig

# Scoring lives in `training.scoring` (no scikit-learn); the names stay importable here, where models
# pickled by older versions look them up (`topicframe model convert`).
from training.scoring import FastTfidf, LinearScorer

__all__ = [
    "FastTfidf",
    "LinearScorer",
    "NBWeightedLogisticRegression",
    "build_char_vectorizer",
    "build_classifier",
    "build_vectorizer",
    "label_weights",
    "nb_log_count_ratio",
    "without_nb_weighting",
]


def build_vectorizer(config: VectorizerConfig) -> TfidfVectorizer | FeatureUnion:
    """Word n-gram TF-IDF, optionally joined with character n-grams."""
    word = TfidfVectorizer(
        ngram_range=tuple(config.word_ngram_range),
        min_df=config.min_df,
        max_df=config.max_df,
        max_features=config.max_features,
        sublinear_tf=config.sublinear_tf,
        stop_words=config.stop_words,
        lowercase=config.lowercase,
        dtype=np.float32,
    )
    if config.char_ngram_range is None:
        return word
    char = TfidfVectorizer(
        analyzer=config.char_analyzer,
        ngram_range=tuple(config.char_ngram_range),
        min_df=config.min_df,
        max_df=config.max_df,
        max_features=config.max_features,
        sublinear_tf=config.sublinear_tf,
        lowercase=config.lowercase,
        dtype=np.float32,
    )
    return FeatureUnion([("word", word), ("char", char)])


def build_char_vectorizer(ngram_range: tuple[int, int], config: VectorizerConfig) -> TfidfVectorizer:
    """Character n-grams for the role model, case kept: "BANGKOK, March 12 -" and "By" are layout cues.

    A floor of two documents keeps one-off n-grams (names, numbers) out of a vocabulary
    that is about form, not content.
    """
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=tuple(ngram_range),
        min_df=2,
        sublinear_tf=config.sublinear_tf,
        lowercase=False,
        dtype=np.float32,
    )


def build_classifier(config: ClassifierConfig, multi_label: bool, seed: int) -> Any:
    """A classifier whose `predict_proba` gives every label a score in [0, 1]."""
    kind = config.type
    base: Any
    if kind == "logreg":
        # liblinear is exact and fast for the binary problems of one-vs-rest;
        # lbfgs gives a true multinomial model for single-label sets.
        solver = "liblinear" if multi_label else "lbfgs"
        options: dict[str, Any] = {
            "C": config.C, "class_weight": config.class_weight, "max_iter": config.max_iter, "solver": solver,
            "dual": config.dual and multi_label,
        }  # fmt: skip
        if config.nb_weighting and multi_label:
            base = NBWeightedLogisticRegression(nb_weighting=config.nb_weighting, **options, random_state=seed)
        else:
            base = LogisticRegression(**options, random_state=seed)
    elif kind == "linear_svm":
        # LinearSVC has no probabilities; sigmoid calibration on inner folds gives scores in [0, 1].
        svc = LinearSVC(C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed)
        # n_jobs=1: liblinear's dual solver draws from one process-wide RNG, so calibration folds (or
        # labels) fitted in parallel threads would give run-to-run different models.
        base = CalibratedClassifierCV(svc, method="sigmoid", cv=3, n_jobs=1)
    elif kind == "sgd":
        base = SGDClassifier(
            loss="log_loss",
            alpha=config.alpha,
            class_weight=config.class_weight,
            max_iter=config.max_iter,
            tol=1e-4,
            random_state=seed,
        )
    elif kind == "complement_nb":
        base = ComplementNB(alpha=config.alpha)
    else:  # pragma: no cover - the config schema rejects other values
        raise ValueError(f"unknown classifier type {kind}")
    if not multi_label:
        return base
    # n_jobs=None: the caller's joblib `parallel_config` decides (train_model fits labels in threads). The primal
    # logistic solver, SGD and naive Bayes draw no shared random numbers, so threads leave the model unchanged;
    # liblinear's dual solvers (the linear SVM's, logreg's with `dual`) shuffle coordinates from one process-wide
    # generator, so their labels are fitted one at a time.
    sequential = kind == "linear_svm" or (kind == "logreg" and config.dual)
    return OneVsRestClassifier(base, n_jobs=1 if sequential else None)


class NBWeightedLogisticRegression(LogisticRegression):
    """Binary logistic regression on features scaled by their naive-Bayes log-count ratio (Wang & Manning 2012).

    Each column is multiplied by ``1 - w + w |log(p / q)|`` (``w`` = ``nb_weighting``; 1 is Wang & Manning's
    scaling, 0 plain logistic regression), where p and q are the smoothed shares of the positive and the
    negative paragraphs' non-zero entries that fall in it, then the usual L2-regularised model is fitted. For a
    linear model this is per-label regularisation: a column that says nothing about *this* label (ratio near 0)
    costs much more weight than one that does. The ratio is folded back into ``coef_`` after fitting, so the
    fitted model scores the unscaled features like any LogisticRegression (and is saved as one).
    """

    def __init__(
        self,
        nb_weighting: float = 1.0,
        C: float = 1.0,
        class_weight: Any = None,
        max_iter: int = 100,
        solver: str = "liblinear",
        dual: bool = False,
        random_state: Any = None,
    ) -> None:
        super().__init__(
            C=C, class_weight=class_weight, max_iter=max_iter, solver=solver, dual=dual, random_state=random_state
        )
        self.nb_weighting = nb_weighting

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NBWeightedLogisticRegression:
        X = sp.csr_matrix(X)  # no copy for the CSR matrix training passes (shared by every label's thread)
        if not X.has_canonical_format:
            X = X.copy()  # the scaled matrix shares X's structure, which nothing may then sort in place
            X.sum_duplicates()
        ratio = (1.0 - self.nb_weighting + self.nb_weighting * nb_log_count_ratio(X, np.asarray(y))).astype(X.dtype)
        # This label's own scaled values over X's indices: a third of the time of `X @ diags(ratio)`, which
        # also leaves its product for scikit-learn's input check to sort (1.7 s against 0.5 s on the default corpus).
        scaled = sp.csr_matrix((X.data * ratio[X.indices], X.indices, X.indptr), shape=X.shape)
        scaled.has_canonical_format = True
        super().fit(scaled, y, sample_weight)
        self.coef_: np.ndarray = self.coef_ * ratio
        return self


def without_nb_weighting(classifier: Any) -> Any:
    """The fitted classifier with each NB-weighted logistic regression replaced by the plain LogisticRegression it
    equals (the ratio is already in ``coef_``), so that a classifier saved whole holds scikit-learn's types only
    (skops trusts no type of ours: `training.artifact`)."""
    if isinstance(classifier, OneVsRestClassifier):
        classifier.estimator = _plain(classifier.estimator)
        classifier.estimators_ = [_plain(e) for e in classifier.estimators_]
    return _plain(classifier)


def _plain(estimator: Any) -> Any:
    if not isinstance(estimator, NBWeightedLogisticRegression):
        return estimator
    params = estimator.get_params()
    params.pop("nb_weighting")
    plain = LogisticRegression(**params)
    plain.__dict__.update({k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")})
    return plain


def nb_log_count_ratio(X: Any, y: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """``|log(p / q)|`` per column of CSR ``X``; p and q are the column's share of non-zero entries in positive and
    negative rows, each count smoothed by ``smoothing`` (so a column seen in one class only gets a finite ratio).
    Counted from the CSR indices, without copying the whole matrix."""
    positive = np.asarray(y) == 1
    every = np.bincount(_nonzero_columns(X), minlength=X.shape[1])
    in_positive = np.bincount(_nonzero_columns(X[positive]), minlength=X.shape[1])
    p = smoothing + in_positive
    q = smoothing + (every - in_positive)
    return np.abs(np.log((p / p.sum()) / (q / q.sum())))


def _nonzero_columns(X: Any) -> np.ndarray:
    """The column of each stored non-zero of CSR ``X``. TF-IDF stores no zeros, and masking 40 million entries
    when nothing is masked cost a second per label on the default corpus."""
    return X.indices if X.data.all() else X.indices[X.data != 0]


def _binary_weights(estimator: Any, n_features: int) -> np.ndarray:
    """Weight vector of one fitted binary classifier (positive class = 1)."""
    if hasattr(estimator, "calibrated_classifiers_"):
        return _mean(_binary_weights(c.estimator, n_features) for c in estimator.calibrated_classifiers_)
    if hasattr(estimator, "coef_"):
        return np.asarray(estimator.coef_, dtype=np.float64).ravel()
    if hasattr(estimator, "feature_log_prob_"):  # ComplementNB: higher row wins
        flp = estimator.feature_log_prob_
        return np.asarray(flp[1] - flp[0], dtype=np.float64)
    return np.zeros(n_features)  # a label with one class in training: constant predictor


def _mean(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The mean of equally shaped arrays, summed one at a time in float64.

    ``np.mean(list, axis=0)`` stacks them first: for a calibrated linear SVM on NYT CAP (3 calibration
    folds x 28 labels x 600k features) that was a 400 MB copy and 2 s per fit, for the same sums.
    """
    total: np.ndarray | None = None
    count = 0
    for array in arrays:
        if total is None:
            total = np.array(array, dtype=np.float64)
        else:
            total += array
        count += 1
    assert total is not None, "no arrays to average"
    total /= count
    return total


def label_weights(classifier: Any, n_labels: int, n_features: int) -> np.ndarray:
    """(labels x features) weights used to explain a score as term contributions."""
    if isinstance(classifier, OneVsRestClassifier):
        return np.vstack([_binary_weights(e, n_features) for e in classifier.estimators_])
    if hasattr(classifier, "calibrated_classifiers_"):
        return _mean(label_weights(c.estimator, n_labels, n_features) for c in classifier.calibrated_classifiers_)
    if hasattr(classifier, "coef_"):
        coef = np.asarray(classifier.coef_, dtype=np.float64)
    else:
        coef = np.asarray(classifier.feature_log_prob_, dtype=np.float64)
    if coef.shape[0] == 1 and n_labels == 2:  # binary models keep one row for the positive class
        coef = np.vstack([-coef[0], coef[0]])
    return coef
