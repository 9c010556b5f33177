"""How much of a paragraph the model can read: the share of its words that are in the model's word vocabulary.

The content sets read English news. A paragraph in another language (a quotation left untranslated, a bilingual
page, a feed in Chinese) or garbled text shares few words with the vocabulary, so its scores say nothing about it;
with the top-label fallback it would still get a topic, and count in the article's summary.

Names are not words a vocabulary can be expected to know: a sentence listing four Greek ministers is English all
the same. So the share is taken over the distinct words that start with a lower-case letter (names, a sentence's
first word, German nouns and numbers left out; letters of scripts without case count), and Latin-script text with
too few of them (a two-word headline, a byline, a line in capitals) is read. On the held-out test every body and
headline paragraph knows at least two thirds of its words; paragraphs in twelve other languages know at most 0.35
of theirs (docs/quality.md, "Twenty-fourth pass").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from training.scoring import build_preprocessor, reproducible, stop_words_of

# Latin-script text with fewer word characters ("Ditto.", a name) is too short for the share to mean anything: read.
# Other scripts are exempt from the minimum: a whole Chinese sentence can be twelve characters, and Python counts
# Devanagari's vowel signs as no word character at all.
MIN_WORD_CHARACTERS = 20
# Nor can Latin-script text with fewer distinct words that start in lower case be judged: two-word headlines such as
# "Shipping implications" (one word to judge by), bylines and captions of names, lines in capitals.
MIN_LOWER_CASE_WORDS = 3
_WORD_CHARACTER = re.compile(r"\w")
# E-mail and web addresses are no words of any language: left out before the words are counted.
_ADDRESS = re.compile(r"\S+@\S+|(?:https?://|www\.)\S+", re.IGNORECASE)
_BEYOND_LATIN = re.compile(r"[^\W\d_\x00-\u024f]")  # a letter of a script other than Latin (past Latin Extended-B)


class WordReader:
    """The word tokens the model's word vectorizer sees in a text, and which of them its vocabulary holds."""

    def __init__(
        self,
        tokenize: Callable[[str], list[str]],
        preprocess: Callable[[str], str],
        vocabulary: dict[str, int],
        stop_words: frozenset[str] | None = None,
    ):
        self.tokenize = tokenize
        self.preprocess = preprocess
        self.vocabulary = vocabulary
        self.stop_words = stop_words or frozenset()

    @classmethod
    def of(cls, vectorizer: Any) -> WordReader | None:
        """The reader of a fitted vectorizer (or union) with a word part; None when it has none (char n-grams
        only: no words to know)."""
        parts = [part for _, part in getattr(vectorizer, "transformer_list", [("", vectorizer)])]
        for part in parts:
            params = part.get_params()
            if params.get("analyzer") == "word" and reproducible(params):
                tokenize = re.compile(params["token_pattern"]).findall
                # Plain lower-casing (the default) is str.lower itself, called in C: most of the time per token.
                plain = params["lowercase"] and params["strip_accents"] is None
                preprocess = str.lower if plain else build_preprocessor(params)
                return cls(tokenize, preprocess, part.vocabulary_, stop_words_of(params["stop_words"]))
        return None

    def known_shares(self, texts: list[str]) -> np.ndarray:
        """Per text, the share of its distinct words in the vocabulary, over the words that do not start with a
        capital letter; 1.0 for Latin-script text of fewer than `MIN_WORD_CHARACTERS` word characters or
        `MIN_LOWER_CASE_WORDS` such words (other scripts: over all its words, whatever its length)."""
        shares = np.ones(len(texts))
        preprocess, stop_words, known = self.preprocess, self.stop_words, self.vocabulary.__contains__
        for i, text in enumerate(texts):
            if "@" in text or "://" in text or "www." in text or "WWW." in text:  # the regex only where it can match
                text = _ADDRESS.sub(" ", text)
            # Tokenized as written, to see capitals; the same tokens as the vectorizer's, which lower-cases first.
            tokens = self.tokenize(text)
            if sum(map(len, tokens)) < MIN_WORD_CHARACTERS and self._too_short(text):
                continue
            # Each word once: a foreign function word the vocabulary happens to hold ("des", "la") repeats.
            distinct = set(tokens)
            lower = {preprocess(token) for token in distinct if token[0].isalpha() and not token[0].isupper()}
            lower -= stop_words
            if len(lower) < MIN_LOWER_CASE_WORDS and not _BEYOND_LATIN.search(text):
                continue  # a headline of two words, a byline, a line in capitals: too little prose to judge
            counted = lower or {preprocess(token) for token in distinct} - stop_words
            # Word characters but no token (the token pattern needs two in a row): nothing the model can read.
            shares[i] = sum(map(known, counted)) / len(counted) if counted else 0.0
        return shares

    @staticmethod
    def _too_short(text: str) -> bool:
        return len(_WORD_CHARACTER.findall(text)) < MIN_WORD_CHARACTERS and not _BEYOND_LATIN.search(text)
