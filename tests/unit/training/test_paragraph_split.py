"""How a whole article's text becomes paragraphs (`split_paragraphs`: the service, the CLI, batch and the page)."""

from __future__ import annotations

import csv
import textwrap
from itertools import groupby

from tests.conftest import LABELS
from training.classify import split_paragraphs

ARTICLE = [
    "US and China agree to resume trade talks",
    "By Jane Smith, Staff Reporter",
    "jane.smith@example-ledger.com",
    "Negotiators from both countries met in Geneva on Monday and agreed to resume talks on tariffs, export "
    "controls and purchase targets for soybeans and energy that lapsed last year.",
    "Photo: Reuters",
    "The talks come as Washington weighs new curbs on imports made with forced labour in Xinjiang, which Beijing "
    "says are a pretext for protectionism.",
]


def test_blank_lines_separate_paragraphs_and_single_newlines_stay_inside_one() -> None:
    assert split_paragraphs("\n\n".join(ARTICLE)) == ARTICLE
    assert split_paragraphs("Envoys met the minister, saying\nthe law would stand.\r\n\r\nTalks resumed.") == [
        "Envoys met the minister, saying\nthe law would stand.",
        "Talks resumed.",
    ]
    assert split_paragraphs("One paragraph only.") == ["One paragraph only."]
    # Unicode's paragraph separator is a blank line; its line separator a newline.
    assert split_paragraphs("Talks resumed.\u2029Envoys met,\u2028saying so.\u2029") == [
        "Talks resumed.",
        "Envoys met,\nsaying so.",
    ]


def test_section_breaks_and_end_marks_are_not_paragraphs_in_any_format() -> None:
    # Nothing to classify in them: as a lone paragraph the API refuses one; inside an article it was read as a
    # headline with a topic and counted in the summary.
    body = ["Envoys met on Monday.", "* * *", "Talks resume in June.", "###", "—", "2024"]
    kept = ["Envoys met on Monday.", "Talks resume in June.", "2024"]
    assert split_paragraphs("\n\n".join(body)) == kept
    assert split_paragraphs("\n".join(body)) == kept
    assert split_paragraphs("".join(f"<p>{p}</p>" for p in body), "html") == kept
    assert split_paragraphs("\n\n".join(body), "markdown") == kept
    assert split_paragraphs("* * *\n\n###") == []
    # A break on a line of its own inside a blank-line paragraph (it came back as one paragraph holding "* * *").
    assert split_paragraphs("Headline\n\nEnvoys met on Monday.\n* * *\nTalks resume in June.") == [
        "Headline",
        "Envoys met on Monday.",
        "Talks resume in June.",
    ]
    assert split_paragraphs("Title\n\nA correction,\nits second line.") == ["Title", "A correction,\nits second line."]


def test_text_without_blank_lines_is_one_paragraph_per_line() -> None:
    # A word processor's copy: one paragraph per line. It was one paragraph before (one role, one label set).
    assert split_paragraphs("\n".join(ARTICLE)) == ARTICLE
    assert split_paragraphs("\r\n".join(ARTICLE) + "\r\n") == ARTICLE
    # A line in lower case after a line that ends mid-sentence continues it.
    assert split_paragraphs("Officials said the\nagreement would hold.\nTalks resume in May.") == [
        "Officials said the\nagreement would hold.",
        "Talks resume in May.",
    ]


def test_text_wrapped_at_a_fixed_width_gets_its_paragraphs_back() -> None:
    wrapped = "\n".join(textwrap.fill(paragraph, 72) for paragraph in ARTICLE)
    assert [p.replace("\n", " ") for p in split_paragraphs(wrapped)] == ARTICLE


def test_every_article_of_the_test_corpus_splits_back_into_its_paragraphs_one_per_line() -> None:
    with (LABELS / "paragraphs_test.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    articles = [[row["text"] for row in group] for _, group in groupby(rows, key=lambda row: row["article_id"])]
    articles = [paragraphs for paragraphs in articles if not any("\n" in p for p in paragraphs)]
    assert len(articles) >= 90
    # A press release's "###" end mark has no letter or digit: it is not a paragraph to classify.
    worded = [[p for p in paragraphs if p != "###"] for paragraphs in articles]
    assert sum(map(len, articles)) - sum(map(len, worded)) == 2
    assert [split_paragraphs("\n".join(paragraphs)) for paragraphs in articles] == worded
    # Wrapped at 72 characters the split is a guess: most paragraphs come back exactly, and about as many.
    recovered = total = pieces = 0
    for paragraphs in articles:
        split = [p.replace("\n", " ") for p in split_paragraphs("\n".join(textwrap.fill(p, 72) for p in paragraphs))]
        recovered, total, pieces = (
            recovered + len(set(split) & set(paragraphs)),
            total + len(paragraphs),
            pieces + len(split),
        )
    assert recovered / total >= 0.85 and 0.95 <= pieces / total <= 1.10
