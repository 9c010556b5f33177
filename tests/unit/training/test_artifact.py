"""The pickle-free model artifact: crafted directories never run code; old pickled models are converted."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from typer.testing import CliRunner

from service.model_store import INTEGRITY_FAILED, ModelStore
from training.bundle import ModelBundle, load_bundle
from training.classify import classify
from training.cli import app
from training.codebook import Codebook, LabelDefinition
from training.config import load_config
from training.errors import ModelIntegrityError

PRE_ROLES_MODEL = Path(__file__).resolve().parents[2] / "fixtures" / "pre_roles_model"
# The operator's record of the old pickle's digest (what the registry's bundle_sha256 tag held for it).
PRE_ROLES_SHA256 = "a0ccf411098402136df51351436a33d7ff103009d1de4ccef2c601a0047185e7"


class Payload:
    """Unpickling this creates ``marker``: proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


class Trap:
    """Built by skops only if its type were trusted: then ``__setstate__`` creates the marker."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["marker"]).touch()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(directory: Path, files: dict[str, str]) -> str:
    """A manifest listing ``files`` with their real digests; returns the manifest's digest, which a
    careless operator would pass after computing it on the crafted directory."""
    manifest = json.dumps({"format": "topicframe-model", "format_version": 1, "files": files}).encode()
    (directory / "manifest.json").write_bytes(manifest)
    return sha256(manifest)


def refused_without_running_code(directory: Path, digest: str | None, marker: Path, match: str) -> None:
    with pytest.raises(ModelIntegrityError, match=match):
        load_bundle(directory, digest)
    store = ModelStore(str(directory), expected_sha256=digest)
    with pytest.raises(ModelIntegrityError):
        store.load()
    failure = store.last_failure
    assert failure is not None and failure.reason == INTEGRITY_FAILED
    assert not marker.exists(), "loading ran code from the crafted directory"


def tiny_bundle(kind: str, **overrides: object) -> ModelBundle:
    labels = tuple(LabelDefinition(n, n) for n in ("trade", "security"))
    settings = {"data.label_sets": ["topic"], "classifier.type": kind, "classifier.class_weight": None, **overrides}
    config = load_config(None, settings)
    texts = ["tariffs on café imports", "trade deal cuts tariffs", "missile test at the border 🚀", "navy drills"] * 3
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]] * 3)
    return ModelBundle(config, {"topic": Codebook("topic", False, labels)}).fit(texts, {"topic": y})


def test_a_pickle_with_its_digest_beside_it_is_refused_unopened(tmp_path: Path) -> None:
    """The old layout: model.joblib and a sidecar recording its sha256. Neither the sidecar's digest nor
    the operator's gets it unpickled: the service serves only the new format and names the fix."""
    marker, crafted = tmp_path / "ran", tmp_path / "crafted"
    crafted.mkdir()
    payload = pickle.dumps(Payload(marker))
    (crafted / "model.joblib").write_bytes(payload)
    (crafted / "model.json").write_text(json.dumps({"sha256": sha256(payload)}))
    refused_without_running_code(crafted, None, marker, r"older topicframe as a pickle .*topicframe model convert")
    refused_without_running_code(crafted, sha256(payload), marker, r"topicframe model convert .* --sha256 DIGEST")


def test_a_manifest_pointing_at_a_pickle_is_refused(tmp_path: Path) -> None:
    marker, crafted = tmp_path / "ran", tmp_path / "crafted"
    crafted.mkdir()
    payload = pickle.dumps(Payload(marker))
    (crafted / "model.joblib").write_bytes(payload)
    digest = write_manifest(crafted, {"model.joblib": sha256(payload)})
    refused_without_running_code(crafted, digest, marker, r"files.model.joblib: not a file of the topicframe-model")


def test_object_arrays_and_untrusted_skops_types_are_refused(
    bundle_dir: Path, bundle_sha256: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    # arrays.npz whose arrays hold a pickled object, every digest consistent.
    crafted = tmp_path / "npz"
    shutil.copytree(bundle_dir, crafted)
    with np.load(crafted / "arrays.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["vectorizer.word.idf"] = np.array([Payload(marker)], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=True, **arrays)
    (crafted / "arrays.npz").write_bytes(buffer.getvalue())
    files = json.loads((crafted / "manifest.json").read_text())["files"]
    digest = write_manifest(crafted, {**files, "arrays.npz": sha256(buffer.getvalue())})
    refused_without_running_code(crafted, digest, marker, r"arrays.npz: Object arrays cannot be loaded")

    # A classifier stored with skops (complement NB) replaced by an object of a type nobody trusted.
    crafted = tmp_path / "skops"
    tiny_bundle("complement_nb").save(crafted)
    trap = sio.dumps(Trap(marker))
    (crafted / "classifiers" / "topic.skops").write_bytes(trap)
    files = json.loads((crafted / "manifest.json").read_text())["files"]
    digest = write_manifest(crafted, {**files, "classifiers/topic.skops": sha256(trap)})
    refused_without_running_code(crafted, digest, marker, r"topic.skops: refused by skops: .*Trap")
    # The genuine skops classifier loads (only scikit-learn's types and the two calibration internals trusted).
    genuine = tiny_bundle("linear_svm")
    loaded = load_bundle(tmp_path / "svm", genuine.save(tmp_path / "svm"))
    assert np.array_equal(
        loaded.predict_proba(["navy drills"])["topic"], genuine.predict_proba(["navy drills"])["topic"]
    )


def test_a_label_never_seen_positive_round_trips(tmp_path: Path) -> None:
    """One-vs-rest keeps a constant stand-in for a label with one class in training: stored with skops."""
    labels = tuple(LabelDefinition(n, n) for n in ("trade", "security", "climate"))
    config = load_config(None, {"data.label_sets": ["topic"], "classifier.class_weight": None})
    texts = ["tariffs on steel imports", "trade deal cuts tariffs", "missile test at the border", "navy drills"] * 3
    y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]] * 3)  # no "climate" row
    bundle = ModelBundle(config, {"topic": Codebook("topic", True, labels)}).fit(texts, {"topic": y})
    loaded = load_bundle(tmp_path, bundle.save(tmp_path))
    assert (tmp_path / "classifiers" / "topic.skops").is_file()
    assert np.array_equal(loaded.predict_proba(texts)["topic"], bundle.predict_proba(texts)["topic"])


@pytest.mark.parametrize("char_analyzer", ["char_wb", "char"])
def test_word_and_character_vectorizers_round_trip_exactly(tmp_path: Path, char_analyzer: str) -> None:
    """A FeatureUnion of word and char n-grams (non-ASCII terms included) is rebuilt from its vocabularies, with
    character n-grams inside words (the default) or across them (`vectorizer.char_analyzer`)."""
    bundle = tiny_bundle("logreg", **{"vectorizer.char_ngram_range": [2, 4], "vectorizer.char_analyzer": char_analyzer})
    char_terms = bundle._terms()[bundle._word_columns() :]
    assert any(" " in term.strip() for term in char_terms) == (char_analyzer == "char")  # "s on" spans two words
    loaded = load_bundle(tmp_path, bundle.save(tmp_path))
    texts = ["tariffs on café imports 🚀", "naïve missile drills", ""]
    assert np.array_equal(loaded.predict_proba(texts)["topic"], bundle.predict_proba(texts)["topic"])
    assert (loaded.transform(texts) != bundle.transform(texts)).nnz == 0
    terms = [loaded.term(j) for j in range(loaded.transform(texts).shape[1])]
    assert terms == [bundle.term(j) for j in range(len(terms))] and any("é" in term for term in terms)


def test_convert_an_old_pickled_model_then_serve_every_paragraph_as_content(tmp_path: Path) -> None:
    """tests/fixtures/pre_roles_model was saved by the code of commit b2dff58 (topic + frame, no roles, no
    context). Refused as it is, converted once (the operator vouching for its digest), it serves as before."""
    with pytest.raises(ModelIntegrityError, match=r"topicframe model convert"):
        load_bundle(PRE_ROLES_MODEL, PRE_ROLES_SHA256)
    runner = CliRunner()
    out = tmp_path / "converted"
    wrong = runner.invoke(app, ["model", "convert", str(PRE_ROLES_MODEL), "--sha256", "0" * 64, "--out", str(out)])
    assert wrong.exit_code == 1 and "does not match the --sha256 given" in wrong.output and not out.exists()

    result = runner.invoke(
        app, ["model", "convert", str(PRE_ROLES_MODEL), "--sha256", PRE_ROLES_SHA256, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    digest = sha256((out / "manifest.json").read_bytes())
    assert f"TOPICFRAME_MODEL_SHA256={digest}" in result.output.replace("\n", "")
    assert not (out / "model.joblib").exists()
    again = runner.invoke(
        app, ["model", "convert", str(PRE_ROLES_MODEL), "--sha256", PRE_ROLES_SHA256, "--out", str(out)]
    )
    assert again.exit_code == 1 and "already exists" in again.output

    old = load_bundle(out, digest.upper())  # a digest pasted in upper case is the same digest
    assert old.role_set is None and old.content_label_sets == ["topic", "frame"]
    garbage = tmp_path / "garbage.joblib"  # vouched for, but not a pickle: one line, not a traceback
    garbage.write_bytes(b"\x80\x04not a pickle at all")
    unreadable = runner.invoke(
        app, ["model", "convert", str(garbage), "--sha256", sha256(garbage.read_bytes()), "--out", str(tmp_path / "g")]
    )
    assert unreadable.exit_code == 1 and "could not be read as a pickled model" in unreadable.output
    assert "Traceback" not in unreadable.output and not (tmp_path / "g").exists()
    assert old.config.context.neighbours == 0 and old.config.decision.max_labels is None
    paragraphs = ["Tariffs on steel imports rose sharply after the trade talks collapsed.", "By Jane Roe"]
    assert old.predict(paragraphs[:1])["topic"] == [["trade"]]
    served = classify(old, paragraphs)
    assert all("role" not in item for item in served["paragraphs"])
    assert served["summary"]["content_paragraphs"] == 2 and "roles" not in served["summary"]
    assert ModelStore(str(out), expected_sha256=digest).load().bundle.predict(paragraphs) == old.predict(paragraphs)


def test_a_model_saved_before_an_option_existed_loads_as_it_was_fitted(tmp_path: Path) -> None:
    """`roles.article_cues` defaults to on; a model saved before it existed has no weights for those features, so
    its saved config, which lacks the key, is read as off (not as today's default). So is
    `roles.content_rows_only` and `roles.content_vocabulary`: such a model's content sets and vocabulary were
    fitted on every paragraph, and `roles.linked_headlines`: its roles were read without that rule. A headline's
    article block weighed as every row's (`context.headline_article` missing: None, not today's {topic: 1.2}), and
    every paragraph read (`decision.min_known_words` missing: 0)."""
    bundle = tiny_bundle("logreg", **{"roles.content_vocabulary": True})
    bundle.save(tmp_path)
    metadata = json.loads((tmp_path / "model.json").read_text())
    del metadata["config"]["roles"]["article_cues"]
    del metadata["config"]["roles"]["content_rows_only"]
    del metadata["config"]["roles"]["content_vocabulary"]
    del metadata["config"]["roles"]["linked_headlines"]
    del metadata["config"]["context"]["headline_article"]
    del metadata["config"]["decision"]["min_known_words"]
    (tmp_path / "model.json").write_text(json.dumps(metadata))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    files = {name: sha256((tmp_path / name).read_bytes()) for name in manifest["files"]}
    loaded = load_bundle(tmp_path, write_manifest(tmp_path, files))
    assert loaded.config.roles.article_cues is False and bundle.config.roles.article_cues is True
    assert loaded.config.roles.content_rows_only is False and bundle.config.roles.content_rows_only is True
    assert loaded.config.roles.content_vocabulary is False and bundle.config.roles.content_vocabulary is True
    assert loaded.config.roles.linked_headlines is False and bundle.config.roles.linked_headlines is True
    assert loaded.config.context.headline_article is None and bundle.config.context.headline_article == {"topic": 1.2}
    # Every paragraph read, whatever share of its words the model knows (`decision.min_known_words` missing: 0).
    assert loaded.config.decision.min_known_words == 0.0 and bundle.config.decision.min_known_words == 0.5
    assert loaded.score(["外交部发言人周三表示，中方愿与有关国家继续就关税问题进行磋商。"]).read.tolist() == [True]


def test_the_top_label_fallback_round_trips_and_older_models_load_without_it(tmp_path: Path) -> None:
    labels = tuple(LabelDefinition(n, n) for n in ("trade", "security"))
    config = load_config(None, {"data.label_sets": ["topic"]})
    texts = ["tariffs on café imports", "trade deal cuts tariffs", "missile test at the border", "navy drills"] * 3
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]] * 3)
    bundle = ModelBundle(config, {"topic": Codebook("topic", True, labels)}).fit(texts, {"topic": y})
    bundle.set_thresholds("topic", np.array([0.99, 0.99]))  # nothing passes: only the fallback gives a label
    bundle.set_at_least_one("topic", True)
    digest = bundle.save(tmp_path / "new")
    loaded = load_bundle(tmp_path / "new", digest)
    assert loaded.at_least_one("topic") and loaded.predict(texts[:4]) == bundle.predict(texts[:4])
    assert loaded.predict(texts[:4])["topic"] == [["trade"], ["trade"], ["security"], ["security"]]

    # A model saved before the option existed: no key in its label set or its config.
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "new", old)
    metadata = json.loads((old / "model.json").read_text())
    del metadata["label_sets"]["topic"]["at_least_one"]
    del metadata["config"]["decision"]["at_least_one"], metadata["config"]["thresholds"]["f1_tolerance"]
    (old / "model.json").write_text(json.dumps(metadata))
    manifest = json.loads((old / "manifest.json").read_text())
    loaded = load_bundle(
        old, write_manifest(old, {name: sha256((old / name).read_bytes()) for name in manifest["files"]})
    )
    assert not loaded.at_least_one("topic") and loaded.predict(texts[:4])["topic"] == [[], [], [], []]
    assert loaded.config.decision.at_least_one is False and loaded.config.thresholds.f1_tolerance == 0.0
