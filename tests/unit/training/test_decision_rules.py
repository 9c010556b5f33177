"""The model's decision rules: roles gate labels, the caps and the top-label fallback, what training fits on, and
paragraphs the model cannot read. (Scores, save/load and explanations: test_bundle.py.)"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tests.conftest import GERMAN_NEWS, LEDGER_ARTICLE
from training.bundle import ModelBundle
from training.codebook import Codebook, LabelDefinition
from training.config import load_config
from training.features import ArticleLayout
from training.known_words import WordReader
from training.label_set import LabelSetModel
from training.train import fallback_raises_micro_f1


def test_non_content_rows_get_no_labels_even_above_every_threshold(bundle: ModelBundle) -> None:
    """The gate is applied after the thresholds: scores of 1.0 on a caption still give no label."""
    for name in bundle.content_label_sets:
        scores = np.ones((3, len(bundle.label_names[name])))
        decided = bundle.decide(name, scores, content=np.array([True, False, True]))
        assert decided[1] == [] and decided[0] == decided[2] and len(decided[0]) >= 1


def test_roles_given_for_some_paragraphs_replace_the_role_model_there_only(bundle: ModelBundle) -> None:
    """None leaves a paragraph's role to the model; a given role carries no role score and decides the gate."""
    article = [
        "Officials in Manila and Hanoi agreed on Tuesday to set up a coastguard hotline.",
        "Sign up for the Morning Dispatch, delivered to your inbox at 6am.",
        "Both sides said the hotline would be tested within a month.",
        "Photo: Reuters/John Smith",
    ]
    layout = ArticleLayout.single_article(len(article))
    model = bundle.score(article, layout=layout)
    assert model.roles is not None and model.roles[1] == "promo"
    given = bundle.score(article, layout=layout, roles=[None, "body", None, "caption"])
    assert given.roles == [model.roles[0], "body", model.roles[2], "caption"]
    assert given.role_scores is not None and np.isnan(given.role_scores[[1, 3]]).all()
    np.testing.assert_array_equal(given.role_scores[[0, 2]], model.role_scores[[0, 2]])  # type: ignore[index]
    # Where no role is given the model's reading decides, as without roles; a given body is content, a caption not.
    assert given.content.tolist() == [model.content[0], True, model.content[2], False]
    every = bundle.score(article, layout=layout, roles=["body"] * 4)
    assert every.role_scores is None and every.content.all()
    with pytest.raises(ValueError, match=r"unknown role 'bdy' \(closest: 'body'; valid: body, headline"):
        bundle.score(article, layout=layout, roles=["bdy", None, None, None])
    with pytest.raises(ValueError, match=r"unknown roles 'bdy', 'tex' \(valid: body, headline"):
        bundle.score(article, layout=layout, roles=["tex", "bdy", None, None])
    with pytest.raises(ValueError, match=r"3 role\(s\) for 4 paragraph\(s\)"):
        bundle.score(article, layout=layout, roles=["body"] * 3)


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
        bundle.role_scores(excerpt, ArticleLayout.single_article(3)),
        bundle.role_scores(excerpt, ArticleLayout.alone(len(excerpt))),
    )
    article = [*excerpt, "The talks will resume in March, officials said.", "(c) 2026 Harbour Daily", "By Lena Park"]
    assert not np.array_equal(
        bundle.role_scores(article, ArticleLayout.single_article(6)),
        bundle.role_scores(article, ArticleLayout.alone(len(article))),
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
        *LEDGER_ARTICLE[:2],
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
    texts = [LEDGER_ARTICLE[0], GERMAN_NEWS]
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
    english = [LEDGER_ARTICLE[0], LEDGER_ARTICLE[1]]
    with_german = bundle.score([english[0], GERMAN_NEWS, english[1]], layout=ArticleLayout.single_article(3))
    without = bundle.score(english, layout=ArticleLayout.single_article(2))
    assert with_german.read.tolist() == [True, False, True]
    assert with_german.roles is not None and without.roles is not None
    assert [with_german.roles[0], with_german.roles[2]] == without.roles  # the same roles: the same context rules
    for name in bundle.content_label_sets:
        np.testing.assert_allclose(with_german.scores[name][[0, 2]], without.scores[name], atol=1e-9)
