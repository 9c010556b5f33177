"""An article sent as HTML or Markdown, read as the plain paragraphs the model was trained on.

Feeds (an RSS item's ``content:encoded``), CMS exports and saved pages deliver articles as HTML; web clippers
and reader tools as Markdown. Split as plain text, an HTML article on one line was one paragraph of tags, and
one element per line kept its tags in every paragraph (role accuracy 0.51 on the test articles); Markdown kept
its ``#``, ``*`` and link targets (role accuracy 0.93 against 0.97 plain): docs/quality.md, "Twentieth pass".
Here each block of the document (an HTML paragraph, heading, list item, caption...; a Markdown paragraph,
heading or list item) becomes one paragraph of its visible text: tags, link targets, images and emphasis marks
dropped, entities decoded. Scripts, styles and the document's ``<head>`` are not text.

The readers are the standard library's `html.parser` and markdown-it-py (CommonMark; already installed with
rich). `detect_text_format` decides, for text sent without a format, which reader applies.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Literal

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
# HTML, as opposed to text that mentions a tag: a block element's tag (or <br>) or a document type.
_LOOKS_LIKE_HTML = re.compile(
    r"<!doctype\s+html|</?(?:" + "|".join(sorted(_BLOCK_ELEMENTS | {"br"})) + r")(?:\s[^<>]*)?/?>", re.IGNORECASE
)
# Markdown, as opposed to plain text: a heading line ("# Title"), a link or image ("[text](target)"), or strong
# emphasis ("**text**"). A hashtag ("#MeToo") has no space after its mark; a press release's end mark
# ("### End of release ###") ends with its hashes, as Markdown's own headings rarely do; a bullet ("- item") is
# plain too.
_LOOKS_LIKE_MARKDOWN = re.compile(
    r"^ {0,3}#{1,6}[ \t]+\S(?:.*[^#\s])?[ \t]*$"  # a heading
    r"|!?\[[^\]\n]+\]\([^)\s]+(?:\s+\"[^\"\n]*\")?\)"  # a link or an image, with an optional title
    r"|\*\*[^*\s][^*\n]*\*\*",  # strong emphasis
    re.MULTILINE,
)
_BLANK_LINE = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"\s+")


def detect_text_format(text: str) -> TextFormat:
    """``html`` when the text has an HTML block tag, else ``markdown`` when it has Markdown's headings, links
    or strong emphasis, else ``plain``. Checked on the corpus: none of its articles is read as either."""
    if _LOOKS_LIKE_HTML.search(text):
        return "html"
    if _LOOKS_LIKE_MARKDOWN.search(text):
        return "markdown"
    return "plain"


def html_paragraphs(text: str) -> list[str]:
    """One paragraph per block of the document's visible text; ``<br>`` is a line break, two in a row a
    paragraph break (how feeds without ``<p>`` separate paragraphs). Malformed HTML is read as far as it goes."""
    reader = _HtmlBlocks()
    reader.feed(text)
    reader.close()
    return reader.paragraphs()


def markdown_blocks(text: str) -> list[str]:
    """The visible text of each Markdown paragraph, heading, list item and code block, in order (a soft line
    break stays a newline); HTML inside the Markdown is read as HTML."""
    from markdown_it import MarkdownIt

    blocks: list[str] = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "inline":
            blocks.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content)
        elif token.type == "html_block":
            blocks.extend(html_paragraphs(token.content))
    return [block for block in map(_tidy_lines, blocks) if block]


def _inline_text(children: list) -> str:
    """Text and code spans, with line breaks as newlines; link targets, images and emphasis marks dropped."""
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak") or (
            child.type == "html_inline" and re.fullmatch(r"<br\s*/?>", child.content, re.IGNORECASE)
        ):
            parts.append("\n")
    return "".join(parts)


def _tidy_lines(text: str) -> str:
    """Each line stripped, empty lines dropped (an image between two lines leaves one)."""
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


class _HtmlBlocks(HTMLParser):
    """Collects visible text, breaking at block elements; whitespace collapsed as a browser does (but in
    ``<pre>``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._blocks: list[str] = []
        self._current: list[str] = []
        self._hidden: list[str] = []  # the open hidden elements, innermost last
        self._in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_ELEMENTS:
            self._hidden.append(tag)
        elif tag == "body":  # a <head> left open ends here
            self._hidden.clear()
            self._end_block()
        elif tag == "br":
            self._current.append("\n")
        elif tag in _BLOCK_ELEMENTS:
            self._end_block()
            self._in_pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._current.append("\n")
        elif tag in _BLOCK_ELEMENTS:  # <hr/>, <div/>
            self._end_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_ELEMENTS:
            if tag in self._hidden:  # close it and anything left open inside it
                del self._hidden[self._hidden.index(tag) :]
        elif tag in _BLOCK_ELEMENTS:
            self._end_block()
            self._in_pre -= tag == "pre" and self._in_pre > 0

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self._current.append(data if self._in_pre else _SPACES.sub(" ", data))

    def _end_block(self) -> None:
        if self._current:
            self._blocks.append("".join(self._current))
            self._current = []

    def paragraphs(self) -> list[str]:
        self._end_block()
        # Two line breaks in a row (<br><br>) separate paragraphs within a block.
        pieces = (piece for block in self._blocks for piece in _BLANK_LINE.split(block))
        return [paragraph for paragraph in map(_tidy_lines, pieces) if paragraph]
