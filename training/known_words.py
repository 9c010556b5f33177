"""How much of a paragraph the model can read: the share of its words that are in the model's word vocabulary.

The content sets read English news. A paragraph in another language (a quotation left untranslated, a bilingual
page, a feed in Chinese) or garbled text shares few words with the vocabulary, so its scores say nothing about it;
with the top-label fallback it would still get a topic, and count in the article's summary. On the held-out test
every body and headline paragraph knows at least half its words; paragraphs in twelve other languages know 0-0.4
of theirs (docs/quality.md, "Twenty-fourth pass").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from training.scoring import build_analyzer, reproducible

# A paragraph with fewer word characters ("Ditto.", a name) is too short for the share to mean anything: read.
MIN_WORD_CHARACTERS = 20
_WORD_CHARACTER = re.compile(r"\w")


class WordReader:
    """The word tokens the model's word vectorizer sees in a text (unigrams, as it lower-cases and tokenizes them),
    and which of them its vocabulary holds."""

    def __init__(self, tokens: Callable[[str], list[str]], vocabulary: dict[str, int]):
        self.tokens = tokens
        self.vocabulary = vocabulary

    @classmethod
    def of(cls, vectorizer: Any) -> WordReader | None:
        """The reader of a fitted vectorizer (or union) with a word part; None when it has none (char n-grams
        only: no words to know)."""
        parts = (
            [part for _, part in vectorizer.transformer_list]
            if hasattr(vectorizer, "transformer_list")
            else [vectorizer]
        )
        for part in parts:
            params = part.get_params()
            if params.get("analyzer") == "word" and reproducible(params):
                return cls(build_analyzer({**params, "ngram_range": (1, 1)}), part.vocabulary_)
        return None

    def known_shares(self, texts: list[str]) -> np.ndarray:
        """Per text, the share of its word tokens (repeats counted) in the vocabulary; 1.0 for a text with fewer than
        `MIN_WORD_CHARACTERS` word characters."""
        shares = np.ones(len(texts))
        known = self.vocabulary.__contains__
        for i, text in enumerate(texts):
            tokens = self.tokens(text)
            # Counted in the tokens first (no second pass over the text); in all the text's word characters only
            # when they are few, as in scripts whose vowel signs split tokens (Devanagari) or drop single letters.
            if sum(map(len, tokens)) < MIN_WORD_CHARACTERS and len(_WORD_CHARACTER.findall(text)) < MIN_WORD_CHARACTERS:
                continue
            shares[i] = sum(map(known, tokens)) / len(tokens) if tokens else 0.0
        return shares
