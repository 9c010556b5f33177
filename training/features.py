"""Article-aware features: where a paragraph sits and what surrounds it.

A request or a CSV gives paragraphs in page order, grouped into articles. These plain
functions turn that order into

* `ArticleLayout`: each paragraph's article, position and the article's size;
* `context_features`: the TF-IDF of the neighbouring content paragraphs, of the article's
  headline and of the rest of the article, as extra weighted blocks beside the paragraph's own TF-IDF
  (`article_sums` scores the last without building it).

None of them is fitted: they hold no state, so the saved model needs nothing for them
beyond its config. What a paragraph looks like, for the role model, is in `training.role_features`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class ArticleLayout:
    """Paragraph i belongs to article ``article[i]`` at ``position[i]`` of ``size[i]`` paragraphs.

    ``known[i]`` is False for a paragraph that arrived alone (no article id, or an article of one
    paragraph): its position features are then zero, so the role model judges it by its text alone.
    """

    article: np.ndarray
    position: np.ndarray
    size: np.ndarray
    known: np.ndarray

    def __len__(self) -> int:
        return len(self.article)

    @classmethod
    def single_article(cls, n: int) -> ArticleLayout:
        """n paragraphs of one article, in order (a request's ``text`` or ``paragraphs``)."""
        return cls.from_article_ids(["article"] * n)

    @classmethod
    def alone(cls, n: int) -> ArticleLayout:
        """n unrelated paragraphs: no position, no neighbours."""
        return cls.from_article_ids([None] * n)

    @classmethod
    def from_article_ids(cls, article_ids: Sequence[str | None]) -> ArticleLayout:
        """Rows in page order; rows of one article need not be adjacent, their order is kept.

        A row without an article id stands alone.
        """
        n = len(article_ids)
        article = np.empty(n, dtype=np.int64)
        position = np.zeros(n, dtype=np.int64)
        index: dict[str, int] = {}
        counts: list[int] = []
        for i, article_id in enumerate(article_ids):
            if article_id is None:
                article[i] = len(counts)
                counts.append(1)
                continue
            k = index.setdefault(article_id, len(counts))
            if k == len(counts):
                counts.append(0)
            article[i], position[i] = k, counts[k]
            counts[k] += 1
        size = np.asarray(counts, dtype=np.int64)[article] if n else np.zeros(0, dtype=np.int64)
        known = np.array([a is not None for a in article_ids], dtype=bool) & (size > 1)
        return cls(article, position, size, known)

    def positions_from(self, min_size: int) -> ArticleLayout:
        """The same layout with the positions of articles shorter than ``min_size`` unknown."""
        return replace(self, known=self.known & (self.size >= min_size))


def neighbour_rows(layout: ArticleLayout, content: np.ndarray, headline: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each row: the previous and next content row of its article, and its article's headline row (-1: none).

    ``content`` marks rows whose role carries labels (body, headline); ``headline`` marks headline rows.
    Non-content paragraphs (captions, promos) are skipped, so a body paragraph's neighbour is the
    body text around it, not the photo credit between them. A headline has no headline context.
    """
    n = len(layout)
    previous, following, first_headline = (np.full(n, -1, dtype=np.int64) for _ in range(3))
    by_article: dict[int, list[int]] = {}
    for i in np.argsort(layout.article * (n + 1) + layout.position, kind="stable").tolist():
        by_article.setdefault(int(layout.article[i]), []).append(i)
    for rows in by_article.values():
        kept = [i for i in rows if content[i]]
        for before, after in itertools.pairwise(kept):
            following[before], previous[after] = after, before
        heads = [i for i in rows if headline[i]]
        if heads:
            first_headline[[i for i in rows if not headline[i]]] = heads[0]
    return previous, following, first_headline


def _select(rows: np.ndarray, X: sp.csr_matrix) -> sp.csr_matrix:
    """Row i of the result is X[rows[i]], or empty where rows[i] == -1."""
    has = rows >= 0
    selector = sp.csr_matrix(
        (np.ones(int(has.sum()), dtype=X.dtype), (np.flatnonzero(has), rows[has])), shape=(len(rows), X.shape[0])
    )
    return (selector @ X).tocsr()


def context_features(
    X: sp.csr_matrix,
    layout: ArticleLayout,
    content: np.ndarray,
    headline: np.ndarray,
    neighbours_weight: float,
    headline_weight: float,
    article_weight: float = 0.0,
    article_columns: int | None = None,
    headline_article_weight: float | None = None,
) -> sp.csr_matrix:
    """``[X | w_n * (X[prev] + X[next]) | w_h * X[headline] | w_a * article]``; blocks with weight 0 are left out.

    ``article`` is the L2-normalised sum of the other content paragraphs of the paragraph's article: what the
    whole story is about, which the codebook lets a continuing paragraph be read with. It reads only the first
    ``article_columns`` columns of X (the word n-grams; all when None): the words say what a story is about, and
    the sum of a whole article's character n-grams is a dense row that made fitting 2.6x slower for no more
    topic F1 (docs/quality.md).
    """
    if not neighbours_weight and not headline_weight and not article_weight:
        return X
    previous, following, first_headline = neighbour_rows(layout, content, headline)
    blocks = [X]
    if neighbours_weight:
        blocks.append((_select(previous, X) + _select(following, X)) * np.float32(neighbours_weight))
    if headline_weight:
        blocks.append(_select(first_headline, X) * np.float32(headline_weight))
    if article_weight:
        words = X if article_columns is None else X[:, :article_columns]
        weights = article_weights(headline, article_weight, headline_article_weight)
        blocks.append((sp.diags(weights) @ article_rest(words, layout, content)).tocsr())
    return sp.hstack(blocks, format="csr", dtype=X.dtype)


def article_weights(headline: np.ndarray, weight: float, headline_weight: float | None) -> np.ndarray:
    """The article block's weight per row: ``headline_weight`` for headline rows when given, else ``weight``."""
    weights = np.full(len(headline), weight, dtype=np.float32)
    if headline_weight is not None:
        weights[headline] = headline_weight
    return weights


def article_rest(X: sp.csr_matrix, layout: ArticleLayout, content: np.ndarray) -> sp.csr_matrix:
    """Row i: the L2-normalised sum of the content rows of i's article other than i (empty when alone)."""
    parts = article_sums(X, layout, content)
    rest = _select(parts.article, parts.sums) - sp.diags(parts.member.astype(X.dtype)) @ X
    return (sp.diags(parts.scale.astype(X.dtype)) @ rest).tocsr()


@dataclass(frozen=True)
class ArticleSums:
    """`article_rest` of X kept per article: row i of the rest is ``scale[i] * (sums[article[i]] - member[i] *
    X[i])``. Fitting builds that (rows x columns) matrix (`article_rest`), a few milliseconds per request;
    scoring needs only `project` or `cosine`, which keep one summed row per article."""

    X: sp.csr_matrix
    sums: sp.csr_matrix  # one row per article: the sum of its member rows
    article: np.ndarray  # row -> its row of ``sums``; -1 for a row that arrived alone
    member: np.ndarray  # 1.0 where the row is one of those summed (so not part of its own rest)
    scale: np.ndarray  # 1 / |rest| (times a block weight, `scaled`); 0 where the rest is empty
    dots: np.ndarray  # X[i] . sums[article[i]]

    def scaled(self, weight: float | np.ndarray) -> ArticleSums:
        """The block times ``weight`` (one for every row, or one per row)."""
        return replace(self, scale=self.scale * weight)

    def cosine(self) -> np.ndarray:
        """Row i: X[i] . rest[i] (the cosine when X's rows are L2-normalised)."""
        return self.scale * (self.dots - self.member * _row_squares(self.X))

    def project(self, weights: np.ndarray) -> np.ndarray:
        """``rest @ weights``: the block's share of a linear model's logits."""
        by_article = np.asarray(self.sums @ weights)
        z = np.zeros((len(self.article), weights.shape[1]), dtype=np.float64)
        has = self.article >= 0
        z[has] = by_article[self.article[has]]
        z -= self.member[:, None] * np.asarray(self.X @ weights)
        return (z * self.scale[:, None]).astype(np.float32)


def _row_squares(X: sp.csr_matrix) -> np.ndarray:
    return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()


def article_sums(X: sp.csr_matrix, layout: ArticleLayout, content: np.ndarray) -> ArticleSums:
    """The rest of each row's article (the content rows other than itself), kept per article (see `ArticleSums`)."""
    members = content & layout.known
    rows = np.flatnonzero(members)
    n_articles = int(layout.article.max()) + 1 if len(layout) else 0
    article_of = sp.csr_matrix(
        (np.ones(len(rows), dtype=X.dtype), (layout.article[rows], rows)), shape=(n_articles, X.shape[0])
    )
    sums = (article_of @ X).tocsr()
    article = np.where(layout.known, layout.article, -1)
    has = article >= 0
    dots = own_article_dots(X, sums, article)
    # |S - m x|^2 = |S|^2 - 2 m x.S + m |x|^2 (m is 0 or 1), in float64; a rest with no other member is empty
    # by count, not by a difference that rounding leaves slightly above zero.
    summed = np.asarray(sums.multiply(sums).sum(axis=1), dtype=np.float64).ravel()
    member = members.astype(np.float64)
    others = np.bincount(layout.article[rows], minlength=n_articles)[np.maximum(article, 0)] - member
    squared = np.where(has, summed[np.maximum(article, 0)] - 2 * member * dots + member * _row_squares(X), 0.0)
    norms = np.sqrt(np.maximum(squared, 0.0))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=has & (others > 0) & (norms > 1e-6))
    return ArticleSums(X, sums, article, member, scale, dots)


def own_article_dots(X: sp.csr_matrix, sums: sp.csr_matrix, article: np.ndarray) -> np.ndarray:
    """Row i: ``X[i] . sums[article[i]]`` (0 where ``article[i]`` is -1), in float64.

    Only each row's own article is needed, so each non-zero of X looks up the same column of its article's sum
    (a binary search over the sums' sorted (row, column) keys) instead of the (rows x articles) product
    ``X @ sums.T``: character n-grams make that product nearly dense, 16 s of a default fit's 28 s role
    features on 24,547 paragraphs."""
    if not sums.nnz:
        return np.zeros(X.shape[0], dtype=np.float64)
    sums.sort_indices()  # its keys below must be in order
    n_columns = np.int64(X.shape[1])
    entry_row = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    entry_article = article[entry_row]
    in_article = entry_article >= 0
    keys = np.repeat(np.arange(sums.shape[0], dtype=np.int64), np.diff(sums.indptr)) * n_columns + sums.indices
    wanted = entry_article[in_article].astype(np.int64) * n_columns + X.indices[in_article]
    found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    hit = keys[found] == wanted
    products = np.where(hit, X.data[in_article].astype(np.float64) * sums.data[found].astype(np.float64), 0.0)
    return np.bincount(entry_row[in_article], weights=products, minlength=X.shape[0])


def context_blocks(neighbours_weight: float, headline_weight: float, article_weight: float = 0.0) -> list[str]:
    """The prefixes that name each block's terms in explanations: "" for the paragraph itself."""
    return (
        [""]
        + (["context: "] if neighbours_weight else [])
        + (["headline: "] if headline_weight else [])
        + (["article: "] if article_weight else [])
    )


def sorted_csr(X: Any) -> Any:
    """CSR with sorted column indices, as the fast transform returns them: the solvers then see the same
    matrix at fit time as at prediction time (``fit_transform`` leaves rows unsorted)."""
    X = X.tocsr()
    X.sort_indices()
    return X
