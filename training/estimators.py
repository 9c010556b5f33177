"""Scikit-learn building blocks: the TF-IDF vectorizer and the linear classifiers.

One vectorizer is shared by all label sets, so the service transforms a request's
paragraphs once. Each label set gets its own classifier: one-vs-rest for
multi-label sets, a native multiclass model for single-label sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l1, inplace_csr_row_normalize_l2

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
        base = LogisticRegression(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, solver=solver, random_state=seed
        )
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
    # logistic solver, SGD and naive Bayes draw no shared random numbers, so threads leave the model unchanged.
    return OneVsRestClassifier(base, n_jobs=1 if kind == "linear_svm" else None)


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

    def predict_proba_parts(self, sparse: Any, dense: np.ndarray) -> np.ndarray:
        """`predict_proba` of ``[sparse | dense]`` without joining them: the weights split at the same column."""
        split = sparse.shape[1]
        z = np.asarray(sparse @ self.weights[:split]) + dense @ self.weights[split:] + self.intercepts
        return expit(z) if self.link == "sigmoid" else softmax(z, axis=1)

    def reproduces(self, classifier: Any, X: Any, rows: int = 512) -> bool:
        """Whether these scores equal the classifier's own `predict_proba` (checked on up to `rows` rows)."""
        sample = X[:rows]
        return bool(np.allclose(self.predict_proba(sample), classifier.predict_proba(sample), rtol=0, atol=1e-9))

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


class FastTfidf:
    """Exact fast path for a fitted `TfidfVectorizer` (or a `FeatureUnion` of them): same matrix, bit for bit.

    scikit-learn's `transform` spends ~0.5 ms per call on input validation
    (`check_array`, narwhals dataframe look-ups, parameter checks) whatever the
    batch size; for a one-paragraph request that is most of the model's time.
    This does the same arithmetic in the same order — count the analyzer's
    in-vocabulary terms, sort each row's indices, ``log(tf) + 1``, ``x idf``,
    then scikit-learn's own in-place row normalisation — without the checks,
    which cannot fail on text the vectorizer's own analyzer produced.
    `tests/unit/training/test_bundle.py` checks equality on the whole corpus.
    """

    def __init__(self, parts: list[TfidfVectorizer]):
        self.parts = [
            (
                part.build_analyzer(),
                part.vocabulary_,
                part.idf_ if part.use_idf else None,
                part.sublinear_tf,
                part.binary,
                part.norm,
                part.dtype,
            )
            for part in parts
        ]

    @classmethod
    def from_vectorizer(cls, vectorizer: Any) -> FastTfidf | None:
        """None when the vectorizer is not one this path reproduces exactly (then use its `transform`)."""
        if isinstance(vectorizer, FeatureUnion):
            if vectorizer.transformer_weights:
                return None
            parts = [part for _, part in vectorizer.transformer_list]
        else:
            parts = [vectorizer]
        if not all(type(part) is TfidfVectorizer and part.norm in ("l1", "l2", None) for part in parts):
            return None
        return cls(parts)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        matrices = [self._transform_part(texts, *part) for part in self.parts]
        # FeatureUnion joins its parts the same way.
        return matrices[0] if len(matrices) == 1 else sp.hstack(matrices).tocsr()

    @staticmethod
    def _transform_part(
        texts: list[str],
        analyze: Any,
        vocabulary: dict[str, int],
        idf: np.ndarray | None,
        sublinear_tf: bool,
        binary: bool,
        norm: str | None,
        dtype: Any,
    ) -> sp.csr_matrix:
        indices: list[int] = []
        counts: list[int] = []
        indptr = [0]
        for text in texts:
            row: dict[int, int] = {}
            for term in analyze(text):
                j = vocabulary.get(term)
                if j is not None:
                    row[j] = row.get(j, 0) + 1
            indices.extend(row)
            counts.extend(row.values())
            indptr.append(len(indices))
        index_dtype = np.int32 if len(indices) <= np.iinfo(np.int32).max else np.int64  # as scikit-learn does
        X = sp.csr_matrix(
            (np.asarray(counts, dtype=dtype), np.asarray(indices, index_dtype), np.asarray(indptr, index_dtype)),
            shape=(len(texts), len(vocabulary)),
        )
        X.sort_indices()
        if binary:
            X.data.fill(1)
        if sublinear_tf:
            np.log(X.data, X.data)
            X.data += 1.0
        if idf is not None:
            X.data *= idf[X.indices]
        if norm == "l2":
            inplace_csr_row_normalize_l2(X)
        elif norm == "l1":
            inplace_csr_row_normalize_l1(X)
        return X
