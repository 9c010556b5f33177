"""`ModelBundle`: the one model object that training saves and the service loads.

It holds the shared TF-IDF vectorizer, one classifier and per-label thresholds
per label set, the codebooks (and their sha256), the training-data digest and
the library versions. It is saved with joblib next to a small JSON sidecar that
records the file's sha256; `load_bundle` refuses a file whose digest or
scikit-learn version does not match *before* unpickling it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from training.codebook import Codebook, codebooks_sha256
from training.config import RunConfig
from training.errors import ModelIntegrityError, ModelLoadError
from training.estimators import FastTfidf, LinearScorer, build_classifier, build_vectorizer, label_weights

BUNDLE_FILE = "model.joblib"


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class LabelSetModel:
    """The fitted part of one label set.

    Logistic models keep only their `LinearScorer` (one weight matrix, the exact
    same probabilities); other classifiers keep the scikit-learn estimator and a
    weight matrix for explanations. Storing the weights once keeps the saved
    model, and every serving worker's memory, a third of what three copies took.
    """

    name: str
    labels: list[str]
    multi_label: bool
    classifier: Any  # the fitted scikit-learn classifier; None when `scorer` reproduces it
    weights: np.ndarray | None  # labels x features, for explanations when there is no scorer
    thresholds: np.ndarray
    scorer: LinearScorer | None = None

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.scorer is not None:
            return self.scorer.predict_proba(X)
        return np.asarray(self.classifier.predict_proba(X), dtype=np.float64)

    def term_weights(self, label: int, features: np.ndarray) -> np.ndarray:
        """The weights of `features` (column indices) for one label."""
        if self.scorer is not None:
            return self.scorer.weights[features, label]
        assert self.weights is not None
        return self.weights[label, features]

    def decide(self, scores: np.ndarray) -> list[list[str]]:
        """Labels per row, highest score first. Single-label sets always pick the argmax."""
        labels = self.labels
        if not self.multi_label:
            return [[labels[j]] for j in np.argmax(scores, axis=1).tolist()]
        # Whole-matrix numpy, then plain lists: per-element numpy indexing costs more than the decision.
        order = np.argsort(-scores, axis=1, kind="stable").tolist()
        passed = (scores >= self.thresholds).tolist()
        return [[labels[j] for j in row if ok[j]] for row, ok in zip(order, passed, strict=True)]


class ModelBundle:
    """TF-IDF + linear classifiers for every label set of a codebook collection.

    Follows scikit-learn conventions: `fit`, `predict`, `predict_proba`, plus
    `explain` for the terms behind each label.
    """

    def __init__(self, config: RunConfig, codebooks: dict[str, Codebook]):
        self.config = config
        self.codebooks = {name: cb.to_dict() for name, cb in codebooks.items()}
        self.codebook_sha256 = codebooks_sha256(codebooks)
        self.multi_label = {name: cb.multi_label for name, cb in codebooks.items()}
        self.label_names = {name: cb.label_names for name, cb in codebooks.items()}
        self.versions = library_versions()
        self.data_digest = ""
        self.metrics: dict[str, float] = {}
        self.created_at = ""
        self.label_sets_: dict[str, LabelSetModel] = {}

    @property
    def label_sets(self) -> list[str]:
        return list(self.label_names)

    def fit(self, texts: list[str], targets: dict[str, np.ndarray], data_digest: str = "") -> ModelBundle:
        """Fit the vectorizer once, then one classifier per label set.

        ``targets[set]`` is a binary (rows x labels) matrix in codebook order.
        Thresholds start at 0.5; `set_thresholds` stores tuned ones.
        """
        self.vectorizer_ = build_vectorizer(self.config.vectorizer)
        self.__dict__.pop("fast_tfidf_", None)  # a refit needs a fast path over the new vocabulary
        self.__dict__.pop("terms_", None)
        X = self.vectorizer_.fit_transform(texts)
        for name, labels in self.label_names.items():
            y = targets[name]
            classifier = build_classifier(self.config.classifier, self.multi_label[name], self.config.seed)
            classifier.fit(X, y if self.multi_label[name] else y.argmax(axis=1))
            scorer = LinearScorer.from_classifier(classifier)
            if scorer is not None and not scorer.reproduces(classifier, X):
                scorer = None  # never trade exactness for speed: keep scikit-learn's own predict_proba
            self.label_sets_[name] = LabelSetModel(
                name=name,
                labels=labels,
                multi_label=self.multi_label[name],
                classifier=None if scorer else classifier,
                weights=None if scorer else label_weights(classifier, len(labels), X.shape[1]).astype(np.float32),
                thresholds=np.full(len(labels), 0.5),
                scorer=scorer,
            )
        self.data_digest = data_digest
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        return self

    def set_thresholds(self, label_set: str, thresholds: np.ndarray) -> None:
        self.label_sets_[label_set].thresholds = np.asarray(thresholds, dtype=np.float64)

    def thresholds(self, label_set: str) -> dict[str, float]:
        model = self.label_sets_[label_set]
        return dict(zip(model.labels, map(float, model.thresholds), strict=True))

    def transform(self, texts: list[str]) -> Any:
        """TF-IDF features, through the exact fast path when the vectorizer allows it."""
        if "fast_tfidf_" not in self.__dict__:  # built on first use: it only holds references, and is not saved
            self.fast_tfidf_ = FastTfidf.from_vectorizer(self.vectorizer_)
        if self.fast_tfidf_ is None:
            return self.vectorizer_.transform(texts)
        return self.fast_tfidf_.transform(texts)

    @property
    def terms(self) -> list[str]:
        """The term of every feature column, built from the vocabulary on first use (explanations only)."""
        if "terms_" not in self.__dict__:
            self.terms_ = feature_terms(self.vectorizer_)
        return self.terms_

    def __getstate__(self) -> dict[str, Any]:
        # Both are rebuilt from the vectorizer after loading: saving them would store a second copy
        # of the vocabulary (and a bound analyzer) for nothing.
        return {key: value for key, value in self.__dict__.items() if key not in ("fast_tfidf_", "terms_")}

    def predict_proba(self, texts: list[str], label_sets: list[str] | None = None) -> dict[str, np.ndarray]:
        """Scores in [0, 1] per label set: (rows x labels) in codebook order."""
        X = self.transform(texts)
        return {name: self.label_sets_[name].predict_proba(X) for name in (label_sets or self.label_sets)}

    def predict(self, texts: list[str], label_sets: list[str] | None = None) -> dict[str, list[list[str]]]:
        """Label names per row and label set; an empty list when no label passes its threshold."""
        scores = self.predict_proba(texts, label_sets)
        return {name: self.label_sets_[name].decide(s) for name, s in scores.items()}

    def decide(self, label_set: str, scores: np.ndarray) -> list[list[str]]:
        return self.label_sets_[label_set].decide(scores)

    def explain(
        self, text: str, k: int = 5, labels: dict[str, list[str]] | None = None
    ) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """Top-k terms (TF-IDF value x weight) pushing each label up.

        ``labels`` restricts the labels explained per set; by default the labels
        the model predicts for this paragraph.
        """
        x = self.transform([text]).tocsr()
        if labels is None:
            labels = {name: decided[0] for name, decided in self.predict([text]).items()}
        return self.explain_row(x, k, labels)

    def explain_row(
        self, x: Any, k: int, labels: dict[str, list[str]]
    ) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """`explain` for an already vectorized row (1 x features, CSR)."""
        explanations: dict[str, dict[str, list[tuple[str, float]]]] = {}
        for name, wanted in labels.items():
            model = self.label_sets_[name]
            per_label: dict[str, list[tuple[str, float]]] = {}
            for label in wanted:
                contributions = x.data * model.term_weights(model.labels.index(label), x.indices)
                order = np.argsort(-contributions, kind="stable")[:k]
                per_label[label] = [
                    (self.terms[x.indices[i]], round(float(contributions[i]), 4)) for i in order if contributions[i] > 0
                ]
            explanations[name] = per_label
        return explanations

    def save(self, directory: str | Path) -> str:
        """Write ``model.joblib`` and ``model.json`` (sha256 + versions); return the sha256."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / BUNDLE_FILE
        tmp = path.with_suffix(".tmp")
        joblib.dump(self, tmp)
        tmp.replace(path)  # never leave a half-written model under the real name
        digest = file_sha256(path)
        metadata = {
            "sha256": digest,
            "versions": self.versions,
            "label_sets": self.label_sets,
            "codebook_sha256": self.codebook_sha256,
            "data_digest": self.data_digest,
            "created_at": self.created_at,
        }
        (directory / "model.json").write_text(json.dumps(metadata, indent=2))
        return digest


def feature_terms(vectorizer: Any) -> list[str]:
    """Column index -> term, for a vectorizer or a FeatureUnion of them (whose columns follow part by part).

    The strings are the vocabulary's own, so the list costs a pointer per feature;
    FeatureUnion's own feature names would add a "word__"/"char__" prefix (and a copy).
    """
    parts = (
        [part for _, part in vectorizer.transformer_list] if hasattr(vectorizer, "transformer_list") else [vectorizer]
    )
    terms: list[str] = []
    for part in parts:
        by_index = [""] * len(part.vocabulary_)
        for term, j in part.vocabulary_.items():
            by_index[j] = term
        terms += by_index
    return terms


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def load_bundle(path: str | Path, expected_sha256: str | None = None) -> ModelBundle:
    """Load a saved bundle after checking its digest and scikit-learn version.

    ``path`` is the bundle directory or the ``model.joblib`` file.
    ``expected_sha256`` should come from a trusted record (the MLflow registry);
    without it the sidecar ``model.json`` written at training is used.
    """
    path = Path(path)
    file = path / BUNDLE_FILE if path.is_dir() else path
    if not file.is_file():
        raise ModelLoadError(f"{file}: model artifact not found")
    sidecar = file.with_name("model.json")
    metadata: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    expected = expected_sha256 or metadata.get("sha256")
    if not expected:
        raise ModelIntegrityError(f"{file}: no recorded sha256 to check it against; refusing to unpickle")
    actual = file_sha256(file)
    if actual != expected:
        raise ModelIntegrityError(
            f"{file}: sha256 {actual[:12]}… does not match the digest recorded at training "
            f"{expected[:12]}…; refusing to unpickle"
        )
    trained_with = metadata.get("versions", {}).get("scikit-learn")
    if trained_with and _major_minor(trained_with) != _major_minor(sklearn.__version__):
        raise ModelIntegrityError(
            f"{file}: trained with scikit-learn {trained_with}, this environment has {sklearn.__version__}; "
            "retrain or install the matching version"
        )
    bundle = joblib.load(file)
    if not isinstance(bundle, ModelBundle):
        raise ModelIntegrityError(f"{file}: not a topicframe ModelBundle")
    recorded = bundle.versions.get("scikit-learn", "")
    if _major_minor(recorded) != _major_minor(sklearn.__version__):
        raise ModelIntegrityError(
            f"{file}: trained with scikit-learn {recorded}, this environment has {sklearn.__version__}"
        )
    return bundle
