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
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from threadpoolctl import threadpool_limits

from tests.conftest import LEDGER_ARTICLE
from training.bundle import ModelBundle, load_bundle
from training.codebook import Codebook, LabelDefinition
from training.config import ClassifierConfig, load_config
from training.errors import ConfigError, ModelLoadError
from training.estimators import FastTfidf, build_classifier, build_vectorizer
from training.explanations import words_of_ngrams
from training.features import ArticleLayout
from training.role_features import first_sentence
from training.scoring import SCORE_ATOL
from training.train import article_layout


def test_scores_are_probabilities_for_every_label(bundle: ModelBundle) -> None:
    scores = bundle.predict_proba(LEDGER_ARTICLE)
    for name, matrix in scores.items():
        assert matrix.shape == (len(LEDGER_ARTICLE), len(bundle.label_names[name]))
        assert ((matrix >= 0) & (matrix <= 1)).all()


def test_predict_applies_each_labels_threshold_and_orders_by_score(bundle: ModelBundle) -> None:
    """A label passes its own threshold and half the top score; at most two per set; highest score first."""
    scores = bundle.predict_proba(LEDGER_ARTICLE)
    predicted = bundle.predict(LEDGER_ARTICLE)
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
    assert _identical(bundle.transform(LEDGER_ARTICLE), bundle.vectorizer_.transform(LEDGER_ARTICLE))
    assert isinstance(bundle.__dict__.get("fast_tfidf_"), FastTfidf)
    loaded = load_bundle(bundle_dir, bundle_sha256)
    assert "fast_tfidf_" not in loaded.__dict__
    # The vectorizer rebuilt from vocabulary + idf (without scikit-learn) transforms bit for bit the same.
    assert _identical(loaded.vectorizer_.transform(LEDGER_ARTICLE), bundle.vectorizer_.transform(LEDGER_ARTICLE))
    assert _identical(loaded.transform(LEDGER_ARTICLE), bundle.transform(LEDGER_ARTICLE))


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
        f"result = run_classifier(bundle, {LEDGER_ARTICLE!r}, ['topic', 'frame'], explain=3, include_scores=True); "
        "print(json.dumps([len(result['paragraphs']), sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn')]))"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == [len(LEDGER_ARTICLE), []]


def test_explanation_terms_come_from_the_paragraph(bundle: ModelBundle) -> None:
    for paragraph in LEDGER_ARTICLE[:2]:
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
    assert loaded.predict(LEDGER_ARTICLE) == bundle.predict(LEDGER_ARTICLE)
    for name, scores in bundle.predict_proba(LEDGER_ARTICLE).items():  # the same arrays: the same scores, bit for bit
        assert np.array_equal(loaded.predict_proba(LEDGER_ARTICLE)[name], scores), name
    assert loaded.explain(LEDGER_ARTICLE[0], k=8) == bundle.explain(LEDGER_ARTICLE[0], k=8)
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
    assert loaded.versions["scikit-learn"] == "1.2.0" and loaded.predict(LEDGER_ARTICLE) == bundle.predict(
        LEDGER_ARTICLE
    )


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
