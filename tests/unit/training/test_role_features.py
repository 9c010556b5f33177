"""The role model's layout features: distance from the article's end, and the codebook's cue groups."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from training.features import ArticleLayout
from training.role_features import (
    N_IN_ARTICLE,
    N_TEXT_LAYOUT,
    first_sentence,
    in_article_cues,
    layout_features,
    linked_headline_shaped,
    n_layout_features,
    text_layout,
)

FOOTER_GROUP = 9 + 1  # the footer cue group: after the 9 shape features and the caption group

ARTICLE = [
    "Manila and Hanoi agree coastguard hotline",
    "By Amara Okafor | 4 min read",
    "The two foreign ministers spoke for nearly three hours and agreed to restore a hotline.",
    "Officials said the line would be tested every week.",
    "About the Coastguard Forum: the forum brings together officials from ten navies.",
    "ENDS",
]


def test_from_end_adds_how_many_paragraphs_follow_and_precede() -> None:
    layout = ArticleLayout.single_article(len(ARTICLE))
    features = layout_features(ARTICLE, layout)
    assert features.shape == (len(ARTICLE), n_layout_features()) and features.dtype == np.float32
    # The first columns are what the role model read before (own look + position), unchanged.
    without = layout_features(ARTICLE, layout, from_end=False)
    assert without.shape[1] == n_layout_features(from_end=False) == N_TEXT_LAYOUT + 5
    np.testing.assert_array_equal(features[:, : without.shape[1]], without)
    np.testing.assert_array_equal(without[:, :N_TEXT_LAYOUT], text_layout(ARTICLE))
    end = features[:, without.shape[1] :]
    assert end[:, 0].tolist() == [0, 0, 0, 1, 0, 0]  # exactly two paragraphs after it
    assert end[:, 1].tolist() == [0, 1, 1, 1, 1, 1]  # within the last five
    np.testing.assert_allclose(end[:, 2], np.array([5, 4, 3, 2, 1, 0]) / 20)
    np.testing.assert_allclose(end[:, 3], np.array([0, 1, 2, 3, 4, 5]) / 20)
    # Capped at 20 paragraphs either way: a long article's middle reads as "far from both ends".
    long = layout_features(["Text."] * 50, ArticleLayout.single_article(50))
    assert long[25, -2:].tolist() == [1.0, 1.0] and long[49, -4:].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_in_article_cues_measure_what_a_paragraph_shares_with_its_article() -> None:
    story = [
        "Manila and Hanoi agree coastguard hotline",
        "By Amara Okafor",
        "The coastguard hotline between Manila and Hanoi will be tested every week, the ministers said.",
        "A hotline the coastguards can trust",  # a cross-head: a short title inside the article
        "Coastguard officers in Manila and Hanoi said the hotline would have stopped last year's standoff.",
        "Tokyo weighs easing arms export rules for partners in Latin America",  # another story's headline
        "Subscribe to our morning newsletter for offers",
    ]
    # Word counts stand in for the role model's character n-grams: any L2-normalised rows will do.
    vocabulary = sorted({w.lower().strip(".,'") for text in story for w in text.split()})
    counts = np.array([[text.lower().count(w) for w in vocabulary] for text in story], dtype=np.float32)
    X = sp.csr_matrix(counts / np.linalg.norm(counts, axis=1, keepdims=True))
    cues = in_article_cues(story, X, ArticleLayout.single_article(len(story)))
    assert cues.shape == (len(story), N_IN_ARTICLE) and cues.dtype == np.float32
    cosine = cues[:, 0]
    assert cosine[4] > cosine[5] and cosine[2] > cosine[6]  # body shares words with the story, plugs do not
    np.testing.assert_allclose(cues[:, 1], cosine - cosine.mean(), atol=1e-6)  # one article: minus its mean
    assert cues[:, 2].tolist() == [0, 0, 0, 1, 0, 1, 1]  # title-shaped lines from the third paragraph on
    assert cues[3, 3] < cues[5, 3]  # a longer title inside the article: more likely another story's
    # Alone, or in a text shorter than `min_article_paragraphs`, a paragraph has no article to compare with.
    assert not in_article_cues(story, X, ArticleLayout.alone(len(story))).any()
    assert not in_article_cues(story, X, ArticleLayout.single_article(len(story)), min_article_paragraphs=8).any()


def test_linked_headline_shape_is_a_long_title_from_the_fourth_paragraph_on() -> None:
    story = [
        "Manila and Hanoi agree coastguard hotline after months of near-collisions at sea",  # the headline
        "Ministers say the line will be tested weekly from next month in both capitals",  # a standfirst
        "By Amara Okafor",
        "The coastguard hotline between Manila and Hanoi will be tested every week, the ministers said.",
        "Tokyo weighs easing arms export rules for partners in Latin America",  # another story's headline
        "A hotline the coastguards can trust",  # a cross-head: a short title
        "Coastguard officers in Manila and Hanoi said the hotline would have stopped last year's standoff.",
    ]
    layout = ArticleLayout.single_article(len(story))
    assert linked_headline_shaped(story, layout).tolist() == [0, 0, 0, 0, 1, 0, 0]
    # The edges: 8 words from position 3 on; a standfirst-long title at position 2, or 7 words, is not one.
    eight, seven = "Seoul and Budapest agree to add direct flights", "Seoul and Budapest agree to add flights"
    edges = ["Headline", "By Amara Okafor", eight, eight, seven, "Body text ends here."]
    assert linked_headline_shaped(edges, ArticleLayout.single_article(len(edges))).tolist() == [0, 0, 0, 1, 0, 0]
    # A paragraph alone, or in a text shorter than `min_article_paragraphs`, has no position: never.
    assert not linked_headline_shaped(story, ArticleLayout.alone(len(story))).any()
    assert not linked_headline_shaped(story, layout, min_article_paragraphs=8).any()


def test_linked_headline_positions_count_from_the_paragraph_read_as_the_headline() -> None:
    # A browser's copy: the page's chrome before the headline puts the headline itself at position 3.
    chrome = ["Skip to main content", "World | Asia-Pacific", "Advertisement"]
    story = [
        "Manila and Hanoi agree coastguard hotline after months of near-collisions at sea",
        "By Amara Okafor",
        "The coastguard hotline between Manila and Hanoi will be tested every week, the ministers said.",
        "Officials in both capitals said the line would be staffed around the clock by senior officers.",
        "Tokyo weighs easing arms export rules for partners in Latin America",  # another story's headline
        "Coastguard officers in Manila and Hanoi said the hotline would have stopped last year's standoff.",
    ]
    pasted = chrome + story
    layout = ArticleLayout.single_article(len(pasted))
    read_as_headline = np.array([text in (story[0], story[4]) for text in pasted])
    assert linked_headline_shaped(pasted, layout, read_as_headline=read_as_headline).tolist() == [0] * 7 + [1, 0]
    # Counted from the article's start (no reading given), the headline itself was taken for a linked one.
    assert linked_headline_shaped(pasted, layout)[3]


def test_a_lone_paragraph_is_judged_by_its_own_look_only() -> None:
    features = layout_features(ARTICLE, ArticleLayout.alone(len(ARTICLE)))
    np.testing.assert_array_equal(features[:, :N_TEXT_LAYOUT], text_layout(ARTICLE))
    assert not features[:, N_TEXT_LAYOUT:].any()


def test_a_short_excerpt_is_read_as_paragraphs_alone() -> None:
    """Three pasted paragraphs are not an article: with `roles.min_article_paragraphs` above their count, their
    positions are unknown (the last one is not "the article's last paragraph"); a text that long keeps them."""
    excerpt = ARTICLE[2:5]
    gated = layout_features(excerpt, ArticleLayout.single_article(3), min_article_paragraphs=5)
    np.testing.assert_array_equal(gated, layout_features(excerpt, ArticleLayout.alone(3), min_article_paragraphs=5))
    kept = layout_features(excerpt, ArticleLayout.single_article(3), min_article_paragraphs=3)
    assert kept[:, N_TEXT_LAYOUT:].any()
    article = layout_features(ARTICLE, ArticleLayout.single_article(6), min_article_paragraphs=5)
    np.testing.assert_array_equal(article, layout_features(ARTICLE, ArticleLayout.single_article(6)))


@pytest.mark.parametrize(
    ("text", "footer"),
    [
        ("ENDS", True),
        ("-30-", True),
        ("### End of release ###", True),
        ("Media contact: Jana Voss, +49 30 555 0100, press@example.org", True),
        ("Press enquiries: the Secretariat, communications@example.org", True),
        ("Notes to editors: photographs of the signing are available on request.", True),
        ("About the Coastguard Forum: the forum brings together officials from ten navies.", True),
        ("Contacts between the two navies resumed in March, officials said.", False),
        ("The talks ends a year of standoffs at sea, the minister said.", False),
        ("Press freedom groups said the law would chill reporting.", False),
    ],
)
def test_footer_cue_group_covers_the_codebooks_press_release_closing_matter(text: str, footer: bool) -> None:
    assert bool(text_layout([text])[0, FOOTER_GROUP]) is footer


def test_a_role_model_fitted_without_end_position_keeps_scoring_whatever_its_config_says(codebooks) -> None:
    """A role model's fitted weights, not a config that says otherwise, decide whether it reads the end position."""
    from training.bundle import ModelBundle
    from training.config import load_config

    roles = codebooks["role"]
    texts = ARTICLE * 3
    y = np.zeros((len(texts), len(roles.label_names)), dtype=np.int8)
    for i, role in enumerate(["headline", "byline", "body", "body", "footer", "footer"] * 3):
        y[i, roles.label_names.index(role)] = 1
    layout = ArticleLayout.from_article_ids([f"a{i // len(ARTICLE)}" for i in range(len(texts))])
    config = load_config(None, {"roles.from_end": False, "vectorizer.char_ngram_range": None})
    bundle = ModelBundle(config, {"role": roles}).fit(texts, {"role": y}, layout=layout)
    before = bundle.role_scores(texts, layout)
    bundle.config = load_config(None, {"vectorizer.char_ngram_range": None, "roles.from_end": True})
    assert bundle.config.roles.from_end
    np.testing.assert_array_equal(bundle.role_scores(texts, layout), before)
    # A model fitted with the end position reads it (beside the in-article cues, on by default).
    fitted = ModelBundle(bundle.config, {"role": roles}).fit(texts, {"role": y}, layout=layout)
    width = len(fitted.role_vectorizer_.vocabulary_) + n_layout_features() + N_IN_ARTICLE
    assert fitted.role_features(texts, layout).shape[1] == width


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Talks resumed in Geneva. Both sides were hopeful.", "Talks resumed in Geneva."),
        ('Prices rose! "We expected it," a trader said.', "Prices rose!"),
        ("One sentence only, however long it is.", None),
        ("Growth was 3.5 per cent in May.", None),  # a decimal point does not end a sentence
        ("  Leading space. Second.  ", "Leading space."),
        ("Mr. Smith met Dr. Jones in the U.S. capital. They talked.", "Mr. Smith met Dr. Jones in the U.S. capital."),
        ("Talks with the U.S. Trade officials left.", None),  # "U.S." is taken for an initial: no break
    ],
)
def test_first_sentence(text: str, expected: str | None) -> None:
    assert first_sentence(text) == expected
