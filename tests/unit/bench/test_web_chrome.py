"""Web-page chrome around articles: the evaluation's pasting (`bench.web_paste`) and the corpus's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.web_chrome_corpus import MARK, with_chrome
from bench.web_paste import CHROME, chrome_layout

SITE = {
    "top": [{"text": "Skip to main content", "role": "promo"}, {"text": "World | Asia", "role": "byline"}],
    "after_headline": [{"text": "Share", "role": "promo"}],
    "inline": [{"text": "Advertisement", "role": "promo"}, {"text": "Photo: AFP", "role": "caption"}],
    "bottom": [{"text": "Most read", "role": "promo"}, {"text": "© 2025 The Ledger", "role": "footer"}],
}
ROLES = ["headline", "byline", "body", "body", "caption", "body", "footer"]


def test_chrome_goes_around_the_article_which_keeps_its_order() -> None:
    for seed in range(20):
        order = chrome_layout(ROLES, SITE, np.random.default_rng(seed))
        own = [item for item in order if isinstance(item, int)]
        assert own == list(range(len(ROLES)))  # every paragraph once, in page order
        chrome = [item["text"] for item in order if isinstance(item, dict)]
        assert order[:2] == SITE["top"]  # at least two top lines, and here there are two
        assert order[order.index(0) + 1] == SITE["after_headline"][0]
        assert sum(text in ("Advertisement", "Photo: AFP") for text in chrome) <= 2
        inline_at = [order[i - 1] for i, item in enumerate(order) if isinstance(item, dict) and item in SITE["inline"]]
        assert all(ROLES[k] == "body" and k > ROLES.index("body") for k in inline_at)  # after a later body paragraph
        assert order[-2:] == SITE["bottom"]


def test_the_corpus_gets_chrome_rows_with_their_roles_and_no_labels() -> None:
    rows = [
        {"id": f"{a}-{k}", "article_id": a, "text": f"{a} {k}", "topic": "trade", "frame": "", "role": role}
        for a in ("A1", "A2", "A3", "A4", "A5")
        for k, role in enumerate(ROLES)
    ]
    out = with_chrome(rows, [SITE], share=0.4, seed=0)
    added = [row for row in out if MARK in row["id"]]
    assert [row for row in out if MARK not in row["id"]] == rows  # the corpus's own rows, untouched, in order
    assert len({row["article_id"] for row in added}) == 2  # 40 % of five articles
    assert all(
        row["topic"] == row["frame"] == "" and row["role"] in ("promo", "byline", "caption", "footer") for row in added
    )
    assert len({row["id"] for row in out}) == len(out)
    assert with_chrome(rows, [SITE], share=0.4, seed=0) == out  # seeded


def test_the_evaluation_pool_is_twelve_sites_of_non_content_lines() -> None:
    sites = json.loads(Path(CHROME).read_text(encoding="utf-8"))
    assert len(sites) == 12
    roles = {
        line["role"] for site in sites for part in ("top", "after_headline", "inline", "bottom") for line in site[part]
    }
    assert roles == {"byline", "caption", "promo", "footer"}
