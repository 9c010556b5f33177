"""Scikit-learn building blocks: the TF-IDF vectorizer and the linear classifiers.

One vectorizer is shared by all label sets, so the service transforms a request's
paragraphs once. Each label set gets its own classifier: one-vs-rest for
multi-label sets, a native multiclass model for single-label sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from training.config import ClassifierConfig, VectorizerConfig


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
        analyzer="char_wb",
        ngram_range=tuple(config.char_ngram_range),
        min_df=config.min_df,
        max_df=config.max_df,
        max_features=config.max_features,
        sublinear_tf=config.sublinear_tf,
        lowercase=config.lowercase,
        dtype=np.float32,
    )
    return FeatureUnion([("word", word), ("char", char)])


def build_classifier(config: ClassifierConfig, multi_label: bool, seed: int) -> Any:
    """A classifier whose `predict_proba` gives every label a score in [0, 1]."""
    kind = config.type
    base: Any
    if kind == "logreg":
        # liblinear is exact and fast for the binary problems of one-vs-rest;
        # lbfgs gives a true multinomial model for single-label sets.
        solver = "liblinear" if multi_label else "lbfgs"
        base = LogisticRegression(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, solver=solver, random_state=seed
        )
    elif kind == "linear_svm":
        # LinearSVC has no probabilities; sigmoid calibration on inner folds gives scores in [0, 1].
        svc = LinearSVC(C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed)
        base = CalibratedClassifierCV(svc, method="sigmoid", cv=3)
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
    return OneVsRestClassifier(base) if multi_label else base


def _binary_weights(estimator: Any, n_features: int) -> np.ndarray:
    """Weight vector of one fitted binary classifier (positive class = 1)."""
    if hasattr(estimator, "calibrated_classifiers_"):
        return np.mean([_binary_weights(c.estimator, n_features) for c in estimator.calibrated_classifiers_], axis=0)
    if hasattr(estimator, "coef_"):
        return np.asarray(estimator.coef_, dtype=np.float64).ravel()
    if hasattr(estimator, "feature_log_prob_"):  # ComplementNB: higher row wins
        flp = estimator.feature_log_prob_
        return np.asarray(flp[1] - flp[0], dtype=np.float64)
    return np.zeros(n_features)  # a label with one class in training: constant predictor


def label_weights(classifier: Any, n_labels: int, n_features: int) -> np.ndarray:
    """(labels x features) weights used to explain a score as term contributions."""
    if isinstance(classifier, OneVsRestClassifier):
        return np.vstack([_binary_weights(e, n_features) for e in classifier.estimators_])
    if hasattr(classifier, "calibrated_classifiers_"):
        rows = np.mean(
            [label_weights(c.estimator, n_labels, n_features) for c in classifier.calibrated_classifiers_], axis=0
        )
        return np.asarray(rows)
    if hasattr(classifier, "coef_"):
        coef = np.asarray(classifier.coef_, dtype=np.float64)
    else:
        coef = np.asarray(classifier.feature_log_prob_, dtype=np.float64)
    if coef.shape[0] == 1 and n_labels == 2:  # binary models keep one row for the positive class
        coef = np.vstack([-coef[0], coef[0]])
    return coef


class LinearScorer:
    """Exact fast path for logistic models: sigmoid/softmax(X @ W + b).

    `OneVsRestClassifier.predict_proba` loops over estimators and re-validates
    the input each time; for a one-paragraph request that overhead dominates, so
    the service computes the same probabilities with one sparse-dense product.
    """

    def __init__(self, weights: np.ndarray, intercepts: np.ndarray, link: str):
        self.weights = np.ascontiguousarray(weights.T)  # features x labels
        self.intercepts = intercepts
        self.link = link

    def predict_proba(self, X: Any) -> np.ndarray:
        z = np.asarray(X @ self.weights) + self.intercepts
        return expit(z) if self.link == "sigmoid" else softmax(z, axis=1)

    @classmethod
    def from_classifier(cls, classifier: Any) -> LinearScorer | None:
        logistic = (LogisticRegression, SGDClassifier)
        if isinstance(classifier, OneVsRestClassifier):
            estimators = classifier.estimators_
            if not all(isinstance(e, logistic) for e in estimators):
                return None  # calibrated, NB or constant predictors: use predict_proba
            weights = np.vstack([np.asarray(e.coef_).ravel() for e in estimators])
            intercepts = np.array([float(np.ravel(e.intercept_)[0]) for e in estimators])
            return cls(weights, intercepts, "sigmoid")
        if isinstance(classifier, LogisticRegression) and classifier.coef_.shape[0] > 1:
            return cls(np.asarray(classifier.coef_), np.asarray(classifier.intercept_), "softmax")
        return None
