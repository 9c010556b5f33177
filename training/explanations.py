"""Reasons a reader can check: each label's top terms, with character n-grams credited to their words.

A paragraph's character n-grams ("hreat", "eaten", " trad") carry much of its score but mean nothing on their
own. Each is credited to the word(s) of the paragraph it was cut from, so a reason reads "threaten" and sums
what the word's own column and its n-grams gave. The context blocks' character n-grams come from other
paragraphs, whose text is not at hand here: they are summed as one reason per block
("context: character n-grams"). Without the text (`ModelBundle.explain_row` called on a bare row) the
n-grams are listed as they are.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from training.artifact import feature_terms, word_columns
from training.features import context_blocks

if TYPE_CHECKING:
    from training.config import RunConfig
    from training.label_set import LabelSetModel

_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
_WORD = re.compile(r"\w\w+")  # the word n-gram columns' default token pattern
CHARACTER_NGRAMS = "character n-grams"


def words_of_ngrams(text: str, analyze: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """Character n-gram -> the distinct words of ``text`` it occurs in, for a ``char_wb`` analyzer.

    ``char_wb`` cuts n-grams inside whitespace-separated words only, so analysing each word alone gives
    exactly that word's n-grams. A word is shown as the word n-gram columns spell it: lower-cased, its one
    token of two or more word characters ("quad" for "Quad's"), else without leading or trailing punctuation.
    """
    owners: dict[str, list[str]] = defaultdict(list)
    for chunk in text.split():
        tokens = _WORD.findall(chunk.lower())
        # "Quad's" is the word column "quad"; "US-China" stays one reason, as it is one word here.
        word = tokens[0] if len(tokens) == 1 else (_EDGE_PUNCTUATION.sub("", chunk.lower()) or chunk.lower())
        for ngram in set(analyze(chunk)):
            if word not in owners[ngram]:
                owners[ngram].append(word)
    return owners


class ParagraphReasons:
    """The reasons one vectorized paragraph can be explained by, worked out once and shared by its labels.

    The row's columns are blocks that each repeat ``vocabulary`` (word n-grams first, ``word_columns`` of
    them) under ``prefixes`` ("" for the paragraph itself, "context: ", ...). ``owners`` maps the paragraph's
    character n-grams to their words (`words_of_ngrams`), or is None to list n-grams as they are. Each stored
    entry of the row is credited to one or more reasons with a weight, once; each label's reasons are then
    one ``bincount`` of its contributions, not a Python loop over the row's ~10^3 columns.
    """

    def __init__(
        self,
        columns: np.ndarray,
        vocabulary: list[str],
        word_columns: int,
        prefixes: list[str],
        owners: Mapping[str, list[str]] | None,
    ):
        block, j = np.divmod(columns, len(vocabulary))
        self.names: list[str | None] = []
        self._prefixes, self._vocabulary, self._block, self._j = prefixes, vocabulary, block, j
        index: dict[str, int] = {}

        def reason(name: str) -> int:
            if name not in index:
                index[name] = len(self.names)
                self.names.append(name)
            return index[name]

        entries: list[int] = []
        ids: list[int] = []
        weights: list[float] = []
        own = np.flatnonzero(block == 0)  # the paragraph's own columns; plain ints: numpy scalars are slow here
        for position, term_index in zip(own.tolist(), j[own].tolist(), strict=True):
            term = vocabulary[term_index]
            is_word = term_index < word_columns or owners is None
            targets = [term] if is_word else (owners.get(term) or [term.strip()])  # type: ignore[union-attr]
            for target in targets:
                entries.append(position)
                ids.append(reason(target))
                weights.append(1.0 / len(targets))
        context = np.flatnonzero(block > 0)
        grouped = context[j[context] >= word_columns] if owners is not None else context[:0]
        alone = np.setdiff1d(context, grouped, assume_unique=True)
        # A context block's character n-grams: one reason per block.
        block_ids = {b: reason(prefixes[b] + CHARACTER_NGRAMS) for b in np.unique(block[grouped]).tolist()}
        grouped_ids = [block_ids[b] for b in block[grouped].tolist()]
        # Every other context column is a reason of its own, named only if it is shown.
        alone_ids = range(len(self.names), len(self.names) + len(alone))
        self._lazy_positions = dict(zip(alone_ids, alone.tolist(), strict=True))
        self.names.extend([None] * len(alone))
        self.entries = np.concatenate([np.asarray(entries, dtype=np.int64), grouped, alone])
        self.ids = np.concatenate([np.asarray(ids, dtype=np.int64), grouped_ids, alone_ids]).astype(np.int64)
        self.weights = np.concatenate([np.asarray(weights), np.ones(len(grouped) + len(alone))])

    def top(self, contributions: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k reasons with the largest positive summed contribution, largest first."""
        scores = np.bincount(self.ids, weights=contributions[self.entries] * self.weights, minlength=len(self.names))
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self._name(int(i)), round(float(scores[i]), 4)) for i in order if scores[i] > 0]

    def _name(self, reason: int) -> str:
        name = self.names[reason]
        if name is None:
            position = self._lazy_positions[reason]
            name = self._prefixes[int(self._block[position])] + self._vocabulary[int(self._j[position])]
        return name


def char_wb_analyzer(vectorizer: Any) -> Callable[[str], list[str]] | None:
    """The analyzer of the vectorizer's ``char_wb`` part (None without one: nothing to credit to words)."""
    from training.scoring import build_analyzer

    parts = [part for _, part in vectorizer.transformer_list] if hasattr(vectorizer, "transformer_list") else []
    for part in parts:
        params = part.get_params()
        if params.get("analyzer") == "char_wb":
            return build_analyzer(params)
    return None


class ExplainingTerms:
    """The reasons half of `ModelBundle`: feature columns back to terms, and a vectorized row's top terms per label.

    A mixin: it uses the bundle's ``config``, ``label_sets_`` and fitted ``vectorizer_``.
    """

    config: RunConfig
    label_sets_: dict[str, LabelSetModel]
    vectorizer_: Any

    def term(self, column: int) -> str:
        """The term of a feature column (explanations only).

        Context blocks repeat the vocabulary under a prefix ("context: tariff", "headline: tariff", "article: tariff"),
        made when asked: a list of every prefixed term would cost each serving worker ~15 MB.
        """
        terms = self._terms()
        block, j = divmod(column, len(terms))
        return self._block_prefixes()[block] + terms[j]

    def _terms(self) -> list[str]:
        """One block's terms: the vocabulary's own strings, in column order (built on first use)."""
        if "terms_" not in self.__dict__:
            self.terms_ = feature_terms(self.vectorizer_)
        return self.terms_

    def _block_prefixes(self) -> list[str]:
        context = self.config.context
        return context_blocks(context.neighbours, context.headline, context.article)

    def explain_row(
        self, x: Any, k: int, labels: dict[str, list[str]], text: str | None = None
    ) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """`explain` for an already vectorized row (1 x features, CSR), or per label set its row (a mapping: the
        article block of a headline can weigh differently per set, `context.headline_article`). Given the
        paragraph's ``text``, its character n-grams are credited to the words they come from."""
        analyze = self.char_wb_analyzer_
        owners = words_of_ngrams(text, analyze) if text is not None and analyze is not None else None
        prefixes = self._block_prefixes()
        reasons: ParagraphReasons | None = None
        columns: np.ndarray | None = None
        explanations: dict[str, dict[str, list[tuple[str, float]]]] = {}
        for name, wanted in labels.items():
            row = x[name] if isinstance(x, Mapping) else x
            # Worked out once while the sets' rows have the same columns.
            if reasons is None or columns is None or not np.array_equal(columns, row.indices):
                columns = row.indices
                reasons = ParagraphReasons(columns, self._terms(), word_columns(self.vectorizer_), prefixes, owners)
            model = self.label_sets_[name]
            explanations[name] = {
                label: reasons.top(row.data * model.term_weights(model.labels.index(label), row.indices), k)
                for label in wanted
            }
        return explanations

    @cached_property
    def char_wb_analyzer_(self) -> Callable[[str], list[str]] | None:
        return char_wb_analyzer(self.vectorizer_)
