"""The saved model: plain arrays and JSON, loaded without unpickling anything.

A saved model is a directory of

* ``manifest.json``: the format and the sha256 of every other file. The sha256 of the manifest
  itself is the model's digest (``bundle_sha256``, recorded as a registry tag), so one trusted
  digest covers every file;
* ``model.json``: config, codebooks, metadata, vectorizer settings and each label set's decision
  settings (labels, thresholds, caps);
* ``arrays.npz``: vocabularies (terms in column order, as UTF-8 bytes + offsets), idf, weights and
  intercepts, read with ``allow_pickle=False`` (an object array is refused, never unpickled);
* ``classifiers/<set>.skops``: only for a classifier that does not reduce to weights + intercepts
  (calibrated linear SVM, complement NB, single-label SGD or binary logistic regression), read by
  skops with no type trusted beyond scikit-learn's own and the three internals below.

`read_artifact` checks the manifest against a digest from a trusted record (the registry, or one
the operator passes for a local directory), then each file against the manifest, and parses the
very bytes it checked (the manifest and those checks: `training.artifact_files`). Models saved by
older code as a joblib pickle are refused with the fix: `convert_legacy` (``topicframe model convert``)
rewrites one whose pickle the operator vouches for.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from training.artifact_files import ARRAYS_FILE, FORMAT, FORMAT_VERSION, METADATA_FILE, verified_files, write_files
from training.errors import ModelIntegrityError, ModelLoadError
from training.scoring import reproducible

# skops trusts scikit-learn's estimators by default; these scikit-learn internals are the only extra types
# (calibration's parts, and one-vs-rest's stand-in for a label with one class in training).
SKOPS_TRUSTED = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.multiclass._ConstantPredictor",
]
# Vectorizer parameters not saved: the vocabulary is saved as arrays, dtype by name, and callables never.
_VECTORIZER_SKIPPED = ("vocabulary", "dtype", "preprocessor", "tokenizer")
# The bundle's saved state; anything else in a bundle's __dict__ is refused at save, not silently dropped.
# Rebuilt from the saved state when first used, never saved (ModelBundle.__getstate__ leaves them out too).
CACHED_STATE = {"fast_tfidf_", "terms_", "fast_role_tfidf_", "char_wb_analyzer_", "word_reader_"}
_STATE = {"config", "codebooks", "codebook_sha256", "multi_label", "label_names", "versions", "data_digest"}
_STATE |= {"metrics", "created_at", "label_sets_", "role_set", "vectorizer_", "role_vectorizer_"}


def feature_terms(vectorizer: Any) -> list[str]:
    """Column index -> term, for a vectorizer or a FeatureUnion of them (whose columns follow part by part).

    The strings are the vocabulary's own, so the list costs a pointer per feature;
    FeatureUnion's own feature names would add a "word__"/"char__" prefix (and a copy).
    """
    parts = (
        [part for _, part in vectorizer.transformer_list] if hasattr(vectorizer, "transformer_list") else [vectorizer]
    )
    return [term for part in parts for term in _terms_in_column_order(part.vocabulary_)]


def word_columns(vectorizer: Any) -> int:
    """How many of the vectorizer's columns are word n-grams: all of a lone vectorizer's, the first part's of a
    FeatureUnion (word n-grams come first)."""
    word = vectorizer.transformer_list[0][1] if hasattr(vectorizer, "transformer_list") else vectorizer
    return len(word.vocabulary_)


# ---- writing ----------------------------------------------------------------------------------------


class _Arrays:
    """Collects named arrays for ``arrays.npz``; refuses object arrays (they would need pickle)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, key: str, value: Any) -> str:
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ModelLoadError(f"cannot save array '{key}': it holds Python objects")
        self.arrays[key] = array
        return key


def _terms_in_column_order(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, j in vocabulary.items():
        terms[j] = term
    return terms


def _vectorizer_to_data(vectorizer: Any, key: str, arrays: _Arrays) -> dict[str, Any]:
    """A fitted scikit-learn `TfidfVectorizer` / `FeatureUnion` of them, or a loaded `SavedTfidf` / union."""
    from training.scoring import SavedTfidf

    if hasattr(vectorizer, "transformer_list"):
        if vectorizer.transformer_weights:
            raise ModelLoadError(f"{key}: a FeatureUnion with transformer_weights cannot be saved")
        parts = [
            {"name": name, **_vectorizer_to_data(part, f"{key}.{name}", arrays)}
            for name, part in vectorizer.transformer_list
        ]
        return {"kind": "union", "parts": parts}
    if type(vectorizer) is not SavedTfidf and type(vectorizer).__name__ != "TfidfVectorizer":
        raise ModelLoadError(f"{key}: cannot save a {type(vectorizer).__name__} (only TfidfVectorizer)")
    params = vectorizer.get_params()
    if not reproducible(params):
        raise ModelLoadError(
            f"{key}: a vectorizer with settings the scorer cannot reproduce cannot be saved "
            "(a custom analyzer, preprocessor, tokenizer or accent function, or another norm)"
        )
    settings = {name: value for name, value in params.items() if name not in _VECTORIZER_SKIPPED}
    settings["ngram_range"] = list(settings["ngram_range"])
    if isinstance(settings["stop_words"], list | tuple | set | frozenset):
        settings["stop_words"] = sorted(settings["stop_words"])
    terms = _terms_in_column_order(vectorizer.vocabulary_)
    # One UTF-8 blob and character offsets: exact for any term (a fixed-width numpy string array drops
    # trailing NULs) and compact.
    offsets = np.cumsum([0] + [len(term) for term in terms], dtype=np.int64)
    data = {
        "kind": "tfidf",
        "params": settings,
        "dtype": np.dtype(vectorizer.dtype).name,
        "terms": arrays.add(f"{key}.terms", np.frombuffer("".join(terms).encode("utf-8"), dtype=np.uint8)),
        "term_offsets": arrays.add(f"{key}.term_offsets", offsets),
        "idf": arrays.add(f"{key}.idf", vectorizer.idf_) if vectorizer.use_idf else None,
    }
    return data


def _label_set_to_data(model: Any, arrays: _Arrays, classifiers: dict[str, bytes]) -> dict[str, Any]:
    key = f"label_sets.{model.name}"
    data: dict[str, Any] = {
        "labels": list(model.labels),
        "multi_label": bool(model.multi_label),
        "thresholds": [float(t) for t in model.thresholds],
        "columns": None if model.columns is None else [int(c) for c in model.columns],
        "max_labels": model.max_labels,
        "relative_to_top": float(model.relative_to_top),
        "at_least_one": bool(model.at_least_one),
        "scorer": None,
        "classifier": None,
        "weights": None,
    }
    if model.scorer is not None:
        data["scorer"] = {
            "link": model.scorer.link,
            "weights": arrays.add(f"{key}.weights", model.scorer.weights),  # features x labels
            "intercepts": arrays.add(f"{key}.intercepts", model.scorer.intercepts),
        }
        return data
    import skops.io as sio

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", model.name):
        raise ModelLoadError(f"label set '{model.name}': a name usable as a file name is needed to save it")
    file = f"classifiers/{model.name}.skops"
    classifiers[file] = sio.dumps(model.classifier)
    data["classifier"] = file
    data["weights"] = None if model.weights is None else arrays.add(f"{key}.explain_weights", model.weights)
    return data


def write_artifact(bundle: Any, directory: str | Path) -> str:
    """Save ``bundle`` under ``directory`` (created); return the manifest's sha256, the model's digest."""
    extra = set(bundle.__dict__) - _STATE - CACHED_STATE
    if extra:
        raise ModelLoadError(f"the model has state the saved format does not hold: {sorted(extra)}")
    arrays = _Arrays()
    classifiers: dict[str, bytes] = {}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": bundle.config.model_dump(mode="json"),
        "codebooks": bundle.codebooks,
        "codebook_sha256": bundle.codebook_sha256,
        "multi_label": bundle.multi_label,
        "label_names": bundle.label_names,
        "role_set": bundle.role_set,
        "versions": bundle.versions,
        "data_digest": bundle.data_digest,
        "metrics": bundle.metrics,
        "created_at": bundle.created_at,
        "vectorizer": _vectorizer_to_data(bundle.vectorizer_, "vectorizer", arrays),
        "role_vectorizer": (
            _vectorizer_to_data(bundle.role_vectorizer_, "role_vectorizer", arrays)
            if "role_vectorizer_" in bundle.__dict__
            else None
        ),
        "label_sets": {
            name: _label_set_to_data(model, arrays, classifiers) for name, model in bundle.label_sets_.items()
        },
    }
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays.arrays)
    files = {METADATA_FILE: json.dumps(metadata, indent=1).encode("utf-8"), ARRAYS_FILE: buffer.getvalue()}
    files.update(classifiers)
    return write_files(files, directory)


# ---- reading ----------------------------------------------------------------------------------------


def _load_arrays(data: bytes, where: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False", or a broken file
        raise ModelIntegrityError(f"{where}: {exc}; refusing it") from None
    except Exception as exc:
        raise ModelIntegrityError(f"{where}: not a readable .npz file ({type(exc).__name__})") from None


def _array(arrays: dict[str, np.ndarray], key: Any, where: Path) -> np.ndarray:
    if not isinstance(key, str) or key not in arrays:
        raise ModelIntegrityError(f"{where}: array {key!r} is missing")
    array = arrays[key]
    if array.dtype.kind not in "biuf":
        raise ModelIntegrityError(f"{where}: array {key!r} has dtype {array.dtype}, not a number type")
    return array


class _SharedObjects:
    """One string object per distinct term and one int object per column number, for all of a model's
    vocabularies: the role model's character n-grams repeat most of the content model's (64k of 82k in the
    default model), and every dict would otherwise hold its own int objects: 4 MB less per worker (measured)."""

    def __init__(self) -> None:
        self.terms: dict[str, str] = {}
        self.numbers: list[int] = []

    def vocabulary(self, terms: list[str]) -> dict[str, int]:
        self.numbers.extend(range(len(self.numbers), len(terms)))
        # strict=False: the shared numbers may run past this vocabulary's last term
        return dict(zip(map(self.terms.setdefault, terms, terms), self.numbers, strict=False))


def _vectorizer_from_data(
    data: dict[str, Any], arrays: dict[str, np.ndarray], where: Path, shared: _SharedObjects
) -> Any:
    """The saved vectorizer, rebuilt without scikit-learn (`training.scoring.SavedTfidf`)."""
    from training.scoring import SavedTfidf, SavedTfidfUnion

    if data["kind"] == "union":
        return SavedTfidfUnion(
            [(part["name"], _vectorizer_from_data(part, arrays, where, shared)) for part in data["parts"]]
        )
    if data["kind"] != "tfidf":
        raise ModelIntegrityError(f"{where}: vectorizer kind {data['kind']!r} is unknown")
    params = dict(data["params"])
    params["ngram_range"] = tuple(params["ngram_range"])
    if set(params) & set(_VECTORIZER_SKIPPED) or not reproducible(params):
        raise ModelIntegrityError(f"{where}: vectorizer params {params}: settings this version cannot reproduce")
    dtype = np.dtype(data["dtype"])
    if dtype.kind != "f":
        raise ModelIntegrityError(f"{where}: vectorizer dtype {dtype} is not a float type")
    blob = _array(arrays, data["terms"], where).tobytes().decode("utf-8")
    offsets = _array(arrays, data["term_offsets"], where).tolist()
    terms = [blob[a:b] for a, b in itertools.pairwise(offsets)]
    vocabulary = shared.vocabulary(terms)
    if len(vocabulary) != len(terms):
        raise ModelIntegrityError(f"{where}: vocabulary {data['terms']!r} repeats a term")
    idf = _array(arrays, data["idf"], where).astype(np.float64, copy=False) if data["idf"] is not None else None
    return SavedTfidf(params, vocabulary, idf, dtype.type)


def _label_set_from_data(
    name: str, data: dict[str, Any], arrays: dict[str, np.ndarray], content: dict[str, bytes], where: Path
) -> Any:
    from training.label_set import LabelSetModel
    from training.scoring import LinearScorer

    scorer = classifier = weights = None
    if data["scorer"] is not None:
        spec = data["scorer"]
        if spec["link"] not in ("sigmoid", "softmax"):
            raise ModelIntegrityError(f"{where}: label_sets.{name}.scorer.link {spec['link']!r} is unknown")
        # LinearScorer keeps (features x labels); the stored array is that, so its transpose goes in.
        scorer = LinearScorer(
            _array(arrays, spec["weights"], where).T, _array(arrays, spec["intercepts"], where), spec["link"]
        )
    else:
        import skops.io as sio

        file = data["classifier"]
        if file not in content:
            raise ModelIntegrityError(f"{where}: label_sets.{name}.classifier {file!r} is not in the manifest")
        try:
            classifier = sio.loads(content[file], trusted=SKOPS_TRUSTED)
        except Exception as exc:  # skops refuses any type not trusted, before building it
            raise ModelIntegrityError(f"{where.parent / file}: refused by skops: {exc}") from None
        if data["weights"] is not None:
            weights = _array(arrays, data["weights"], where)
    return LabelSetModel(
        name=name,
        labels=list(data["labels"]),
        multi_label=bool(data["multi_label"]),
        classifier=classifier,
        weights=weights,
        thresholds=np.asarray(data["thresholds"], dtype=np.float64),
        scorer=scorer,
        columns=None if data["columns"] is None else np.asarray(data["columns"], dtype=np.int64),
        max_labels=data["max_labels"],
        relative_to_top=float(data["relative_to_top"]),
        at_least_one=bool(data.get("at_least_one", False)),  # absent from models saved before it existed
    )


def _saved_config(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config, completed with what its model did for options added since: today's defaults would switch
    them on for a model not fitted with them."""
    roles = data.get("roles")
    if isinstance(roles, dict):
        # No in-article cue features; content sets and their vocabulary fitted on every row; no linked-headline rule.
        completed = {
            "article_cues": False,
            "content_rows_only": False,
            "content_vocabulary": False,
            "linked_headlines": False,
        }
        data = {**data, "roles": {**completed, **roles}}
    context = data.get("context")
    if isinstance(context, dict) and "headline_article" not in context:  # headlines' article block weighed as any row's
        data = {**data, "context": {**context, "headline_article": None}}
    thresholds, decision = data.get("thresholds"), data.get("decision")
    if isinstance(thresholds, dict) and "f1_tolerance" not in thresholds:  # tuned at the single best cut-off
        data = {**data, "thresholds": {**thresholds, "f1_tolerance": 0.0}}
    if isinstance(decision, dict) and "at_least_one" not in decision:  # no fallback to the top label
        decision = {**decision, "at_least_one": False}
    if isinstance(decision, dict) and "min_known_words" not in decision:  # every paragraph read
        decision = {**decision, "min_known_words": 0.0}
    if decision is not None:
        data = {**data, "decision": decision}
    return data


def read_artifact(directory: str | Path, expected_sha256: str | None) -> Any:
    """The `ModelBundle` saved under ``directory``, after checking every file (see `verified_files`)."""
    from training.bundle import ModelBundle
    from training.config import RunConfig

    directory = Path(directory)
    content = verified_files(directory, expected_sha256)
    where = directory / METADATA_FILE
    arrays = _load_arrays(content[ARRAYS_FILE], directory / ARRAYS_FILE)
    try:
        metadata = json.loads(content[METADATA_FILE])
        bundle = ModelBundle.__new__(ModelBundle)
        shared = _SharedObjects()
        state: dict[str, Any] = {
            "config": RunConfig.model_validate(_saved_config(metadata["config"])),
            **{key: metadata[key] for key in ("codebooks", "codebook_sha256", "multi_label", "label_names")},
            **{key: metadata[key] for key in ("role_set", "versions", "data_digest", "metrics", "created_at")},
            "vectorizer_": _vectorizer_from_data(metadata["vectorizer"], arrays, where, shared),
            "label_sets_": {
                name: _label_set_from_data(name, data, arrays, content, where)
                for name, data in metadata["label_sets"].items()
            },
        }
        if metadata["role_vectorizer"] is not None:
            state["role_vectorizer_"] = _vectorizer_from_data(metadata["role_vectorizer"], arrays, where, shared)
    except ModelLoadError:
        raise
    except Exception as exc:  # a field missing or of the wrong type: the file does not match the format
        raise ModelIntegrityError(f"{where}: not a valid {FORMAT} model ({type(exc).__name__}: {exc})") from None
    bundle.__dict__.update(state)
    return bundle
