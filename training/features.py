"""Article-aware features: where a paragraph sits, what it looks like, and what surrounds it.

A request or a CSV gives paragraphs in page order, grouped into articles. These plain
functions turn that order into

* `ArticleLayout`: each paragraph's article, position and the article's size;
* `layout_features`: a small dense block the role model reads next to its character n-grams
  (length, punctuation, capitals, digits, markers such as ``Photo:`` or ``©``, position from the start
  and from the end of the article);
* `context_features`: the TF-IDF of the neighbouring content paragraphs and of the article's
  headline, as extra weighted blocks beside the paragraph's own TF-IDF.

None of them is fitted: they hold no state, so the saved model needs nothing for them
beyond its config.
"""

from __future__ import annotations

import itertools
import math
import re
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


# Layout cues, one feature per group. Each group gathers the cues the role codebook lists for one role, so
# that a cue never seen in training (a press release's "###") shares the weight its group learnt from the
# cues that were (corrections, copyright lines).
_MARKERS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # caption: photo/video/chart credits and descriptions
        r"\b(photo(graph)?s?|picture|image|credit|illustration|graphic|chart|map|video)\b\s*[:|/]?",
        # footer: copyright, syndication, corrections, disclaimers, press-release boilerplate, closing notes
        r"©|\(c\)\s*\d{4}|copyright|all rights reserved|first appeared|^(correction|clarification|editor'?s note)"
        r"|views expressed|^(###|-30-|ends)\s*$|^about [\w&.,' -]{2,60}:|media (contact|enquiries|inquiries)"
        r"|investor (relations|enquiries)|forward-looking statements|not investment advice"
        r"|(blog|page|coverage) is (now )?closed|clos(e|ing) (this|our|the) live"
        # press-release closing matter in its usual general forms: a contact line ("Press enquiries: ...",
        # "Contact: ..."), notes to editors, and an end marker on its own line ("ENDS", "-30-", "End of release")
        r"|^\W*(for )?(media|press|journalists?)\b.{0,40}\b(contacts?|enquiries|inquiries|relations)\b"
        r"|^\W*(contacts?|enquiries|inquiries)( for [\w ]{2,30})?\s*:|notes? to editors?"
        r"|^\W*(ends?|end of (the )?(release|statement|announcement)|-?30-?|#+)\W*$",
        # promo: plugs, related links, navigation
        r"\b(sign up|subscribe|newsletter|podcast|download|follow (us|our)|read more|related|more from|also read)\b"
        r"|key events|jump to|all updates|share this",
        # byline: authors, credits
        r"^(by|reporting by|additional reporting|written by|editing by)\b|\b(correspondent|staff reporter)\b",
        r"\b(min(ute)?s? read|updated|published)\b|\d{1,2}[:.]\d{2}\s*(am|pm|gmt|bst|cet|et)?\b",
        r"https?://|www\.|@\w+\.\w+|\.(com|org|net)\b",
        r"(?-i:^[A-Z][A-Z .,'/()-]{2,})\s*(,|\(|[-—–]\s*$)",  # a dateline: "BANGKOK, March 12 -", "MOMBASA —"
        r"[-—–]\s*$",
        r"\|",
    )
]


_SENTENCE_END = re.compile(r"[.!?](\s|$)")
# A sentence ends at . ! or ? followed by space and a capital or an opening quote, unless the word before is a
# title or an initial ("Mr. Smith", "U.S. President", "J. Smith"): the role model's first-sentence copies
# (`roles.first_sentences`) should be sentences, not "Mr.".
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'])")
_TITLES = "Mr|Mrs|Ms|Dr|St|Gen|Sen|Rep|Gov|Lt|Col|Sgt|Prof|Rev|No|Jr|Sr|Inc|Co|Corp|Ltd"
_NOT_AN_END = re.compile(rf"\b(?:{_TITLES}|[A-Z])\.$")


def first_sentence(text: str) -> str | None:
    """The paragraph's first sentence, or None when it has only one."""
    stripped = text.strip()
    for end in _SENTENCE_BREAK.finditer(stripped):
        sentence = stripped[: end.start()]
        if not _NOT_AN_END.search(sentence):
            return sentence
    return None


def layout_features(
    texts: Sequence[str], layout: ArticleLayout, from_end: bool = True, min_article_paragraphs: int = 2
) -> np.ndarray:
    """A dense (rows x `n_layout_features`) float32 block, scaled to roughly [0, 1], for the role model.

    Character n-grams already see words such as "Photo" or "Read more"; these add what
    n-grams cannot: how long the paragraph is, how it ends, how much of it is capitals or
    digits, and where it sits in its article — with ``from_end``, also how many paragraphs
    come after it (closing matter sits in the last few paragraphs however long the article).
    Texts of fewer than ``min_article_paragraphs`` paragraphs get no position features.
    (Plain Python per text and numpy per column: this runs on every request, so it is kept to
    a few microseconds a paragraph.)
    """
    if min_article_paragraphs > 2:  # a short text's positions say nothing: it is read as paragraphs alone
        layout = layout.positions_from(min_article_paragraphs)
    blocks = [text_layout(texts), _position(layout)]
    if from_end:
        blocks.append(_end_position(layout))
    return np.hstack(blocks)


def text_layout(texts: Sequence[str]) -> np.ndarray:
    """What each paragraph looks like on its own: length, ending, capitals, digits, cue groups."""
    out = np.zeros((len(texts), N_TEXT_LAYOUT), dtype=np.float32)
    for i, text in enumerate(texts):
        stripped = text.strip()
        length = len(stripped)
        letters = sum(map(str.isalpha, stripped))
        last = stripped[-1:]
        out[i] = [
            min(math.log1p(length) / 7.0, 1.5),
            min(len(stripped.split()) / 60.0, 2.0),
            last in ".!?" if last else False,
            last in "\"'”’)" if last else False,
            last.isalnum(),
            sum(map(str.isupper, stripped)) / letters if letters else 0.0,
            sum(map(str.isdigit, stripped)) / length if length else 0.0,
            min(stripped.count(",") / 5.0, 1.0),
            min(len(_SENTENCE_END.findall(stripped)) / 4.0, 1.0),
            *(marker.search(stripped) is not None for marker in _MARKERS),
        ]
    return out


def _position(layout: ArticleLayout) -> np.ndarray:
    """Position within the article, for paragraphs whose article is known (zero otherwise)."""
    known, position, last_index = layout.known, layout.position, layout.size - 1
    return np.column_stack(
        [
            known & (position == 0),
            known & (position == 1),
            known & (position == last_index),
            known & (position == last_index - 1),
            np.where(known & (last_index > 0), position / np.maximum(last_index, 1), 0.0),
        ]
    ).astype(np.float32)


def _end_position(layout: ArticleLayout) -> np.ndarray:
    """Paragraphs after this one and before it (capped at 20), beside the relative position: closing matter
    (footers, a press release's contacts) comes within the last few paragraphs however long the article is.
    Chosen by leave-one-house-style-out CV on the training articles (docs/quality.md)."""
    known, remaining = layout.known, layout.size - 1 - layout.position
    return np.column_stack(
        [
            known & (remaining == 2),
            known & (remaining <= 4),
            np.where(known, np.minimum(remaining, 20) / 20, 0.0),
            np.where(known, np.minimum(layout.position, 20) / 20, 0.0),
        ]
    ).astype(np.float32)


N_TEXT_LAYOUT = 9 + len(_MARKERS)


def n_layout_features(from_end: bool = True) -> int:
    """The width of `layout_features`."""
    return N_TEXT_LAYOUT + 5 + (4 if from_end else 0)


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


def in_article_cues(
    texts: Sequence[str], X: sp.csr_matrix, layout: ArticleLayout, min_article_paragraphs: int = 2
) -> np.ndarray:
    """How a paragraph relates to the article around it: (rows x `N_IN_ARTICLE`) float32.

    * the cosine between the paragraph's (L2-normalised) n-grams and the normalised sum of every other paragraph
      of its article, and that cosine minus the article's mean (so that terse and wordy house styles compare
      alike): closing matter and plugs share few n-grams with the story around them;
    * whether it is a title-shaped line (no closing full stop, at most 25 words) inside the article (third
      paragraph or later), and that times its length: a cross-head is a short title, the headline of another
      story linked between paragraphs a full one. Neither n-grams nor position alone tell them apart.
    Paragraphs of texts shorter than ``min_article_paragraphs`` (or alone) get zeros, as they get no position
    features.
    """
    layout = layout.positions_from(max(min_article_paragraphs, 2))
    out = np.zeros((len(layout), N_IN_ARTICLE), dtype=np.float32)
    if not layout.known.any():
        return out
    cosine = np.where(layout.known, article_sums(X, layout, np.ones(len(layout), dtype=bool)).cosine(), 0.0)
    articles = layout.article[layout.known]
    sums = np.bincount(articles, weights=cosine[layout.known], minlength=int(layout.article.max()) + 1)
    mean = sums / np.maximum(np.bincount(articles, minlength=len(sums)), 1)
    words = np.array([len(text.split()) for text in texts], dtype=np.float32)
    title = np.array([_is_title(text) for text in texts]) & layout.known & (layout.position >= 2)
    out[:, 0] = cosine
    out[:, 1] = np.where(layout.known, cosine - mean[layout.article], 0.0)
    out[:, 2] = title
    out[:, 3] = title * np.minimum(words / 12.0, 1.5)
    return out


N_IN_ARTICLE = 4

# A title-shaped line of at least this many words, at this position or later (counted from 0), is the headline of
# another story linked between paragraphs: of such lines in the training corpus that are headlines or promos,
# 1,300 are promos and 11 headlines, while at positions 1-2 they are standfirsts (891 headlines, 0 promos). The
# others (captions, bylines, footers) are not headlines, which is all the rule changes. `roles.linked_headlines`.
LINKED_HEADLINE_WORDS = 8
LINKED_HEADLINE_FROM = 3


def linked_headline_shaped(texts: Sequence[str], layout: ArticleLayout, min_article_paragraphs: int = 2) -> np.ndarray:
    """Which paragraphs are long title-shaped lines inside an article (texts of at least ``min_article_paragraphs``
    paragraphs; a paragraph alone or in a short excerpt has no position, so never)."""
    layout = layout.positions_from(max(min_article_paragraphs, 2))
    shaped = np.zeros(len(texts), dtype=bool)
    # Only paragraphs far enough into an article are read: a lone paragraph or a short excerpt costs nothing.
    for i in np.flatnonzero(layout.known & (layout.position >= LINKED_HEADLINE_FROM)).tolist():
        shaped[i] = len(texts[i].split()) >= LINKED_HEADLINE_WORDS and _is_title(texts[i])
    return shaped


def _is_title(text: str) -> bool:
    stripped = text.strip()
    if not stripped or not stripped[0].isupper():
        return False
    return stripped[-1] not in ".!?:;\"'”’)" and len(stripped.split()) <= 25


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
