"""Reasons read as words: character n-grams credited to the words they were cut from."""

from __future__ import annotations

import numpy as np
import pytest

from training.explanations import CHARACTER_NGRAMS, ParagraphReasons, words_of_ngrams
from training.scoring import build_analyzer

CHAR_WB = build_analyzer({"analyzer": "char_wb", "ngram_range": (3, 5), "lowercase": True, "strip_accents": None})


def test_each_ngram_belongs_to_the_words_it_was_cut_from() -> None:
    owners = words_of_ngrams("Beijing says the Quad's drills threaten, it says.", CHAR_WB)
    assert owners["eaten"] == ["threaten"]
    assert owners[" quad"] == ["quad"]  # "Quad's" is the word column "quad"
    assert owners["says"] == ["says"]  # both occurrences are one word
    assert owners["ing"] == ["beijing"]
    assert " th" in owners and owners[" th"] == ["the", "threaten"]


def test_reasons_sum_a_word_with_its_ngrams_and_group_context_ngrams() -> None:
    vocabulary = ["threaten", "drills", "eaten", " thr", " dri"]  # two word columns, then character n-grams
    prefixes = ["", "context: "]
    owners = words_of_ngrams("drills threaten", CHAR_WB)
    own = [0, 1, 2, 3]  # threaten, drills, eaten, " thr"
    context = [5 + 1, 5 + 2, 5 + 4]  # context: drills, and two context character n-grams
    columns = np.array(own + context)
    contributions = np.array([0.5, 0.2, 0.3, 0.1, 0.05, 0.4, 0.25])
    reasons = ParagraphReasons(columns, vocabulary, 2, prefixes, owners)
    top = reasons.top(contributions, k=10)
    assert top == [
        ("threaten", pytest.approx(0.9)),
        (f"context: {CHARACTER_NGRAMS}", pytest.approx(0.65)),
        ("drills", pytest.approx(0.2)),
        ("context: drills", pytest.approx(0.05)),
    ]
    assert [term for term, _ in reasons.top(contributions, k=2)] == ["threaten", f"context: {CHARACTER_NGRAMS}"]
    # A negative sum is no reason; without the text the n-grams are listed as they are.
    assert "drills" not in dict(reasons.top(np.array([0.5, -0.3, 0.3, 0.1, 0, 0, 0]), k=10))
    bare = dict(ParagraphReasons(columns, vocabulary, 2, prefixes, None).top(contributions, k=10))
    assert bare["eaten"] == pytest.approx(0.3) and bare["context: eaten"] == pytest.approx(0.4)
