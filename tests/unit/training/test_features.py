"""The content model's context features: the article block, its per-row weights, and the sums scoring reads."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tests.conftest import unsorted_copy
from training.features import (
    ArticleLayout,
    article_rest,
    article_sums,
    article_weights,
    context_blocks,
    context_features,
    own_article_dots,
)


def test_article_block_is_the_normalised_rest_of_the_article() -> None:
    """Row i's article block sums the other content rows of its article (not i, not a caption), L2-normalised."""
    X = sp.csr_matrix(np.array([[1, 0, 0], [0, 3, 0], [0, 0, 4], [5, 0, 0], [0, 1, 0]], dtype=np.float32))
    layout = ArticleLayout.from_article_ids(["a", "a", "a", "b", None])
    content = np.array([True, True, False, True, True])
    blocks = context_features(X, layout, content, np.zeros(5, dtype=bool), 0.0, 0.0, 1.0)
    assert blocks.shape == (5, 6)
    article = blocks[:, 3:].toarray()
    np.testing.assert_allclose(article[0], [0, 1, 0])  # the other content row of a: row 1
    np.testing.assert_allclose(article[1], [1, 0, 0])
    np.testing.assert_allclose(article[2], [np.sqrt(0.1), np.sqrt(0.9), 0], rtol=1e-6)  # rows 0 + 1, normalised
    np.testing.assert_allclose(article[3], [0, 0, 0])  # alone in its article
    np.testing.assert_allclose(article[4], [0, 0, 0])  # no article
    # With `article_columns` (the word n-grams, which come first), the block reads only those columns.
    words = context_features(X, layout, content, np.zeros(5, dtype=bool), 0.0, 0.0, 1.0, article_columns=2)
    assert words.shape == (5, 5)
    np.testing.assert_allclose(words[:, 3:].toarray()[2], [np.sqrt(0.1), np.sqrt(0.9)], rtol=1e-6)
    np.testing.assert_allclose(words[:, 3:].toarray()[0], [0, 1])
    assert context_blocks(0.6, 0.3, 0.2) == ["", "context: ", "headline: ", "article: "]


def test_headline_rows_weight_the_article_block_apart() -> None:
    """`context.headline_article`: a headline's article block gets its own weight, every other row the block's;
    the per-article sums that scoring reads give the same weighted block."""
    X = sp.csr_matrix(np.array([[1, 0, 0], [0, 3, 0], [0, 0, 4], [5, 0, 0], [0, 1, 0]], dtype=np.float32))
    layout = ArticleLayout.from_article_ids(["a", "a", "a", "b", None])
    content = np.array([True, True, False, True, True])
    headline = np.array([True, False, False, False, False])
    blocks = context_features(X, layout, content, headline, 0.0, 0.0, 0.5, None, 2.0)
    article = blocks[:, 3:].toarray()
    np.testing.assert_allclose(article[0], [0, 2, 0])  # the headline: row 1, weight 2
    np.testing.assert_allclose(article[1], [0.5, 0, 0])  # a body row: row 0, weight 0.5
    weights = article_weights(headline, 0.5, 2.0)
    projected = article_sums(X, layout, content).scaled(weights).project(np.eye(3))
    np.testing.assert_allclose(projected, article, rtol=1e-6)


def test_article_sums_score_the_article_block_without_building_it() -> None:
    """The serving path keeps one summed row per article; its projection and cosine must equal those of the
    built block, including rows alone, rows that are not content, and an article with a single content row."""
    rng = np.random.default_rng(0)
    X = sp.random(9, 12, density=0.4, random_state=1, dtype=np.float32, format="csr")
    X = sp.diags(1 / np.maximum(np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()), 1e-9)) @ X
    layout = ArticleLayout.from_article_ids(["a", "a", "a", None, "b", "b", "c", "a", None])
    content = np.array([True, True, False, True, True, False, True, True, True])
    rest = article_rest(X.tocsr(), layout, content)
    sums = article_sums(X.tocsr(), layout, content)
    weights = rng.normal(size=(12, 3)).astype(np.float32)
    np.testing.assert_allclose(sums.project(weights), rest @ weights, atol=1e-5)
    np.testing.assert_allclose(sums.scaled(0.5).project(weights), 0.5 * (rest @ weights), atol=1e-5)
    np.testing.assert_allclose(sums.cosine(), np.asarray(X.multiply(rest).sum(axis=1)).ravel(), atol=1e-6)
    assert not sums.project(weights)[[3, 8]].any()  # alone
    assert not sums.project(weights)[4].any() and sums.project(weights)[5].any()  # b: its one content row


def test_own_article_dots_equal_the_full_product() -> None:
    """Each row's dot product with its own article's sum, looked up per non-zero, equals the diagonal of
    ``X @ sums.T`` read at the row's article, whatever the order of the sums' indices; rows alone get 0."""
    X = sp.random(40, 30, density=0.3, random_state=2, dtype=np.float32, format="csr")
    article = np.random.default_rng(2).integers(-1, 6, size=40)
    sums = sp.random(6, 30, density=0.5, random_state=3, dtype=np.float32, format="csr")
    full = (X @ sums.T).toarray()
    expected = np.where(article >= 0, full[np.arange(40), np.maximum(article, 0)], 0.0)
    for matrix in (sums, unsorted_copy(sums)):
        np.testing.assert_allclose(own_article_dots(X, matrix, article), expected, rtol=1e-5)
    assert not own_article_dots(X, sums, np.full(40, -1)).any()
    assert not own_article_dots(X, sp.csr_matrix((6, 30), dtype=np.float32), article).any()
