"""An article sent as HTML or Markdown becomes the paragraphs of its visible text (`training.markup`)."""

from __future__ import annotations

import csv
import time
from itertools import groupby

import pytest
import trafilatura

from tests.conftest import LABELS
from training.classify import split_paragraphs
from training.markup import (
    MAX_TAGS_FOR_MAIN_TEXT,
    detect_text_format,
    has_text,
    html_paragraphs,
    markdown_blocks,
    paragraph_text,
)

ARTICLE = [
    "US and China agree to resume trade talks",
    "By Jane Smith, Staff Reporter\njane.smith@example-ledger.com",
    "Negotiators met in Geneva & agreed to resume talks on tariffs — and on “purchase targets”.",
    "Photo: Reuters",
    "Read more: Beijing’s answer to the chip curbs",
]


def test_html_is_one_paragraph_per_block_of_visible_text() -> None:
    # The reader's own rules, on markup without <html> or <body> around it (a whole page also goes through
    # trafilatura's main text: the tests after these).
    page = """<head><title>US and China agree</title><script>var section = "world";</script>
<style>p { margin: 0 }</style></head>
<header class="site"><a href="/">The Daily Ledger</a> <span>Tuesday 1 December</span></header>
<article>
  <header><h1>US and China agree to resume trade talks</h1>
  <p class="byline"><span>By Jane Smith, Staff Reporter</span><br>jane.smith@example-ledger.com</p></header>
  <div class="share"><button aria-label="Share">Share</button></div>
  <p>Negotiators met in <a href="/geneva">Geneva</a> &amp; agreed to resume talks on tariffs &#8212; and on
     &ldquo;purchase targets&rdquo;.</p>
  <figure><img src="a.jpg" alt="The talks"><figcaption>Photo:&nbsp;Reuters</figcaption></figure>
  <p>Read more: Beijing&#8217;s answer to the chip curbs</p>
  <footer><p>This article first appeared on the Daily Ledger.</p></footer>
</article><noscript>Enable JavaScript</noscript>
<footer class="site"><p>Copyright 2026 The Daily Ledger</p></footer>"""
    # The site's header and footer (outside <article>) and the share button are chrome; the article's own
    # header and footer are its text.
    assert split_paragraphs(page) == [*ARTICLE, "This article first appeared on the Daily Ledger."]


def test_navigation_link_lists_and_the_rest_outside_main_are_not_text() -> None:
    page = """<div class="top">Tuesday 1 December · Weather 14°C</div>
<nav><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li></ul></nav>
<div role="navigation"><div><a href="/a">Sport</a></div><div>Menu <div>Opinion</div></div></div>
<main>
  <h1><a href="/story">Talks resume in Geneva</a></h1>
  <p>Envoys met on Tuesday, <a href="/x">officials said</a>.</p>
  <ul class="most-read"><li><a href="/1">Floods close the port</a></li><li><a href="/2">Chip curbs bite</a></li></ul>
  <div class="related"><a href="/3"><span>Read more:</span> <strong>Beijing answers</strong></a></div>
</main>
<aside>Advertisement</aside>"""
    # Outside <main> nothing is read; blocks that are nothing but links are navigation, but for a linked <h1>.
    assert split_paragraphs(page) == ["Talks resume in Geneva", "Envoys met on Tuesday, officials said."]
    without_main = page.replace("<main>", "<div>").replace("</main>", "</div>")
    assert split_paragraphs(without_main) == [
        "Tuesday 1 December · Weather 14°C",
        "Talks resume in Geneva",
        "Envoys met on Tuesday, officials said.",
        "Advertisement",
    ]


def held_out_article() -> tuple[str, list[str]]:
    """The first test article with a headline and at least six body paragraphs: its headline and bodies."""
    with (LABELS / "paragraphs_test.csv").open(newline="", encoding="utf-8") as f:
        for _, group in groupby(csv.DictReader(f), key=lambda r: r["article_id"]):
            rows = list(group)
            bodies = [r["text"] for r in rows if r["role"] == "body" and "\n" not in r["text"]]
            headlines = [r["text"] for r in rows if r["role"] == "headline"]
            if headlines and len(bodies) >= 6:
                return headlines[0], bodies
    raise AssertionError("no such article")


# Chrome in plain <div>s, as most sites write it: nothing in HTML says it is not the article.
DIV_CHROME = [
    '<div class="ad"><div class="ad-label">Advertisement</div><div class="ad-slot"></div></div>',
    '<div class="newsletter"><div class="nl-title">The Morning Briefing</div>'
    "<div>Get the day's essential stories in your inbox before 7am, free.</div></div>",
    '<div class="rel"><div class="rel-hd">Related</div><div><a href="/1">Port strike enters second week</a>'
    "</div><div>3 min read · 214 comments</div></div>",
]


@pytest.mark.parametrize("headline_element", ["h1", "div"])
def test_a_whole_page_keeps_the_articles_paragraphs_and_headline_and_drops_div_chrome(headline_element: str) -> None:
    # The headline in an <h1>, or in a <div> that only the page's <title> says is the headline.
    headline, bodies = held_out_article()
    title = f'<{headline_element} class="headline">{headline}</{headline_element}>'
    blocks = [f'<div class="hl">{title}</div>', '<div class="meta">12 March 2024 · 6 min read</div>']
    for k, body in enumerate(bodies):
        blocks.append(f'<div class="txt">{body.replace("&", "&amp;")}</div>')
        if k in (1, 3, 4):
            blocks.append(DIV_CHROME[k % 3])
    article = "\n".join(blocks)
    page = (
        f"<!DOCTYPE html><html><head><title>{headline} | The Ledger</title></head><body>"
        '<div class="top"><div class="logo">The Ledger</div><div>Tuesday 12 March 2024 · Weather 14°C</div></div>'
        f'<div id="content">{article}</div>'
        '<div class="foot"><div>© 2024 The Ledger Media Group. All rights reserved.</div></div></body></html>'
    )
    assert split_paragraphs(page) == [headline, *bodies]
    # Read without the page around it (a fragment, as a feed item), the same markup keeps every block: the rules
    # alone cannot tell <div> chrome from the article.
    fragment = split_paragraphs(article)
    assert fragment[:2] == [headline, "12 March 2024 · 6 min read"] and "The Morning Briefing" in fragment


def test_a_headline_that_is_not_an_h1_is_kept_by_the_pages_title(monkeypatch: pytest.MonkeyPatch) -> None:
    # trafilatura takes the headline out of its main text; an <h2> headline is kept because the page's title
    # (read by trafilatura from <title>, og:title...) is its text. A site's <h2> that is not the title goes.
    page = (
        "<html><head><title>Ports reopen after strike | The Ledger</title></head><body>"
        '<h2 class="title">Ports reopen after strike</h2><h2>Most read</h2>'
        "<p>Dockers returned to work on Monday after a week-long strike over pay.</p></body></html>"
    )
    real_extraction = trafilatura.bare_extraction

    def extraction(page: str, **options: object) -> object:  # trafilatura's title, a main text without headline
        document = real_extraction(page, **options)
        document.text = "Dockers returned to work on Monday after a week-long strike over pay."
        return document

    monkeypatch.setattr("training.markup.trafilatura.bare_extraction", extraction)
    assert split_paragraphs(page) == [
        "Ports reopen after strike",
        "Dockers returned to work on Monday after a week-long strike over pay.",
    ]


def test_a_page_of_too_many_tags_is_read_by_the_rules_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 MB of tags: trafilatura would take ~8 s of a worker; the rules alone ~1.5 s.
    calls: list[int] = []
    monkeypatch.setattr("training.markup.trafilatura.bare_extraction", lambda page, **options: calls.append(len(page)))
    small = "<html><body>" + "<p>x</p>" * 100
    split_paragraphs(small)
    assert calls == [len(small)]
    page = "<html><body>" + "<p>x</p>" * (MAX_TAGS_FOR_MAIN_TEXT // 2)
    assert page.count("<") > MAX_TAGS_FOR_MAIN_TEXT
    assert len(split_paragraphs(page)) == MAX_TAGS_FOR_MAIN_TEXT // 2 and calls == [len(small)]


@pytest.mark.parametrize("failure", ["finds nothing", "raises"])
def test_a_whole_page_is_read_by_the_rules_alone_when_trafilatura_fails(
    monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    def extraction(*args: object, **kwargs: object) -> None:
        if failure == "raises":
            raise ValueError("document is empty")
        return None

    monkeypatch.setattr("training.markup.trafilatura.bare_extraction", extraction)
    page = "<html><body><h1>Talks resume</h1><div>Envoys met.</div><div>Advertisement</div></body></html>"
    assert split_paragraphs(page) == ["Talks resume", "Envoys met.", "Advertisement"]


def test_a_feed_item_on_one_line_and_one_with_line_breaks_between_paragraphs() -> None:
    one_line = "".join(f"<p>{p.replace('&', '&amp;').replace(chr(10), '<br/>')}</p>" for p in ARTICLE)
    assert split_paragraphs(one_line) == ARTICLE
    # Feeds without <p> separate paragraphs with two line breaks; one keeps a line break inside a paragraph.
    assert html_paragraphs("<b>Talks resume</b><br><br>Envoys met,<br>\n saying so. <br /> <br/>Done.") == [
        "Talks resume",
        "Envoys met,\nsaying so.",
        "Done.",
    ]


def test_malformed_html_is_read_as_far_as_it_goes() -> None:
    assert html_paragraphs("<div><p>Talks resumed<p>Envoys met</div></span><p>Unclosed <b>bold") == [
        "Talks resumed",
        "Envoys met",
        "Unclosed bold",
    ]
    assert html_paragraphs("<head><title>Page</title><body><p>Text after a head left open</p>") == [
        "Text after a head left open"
    ]
    assert html_paragraphs("<script>only code</script>") == []


def test_markdown_is_one_paragraph_per_block_without_its_marks() -> None:
    text = (
        "# US and China agree to resume trade talks\n\n"
        "*By Jane Smith, Staff Reporter*  \n*jane.smith@example-ledger.com*\n\n"
        "Negotiators met in [Geneva](https://example.com/geneva) & agreed to resume talks on tariffs — and on "
        "“purchase targets”.\n\n"
        "![The talks](https://img.example.com/1.jpg)\n\n"
        "_Photo: Reuters_\n\n"
        "Read more: [Beijing’s answer to the chip curbs](https://example.com/chips)\n\n"
        "- [World](https://example.com/world)\n- [Business](https://example.com/business)\n"  # a menu: only links
    )
    assert split_paragraphs(text) == ARTICLE
    # A reader tool's output with no blank line: one paragraph per line, within each block.
    assert split_paragraphs(text.replace("\n\n", "\n")) == [
        ARTICLE[0],
        "By Jane Smith, Staff Reporter",
        "jane.smith@example-ledger.com",
        *ARTICLE[2:],
    ]
    # There a line of nothing but links is left out, as a block of nothing but links is.
    lines = "# Talks resume\nEnvoys met in [Geneva](https://x.example).\n[Full report](https://y.example)\nTalks ended."
    assert split_paragraphs(lines) == ["Talks resume", "Envoys met in Geneva.", "Talks ended."]


def test_markdown_escapes_code_and_html_inside() -> None:
    assert markdown_blocks("1\\. Not a list, \\*not emphasis\\*, `code_span`\n\n<p>An HTML block</p>\n") == [
        "1. Not a list, *not emphasis*, code_span",
        "An HTML block",
    ]
    # As in HTML: a block of nothing but links is navigation, but for the headline.
    assert markdown_blocks("# [Talks resume](https://x.example)\n\n[Sport](https://y.example) [Video](/v)") == [
        "Talks resume"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Talks resumed.\n\nEnvoys met.", "plain"),
        ("### End of release ###", "plain"),  # a press release's end mark, not a heading
        ("#MeToo marches in Seoul", "plain"),
        ("- a bullet\n- another", "plain"),
        ("Prices rose 3 < 5 percent, officials said", "plain"),
        ("# Talks resume\n\nEnvoys met.", "markdown"),
        ("Envoys met [in Geneva](https://example.com).", "markdown"),
        ("**Updated** Envoys met.", "markdown"),
        ("Envoys met.\n\n*Photo: Reuters*", "markdown"),
        ("_Correction: an earlier version misstated the date._", "markdown"),
        ("Prices rose 5*3 percent, a *rough* guess", "plain"),
        ("<p>Envoys met.</p>", "html"),
        ("Envoys met.<br>Talks resumed.", "html"),
        ("<!doctype html><title>x</title>", "html"),
    ],
)
def test_the_format_of_text_sent_without_one(text: str, expected: str) -> None:
    assert detect_text_format(text) == expected


def test_no_corpus_article_or_paragraph_is_read_as_markup() -> None:
    # Plain text must split exactly as it did before the readers existed.
    for path in (LABELS / "paragraphs.csv", LABELS / "paragraphs_test.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["id"] for r in rows if detect_text_format(r["text"]) != "plain"] == []
        for _, article in groupby(rows, key=lambda r: r["article_id"]):
            text = "\n\n".join(r["text"] for r in article)
            assert detect_text_format(text) == "plain"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of auto, plain, markdown, html"):
        split_paragraphs("text", "rtf")


def test_a_construct_left_open_at_the_end_is_dropped_in_linear_time() -> None:
    # A browser drops a tag or comment still open at the end of the page; text ending in an entity is text.
    assert html_paragraphs("<p>Text</p><p>More <a href='x") == ["Text", "More"]
    assert html_paragraphs("<p>a</p><!-- left open <p>b</p>") == ["a"]
    assert html_paragraphs("<p>Fish &amp chips &amp") == ["Fish & chips &"]
    # Hostile text must not hang a worker: HTMLParser.close() reparses each open construct to the end (quadratic
    # before Python 3.11.13: 200 KB of "<a " took minutes). Not a benchmark: linear takes ~0.1 s, the bound is 100x.
    started = time.perf_counter()
    for unit in ("<a ", "<!-- x >", "<p a='", "<a\n"):
        html_paragraphs(unit * (200_000 // len(unit)))
        detect_text_format("[" * 200_000 + "[a](" * 50_000)
        detect_text_format("*a " * 70_000 + "\n_" * 100_000)
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("media", ['<img src="x.png">', "<img src=x.png alt='Photo'/>", '<video src="a.mp4"></video>'])
def test_a_paragraph_that_is_only_embedded_media_has_no_text(media: str) -> None:
    """A CMS's photo slot sent as a paragraph was read as plain text and given a role and topics."""
    assert detect_text_format(media) == "html"
    assert paragraph_text(media) == "" and not has_text(paragraph_text(media))
