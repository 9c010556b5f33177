"""The bench's fifth dataset, the project's own corpus, and its two-label-set scores."""

from __future__ import annotations

from pathlib import Path

from bench.public.__main__ import codebook_labels
from bench.public.converters import Converted, convert_default
from bench.public.report import score_text

LABELS = Path(__file__).resolve().parents[3] / "labels"


def test_default_corpus_is_read_in_place_with_topic_and_frame(tmp_path: Path) -> None:
    conv = convert_default(LABELS, tmp_path / "converted")
    assert conv.splits == [(LABELS / "paragraphs.csv", LABELS / "paragraphs_test.csv")]
    assert conv.label_sets == ["topic", "frame"] and conv.scored_as_articles
    assert not (tmp_path / "converted").exists()  # nothing copied: the corpus is the repository's
    topics, multi = codebook_labels(LABELS, "topic")
    assert multi and sorted(conv.label_map) == sorted(topics)
    assert conv.counts["train"] > conv.counts["test"] > 0


def test_other_datasets_keep_one_label_set(tmp_path: Path) -> None:
    conv = Converted("x", "topic", False, tmp_path, [], {})
    assert conv.label_sets == ["topic"] and not conv.scored_as_articles


def test_scores_of_several_label_sets_are_named_per_set() -> None:
    scores = {"topic.micro_f1": 0.7131, "topic.macro_f1": 0.6, "frame.micro_f1": 0.675, "frame.macro_f1": 0.5}
    assert score_text(scores, True) == (
        "topic micro-F1 0.7131 / macro-F1 0.6000; frame micro-F1 0.6750 / macro-F1 0.5000"
    )
    assert score_text({"accuracy": 0.9, "macro_f1": 0.8}, False) == "acc 0.9000 / macro-F1 0.8000"
