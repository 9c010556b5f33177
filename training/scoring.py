"""Scoring a fitted model with numpy and scipy only: the TF-IDF transform and linear scores.

Training fits with scikit-learn; everything that only *scores* (the service, `topicframe classify`, the
pyfunc, batch jobs) runs the code here, so a serving process never imports scikit-learn. That is worth
~70 MB per worker: the service's imports take 198 MB without scikit-learn and 267 MB with it (measured on
the default model's process, 2026-12-02), against a 300 MB budget.

`FastTfidf` reproduces a fitted `TfidfVectorizer` (or a `FeatureUnion` of them) bit for bit: the
analyzers below are scikit-learn's own algorithms (`sklearn/feature_extraction/text.py`, BSD-3-Clause),
and the L2/L1 row normalisation accumulates in the same order and precision as
`sklearn.utils.sparsefuncs_fast`. `tests/unit/training/test_bundle.py` checks equality on the whole
corpus. `SavedTfidf` is a fitted vectorizer as the model artifact stores it (settings, vocabulary, idf).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax

_WHITE_SPACES = re.compile(r"\s\s+")
# The vectorizer settings the analyzers reproduce; anything else (a callable, another input mode) is not.
_ANALYZERS = ("word", "char", "char_wb")
_NORMS = ("l1", "l2", None)
# How far float32 scores may be from scikit-learn's float64 ones: a logit error of ~1e-6 relative moves a
# probability by far less than this, and no held-out decision changes (docs/quality.md).
SCORE_ATOL = 1e-5


@contextmanager
def sklearn_checks_off() -> Iterator[None]:
    """scikit-learn's per-call input checks off while scoring, if scikit-learn is in use at all.

    A model that keeps a scikit-learn estimator (a classifier loaded with skops) gets its input from the
    model's own vectorizer, so the checks (finite values, parameter validation) can only cost time: ~0.2 ms
    of a 1 ms request. A linear model scores without scikit-learn, which then is not even imported.
    """
    sklearn = sys.modules.get("sklearn")
    if sklearn is None:
        yield
        return
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        yield


# ---- analyzers (scikit-learn's, without its input validation) ---------------------------------------


def _strip_accents_unicode(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _strip_accents_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ASCII", "ignore").decode("ASCII")


def _word_ngrams(tokens: list[str], stop_words: frozenset[str] | None, low: int, high: int) -> list[str]:
    if stop_words is not None:
        tokens = [token for token in tokens if token not in stop_words]
    if high == 1:
        return tokens
    ngrams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high + 1, len(tokens) + 1)):
        ngrams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return ngrams


def _char_ngrams(text: str, low: int, high: int) -> list[str]:
    text = _WHITE_SPACES.sub(" ", text)
    ngrams = list(text) if low == 1 else []
    for n in range(max(low, 2), min(high + 1, len(text) + 1)):
        ngrams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return ngrams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    ngrams: list[str] = []
    append = ngrams.append
    for word in _WHITE_SPACES.sub(" ", text).split():
        word = f" {word} "
        length = len(word)
        for n in range(low, high + 1):
            offset = 0
            append(word[:n])
            while offset + n < length:
                offset += 1
                append(word[offset : offset + n])
            if offset == 0:  # a word shorter than n is counted once, as scikit-learn does
                break
    return ngrams


def stop_words_of(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if value == "english":  # scikit-learn's list: imported only for a model that uses it
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    return frozenset(value)


def build_preprocessor(params: Mapping[str, Any]) -> Callable[[str], str]:
    """Text as the vectorizer sees it before tokenizing: lower-cased and accents stripped, as its settings say."""
    accents = {None: None, "ascii": _strip_accents_ascii, "unicode": _strip_accents_unicode}[params["strip_accents"]]
    lowercase = params["lowercase"]

    def preprocess(text: str) -> str:
        text = text.lower() if lowercase else text
        return accents(text) if accents is not None else text

    return preprocess


def build_analyzer(params: Mapping[str, Any]) -> Callable[[str], list[str]]:
    """Text -> its terms, as ``TfidfVectorizer(**params).build_analyzer()`` gives them for a string."""
    preprocess = build_preprocessor(params)
    low, high = params["ngram_range"]
    if params["analyzer"] == "char_wb":
        return lambda text: _char_wb_ngrams(preprocess(text), low, high)
    if params["analyzer"] == "char":
        return lambda text: _char_ngrams(preprocess(text), low, high)
    tokenize = re.compile(params["token_pattern"]).findall
    stop_words = stop_words_of(params["stop_words"])
    return lambda text: _word_ngrams(tokenize(preprocess(text)), stop_words, low, high)


def reproducible(params: Mapping[str, Any]) -> bool:
    """Whether `build_analyzer` and `FastTfidf` reproduce a vectorizer with these settings exactly."""
    return (
        params.get("analyzer") in _ANALYZERS
        and params.get("preprocessor") is None
        and params.get("tokenizer") is None
        and params.get("input", "content") == "content"
        and params.get("strip_accents") in (None, "ascii", "unicode")
        and params.get("norm") in _NORMS
        and (params.get("analyzer") != "word" or re.compile(params["token_pattern"]).groups <= 1)
    )


# ---- fitted vectorizers as saved ---------------------------------------------------------------------


class SavedTfidf:
    """A fitted TF-IDF vectorizer as the model artifact stores it: settings, vocabulary and idf.

    It answers what the model asks of a fitted scikit-learn `TfidfVectorizer` (``get_params``,
    ``vocabulary_``, ``idf_``, ``dtype``, ``transform``), so a loaded model and a freshly fitted one
    are used the same way.
    """

    def __init__(self, params: dict[str, Any], vocabulary: dict[str, int], idf: np.ndarray | None, dtype: Any):
        self.params = params
        self.vocabulary_ = vocabulary
        self.dtype = dtype
        if idf is not None:
            self.idf_ = idf
        self._fast: FastTfidf | None = None

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return dict(self.params)

    @property
    def use_idf(self) -> bool:
        return bool(self.params["use_idf"])

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self._fast is None:
            self._fast = FastTfidf([self])
        return self._fast.transform(texts)

    def to_sklearn(self) -> Any:
        """The same fitted vectorizer as a scikit-learn `TfidfVectorizer` (for a plain scikit-learn pipeline)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(**self.params, dtype=self.dtype)
        vectorizer.vocabulary_ = self.vocabulary_
        if self.use_idf:
            vectorizer.idf_ = self.idf_
        return vectorizer


class SavedTfidfUnion:
    """Saved TF-IDF vectorizers whose columns follow one another, like scikit-learn's `FeatureUnion`."""

    transformer_weights = None

    def __init__(self, transformer_list: list[tuple[str, SavedTfidf]]):
        self.transformer_list = transformer_list
        self._fast: FastTfidf | None = None

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        if self._fast is None:  # the model scores through its own FastTfidf; this one is for direct calls
            self._fast = FastTfidf([part for _, part in self.transformer_list])
        return self._fast.transform(texts)

    def to_sklearn(self) -> Any:
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion([(name, part.to_sklearn()) for name, part in self.transformer_list])


# ---- the transform ------------------------------------------------------------------------------------


class FastTfidf:
    """The TF-IDF matrix of a fitted vectorizer (or a union of them), bit for bit, without scikit-learn.

    scikit-learn's own `transform` also spends ~0.5 ms per call validating its input, most of a
    one-paragraph request. This counts each text's in-vocabulary terms, then does the arithmetic for
    the whole batch at once in numpy: ``log(tf) + 1``, ``x idf``, row normalisation, parts side by side.
    """

    def __init__(self, parts: list[Any]):
        self.parts = []
        for part in parts:
            params = part.get_params()
            self.parts.append(
                (
                    build_analyzer(params),
                    part.vocabulary_,
                    part.idf_ if params["use_idf"] else None,
                    params,
                    np.dtype(part.dtype),
                )
            )
        self.n_features = sum(len(vocabulary) for _, vocabulary, *_ in self.parts)

    @classmethod
    def from_vectorizer(cls, vectorizer: Any) -> FastTfidf | None:
        """None when the vectorizer is not one this path reproduces exactly (then use its `transform`)."""
        if getattr(vectorizer, "transformer_weights", None):
            return None
        parts = (
            [part for _, part in vectorizer.transformer_list]
            if hasattr(vectorizer, "transformer_list")
            else [vectorizer]
        )
        if not all(hasattr(part, "vocabulary_") and reproducible(part.get_params()) for part in parts):
            return None
        return cls(parts)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        blocks = [_tfidf_rows(texts, *part) for part in self.parts]
        if len(blocks) == 1:
            data, indices, row = blocks[0]
        else:
            data, indices, row = _side_by_side(blocks, [len(vocabulary) for _, vocabulary, *_ in self.parts])
        indptr = _indptr(row, len(texts))
        index_dtype = np.int32 if len(indices) <= np.iinfo(np.int32).max else np.int64  # as scikit-learn does
        return sp.csr_matrix(
            (data, indices.astype(index_dtype, copy=False), indptr.astype(index_dtype, copy=False)),
            shape=(len(texts), self.n_features),
        )


def _tfidf_rows(
    texts: list[str],
    analyze: Callable[[str], list[str]],
    vocabulary: dict[str, int],
    idf: np.ndarray | None,
    params: Mapping[str, Any],
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vectorizer's TF-IDF as (data, column, row) arrays, row by row, columns ascending within a row."""
    columns: list[int] = []
    counts: list[int] = []
    lengths: list[int] = []
    lookup = vocabulary.get
    for text in texts:
        terms = Counter(analyze(text))  # counted in C; each distinct term is looked up once
        columns.extend(map(lookup, terms, repeat(-1)))
        counts.extend(terms.values())
        lengths.append(len(terms))
    column = np.array(columns, dtype=np.int64)
    known = column >= 0
    row = np.repeat(np.arange(len(texts)), lengths)[known]
    column = column[known]
    # Sort each row's columns: one key per entry (rows ascending, then columns), unique because a row's terms
    # are distinct; a plain argsort of it is ~7x faster than lexsort on the corpus.
    order = np.argsort(row * len(vocabulary) + column)
    row, indices, data = row[order], column[order], np.array(counts, dtype=dtype)[known][order]
    if params["binary"]:
        data.fill(1)
    if params["sublinear_tf"]:
        np.log(data, data)
        data += 1.0
    if idf is not None:
        data *= idf[indices]
    if params["norm"] is not None:
        data = _normalised(data, row, len(texts), params["norm"])
    return data, indices, row


def _indptr(row: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR row pointers for entries stored row by row."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=indptr[1:])
    return indptr


def _normalised(data: np.ndarray, row: np.ndarray, n_rows: int, norm: str) -> np.ndarray:
    """Rows scaled to unit L2 (or L1) norm as `sklearn.utils.sparsefuncs_fast` does it: each row's sum
    accumulated in float64 in column order (numpy's pairwise sums would differ in the last bit), empty
    rows left alone, the quotient rounded once."""
    values = (data * data) if norm == "l2" else np.abs(data)
    # bincount adds its weights in float64, element by element in order: rows are contiguous and their
    # columns ascending, so each row's sum is scikit-learn's, to the last bit.
    sums = np.bincount(row, weights=values, minlength=n_rows)
    scale = np.sqrt(sums) if norm == "l2" else sums
    scale[scale == 0.0] = 1.0
    return (data / scale[row]).astype(data.dtype, copy=False)


def _side_by_side(
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], widths: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join (data, column, row) blocks column-wise: what `scipy.sparse.hstack` does, without its per-call overhead."""
    offsets = np.cumsum([0, *widths[:-1]])
    row = np.concatenate([row for _, _, row in blocks])
    order = np.argsort(row, kind="stable")  # row by row; within a row, block by block, columns ascending
    data = np.concatenate([data for data, _, _ in blocks])
    indices = np.concatenate([indices + offset for (_, indices, _), offset in zip(blocks, offsets, strict=True)])
    return data[order], indices[order], row[order]


# ---- linear scores ------------------------------------------------------------------------------------


class LinearScorer:
    """sigmoid/softmax(X @ W + b): the probabilities of a logistic model from one sparse-dense product.

    `OneVsRestClassifier.predict_proba` loops over estimators and re-validates the input each time; for a
    one-paragraph request that overhead dominates. The weights are kept in float32, like the TF-IDF
    features they multiply: half the memory of scikit-learn's float64 coefficients, scores within 1e-5 of
    its own (`reproduces`, checked when the model is fitted).
    """

    def __init__(self, weights: np.ndarray, intercepts: np.ndarray, link: str):
        self.weights = np.ascontiguousarray(np.asarray(weights).T, dtype=np.float32)  # features x labels
        self.intercepts = np.asarray(intercepts, dtype=np.float64)
        self.link = link

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._link(np.asarray(X @ self.weights) + self.intercepts)

    def predict_proba_parts(self, sparse: Any, dense: np.ndarray) -> np.ndarray:
        """`predict_proba` of ``[sparse | dense]`` without joining them: the weights split at the same column."""
        split = sparse.shape[1]
        return self._link(np.asarray(sparse @ self.weights[:split]) + dense @ self.weights[split:] + self.intercepts)

    def predict_proba_gathered(
        self,
        own: Any,
        blocks: list[tuple[float, list[np.ndarray]]],
        tail: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """`predict_proba` of ``[own | w_1 * sum(own[rows] for rows in rows_1) | ... | tail]`` without building it.

        Each context block is a weighted sum of other rows of ``own`` (row -1: none), so its share of the
        logits is the same gather of ``own @ W_block``: a few small dense products instead of sparse
        row selections and a wide hstack (a third of a one-paragraph request's time). ``tail``, a block that
        is not such a sum (the article block), maps the last rows of the weights to its share of the logits
        (`training.features.ArticleSums.project`).
        """
        width, n_labels = own.shape[1], self.weights.shape[1]
        z = np.asarray(own @ self.weights[:width]) + self.intercepts
        for b, (weight, gathers) in enumerate(blocks, start=1):
            block = np.zeros((own.shape[0] + 1, n_labels), dtype=np.float32)  # the extra last row: "none"
            block[:-1] = own @ self.weights[b * width : (b + 1) * width]
            z += sum(block[rows] for rows in gathers) * np.float32(weight)
        if tail is not None:
            z += tail(self.weights[(len(blocks) + 1) * width :])
        return self._link(z)

    def _link(self, z: np.ndarray) -> np.ndarray:
        return expit(z) if self.link == "sigmoid" else softmax(z, axis=1)

    def reproduces(self, classifier: Any, X: Any, rows: int = 512) -> bool:
        """Whether these scores match the classifier's own `predict_proba` (checked on up to `rows` rows)."""
        sample = X[:rows]
        return bool(np.allclose(self.predict_proba(sample), classifier.predict_proba(sample), rtol=0, atol=SCORE_ATOL))

    @classmethod
    def from_classifier(cls, classifier: Any) -> LinearScorer | None:
        from sklearn.linear_model import LogisticRegression, SGDClassifier
        from sklearn.multiclass import OneVsRestClassifier

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
