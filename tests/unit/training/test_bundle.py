"""The model object: scores, thresholds, explanations, save/load and its refusals."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

from tests.conftest import GERMAN_NEWS
from training.bundle import ModelBundle, load_bundle
from training.codebook import Codebook, LabelDefinition
from training.config import ClassifierConfig, load_config
from training.errors import ConfigError, ModelLoadError
from training.estimators import FastTfidf, build_classifier, build_vectorizer
from training.explanations import words_of_ngrams
from training.features import ArticleLayout
from training.known_words import WordReader
from training.label_set import LabelSetModel
from training.role_features import first_sentence
from training.scoring import SCORE_ATOL
from training.train import article_layout, fallback_raises_micro_f1

ARTICLE = [
    "Washington and Beijing agreed to extend the tariff truce, with China pledging to buy more soybeans and liquefied "
    "natural gas from American exporters over the next two years.",
    "Customs officers detained three shipments of solar panels at the port of Los Angeles under the forced labour "
    "law, saying the polysilicon inside was traced to camps in Xinjiang.",
    "Photograph: Kim Lee for the Daily Ledger",
]


def test_scores_are_probabilities_for_every_label(bundle: ModelBundle) -> None:
    scores = bundle.predict_proba(ARTICLE)
    for name, matrix in scores.items():
        assert matrix.shape == (len(ARTICLE), len(bundle.label_names[name]))
        assert ((matrix >= 0) & (matrix <= 1)).all()


def test_predict_applies_each_labels_threshold_and_orders_by_score(bundle: ModelBundle) -> None:
    """A label passes its own threshold and half the top score; at most two per set; highest score first."""
    scores = bundle.predict_proba(ARTICLE)
    predicted = bundle.predict(ARTICLE)
    content = [roles[0] in ("body", "headline") for roles in predicted["role"]]
    for name in bundle.content_label_sets:
        thresholds = bundle.thresholds(name)
        labels = bundle.label_names[name]
        decision = bundle.config.decision
        for row, chosen, keep in zip(scores[name], predicted[name], content, strict=True):
            passing = [lab for lab in labels if row[labels.index(lab)] >= thresholds[lab]]
            passing = [lab for lab in passing if row[labels.index(lab)] >= decision.relative_to_top * row.max()]
            expected = sorted(passing, key=lambda lab: -row[labels.index(lab)])[: decision.max_labels]
            assert chosen == (expected if keep else [])


def test_scores_equal_scikit_learns_own_classifier(trained) -> None:
    """The bundle keeps one weight matrix per set; its scores must be what scikit-learn computes."""
    bundle, train, test = trained.bundle, trained.data.train, trained.data.test
    layout = article_layout(train)
    gold_roles = [row[0] for row in train.labels["role"]]
    test_layout = article_layout(test)
    scored = bundle.score(test.texts, layout=test_layout)
    # The training matrices exactly as `fit` built them (fit_transform), then the test matrices as served.
    chars = clone(bundle.role_vectorizer_).fit_transform(train.texts)
    # The content sets' vocabulary and idf are learnt from the paragraphs whose given role is a content role
    # (`roles.content_vocabulary`), and every paragraph is transformed (the context blocks read them all).
    assert bundle.config.roles.content_vocabulary
    content = np.isin(gold_roles, bundle.config.roles.content)
    own = clone(bundle.vectorizer_).fit(np.asarray(train.texts)[content]).transform(train.texts)
    chars.sort_indices(), own.sort_indices()
    role_train = [bundle.role_features(train.texts, lay, chars) for lay in (layout, alone(train))]
    # ... and the paragraphs' first sentences, alone (`roles.first_sentences`)
    assert bundle.config.roles.first_sentences
    firsts = [(i, s) for i, text in enumerate(train.texts) if (s := first_sentence(text))]
    role_train.append(bundle.role_features([s for _, s in firsts], ArticleLayout.alone(len(firsts))))
    # The content sets are fitted on the paragraphs whose given role is a content role (`roles.content_rows_only`).
    assert bundle.config.roles.content_rows_only
    features = {
        "role": (sp.vstack(role_train), bundle.role_features(test.texts, test_layout)),
    }
    for name in bundle.content_label_sets:  # each set's own features (`context.headline_article` may differ per set)
        features[name] = (
            bundle.content_features(train.texts, layout, gold_roles, own, name)[content],
            scored.features_of(name),
        )
    for name, model in bundle.label_sets_.items():
        assert model.scorer is not None and model.classifier is None and model.weights is None
        X_train, X_test = features[name]
        config = bundle.config.classifier
        if name == "role":
            config = ClassifierConfig(type="logreg", C=bundle.config.roles.C, class_weight="balanced")
        reference = build_classifier(config, model.multi_label, bundle.config.seed)
        y = train.label_matrix(name, model.labels)
        y = np.vstack([y, y, y[[i for i, _ in firsts]]]) if name == "role" else y[content]
        with threadpool_limits(1, user_api="blas"):  # as training fits: BLAS threads change the sums' order
            reference.fit(X_train, y if model.multi_label else y.argmax(axis=1))
        # float32 weights (half the memory) against scikit-learn's float64: equal to within SCORE_ATOL.
        expected = reference.predict_proba(X_test)
        np.testing.assert_allclose(model.predict_proba(X_test), expected, rtol=0, atol=SCORE_ATOL)


def alone(data) -> ArticleLayout:
    return ArticleLayout.alone(len(data))


def _identical(fast: sp.csr_matrix, reference: sp.csr_matrix) -> bool:
    return (
        type(fast) is type(reference)
        and fast.dtype == reference.dtype
        and fast.shape == reference.shape
        and np.array_equal(fast.indptr, reference.indptr)
        and np.array_equal(fast.indices, reference.indices)
        and np.array_equal(fast.data, reference.data)  # bit for bit, not approximately
    )


ODD_TEXTS = ["", "   ", "the the the the", "Ünïcödé — “quotes” 北京 Xi’s", "tariffs " * 400, "no-vocabulary-words qqq"]


def _configured(overrides: dict) -> Callable[[], Any]:
    return lambda: build_vectorizer(load_config(None, overrides).vectorizer)


@pytest.mark.parametrize(
    "make_vectorizer",
    [
        _configured({}),  # the default model's
        _configured({"vectorizer.char_ngram_range": [2, 4], "vectorizer.min_df": 2}),  # a FeatureUnion
        _configured({"vectorizer.sublinear_tf": False, "vectorizer.stop_words": "english"}),
        # Options no run config sets today, which the fast path also reproduces:
        lambda: TfidfVectorizer(binary=True, norm="l1", use_idf=False, dtype=np.float64),
        lambda: TfidfVectorizer(analyzer="char", ngram_range=(1, 3), norm=None, smooth_idf=False),
        lambda: TfidfVectorizer(strip_accents="unicode", ngram_range=(1, 3), lowercase=False),
        lambda: TfidfVectorizer(analyzer="char_wb", strip_accents="ascii", ngram_range=(3, 3), norm="l1"),
    ],
)
def test_fast_tfidf_is_bit_identical_to_scikit_learn(
    make_vectorizer: Callable[[], Any], corpus_texts: list[str]
) -> None:
    vectorizer = make_vectorizer().fit(corpus_texts)
    fast = FastTfidf.from_vectorizer(vectorizer)
    assert fast is not None
    texts = corpus_texts + ODD_TEXTS
    assert _identical(fast.transform(texts), vectorizer.transform(texts))
    for text in texts[:50] + ODD_TEXTS:  # one paragraph per call, the service's common case
        assert _identical(fast.transform([text]), vectorizer.transform([text]))


def test_bundle_transform_takes_the_fast_path_and_does_not_save_it(
    bundle: ModelBundle, bundle_dir: Path, bundle_sha256: str
) -> None:
    assert _identical(bundle.transform(ARTICLE), bundle.vectorizer_.transform(ARTICLE))
    assert isinstance(bundle.__dict__.get("fast_tfidf_"), FastTfidf)
    loaded = load_bundle(bundle_dir, bundle_sha256)
    assert "fast_tfidf_" not in loaded.__dict__
    # The vectorizer rebuilt from vocabulary + idf (without scikit-learn) transforms bit for bit the same.
    assert _identical(loaded.vectorizer_.transform(ARTICLE), bundle.vectorizer_.transform(ARTICLE))
    assert _identical(loaded.transform(ARTICLE), bundle.transform(ARTICLE))


def test_context_scores_gathered_from_paragraph_scores_equal_the_full_matrix(trained) -> None:
    """`score` takes the context blocks' share of the logits from the paragraphs' own scores; it must give
    what the classifiers give on the full [own | neighbours | headline | article] matrix."""
    bundle, test = trained.bundle, trained.data.test
    layout = article_layout(test)
    scored = bundle.score(test.texts, layout=layout)
    # The default has all three blocks; the article's reads the word n-grams only.
    assert scored.X.shape[1] == 3 * bundle.transform(test.texts[:1]).shape[1] + bundle._word_columns()
    for name, scores in scored.scores.items():  # each set's own matrix: topic weighs a headline's article block more
        full = bundle.label_sets_[name].predict_proba(scored.features_of(name))
        np.testing.assert_allclose(scores, full, rtol=0, atol=SCORE_ATOL)  # float32 sums, in another order
    # One paragraph alone, the service's common case: no neighbour, no headline.
    alone = bundle.score(test.texts[:1], layout=ArticleLayout.alone(1))
    for name, scores in alone.scores.items():
        full = bundle.label_sets_[name].predict_proba(alone.features_of(name))
        np.testing.assert_allclose(scores, full, rtol=0, atol=SCORE_ATOL)


@pytest.mark.parametrize("per_set", [False, True], ids=["every set", "topic only"])
def test_a_headline_weight_for_the_article_block_changes_headlines_only_and_is_gathered_exactly(
    trained, per_set: bool
) -> None:
    """`context.headline_article` gives headline paragraphs' article block its own weight, for every content set or
    per set. Scoring gathers it from the per-article sums as for every row (equal to each set's full matrix); only
    the paragraphs read as headlines move, and only in the sets the weight names."""
    bundle, test = trained.bundle, trained.data.test
    layout = article_layout(test)
    weight = 3 * bundle.config.context.article  # 1.8: neither the block's 0.6 nor the default's 1.2 for topic
    context = bundle.config.context.model_copy(update={"headline_article": {"topic": weight} if per_set else weight})
    heavier = copy.copy(bundle)  # the same fitted weights, read with the other block weight
    heavier.config = bundle.config.model_copy(update={"context": context})
    before, after = bundle.score(test.texts, layout=layout), heavier.score(test.texts, layout=layout)
    headlines = np.asarray(after.roles) == "headline"
    assert headlines.any() and (~headlines).any()
    for name, scores in after.scores.items():
        full = heavier.label_sets_[name].predict_proba(after.features_of(name))
        np.testing.assert_allclose(scores, full, rtol=0, atol=SCORE_ATOL)
        np.testing.assert_array_equal(scores[~headlines], before.scores[name][~headlines])
        moved = name == "topic" or not per_set
        assert np.allclose(scores[headlines], before.scores[name][headlines]) is not moved
    # Each set's features (what its explanations read): a headline's article block tripled where the weight applies
    # (against the block read at every row's weight, `X`).
    first = int(np.flatnonzero(headlines)[0])
    plain = before.X.tocsr()[first]
    start = plain.shape[1] - bundle._word_columns()  # the article block: the last block, word n-grams
    assert plain[:, start:].nnz
    rows = {name: after.features_of(name).tocsr()[first] for name in ("topic", "frame")}
    for name, row in rows.items():
        factor = 3 if name == "topic" or not per_set else 1
        np.testing.assert_allclose(row[:, start:].toarray(), factor * plain[:, start:].toarray(), rtol=1e-6)
        np.testing.assert_array_equal(row[:, :start].toarray(), plain[:, :start].toarray())
    labels = {name: bundle.label_names[name] for name in rows}
    explained = heavier.explain_row(rows, 10, labels)  # one row per set, as the service explains an article
    for name, row in rows.items():
        assert explained[name] == heavier.explain_row(row, 10, {name: labels[name]})[name]


def test_scoring_a_saved_model_never_imports_scikit_learn(bundle_dir: Path, bundle_sha256: str) -> None:
    """Serving processes load and score without scikit-learn (~50-70 MB per worker): import the service,
    load the saved model, classify an article with explanations through the service's own function, in a
    fresh interpreter."""
    script = (
        "import sys, json; import service.main; from training.bundle import load_bundle; "
        "from service.routes.classify import run_classifier; "
        f"bundle = load_bundle({str(bundle_dir)!r}, {bundle_sha256!r}); "
        f"result = run_classifier(bundle, {ARTICLE!r}, ['topic', 'frame'], explain=3, include_scores=True); "
        "print(json.dumps([len(result['paragraphs']), sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn')]))"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == [len(ARTICLE), []]


def test_explanation_terms_come_from_the_paragraph(bundle: ModelBundle) -> None:
    for paragraph in ARTICLE[:2]:
        explanation = bundle.explain(paragraph, k=5)
        assert any(terms for per_label in explanation.values() for terms in per_label.values())
        # Word n-grams, and the words character n-grams are credited to (a chunk like "us-china" stays whole).
        words = set(re.findall(r"\b\w\w+\b", paragraph.lower()))
        words |= {re.sub(r"^\W+|\W+$", "", chunk) for chunk in paragraph.lower().split()}
        for per_label in explanation.values():
            for terms in per_label.values():
                assert len(terms) <= 5
                weights = [w for _, w in terms]
                assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
                for term, _ in terms:
                    assert set(term.split()) <= words, term  # never a fragment such as "eaten"


def test_save_load_round_trip(bundle: ModelBundle, bundle_dir: Path, bundle_sha256: str) -> None:
    loaded = load_bundle(bundle_dir, bundle_sha256)
    assert loaded.predict(ARTICLE) == bundle.predict(ARTICLE)
    for name, scores in bundle.predict_proba(ARTICLE).items():  # the same arrays: the same scores, bit for bit
        assert np.array_equal(loaded.predict_proba(ARTICLE)[name], scores), name
    assert loaded.explain(ARTICLE[0], k=8) == bundle.explain(ARTICLE[0], k=8)
    assert loaded.data_digest == bundle.data_digest and loaded.codebook_sha256 == bundle.codebook_sha256
    assert loaded.config == bundle.config and loaded.codebooks == bundle.codebooks
    assert all(loaded.thresholds(name) == bundle.thresholds(name) for name in bundle.content_label_sets)
    assert (
        json.loads((bundle_dir / "model.json").read_text())["versions"]["scikit-learn"]
        == bundle.versions["scikit-learn"]
    )


def test_tampered_or_unvouched_artifact_is_refused(bundle_dir: Path, bundle_sha256: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    with (copy / "arrays.npz").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelLoadError, match=r"arrays.npz: sha256 does not match files.arrays.npz in manifest.json"):
        load_bundle(copy, bundle_sha256)
    with pytest.raises(ModelLoadError, match="does not match the trusted digest"):
        load_bundle(bundle_dir, expected_sha256="0" * 64)
    # A digest read from beside the files vouches for nothing: without the operator's, no load.
    with pytest.raises(ModelLoadError, match=r"no trusted sha256 .*TOPICFRAME_MODEL_SHA256.*--model-sha256"):
        load_bundle(bundle_dir)


def test_a_model_of_another_scikit_learn_version_loads(bundle: ModelBundle, bundle_dir: Path, tmp_path: Path) -> None:
    """No scikit-learn state is unpickled, so the version lock applies to fitting only."""
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    meta = json.loads((copy / "model.json").read_text())
    meta["versions"]["scikit-learn"] = "1.2.0"
    (copy / "model.json").write_text(json.dumps(meta))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256((copy / "model.json").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_bundle(copy, hashlib.sha256((copy / "manifest.json").read_bytes()).hexdigest())
    assert loaded.versions["scikit-learn"] == "1.2.0" and loaded.predict(ARTICLE) == bundle.predict(ARTICLE)


def _tiny_codebooks(multi_label: bool) -> dict[str, Codebook]:
    labels = tuple(LabelDefinition(n, n) for n in ("trade", "security", "climate"))
    return {"topic": Codebook("topic", multi_label, labels)}


TINY = [
    ("tariffs on steel imports rise", [1, 0, 0]),
    ("new export duties and tariffs", [1, 0, 0]),
    ("trade deal cuts tariffs", [1, 0, 0]),
    ("missile test near the border", [0, 1, 0]),
    ("troops and missile drills", [0, 1, 0]),
    ("navy warships patrol the strait", [0, 1, 0]),
    ("emissions pledge at climate summit", [0, 0, 1]),
    ("carbon emissions and warming", [0, 0, 1]),
    ("climate finance for warming", [0, 0, 1]),
]


@pytest.mark.parametrize("kind", ["logreg", "linear_svm", "sgd", "complement_nb"])
@pytest.mark.parametrize("multi_label", [True, False])
def test_every_classifier_gives_scores_and_explanations(kind: str, multi_label: bool, tmp_path: Path) -> None:
    config = load_config(None, {"classifier.type": kind, "classifier.class_weight": None})
    texts = [t for t, _ in TINY] * 2
    y = np.array([row for _, row in TINY] * 2)
    bundle = ModelBundle(config, _tiny_codebooks(multi_label)).fit(texts, {"topic": y})
    scores = bundle.predict_proba(["tariffs on imports", "missile drills"])["topic"]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    if not multi_label:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0)
        assert [len(x) for x in bundle.predict(["anything at all"])["topic"]] == [1]
    terms = bundle.explain("tariffs on imports", k=10, labels={"topic": ["trade"]})["topic"]["trade"]
    assert "tariffs" in [term for term, _ in terms]
    assert "missile" not in [term for term, _ in terms]
    model = bundle.label_sets_["topic"]
    assert (model.scorer is None) == (model.classifier is not None)  # one copy of the weights, never both
    # Saved and loaded (arrays, or skops for a classifier that is not weights + intercepts): the same model.
    loaded = load_bundle(tmp_path, bundle.save(tmp_path))
    texts = ["tariffs on imports", "missile drills", "anything at all"]
    assert np.array_equal(loaded.predict_proba(texts)["topic"], bundle.predict_proba(texts)["topic"])
    assert loaded.explain(texts[0], k=10, labels={"topic": ["trade"]}) == bundle.explain(
        texts[0], k=10, labels={"topic": ["trade"]}
    )
    assert list(tmp_path.glob("classifiers/*.skops")) == (
        [] if model.scorer else [tmp_path / "classifiers/topic.skops"]
    )


@pytest.mark.parametrize("kind", ["logreg", "linear_svm"])
def test_paragraphs_that_all_stand_alone_get_no_context_blocks(kind: str) -> None:
    # One document per row (no article ids): each context block would be all zeros and as wide as the
    # vocabulary. The model leaves them out and saves the config it was fitted with.
    texts = [t for t, _ in TINY] * 2
    y = {"topic": np.array([row for _, row in TINY] * 2)}
    config = load_config(None, {"classifier.type": kind, "classifier.class_weight": None})
    assert config.context.article and config.context.neighbours and config.context.headline  # the defaults
    alone = ModelBundle(config, _tiny_codebooks(True)).fit(texts, y, layout=ArticleLayout.alone(len(texts)))
    no_context = load_config(
        None,
        {
            "classifier.type": kind,
            "classifier.class_weight": None,
            **{f"context.{block}": 0.0 for block in ("neighbours", "headline", "article")},
            "context.headline_article": None,  # no article block to weigh for headlines
        },
    )
    reference = ModelBundle(no_context, _tiny_codebooks(True)).fit(texts, y, layout=ArticleLayout.alone(len(texts)))
    assert alone.config.context == no_context.context
    own_width = alone.transform(texts).shape[1]
    assert alone.content_features(texts, ArticleLayout.alone(len(texts)), None).shape[1] == own_width
    probe = ["tariffs on imports", "missile drills near the strait"]
    np.testing.assert_array_equal(alone.predict_proba(probe)["topic"], reference.predict_proba(probe)["topic"])
    # Paragraphs of articles keep their blocks: three of them plus the article's words.
    in_articles = ModelBundle(config, _tiny_codebooks(True)).fit(texts, y, layout=ArticleLayout.single_article(18))
    assert in_articles.config.context == config.context
    assert in_articles.content_features(texts, ArticleLayout.single_article(18), None).shape[1] > 3 * own_width


def test_a_headline_weight_for_one_set_fits_that_set_only_on_reweighted_features(tmp_path: Path) -> None:
    """``context.headline_article: {topic: w}``: topic is fitted as with ``w`` for every set, the other set as with
    no headline weight at all (one feature matrix per weight); a name that is not a content set is refused."""
    topic = _tiny_codebooks(True)["topic"]
    codebooks = {"topic": topic, "frame": Codebook("frame", True, topic.labels)}
    texts = [t for t, _ in TINY] * 2
    y = np.array([row for _, row in TINY] * 2)
    targets = {"topic": y, "frame": y[:, ::-1].copy()}
    layout = ArticleLayout.from_article_ids([f"a{i // 3}" for i in range(len(texts))])  # headline: each first row

    def fitted(headline_article: Any) -> ModelBundle:
        config = load_config(None, {"classifier.class_weight": None, "context.headline_article": headline_article})
        return ModelBundle(config, codebooks).fit(texts, targets, layout=layout)

    per_set, everywhere, nowhere = fitted({"topic": 3.0}), fitted(3.0), fitted(None)
    for name, same_as in (("topic", everywhere), ("frame", nowhere)):
        np.testing.assert_array_equal(
            per_set.label_sets_[name].scorer.weights, same_as.label_sets_[name].scorer.weights
        )
    assert not np.array_equal(
        everywhere.label_sets_["topic"].scorer.weights, nowhere.label_sets_["topic"].scorer.weights
    )
    probe = [t for t, _ in TINY]
    probe_layout = ArticleLayout.from_article_ids([f"b{i // 3}" for i in range(len(probe))])
    scores = per_set.predict_proba(probe, layout=probe_layout)
    assert scores["topic"] == pytest.approx(everywhere.predict_proba(probe, layout=probe_layout)["topic"])
    assert scores["frame"] == pytest.approx(nowhere.predict_proba(probe, layout=probe_layout)["frame"])
    loaded = load_bundle(tmp_path, per_set.save(tmp_path))  # the mapping is saved and read back
    assert loaded.config.context.headline_article == {"topic": 3.0}
    assert loaded.predict(probe, layout=probe_layout) == per_set.predict(probe, layout=probe_layout)
    with pytest.raises(ConfigError, match=re.escape("context.headline_article: topc is not a content label set")):
        fitted({"topc": 3.0})


def test_explanations_name_terms_with_word_and_char_features() -> None:
    no_context = {"context.neighbours": 0.0, "context.headline": 0.0, "context.article": 0.0}
    config = load_config(None, {"vectorizer.char_ngram_range": [3, 4], "classifier.class_weight": None, **no_context})
    texts = [t for t, _ in TINY] * 2
    y = np.array([row for _, row in TINY] * 2)
    bundle = ModelBundle(config, _tiny_codebooks(True)).fit(texts, {"topic": y})
    own = [name.split("__", 1)[1] for name in bundle.vectorizer_.get_feature_names_out()]
    assert [bundle.term(j) for j in range(len(own))] == own
    # With context, the neighbours' and the headline's blocks repeat the vocabulary under a prefix, the article's
    # block its word n-grams.
    with_context_config = load_config(None, {"vectorizer.char_ngram_range": [3, 4], "context.article": 0.5})
    with_context = ModelBundle(with_context_config, _tiny_codebooks(True))
    with_context.fit(texts, {"topic": y})
    words = own[: with_context._word_columns()]
    expected = [p + t for p in ("", "context: ", "headline: ") for t in own] + ["article: " + t for t in words]
    assert [with_context.term(j) for j in range(len(expected))] == expected
    assert with_context.label_sets_["topic"].scorer.weights.shape[0] == len(expected)
    assert words == [n.split("__", 1)[1] for n in bundle.vectorizer_.get_feature_names_out() if n.startswith("word__")]
    terms = dict(bundle.explain("tariffs on imports", k=30, labels={"topic": ["trade"]})["topic"]["trade"])
    assert "tariffs" in terms and all(set(t.split()) <= {"tariffs", "on", "imports"} for t in terms)
    # The word's reason sums its word column and its character n-grams, which a bare row lists one by one.
    x = bundle.content_features(["tariffs on imports"], ArticleLayout.alone(1), None).tocsr()[0]
    bare = dict(bundle.explain_row(x, 30, {"topic": ["trade"]})["topic"]["trade"])
    assert any(len(t) in (3, 4) and t in " tariffs " for t in bare)
    owners = words_of_ngrams("tariffs on imports", bundle.char_wb_analyzer_)
    model = bundle.label_sets_["topic"]
    contributions = x.data * model.term_weights(model.labels.index("trade"), x.indices)
    credited = [
        value
        for column, value in zip(x.indices.tolist(), contributions.tolist(), strict=True)
        if bundle.term(column) == "tariffs"
        or (column >= bundle._word_columns() and owners.get(bundle.term(column)) == ["tariffs"])
    ]
    assert len(credited) > 1 and terms["tariffs"] == pytest.approx(sum(credited), abs=1e-4)


def test_non_content_rows_get_no_labels_even_above_every_threshold(bundle: ModelBundle) -> None:
    """The gate is applied after the thresholds: scores of 1.0 on a caption still give no label."""
    for name in bundle.content_label_sets:
        scores = np.ones((3, len(bundle.label_names[name])))
        decided = bundle.decide(name, scores, content=np.array([True, False, True]))
        assert decided[1] == [] and decided[0] == decided[2] and len(decided[0]) >= 1


def test_a_pasted_excerpt_is_read_paragraph_by_paragraph(bundle: ModelBundle) -> None:
    """Three pasted paragraphs get the roles their texts have alone (their last one is not read as closing
    matter because it comes last); a whole article is still read with positions."""
    excerpt = [
        "China and the US agreed on Tuesday to resume regular military talks and set up a working group.",
        "Photo: Reuters/John Smith",
        "US customs blocked imports of cotton from Xinjiang under a law on forced labour.",
    ]
    assert bundle.config.roles.min_article_paragraphs > len(excerpt)
    np.testing.assert_array_equal(
        bundle.role_scores(excerpt, ArticleLayout.single_article(3)), bundle.role_scores(excerpt, alone(excerpt))
    )
    article = [*excerpt, "The talks will resume in March, officials said.", "(c) 2026 Harbour Daily", "By Lena Park"]
    assert not np.array_equal(
        bundle.role_scores(article, ArticleLayout.single_article(6)), bundle.role_scores(article, alone(article))
    )


def test_a_long_title_inside_an_article_read_as_a_headline_is_a_linked_story(bundle: ModelBundle) -> None:
    """`roles.linked_headlines`: the headline probability of a long title from the fourth paragraph on moves to
    promo, so the role, its score and the gate agree in every consumer; with the option off it stays a headline."""
    headline = "Washington and Beijing agree to extend tariff truce as soybean purchases resume"
    # The fifth paragraph repeats the headline: a line the small test model reads as a headline wherever it is
    # (a linked story's headline it reads as a promo already).
    # The sixth has the same shape but the model reads it as a promo already: the rule leaves it alone.
    linked = "Tokyo weighs easing arms export rules for partners in Latin America and the Gulf"
    article = [
        headline,
        "By Lena Park",
        *ARTICLE[:2],
        headline,
        linked,
        "The talks will resume in March, officials said.",
    ]
    layout = ArticleLayout.single_article(len(article))
    off = copy.copy(bundle)
    off.config = bundle.config.model_copy(
        update={"roles": bundle.config.roles.model_copy(update={"linked_headlines": False})}
    )
    assert bundle.role_set is not None and bundle.config.roles.linked_headlines
    names = bundle.label_names[bundle.role_set]
    headline, promo = names.index("headline"), names.index("promo")
    before, after = off.role_scores(article, layout), bundle.role_scores(article, layout)
    assert before[4].argmax() == headline  # what the role model alone reads: the rule's precondition
    assert after[4].argmax() == promo and after[4, headline] == 0
    assert after[4].max() == pytest.approx(before[4, headline] + before[4, promo])
    np.testing.assert_array_equal(np.delete(after, 4, axis=0), np.delete(before, 4, axis=0))  # nothing else moves
    predicted, unruled = bundle.predict(article, layout=layout), off.predict(article, layout=layout)
    assert predicted["role"][4] == ["promo"] and all(predicted[name][4] == [] for name in bundle.content_label_sets)
    assert unruled["role"][4] == ["headline"]


def test_the_decision_rule_text_names_the_linked_headline_rule_when_the_model_has_it(bundle: ModelBundle) -> None:
    """`topicframe classify` prints the rule under its table; the role rule that takes labels away from
    linked headlines is part of it, with the model's own article length."""
    from training.classify import decision_rule, describe_decision_rule

    assert decision_rule(bundle)["linked_headlines"] is True
    assert "from paragraph 4 of an article of at least 5 paragraphs on" in describe_decision_rule(bundle)
    without = copy.copy(bundle)
    without.config = bundle.config.model_copy(
        update={"roles": bundle.config.roles.model_copy(update={"linked_headlines": False})}
    )
    assert decision_rule(without)["linked_headlines"] is False
    assert "promo" not in describe_decision_rule(without)


def test_decision_rule_caps_and_relative_to_top(bundle: ModelBundle) -> None:
    model = bundle.label_sets_["topic"]
    scores = np.array([[0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.05, 0.95, 0.6]])
    saved = model.thresholds, model.max_labels, model.relative_to_top
    try:
        model.thresholds = np.full(9, 0.5)
        model.max_labels, model.relative_to_top = None, 0.0
        assert len(model.decide(scores)[0]) == 5
        model.max_labels = 2
        assert model.decide(scores)[0] == [model.labels[7], model.labels[0]]
        model.max_labels, model.relative_to_top = None, 0.8  # keep scores >= 0.76
        assert model.decide(scores)[0] == [model.labels[7], model.labels[0], model.labels[1]]
    finally:
        model.thresholds, model.max_labels, model.relative_to_top = saved


def test_at_least_one_gives_a_row_with_no_passing_label_its_top_label(bundle: ModelBundle) -> None:
    model = replace(bundle.label_sets_["topic"], thresholds=np.full(9, 0.5), max_labels=2, relative_to_top=0.5)
    scores = np.array(
        [
            [0.1, 0.2, 0.3, 0.05, 0.0, 0.0, 0.0, 0.4, 0.0],  # nothing passes: the top label, labels[7]
            [0.9, 0.8, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # labels pass: the caps as before
            [0.0] * 9,  # a tie at zero: the first label in codebook order
        ]
    )
    assert replace(model, at_least_one=False).decide(scores) == [[], model.labels[:2], []]
    assert replace(model, at_least_one=True).decide(scores) == [[model.labels[7]], model.labels[:2], [model.labels[0]]]
    # The role set is single-label: the option does not concern it. A non-content paragraph still gets nothing.
    fallback = copy.deepcopy(bundle)
    fallback.label_sets_["topic"] = replace(model, thresholds=np.full(9, 1.1), at_least_one=True)
    decided = fallback.decide("topic", scores[:2], content=np.array([True, False]))
    assert decided == [[model.labels[7]], []]


def test_training_keeps_the_fallback_only_where_it_raises_micro_f1() -> None:
    labels = [f"l{j}" for j in range(3)]
    model = LabelSetModel("s", labels, True, None, None, np.full(3, 0.6), max_labels=2, relative_to_top=0.5)
    rng = np.random.default_rng(0)
    top = rng.integers(0, 3, 300)
    scores = rng.uniform(0.0, 0.3, (300, 3))
    scores[np.arange(300), top] = rng.uniform(0.35, 0.9, 300)  # the top label is right; many fall under 0.6
    every_row_labelled = np.eye(3, dtype=int)[top]
    assert fallback_raises_micro_f1(model, every_row_labelled, scores)
    mostly_unlabelled = every_row_labelled * (scores.max(axis=1, keepdims=True) >= 0.6)  # only confident rows
    assert not fallback_raises_micro_f1(model, mostly_unlabelled, scores)


def test_single_label_set_missing_a_label_keeps_codebook_columns() -> None:
    """A role with no training row scores 0 and column j is still label j (not shifted onto the next label)."""
    roles = ("body", "headline", "byline", "caption")
    codebooks = {
        "role": Codebook("role", False, tuple(LabelDefinition(n, n) for n in roles)),
        "topic": Codebook("topic", True, (LabelDefinition("trade", "t"), LabelDefinition("security", "s"))),
    }
    config = load_config(None, {"data.label_sets": ["role", "topic"]})
    texts = ["Tariffs rise on steel imports today.", "Navy ships patrol the strait at dawn.", "By Jane Doe"] * 4
    role = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]] * 4)  # no headline, no caption row
    topic = np.array([[1, 0], [0, 1], [0, 0]] * 4)
    bundle = ModelBundle(config, codebooks).fit(texts, {"role": role, "topic": topic})
    scores = bundle.predict_proba(texts[:3], layout=ArticleLayout.alone(3))["role"]
    assert scores.shape == (3, 4) and np.allclose(scores[:, [1, 3]], 0) and np.allclose(scores.sum(axis=1), 1)
    assert bundle.predict(texts[:3], layout=ArticleLayout.alone(3))["role"] == [["body"], ["body"], ["byline"]]


def fit_on_captioned_articles(caption: str, articles: int, options: dict[str, object]) -> tuple[ModelBundle, list[str]]:
    """A role and topic model fitted on tiny articles: a trade and a security body paragraph, then a caption
    (``caption`` with the article's number); word n-grams only, every n-gram kept. The model and the texts."""
    codebooks = {
        "role": Codebook("role", False, tuple(LabelDefinition(n, n) for n in ("body", "headline", "caption"))),
        "topic": Codebook("topic", True, (LabelDefinition("trade", "t"), LabelDefinition("security", "s"))),
    }
    settings = {"data.label_sets": ["role", "topic"], "vectorizer.min_df": 1, "vectorizer.char_ngram_range": None}
    config = load_config(None, {**settings, **options})
    texts, roles, topics = [], [], []
    for i in range(articles):
        texts += [
            f"Tariffs on steel rise again, round {i}.",
            f"Navy ships patrol the strait, day {i}.",
            caption.format(i),
        ]
        roles += [[1, 0, 0], [1, 0, 0], [0, 0, 1]]
        topics += [[1, 0], [0, 1], [0, 0]]
    layout = ArticleLayout.from_article_ids([f"a{i // 3}" for i in range(len(texts))])
    bundle = ModelBundle(config, codebooks).fit(
        texts, {"role": np.array(roles), "topic": np.array(topics)}, layout=layout
    )
    return bundle, texts


@pytest.mark.parametrize("content_rows_only", [False, True])
def test_topics_and_frames_are_fitted_on_content_paragraphs_only(content_rows_only: bool) -> None:
    """With `roles.content_rows_only`, a term that only captions use gets no topic weight at all: the topic
    classifier never saw a caption. Without it, captions are fitted as negatives of every topic."""
    options = {
        "roles.content_rows_only": content_rows_only,
        "roles.content_vocabulary": False,  # the caption-only term must have a column to weigh
    }
    bundle, _ = fit_on_captioned_articles("Photograph by staff photographer {}", 6, options)
    photograph = bundle.vectorizer_.vocabulary_["photograph"]
    weights = [bundle.label_sets_["topic"].term_weights(j, np.array([photograph]))[0] for j in range(2)]
    if content_rows_only:
        assert weights == [0.0, 0.0]
    else:
        assert all(w < 0 for w in weights)


@pytest.mark.parametrize("content_vocabulary", [False, True])
def test_the_content_vocabulary_is_learnt_from_content_paragraphs_only(content_vocabulary: bool) -> None:
    """With `roles.content_vocabulary`, an n-gram that only captions use takes no column and the idf is counted
    over content paragraphs; every paragraph is still transformed (the context blocks read them all)."""
    options = {"roles.content_vocabulary": content_vocabulary}
    bundle, texts = fit_on_captioned_articles("Photograph of the steel mill by staff photographer {}", 4, options)
    vocabulary = bundle.vectorizer_.vocabulary_
    assert ("photograph" in vocabulary) is not content_vocabulary
    # "steel": in 4 of 8 content paragraphs, in 8 of 12 paragraphs in all (smooth idf: ln((1 + n) / (1 + df)) + 1)
    expected_idf = np.log(9 / 5) + 1 if content_vocabulary else np.log(13 / 9) + 1
    assert bundle.vectorizer_.idf_[vocabulary["steel"]] == pytest.approx(expected_idf)
    layout = ArticleLayout.from_article_ids([f"a{i // 3}" for i in range(len(texts))])
    assert bundle.predict(texts, layout=layout)["role"] == [[role] for role in ["body", "body", "caption"] * 4]


@pytest.mark.parametrize("first_sentences", [False, True])
def test_role_model_is_also_fitted_on_paragraphs_first_sentences(first_sentences: bool) -> None:
    """Each paragraph in place, each alone, and (with `roles.first_sentences`) the first sentence of each
    paragraph that has more than one, alone, with that paragraph's role."""
    roles = ("body", "headline", "byline", "caption")
    codebooks = {
        "role": Codebook("role", False, tuple(LabelDefinition(n, n) for n in roles)),
        "topic": Codebook("topic", True, (LabelDefinition("trade", "t"), LabelDefinition("security", "s"))),
    }
    config = load_config(None, {"data.label_sets": ["role", "topic"], "roles.first_sentences": first_sentences})
    texts = [
        "Tariffs rise on steel. Importers said prices would follow.",  # body, two sentences
        "Navy ships patrol the strait at dawn.",  # body, one sentence: nothing to add
        'Talks resume. "We are ready," an envoy said.',  # headline, two sentences
        "Ships in the strait on Monday. Photo: Reuters",  # caption, two sentences
    ]
    role = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    bundle = ModelBundle(config, codebooks)
    X, y, _ = bundle._role_training_set(texts, role, ArticleLayout.single_article(4))
    in_place_and_alone = 2 * len(texts)
    firsts = ["Tariffs rise on steel.", "Talks resume.", "Ships in the strait on Monday."] if first_sentences else []
    assert X.shape[0] == y.shape[0] == in_place_and_alone + len(firsts)
    np.testing.assert_array_equal(y[:in_place_and_alone], np.vstack([role, role]))
    if firsts:
        np.testing.assert_array_equal(y[in_place_and_alone:], role[[0, 2, 3]])
        expected = bundle.role_features(firsts, ArticleLayout.alone(3)).toarray()
        np.testing.assert_allclose(X[in_place_and_alone:].toarray(), expected)


def test_known_words_are_the_lower_case_words_in_the_vocabulary_and_short_latin_text_is_read() -> None:
    """The share of distinct words starting in lower case (names, numbers and addresses left out) that the word
    vocabulary holds; Latin-script text too short, or with too few such words, is read; other scripts are judged
    whatever their length; a vectorizer with no word part has no words to know."""
    word = TfidfVectorizer(ngram_range=(1, 2)).fit(["Tariffs on steel rise", "steel talks in Geneva", "the talks"])
    reader = WordReader.of(word)
    assert reader is not None
    cases = {
        # tariffs, steel, talks, in known; auf not (Steel, Zölle, Stahl and Geneva start with a capital).
        "Steel tariffs, steel talks: Zölle auf Stahl in Geneva": 4 / 5,
        # A list of names is judged on its few lower-case words, each once: on, the, talks, and (and unknown).
        "Mitsotakis, Dendias, Gerapetritis and Hatzidakis on the talks, the talks, the talks": 3 / 4,
        # German: die, auf, will, erhöhen unknown; nouns left out.
        "Die Regierung will die Zölle auf Stahl erhöhen, sagte der Minister": 0.0,
        "Zölle!": np.nan,  # too short to judge (NaN: not judged, read)
        "Shipping implications for Geneva": np.nan,  # two lower-case words: too little prose to judge
        "BRUSSELS AND BEIJING AGREED ON STEEL TARIFFS": np.nan,  # no lower-case word
        "Contact press@example.org or www.example.org/press, 2025-03-04 12:00": np.nan,  # addresses and numbers
        # Mostly Latin: a name in its own script is a name; Vietnamese and Hawaiian letters are Latin.
        "The talks on steel tariffs (关税) in Geneva": 1.0,
        "Nguyễn Văn An, Trần Thị Mai": np.nan,
        "Hawaiʻi County Mayor Mitch Roth": np.nan,
        "谢谢大家": 0.0,  # another script: judged however short
        # Devanagari's vowel signs split its words into short tokens: its letters, not their length, count.
        "भारत और चीन के बीच व्यापार वार्ता मंगलवार को फिर शुरू हुई।": 0.0,
    }
    np.testing.assert_allclose(reader.known_shares(list(cases)), list(cases.values()))
    assert WordReader.of(TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(["abc def"])) is None


def test_a_content_paragraph_the_model_cannot_read_gets_no_labels_and_keeps_its_role(bundle: ModelBundle) -> None:
    """`decision.min_known_words`: the rule is the model's, so `predict` (what evaluation, batch and the pyfunc
    use) applies it; with it at 0 the same paragraph is labelled by the same scores."""
    texts = [ARTICLE[0], GERMAN_NEWS]
    layout = ArticleLayout.alone(2)
    scored = bundle.score(texts, layout=layout)
    assert scored.read.tolist() == [True, False] and scored.content.all()
    predicted = bundle.predict(texts, layout=layout)
    assert predicted["topic"][0] and predicted["topic"][1] == [] and predicted["frame"][1] == []
    reads_all = copy.deepcopy(bundle)
    reads_all.config = bundle.config.model_copy(
        update={"decision": bundle.config.decision.model_copy(update={"min_known_words": 0.0})}
    )
    again = reads_all.score(texts, layout=layout)
    assert again.read.all() and np.array_equal(again.scores["topic"], scored.scores["topic"])
    assert reads_all.predict(texts, layout=layout)["topic"][1] == bundle.decide("topic", scored.scores["topic"])[1]


# A tester's sentences (written for topicframe): English heavy with names, read; other languages, not read.
READ = [
    "Prime Minister Kyriakos Mitsotakis replaced several ministers on Friday after weeks of criticism over the fires.",
    "Mitsotakis named Nikos Dendias, Giorgos Gerapetritis, Kostis Hatzidakis and Akis Skertsos to the inner cabinet.",
    "Opposition leaders Stefanos Kasselakis, Nikos Androulakis and Dimitris Koutsoumbas called the reshuffle cosmetic.",
    "Mbappé, Griezmann, Dembélé, Tchouaméni and Kanté started for Les Bleus against Nagelsmann's Germany in Lyon.",
    "BRUSSELS AND BEIJING AGREED ON TUESDAY TO RESTART NEGOTIATIONS OVER STEEL TARIFFS, OFFICIALS SAID.",
    "By Kyriakos Mitsotakis and Nikos Dendias",
]
NOT_READ = [
    "総理大臣は国会で演説した",
    "국회에서 총리가 연설했다",
    "প্রধানমন্ত্রী সংসদে ভাষণ দিয়েছেন",
    "प्रधानमंत्री ने संसद में भाषण दिया",
    "Le gouvernement a annoncé des sanctions militaires, des missiles et des troupes à la frontière pour défendre le "
    "territoire.",
    "La inflación en Argentina alcanzó el 200 por ciento, según el Instituto Nacional de Estadística y Censos.",
    "中国商务部发言人表示，双方将在平等互利的基础上继续进行磋商，以解决贸易摩擦。",
]


def test_names_do_not_make_english_unreadable_and_short_sentences_of_other_scripts_are_judged(
    bundle: ModelBundle,
) -> None:
    scored = bundle.score(READ + NOT_READ, layout=ArticleLayout.alone(len(READ) + len(NOT_READ)))
    assert scored.read.tolist() == [True] * len(READ) + [False] * len(NOT_READ), scored.known_words


def test_a_paragraph_not_read_gives_its_neighbours_no_context(bundle: ModelBundle) -> None:
    """A German paragraph between two English ones: the first English paragraph's scores are those it gets with
    the German one left out (its next neighbour is the second English paragraph, not the German one)."""
    english = [ARTICLE[0], ARTICLE[1]]
    with_german = bundle.score([english[0], GERMAN_NEWS, english[1]], layout=ArticleLayout.single_article(3))
    without = bundle.score(english, layout=ArticleLayout.single_article(2))
    assert with_german.read.tolist() == [True, False, True]
    assert with_german.roles is not None and without.roles is not None
    assert [with_german.roles[0], with_german.roles[2]] == without.roles  # the same roles: the same context rules
    for name in bundle.content_label_sets:
        np.testing.assert_allclose(with_german.scores[name][[0, 2]], without.scores[name], atol=1e-9)
