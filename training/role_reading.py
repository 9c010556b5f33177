"""How `ModelBundle` reads what each paragraph is: the role model's features, its scores, and the one role rule.

The role model reads character n-grams (case kept) beside a dense layout block (length, punctuation, position in
the article, in-article cues); its probabilities then pass one rule, `roles.linked_headlines`. Kept apart from
`training.bundle` so the model object reads as its two halves: what a paragraph is (here) and what it is about
(there). `RoleReading` is a mixin: it uses the bundle's ``config``, ``label_names``, ``label_sets_``,
``role_set`` and its fitted ``role_vectorizer_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from training.config import ClassifierConfig, RunConfig
from training.features import ArticleLayout, sorted_csr
from training.label_set import LabelSetModel
from training.role_features import (
    N_IN_ARTICLE,
    first_sentence,
    in_article_cues,
    layout_features,
    linked_headline_shaped,
    n_layout_features,
)
from training.scoring import FastTfidf


class RoleReading:
    """The role half of `ModelBundle` (see the module docstring)."""

    config: RunConfig
    label_names: dict[str, list[str]]
    label_sets_: dict[str, LabelSetModel]
    role_set: str | None
    role_vectorizer_: Any

    def role_chars(self, texts: list[str]) -> Any:
        """The character n-gram TF-IDF the role model reads beside the layout features."""
        if "fast_role_tfidf_" not in self.__dict__:
            self.fast_role_tfidf_ = FastTfidf.from_vectorizer(self.role_vectorizer_)
        fast = self.fast_role_tfidf_
        return fast.transform(texts) if fast is not None else self.role_vectorizer_.transform(texts)

    def role_features(self, texts: list[str], layout: ArticleLayout, chars: Any = None) -> Any:
        """Character n-grams + layout features: what the role model reads (``chars``: n-grams already computed)."""
        chars = self.role_chars(texts) if chars is None else chars
        dense = self.role_layout(texts, layout, chars)
        return sp.hstack([chars, sp.csr_matrix(dense)], format="csr", dtype=np.float32)

    def role_layout(self, texts: list[str], layout: ArticleLayout, chars: Any = None) -> np.ndarray:
        """The dense layout block of the role model, as it was fitted (`roles.from_end`, `roles.article_cues`)."""
        roles = self.config.roles
        from_end, cues = roles.from_end, roles.article_cues
        model = self.label_sets_.get(self.role_set) if self.role_set is not None else None
        if from_end and model is not None and model.scorer is not None:
            # A model fitted before `roles.from_end` existed has no end-position weights, but its saved config,
            # read with today's defaults, says True: the width of its weights tells.
            width = model.scorer.weights.shape[0] - len(self.role_vectorizer_.vocabulary_)
            from_end = width - (N_IN_ARTICLE if cues else 0) != n_layout_features(from_end=False)
        dense = layout_features(texts, layout, from_end, roles.min_article_paragraphs)
        if not cues:
            return dense
        chars = self.role_chars(texts) if chars is None else chars
        return np.hstack([dense, in_article_cues(texts, chars, layout, roles.min_article_paragraphs)])

    def role_scores(self, texts: list[str], layout: ArticleLayout) -> np.ndarray:
        """Role probabilities. With an exact linear scorer, the sparse n-gram and dense layout parts are
        scored separately (no sparse hstack: about a third of the role model's time on a short request)."""
        assert self.role_set is not None
        model = self.label_sets_[self.role_set]
        if model.scorer is None:
            probabilities = model.predict_proba(self.role_features(texts, layout))
        else:
            chars = self.role_chars(texts)
            probabilities = model.widen(model.scorer.predict_proba_parts(chars, self.role_layout(texts, layout, chars)))
        return self._linked_headlines_as_promos(texts, layout, probabilities)

    @property
    def reads_linked_headlines(self) -> bool:
        """Whether the `roles.linked_headlines` rule applies: the option is on and the role codebook has both
        `headline` and `promo` (a custom codebook may not)."""
        names = self.label_names[self.role_set] if self.role_set is not None else []
        return self.config.roles.linked_headlines and "headline" in names and "promo" in names

    def _linked_headlines_as_promos(
        self, texts: list[str], layout: ArticleLayout, probabilities: np.ndarray
    ) -> np.ndarray:
        """`roles.linked_headlines`: a paragraph read as a headline that is a long title inside an article is
        another story's headline linked between paragraphs. Its headline probability moves to promo, so the role
        and its score (the probability of headline or promo) read the same in every consumer."""
        if not self.reads_linked_headlines:
            return probabilities
        assert self.role_set is not None  # the rule needs the role codebook's headline and promo
        names = self.label_names[self.role_set]
        headline, promo = names.index("headline"), names.index("promo")
        read_as_headline = probabilities.argmax(axis=1) == headline
        shaped = linked_headline_shaped(texts, layout, self.config.roles.min_article_paragraphs, read_as_headline)
        rows = shaped & read_as_headline
        if rows.any():
            probabilities = probabilities.copy()
            probabilities[rows, promo] += probabilities[rows, headline]
            probabilities[rows, headline] = 0.0
        return probabilities

    def _role_training_set(
        self, texts: list[str], y: np.ndarray, layout: ArticleLayout
    ) -> tuple[Any, np.ndarray, ClassifierConfig]:
        """What the role model is fitted on: each paragraph in place and, again, alone (no position), so that
        a paragraph sent on its own is judged by its text; with `roles.first_sentences`, also the first sentence
        of each paragraph that has more than one, alone, with its paragraph's role. Fits the role vectorizer."""
        from training.estimators import build_char_vectorizer

        roles_config = self.config.roles
        assert self.role_set is not None
        self.label_sets_.pop(self.role_set, None)  # a refit: the layout block's width comes from the config
        self.role_vectorizer_ = build_char_vectorizer(roles_config.char_ngram_range, self.config.vectorizer)
        chars = sorted_csr(self.role_vectorizer_.fit_transform(texts))  # once: the copies differ only in layout
        alone = ArticleLayout.alone(len(texts))
        blocks = [self.role_features(texts, layout, chars), self.role_features(texts, alone, chars)]
        targets = [y, y]
        if roles_config.first_sentences:
            firsts = [(i, sentence) for i, text in enumerate(texts) if (sentence := first_sentence(text))]
            if firsts:
                rows, sentences = zip(*firsts, strict=True)
                blocks.append(self.role_features(list(sentences), ArticleLayout.alone(len(sentences))))
                targets.append(y[list(rows)])
        classifier_config = ClassifierConfig(type="logreg", C=roles_config.C, class_weight="balanced")
        return sp.vstack(blocks, format="csr"), np.vstack(targets), classifier_config
