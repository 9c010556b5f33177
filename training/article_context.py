"""How `ModelBundle` reads a paragraph with its article: the content sets' context blocks.

A content paragraph is read with its neighbouring content paragraphs, its article's headline and the word n-grams
of the rest of its article (`context.*`), as extra weighted TF-IDF blocks. Fitting builds those blocks as a
matrix; scoring gathers their share of the logits from the paragraphs' own scores and per-article sums (the same
values, less work), and builds the matrix only for explanations. The article block can weigh a headline apart per
label set (`context.headline_article`), so each set has its own matrix where the weights differ. `ArticleContext`
is a mixin of `ModelBundle`: it uses the bundle's ``config``, ``vectorizer_`` and ``transform``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from training.artifact import word_columns
from training.config import ContextConfig, RunConfig
from training.features import ArticleLayout, article_sums, article_weights, context_features, neighbour_rows


class ArticleContext:
    """The context half of `ModelBundle`'s content sets (see the module docstring)."""

    config: RunConfig
    vectorizer_: Any
    transform: Callable[[list[str]], Any]  # the bundle's own TF-IDF (its fast path)

    def content_features(
        self,
        texts: list[str],
        layout: ArticleLayout,
        roles: list[str] | None,
        own: Any = None,
        label_set: str | None = None,
        read: np.ndarray | None = None,
    ) -> Any:
        """The paragraphs' TF-IDF (``own``: already computed), plus their neighbours', headline's and article's
        blocks when context is on; the article block weighted for headline rows as ``label_set`` reads it. Rows
        not ``read`` (`training.known_words`) give no context to the others."""
        X = self.transform(texts) if own is None else own
        context = self.config.context
        if not context.neighbours and not context.headline and not context.article:
            return X
        content, headline = self._content_and_headlines(layout, roles, read)
        return context_features(
            X.tocsr(),
            layout,
            content,
            headline,
            context.neighbours,
            context.headline,
            context.article,
            self._word_columns(),
            context.headline_article_for(label_set),
        )

    def _word_columns(self) -> int:
        """How many of the paragraph's own columns are word n-grams (they come first): the article block's."""
        return word_columns(self.vectorizer_)

    def _content_and_headlines(
        self, layout: ArticleLayout, roles: list[str] | None, read: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which rows are content and which are headlines, for the context blocks. A paragraph the model cannot
        read (another language) is neither: its few known words would stand for its article's topic."""
        if roles is None:  # no role model: every paragraph is content, the first of an article its headline
            content, headline = np.ones(len(layout), dtype=bool), (layout.position == 0) & layout.known
        else:
            content, headline = np.isin(roles, self.config.roles.content), np.asarray(roles) == "headline"
        return (content, headline) if read is None else (content & read, headline & read)

    def _context_gathers(
        self, layout: ArticleLayout, roles: list[str] | None, read: np.ndarray | None = None
    ) -> list[tuple[float, list[np.ndarray]]]:
        """The context blocks as weighted sums of other rows (`LinearScorer.predict_proba_gathered`)."""
        context = self.config.context
        previous, following, first_headline = neighbour_rows(layout, *self._content_and_headlines(layout, roles, read))
        blocks = [(context.neighbours, [previous, following])] if context.neighbours else []
        return blocks + ([(context.headline, [first_headline])] if context.headline else [])

    def _article_blocks(
        self,
        own: Any,
        layout: ArticleLayout,
        roles: list[str] | None,
        label_sets: list[str],
        read: np.ndarray | None = None,
    ) -> dict[str, Callable[[np.ndarray], np.ndarray] | None]:
        """Per label set, the weighted article block's share of the logits as a function of its weights
        (`context.article`, `context.headline_article`; None when off or empty), the last block of the features.
        The per-article sums are built once and only weighted per set."""
        context = self.config.context
        content, headline = self._content_and_headlines(layout, roles, read)
        in_articles = layout.article[content & layout.known]
        if not context.article or np.bincount(in_articles).max(initial=0) < 2:
            return dict.fromkeys(label_sets)  # off, or no paragraph has another content paragraph in its article
        sums = article_sums(own.tocsr()[:, : self._word_columns()], layout, content)
        return {
            name: sums.scaled(article_weights(headline, context.article, context.headline_article_for(name))).project
            for name in label_sets
        }

    def _features_memo(
        self, texts: list[str], layout: ArticleLayout, roles: list[str] | None, own: Any, read: np.ndarray | None = None
    ) -> Callable[[str | None], Any]:
        """`content_features` per label set, each matrix built once per distinct headline weight and kept."""
        built: dict[float | None, Any] = {}

        def features(label_set: str | None) -> Any:
            weight = self.config.context.headline_article_for(label_set)
            if weight not in built:
                built[weight] = self.content_features(texts, layout, roles, own, label_set, read)
            return built[weight]

        return features


def sets_by_headline_weight(context: ContextConfig, label_sets: list[str]) -> list[list[str]]:
    """The label sets grouped by the article block's weight for headline rows, in order of first appearance."""
    groups: dict[float | None, list[str]] = {}
    for name in label_sets:
        groups.setdefault(context.headline_article_for(name), []).append(name)
    return list(groups.values())
