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
# Text mostly in other scripts is exempt from the minimum: a whole Chinese sentence can be twelve characters, and
# Python counts Devanagari's vowel signs as no word character at all.
MIN_WORD_CHARACTERS = 20
# Nor can Latin-script text with fewer distinct words that start in lower case be judged: two-word headlines such as
# "Shipping implications" (one word to judge by), bylines and captions of names, lines in capitals.
MIN_LOWER_CASE_WORDS = 3
_WORD_CHARACTER = re.compile(r"\w")
# E-mail and web addresses are no words of any language: left out before the words are counted.
_ADDRESS = re.compile(r"\S+@\S+|(?:https?://|www\.)\S+", re.IGNORECASE)
# A letter of a script other than Latin: past Latin Extended-B, IPA and modifier letters (Hawaiʻi), Latin Extended
# Additional (Vietnamese), the fi/fl ligatures and full-width forms.
_OTHER_SCRIPT = re.compile(r"[^\W\d_\x00-\u02ff\u1e00-\u1eff\ufb00-\ufb06\uff00-\uffef]")


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
        """Per text, the share of its distinct words in the vocabulary: in Latin-script text, over the words that
        start with a lower-case Latin letter; in text mostly of other scripts, over all its words, however short.
        NaN (not judged: read) for Latin-script text of fewer than `MIN_WORD_CHARACTERS` word characters or
        `MIN_LOWER_CASE_WORDS` such words."""
        shares = np.full(len(texts), np.nan)
        preprocess, stop_words, known = self.preprocess, self.stop_words, self.vocabulary.__contains__
        for i, text in enumerate(texts):
            if "@" in text or "://" in text or "www." in text or "WWW." in text:  # the regex only where it can match
                text = _ADDRESS.sub(" ", text)
            # Tokenized as written, to see capitals; the same tokens as the vectorizer's, which lower-cases first.
            tokens = self.tokenize(text)
            # Each word once: a foreign function word the vocabulary happens to hold ("des", "la") repeats.
            distinct = set(tokens)
            if _mostly_other_script(text):
                counted = {preprocess(token) for token in distinct} - stop_words
            else:
                if sum(map(len, tokens)) < MIN_WORD_CHARACTERS and _too_short(text):
                    continue
                # A name written in its own script inside English ("Xi Jinping (习近平)") is a name too.
                counted = {
                    preprocess(token)
                    for token in distinct
                    if token[0].islower() and (token.isascii() or not _OTHER_SCRIPT.search(token))
                } - stop_words
                if len(counted) < MIN_LOWER_CASE_WORDS:
                    continue  # a headline of two words, a byline, a line in capitals: too little prose to judge
            # Word characters but no token (the token pattern needs two in a row): nothing the model can read.
            shares[i] = sum(map(known, counted)) / len(counted) if counted else 0.0
        return shares


def _mostly_other_script(text: str) -> bool:
    """Whether more of the text's letters are of scripts other than Latin than of Latin."""
    if text.isascii():
        return False
    others = len(_OTHER_SCRIPT.findall(text))
    return others > 0 and 2 * others > sum(character.isalpha() for character in text)


def _too_short(text: str) -> bool:
    return len(_WORD_CHARACTER.findall(text)) < MIN_WORD_CHARACTERS
