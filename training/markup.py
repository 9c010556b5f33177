"""An article sent as HTML or Markdown, read as the plain paragraphs the model was trained on.

Feeds (an RSS item's ``content:encoded``), CMS exports and saved pages deliver articles as HTML; web clippers
and reader tools as Markdown. Split as plain text, an HTML article on one line was one paragraph of tags (topic
micro-F1 0 on the test articles sent so), one element per line kept its tags in every paragraph, and Markdown
kept its ``#``, ``*``, images and link targets: docs/quality.md, "Twentieth pass".
Here each block of the document (an HTML paragraph, heading, list item, caption...; a Markdown paragraph,
heading or list item) becomes one paragraph of its visible text: tags, link targets, images and emphasis marks
dropped, entities decoded. Scripts, styles and the document's ``<head>`` are not text.

A whole web page also carries the site's chrome: menus, buttons, "Most read" lists, the site's header and
footer. Read as text, it was about 70 paragraphs per article in ten invented sites' pages, and the menus before
the headline took its place (headline recall 0.03, topic micro-F1 0.46). HTML says what most of it is, so the
HTML reader leaves out, by rules chosen one at a time on those pages (docs/quality.md):
- ``<nav>``, ``role="navigation"`` and ``<button>``; ``<header>`` and ``<footer>`` outside an ``<article>`` or
  ``<main>`` (the site's, not the article's);
- everything outside ``<main>``, in a page that has one (HTML's "dominant content of the body");
- a block that is nothing but links (a menu item, a list of other stories), but for an ``<h1>``.
With them, on the same pages: about 10 chrome paragraphs per article, headline recall 0.93, topic micro-F1 0.77
(0.80 on the plain test). What remained was chrome in plain ``<div>`` markup: 17-20 paragraphs per article on
thirty more sites written later. So a whole page (an ``<html>`` or ``<body>`` tag; a feed item is a fragment
and is read as above) keeps only the paragraphs that trafilatura, a maintained main-content extractor, also finds
in the article, and its headline (the first ``<h1>``, or the paragraph that is the page's title by
trafilatura's metadata): on those thirty sites topic micro-F1 0.70-0.72 -> 0.78-0.79, chrome 2-4 paragraphs per
article (docs/quality.md, "Twenty-first pass"). trafilatura alone split some pages' articles into one paragraph and
lost headlines; our reader gives the paragraphs, trafilatura says which are the article's.
The Markdown reader leaves out link-only blocks too (but a level-1 heading): a reader tool that converts the
whole page writes menus and story lists as lists of links (the same pages through markdownify: topic micro-F1
0.43 -> 0.65).

The readers are the standard library's `html.parser` and markdown-it-py (CommonMark; already installed with
rich). `detect_text_format` decides, for text sent without a format, which reader applies.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Literal, cast

import trafilatura
from markdown_it import MarkdownIt
from markdown_it.parser_block import ParserBlock
from markdown_it.rules_block import StateBlock
from trafilatura.settings import Document

from training.errors import TopicframeError

TextFormat = Literal["plain", "markdown", "html"]
TEXT_FORMATS: tuple[str, ...] = ("auto", "plain", "markdown", "html")

# Elements that start and end a block of text (HTML's block-level and sectioning elements, table rows and
# cells, list items): text on either side of one is a different paragraph.
_BLOCK_ELEMENTS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl"),
        *("dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header"),
        *("hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody"),
        *("td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
# Elements whose content is not visible text.
_HIDDEN_ELEMENTS = frozenset(
    {"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas", "select"}
)
# The page's chrome, by HTML's own semantics: navigation and controls. Never an article's text.
_CHROME_ELEMENTS = frozenset({"nav", "button"})
# The site's own header and footer: chrome outside an <article> or <main>, the article's own inside one.
_SITE_FURNITURE = frozenset({"header", "footer"})
_CONTENT_ROOTS = frozenset({"article", "main"})
# HTML, as opposed to text that mentions a tag: a block element's tag (or <br>), a document type, or the end tag
# of an inline element (a paragraph's inner HTML from a CMS: "talks in <a href=...>Geneva</a>").
_INLINE_ELEMENTS = ("a", "abbr", "b", "cite", "em", "i", "mark", "q", "s", "small", "span", "strong", "sub", "sup", "u")
# Embedded media: a paragraph that is only `<img src=...>` (a CMS's photo slot) is markup with no text, not a
# sentence to label (it was read as plain text and given a role and topics).
_EMBEDDED_ELEMENTS = frozenset({"img", "picture", "video", "audio", "source", "iframe"})
_LOOKS_LIKE_HTML = re.compile(
    r"<!doctype\s+html|</?(?:" + "|".join(sorted(_BLOCK_ELEMENTS | _EMBEDDED_ELEMENTS | {"br"})) + r")(?:\s[^<>]*)?/?>"
    r"|</(?:" + "|".join(_INLINE_ELEMENTS) + r")\s*>",
    re.IGNORECASE,
)
# Markdown, as opposed to plain text: a heading line ("# Title"), a link or image ("[text](target)"), strong
# emphasis ("**text**"), or a whole line in emphasis ("*Photo: Reuters*", as converters write captions). A
# hashtag ("#MeToo") has no space after its mark; a press release's end mark ("### End of release ###") ends with
# its hashes, as Markdown's own headings rarely do; a bullet ("- item") is plain too.
_LOOKS_LIKE_MARKDOWN = re.compile(
    r"^ {0,3}#{1,6}[ \t]+\S(?:.*[^#\s])?[ \t]*$"  # a heading
    # A link or an image: "[text](target". Neither part may hold a bracket or run on without bound, so a scan
    # from one "[" stops where the next could start: linear time on any text (a 2 MB body of "[[[..." or
    # "[a](" repeated took minutes with open-ended classes).
    r"|!?\[[^\[\]\n]{1,500}\]\([^()\[\]\s]{1,2000}[)\s]"
    r"|\*\*[^*\s][^*\n]*\*\*"  # strong emphasis
    r"|^[ \t]*([*_])[^\s*_](?:[^\n]*[^\s*_])?\1[ \t]*$",  # a line in emphasis: "*Photo: Reuters*"
    re.MULTILINE,
)
# A page with a <main> element: HTML's "dominant content of the body"; the rest is the site's.
_HAS_MAIN = re.compile(r"<main[\s>]", re.IGNORECASE)
# A whole web page, as opposed to a fragment (a feed item, a CMS export of the article alone).
_WHOLE_PAGE = re.compile(r"<(?:html|body)[\s>]", re.IGNORECASE)
# trafilatura takes 0.06-0.11 ms a tag (a test page has ~300 tags: 8-11 ms; 30,000 tags: 3.4 s). Past this many,
# a page is read by the rules alone, so that a 2 MB body of tags costs a worker about what the rules cost (1.4 s
# a MB), not 15 s more.
MAX_TAGS_FOR_MAIN_TEXT = 20_000
_BLANK_LINE = re.compile(r"\n\s*\n")
# One parser for every call: building one costs more than parsing an article (0.3 ms), and parse() keeps its
# state per call. Imported here, not on first use, so the service's background import of training.classify
# pays the ~50 ms, not a request.
_COMMONMARK = MarkdownIt("commonmark")
_SPACES = re.compile(r"\s+")


class MarkdownTooDeep(TopicframeError):
    """Markdown nested deeper than markdown-it reads: it would drop the rest of that block without a word."""


class _CheckedBlockParser(ParserBlock):
    """markdown-it's block parser, but one that says when it would skip text: past ``maxNesting`` (20) levels of
    lists and quotes inside each other it drops the rest of the block silently (ten nested list items were
    enough to lose the article's last paragraphs)."""

    def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:
        # The same test markdown-it makes first in its loop; the levels it reaches later come back to this one.
        if state.level >= state.md.options.maxNesting:
            line = state.skipEmptyLines(startLine)
            if line < endLine and state.sCount[line] >= state.blkIndent:
                raise MarkdownTooDeep(
                    f"Markdown nested more than {state.md.options.maxNesting} levels deep (lists or quotes inside "
                    f"each other) at line {line + 1}: its text there cannot be read; send it as plain text"
                )
        super().tokenize(state, startLine, endLine)


_checked = _CheckedBlockParser()
_checked.ruler = _COMMONMARK.block.ruler  # the commonmark preset's rules, as configured
_COMMONMARK.block = _checked


def detect_text_format(text: str) -> TextFormat:
    """``html`` when the text has an HTML block tag, else ``markdown`` when it has Markdown's headings, links
    or strong emphasis, else ``plain``. Checked on the corpus: none of its articles is read as either."""
    if _LOOKS_LIKE_HTML.search(text):
        return "html"
    if _LOOKS_LIKE_MARKDOWN.search(text):
        return "markdown"
    return "plain"


def resolve_text_format(text: str, text_format: str = "auto") -> TextFormat:
    """``text_format`` itself, or for ``auto`` the one `detect_text_format` finds; ValueError for another name."""
    if text_format == "auto":
        return detect_text_format(text)
    if text_format not in ("plain", "markdown", "html"):
        raise ValueError(f"text_format {text_format!r}: expected one of {', '.join(TEXT_FORMATS)}")
    return cast(TextFormat, text_format)


# A letter or a digit of any script (Python's \w without the underscore is str.isalnum).
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def has_text(paragraph: str) -> bool:
    """Whether a paragraph has anything to classify: a letter or a digit. White space, punctuation, control
    characters and section breaks (``* * *``, ``###``) have not. The one rule every consumer applies: the
    service refuses such a paragraph (422), an article's split leaves it out, batch rejects its row and the
    pyfunc refuses the frame."""
    return _LETTER_OR_DIGIT.search(paragraph) is not None


def paragraph_text(paragraph: str, text_format: str = "auto") -> str:
    """One paragraph sent with its markup (a CMS export's ``<p>`` with links, a Markdown line with emphasis),
    read as its visible text: its blocks, if it has several, on lines of their own; plain text as it is. Empty
    when the markup has no text. Sent as text, such paragraphs lost half their roles (bench, docs/quality.md)."""
    chosen = resolve_text_format(paragraph, text_format)
    if chosen == "plain":
        return paragraph
    # A paragraph sent alone is one the user wants labelled, even when it is nothing but a link (a promo) or
    # sits in a <footer>: the chrome rules, which choose an article's paragraphs from a page, do not apply.
    if chosen == "html":
        return "\n".join(html_paragraphs(paragraph, leave_out_chrome=False))
    return "\n".join(markdown_blocks(paragraph, leave_out_chrome=False))


def html_paragraphs(text: str, leave_out_chrome: bool = True) -> list[str]:
    """One paragraph per block of the document's visible text, the page's chrome left out (see the module's
    docstring; ``leave_out_chrome=False`` keeps everything visible); ``<br>`` is a line break, two in a row a
    paragraph break (how feeds without ``<p>`` separate paragraphs). Malformed HTML is read as far as it goes."""
    reader = _HtmlBlocks(
        chrome_rules=leave_out_chrome, main_only=leave_out_chrome and _HAS_MAIN.search(text) is not None
    )
    reader.feed(text)
    reader.finish()
    paragraphs = reader.paragraphs()
    if leave_out_chrome and _WHOLE_PAGE.search(text) and text.count("<") <= MAX_TAGS_FOR_MAIN_TEXT:
        return _article_only(text, paragraphs, reader.first_h1)
    return paragraphs


def _article_only(page: str, paragraphs: list[str], first_h1: str | None) -> list[str]:
    """The page's paragraphs that trafilatura also finds in its main text, and the headline, which it takes out
    of the text: the first ``<h1>``, and the paragraph that is the title trafilatura reads from the page's
    metadata (a headline in a ``<div>`` or an ``<h2>``). All of them when it finds nothing or keeps none (a page
    too short or too odd for it): the rules above still apply."""
    try:
        # One call gives both the main text and the title (extract() then extract_metadata() parsed the page
        # twice): a whole page read in 10.3 ms instead of 11.1, the same paragraphs kept on 760 rendered pages.
        document = trafilatura.bare_extraction(page, include_comments=False, with_metadata=True)
    except Exception:  # a third-party parser's failure on hostile markup must not fail the request
        document = None
    if not isinstance(document, Document) or not document.text:
        return paragraphs
    main_text = _collapse(document.text)
    collapsed = [_collapse(p) for p in paragraphs]
    kept = [text in main_text or text == first_h1 for text in collapsed]
    if not any(kept):
        return paragraphs
    title = _collapse(document.title) if document.title else None
    return [p for p, text, keep in zip(paragraphs, collapsed, kept, strict=True) if keep or text == title]


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def markdown_blocks(text: str, one_per_line: bool = False, leave_out_chrome: bool = True) -> list[str]:
    """The visible text of each Markdown paragraph, heading, list item and code block, in order (a soft line
    break stays a newline), but for blocks that are nothing but links (with ``one_per_line``, for text whose
    lines are its paragraphs, lines that are nothing but links); HTML inside the Markdown is read as HTML."""
    blocks: list[str] = []
    opened = ""  # the tag of the block the next inline token belongs to
    for token in _COMMONMARK.parse(text):
        if token.nesting == 1:
            opened = token.tag
        if token.type == "inline":
            lines = _inline_lines(token.children or [])
            texts = [line for line, _ in lines]
            if opened != "h1" and leave_out_chrome:  # as in HTML: link-only text is navigation, but for the headline
                kept = [line for line, only_links in lines if not only_links]
                if one_per_line or not any(line.strip() for line in kept):  # per line, or the whole block
                    texts = kept
            blocks.append("\n".join(texts))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content)
        elif token.type == "html_block":
            blocks.extend(html_paragraphs(token.content, leave_out_chrome))
    return [block for block in map(_tidy_lines, blocks) if block]


def _inline_lines(children: list) -> list[tuple[str, bool]]:
    """An inline token's lines (split at its line breaks) with, for each, whether all its visible text is
    link text. Text and code spans are kept; link targets, images and emphasis marks dropped."""
    lines: list[tuple[str, bool]] = []
    parts: list[str] = []
    depth = inside = outside = 0
    for child in [*children, None]:  # None ends the last line
        is_break = (
            child is None
            or child.type in ("softbreak", "hardbreak")
            or (child.type == "html_inline" and re.fullmatch(r"<br\s*/?>", child.content, re.IGNORECASE))
        )
        if is_break:
            lines.append(("".join(parts), inside > 0 and outside == 0))
            parts, inside, outside = [], 0, 0
        elif child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth -= 1
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
            visible = len(child.content.strip())
            inside, outside = (inside + visible, outside) if depth else (inside, outside + visible)
    return lines


def _tidy_lines(text: str) -> str:
    """Each line stripped, empty lines dropped (an image between two lines leaves one)."""
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


class _HtmlBlocks(HTMLParser):
    """Collects visible text, breaking at block elements; whitespace collapsed as a browser does (but in
    ``<pre>``). Hidden content (a script, the page's navigation) is skipped up to its element's matching end tag."""

    def __init__(self, chrome_rules: bool = True, main_only: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self._chrome_rules = chrome_rules  # leave out navigation, buttons, the site's furniture, link-only blocks
        self._main_only = main_only  # read only inside <main>
        self._in_main = 0
        self._in_link = 0
        self._block_tag = ""  # the element whose start began the current block
        self._chars = self._link_chars = 0  # the current block's visible characters, and those inside links
        self._blocks: list[str] = []
        self._current: list[str] = []
        self._hidden_by: str | None = None  # the tag of the outermost open element whose content is skipped
        self._hidden_depth = 0  # how many elements with that tag are open inside it, itself included
        self._in_pre = 0
        self._in_content_root = 0  # open <article> and <main> elements
        self.first_h1: str | None = None  # the first <h1> read, white space collapsed: the headline

    def _hides(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _HIDDEN_ELEMENTS:
            return True
        if not self._chrome_rules:
            return False
        if tag in _CHROME_ELEMENTS or ("role", "navigation") in attrs:
            return True
        return tag in _SITE_FURNITURE and not self._in_content_root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden_by is not None:
            if tag == self._hidden_by:
                self._hidden_depth += 1
            elif tag == "body" and self._hidden_by == "head":  # a <head> left open ends here
                self._hidden_by, self._hidden_depth = None, 0
            return
        if self._hides(tag, attrs):
            self._end_block()
            self._hidden_by, self._hidden_depth = tag, 1
        elif tag == "br":
            self._current.append("\n")
        elif tag == "a":
            self._in_link += 1
        elif tag in _BLOCK_ELEMENTS or tag in _CONTENT_ROOTS:
            self._end_block()
            self._block_tag = tag
            self._in_pre += tag == "pre"
            self._in_content_root += tag in _CONTENT_ROOTS
            self._in_main += tag == "main"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden_by is not None:
            return
        if tag == "br":
            self._current.append("\n")
        elif tag in _BLOCK_ELEMENTS:  # <hr/>, <div/>
            self._end_block()

    def handle_endtag(self, tag: str) -> None:
        if self._hidden_by is not None:
            if tag == self._hidden_by:
                self._hidden_depth -= 1
                if self._hidden_depth == 0:
                    self._hidden_by = None
            return
        if tag == "a":
            self._in_link -= self._in_link > 0
        elif tag in _BLOCK_ELEMENTS or tag in _CONTENT_ROOTS:
            self._end_block()
            self._block_tag = ""  # text after it belongs to an enclosing block (not tracked): not an <h1>
            self._in_pre -= tag == "pre" and self._in_pre > 0
            self._in_content_root -= tag in _CONTENT_ROOTS and self._in_content_root > 0
            self._in_main -= tag == "main" and self._in_main > 0

    def handle_data(self, data: str) -> None:
        if self._hidden_by is not None or (self._main_only and not self._in_main):
            return
        self._current.append(data if self._in_pre else _SPACES.sub(" ", data))
        visible = len(data.strip())
        self._chars += visible
        self._link_chars += visible if self._in_link else 0

    def finish(self) -> None:
        """What `close` does, but for a construct still open at the end (a tag, a comment), which is dropped as
        a browser drops it. `close` parses every such construct again to the end of the text: quadratic time
        before Python 3.11.13 (CVE-2025-6069), 12 s for 40 KB of "<a " on this Python. Text held back because
        it ended in a character reference is text."""
        tail, self.rawdata = self.rawdata, ""
        if tail and not tail.startswith("<"):
            self.handle_data(html.unescape(tail))

    def _end_block(self) -> None:
        # A block that is nothing but links (a menu item, a "Most read" entry, a related-story link) is the
        # page's navigation, not its text (link density 1: the boilerplate cue of jusText and readability);
        # but for an <h1>, a headline linked to its own page.
        only_links = self._chars > 0 and self._link_chars == self._chars and self._block_tag != "h1"
        only_links = only_links and self._chrome_rules
        if self._current and not only_links:
            self._blocks.append("".join(self._current))
            if self._block_tag == "h1" and self.first_h1 is None:
                self.first_h1 = _collapse(self._blocks[-1]) or None
        self._current = []
        self._chars = self._link_chars = 0

    def paragraphs(self) -> list[str]:
        self._end_block()
        # Two line breaks in a row (<br><br>) separate paragraphs within a block.
        pieces = (piece for block in self._blocks for piece in _BLANK_LINE.split(block))
        return [paragraph for paragraph in map(_tidy_lines, pieces) if paragraph]
