"""What a paragraph looks like, for the role model: the dense layout block beside its character n-grams.

* `layout_features`: length, punctuation, capitals, digits, the role codebook's cue groups (``Photo:``, ``©``,
  "Read more", ...), and the position from the start and from the end of the article;
* `in_article_cues`: how the paragraph relates to the rest of its article (what it shares with it, title shape);
* `linked_headline_shaped`: the shape the `roles.linked_headlines` rule reads;
* `first_sentence`: the sentence the role model is also fitted on (`roles.first_sentences`).

Like `training.features`, nothing here is fitted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from training.features import ArticleLayout, article_sums

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


def linked_headline_shaped(
    texts: Sequence[str],
    layout: ArticleLayout,
    min_article_paragraphs: int = 2,
    read_as_headline: np.ndarray | None = None,
) -> np.ndarray:
    """Which paragraphs are long title-shaped lines inside an article (texts of at least ``min_article_paragraphs``
    paragraphs; a paragraph alone or in a short excerpt has no position, so never).

    Positions count from the article's headline: its first paragraph in ``read_as_headline`` (the role model's
    reading), else its first paragraph. A browser's copy puts the page's navigation and section labels before
    the headline, which would otherwise push the headline itself to position 3 or later.
    """
    layout = layout.positions_from(max(min_article_paragraphs, 2))
    starts = np.zeros(len(texts), dtype=layout.position.dtype)
    if read_as_headline is not None:
        first: dict[int, int] = {}
        for i in np.flatnonzero(read_as_headline & layout.known).tolist():
            first.setdefault(int(layout.article[i]), int(layout.position[i]))
        starts = np.array([first.get(int(a), 0) for a in layout.article], dtype=layout.position.dtype)
    shaped = np.zeros(len(texts), dtype=bool)
    # Only paragraphs far enough into an article are read: a lone paragraph or a short excerpt costs nothing.
    for i in np.flatnonzero(layout.known & (layout.position - starts >= LINKED_HEADLINE_FROM)).tolist():
        shaped[i] = len(texts[i].split()) >= LINKED_HEADLINE_WORDS and _is_title(texts[i])
    return shaped


def _is_title(text: str) -> bool:
    stripped = text.strip()
    if not stripped or not stripped[0].isupper():
        return False
    return stripped[-1] not in ".!?:;\"'”’)" and len(stripped.split()) <= 25
