"""Paragraphs from the files the commands read: `classify`'s article and `suggest`'s pool.

`read_utf8` and `jsonl_records` read the files of both, so a bad file or line reads the same wherever
it is refused: ``file:line: what is wrong``. Only the standard library is imported at the top.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.errors import TopicframeError


def read_utf8(path: Path) -> str:
    """The text of ``path`` as it is (no newline translation); missing or not UTF-8 is one clear error. A pipe
    is read like a file (a shell's ``<(command)`` is ``/dev/fd/N``, which is not a regular file)."""
    if not path.exists():
        raise TopicframeError(f"{path}: file not found")
    if path.is_dir():
        raise TopicframeError(f"{path}: is a directory, not a file")
    return decode_utf8(path.read_bytes(), str(path))


def decode_utf8(raw: bytes, name: str) -> str:
    """``raw`` decoded; invalid bytes are reported at their line of ``name``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TopicframeError(f"{name}:{line}: not valid UTF-8") from None


def jsonl_records(content: str, name: str, text_field: str = "text") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for each non-blank line of ``content``, a JSONL file called ``name``.

    Every record must be a JSON object with a string ``text_field``; whether an empty one is an error is
    the caller's rule (an article to classify has no empty paragraph; a pool row may be empty).
    """
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TopicframeError(f"{name}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
            raise TopicframeError(f"{name}:{number}: expected an object with a string field '{text_field}'")
        yield number, record


# A file's suffix -> its input format; with any other suffix (.txt), stdin or no suffix the text is read as
# HTML or Markdown when it looks like it (`training.markup`), else as plain text.
FORMAT_OF_SUFFIX = {"md": "md", "markdown": "md", "html": "html", "htm": "html", "jsonl": "jsonl", "csv": "csv"}
INPUT_FORMATS = ("txt", "md", "html", "jsonl", "csv")


def read_paragraphs(file: Path, input_format: str | None = None) -> tuple[list[str], list[str] | None, str | None]:
    """Paragraphs (and their ids, when the input has them) from a text, Markdown, HTML, .jsonl or .csv file or
    ``-`` (stdin), and how an article's text was read (``plain``, ``markdown`` or ``html``; None for records).

    The format comes from ``input_format``, else the suffix (.md/.markdown, .html/.htm, .jsonl, .csv); stdin is
    JSONL when it starts with ``{``. Other text is read as HTML or Markdown when it looks like it
    (`detect_text_format`); ``--input-format txt`` reads it as plain text. JSONL records and CSV rows are one
    paragraph each, read as its visible text when it is HTML or Markdown, and may carry an ``id``, echoed in the
    output.
    """
    from training.classify import split_paragraphs
    from training.markup import MarkdownTooDeep, resolve_text_format

    name = "<stdin>" if str(file) == "-" else str(file)
    content = decode_utf8(sys.stdin.buffer.read(), name) if name == "<stdin>" else read_utf8(file)
    suffix = file.suffix.lstrip(".").lower() if name != "<stdin>" else ""
    kind = input_format or FORMAT_OF_SUFFIX.get(suffix, "auto")
    if kind == "auto" and name == "<stdin>" and content.lstrip().startswith("{"):
        kind = "jsonl"
    texts: list[str] = []
    ids: list[str] = []
    text_format = None
    if kind == "jsonl":
        for number, record in jsonl_records(content, name):
            texts.append(_record_text(record["text"], f"{name}:{number}"))
            ids.append(str(record.get("id", "")))
    elif kind == "csv":
        texts, ids = _csv_paragraphs(content, name)
    else:
        text_format = resolve_text_format(content, {"txt": "plain", "md": "markdown", "html": "html"}.get(kind, "auto"))
        try:
            texts = split_paragraphs(content, text_format)
        except MarkdownTooDeep as err:
            raise TopicframeError(f"{name}: {err}") from None
    if not texts:
        markup = text_format in ("html", "markdown")
        left_out = f" (read as {text_format}: tags, images, navigation and link-only blocks are left out)"
        raise TopicframeError(f"{name}: no paragraphs found{left_out if markup else ''}")
    return texts, (ids if any(ids) else None), text_format


def _record_text(text: str, where: str) -> str:
    """A record's paragraph, read as its visible text when it is HTML or Markdown (a CMS's paragraph markup),
    as the service reads `paragraphs`; an empty one, or markup with no text, is refused."""
    from training.markup import MarkdownTooDeep, paragraph_text

    if not text.strip():
        raise TopicframeError(f"{where}: empty text")
    try:
        paragraph = paragraph_text(text)
    except MarkdownTooDeep as err:
        raise TopicframeError(f"{where}: {err}") from None
    if not paragraph.strip():
        raise TopicframeError(f"{where}: no text once its markup is left out (tags, images and scripts)")
    return paragraph


def csv_problem(exc: Exception) -> str:
    """The csv module's words for a quote left open, said as a reader would."""
    said = str(exc)
    return "a quoted field is not closed before the end of the file" if "unexpected end of data" in said else said


def csv_header(reader: Any, name: str) -> list[str]:
    """A ``csv.DictReader``'s column names, or a `name:1` error when the header itself cannot be read (a quote
    left open in it reads the whole file as the header)."""
    import csv

    try:
        return list(reader.fieldnames or [])
    except csv.Error as exc:
        raise TopicframeError(f"{name}:1: unreadable CSV header ({csv_problem(exc)})") from None


def _csv_paragraphs(content: str, name: str) -> tuple[list[str], list[str]]:
    import csv
    import io

    from training.dataset import MAX_FIELD_CHARS

    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    # strict: a quote left open read the rest of the file as one paragraph's text, without a word.
    reader = csv.DictReader(io.StringIO(content, newline=""), strict=True)
    columns = csv_header(reader, name)
    if "text" not in columns:
        raise TopicframeError(f"{name}:1: expected a 'text' column; header has: {', '.join(columns)}")
    texts, ids, articles = [], [], set()
    started = reader.line_num + 1  # the line a record starts on (a quoted field may span lines)
    try:
        for row in reader:
            texts.append(_record_text(row.get("text") or "", f"{name}:{reader.line_num}"))
            ids.append(row.get("id") or "")
            articles.add(row.get("article_id") or "")
            started = reader.line_num + 1
    except csv.Error as exc:
        raise TopicframeError(f"{name}:{started}: unreadable CSV record ({csv_problem(exc)})") from None
    articles.discard("")  # rows without an article_id
    if len(articles) > 1:  # said, not guessed: the rows are still read as the one article asked for
        from training.console import print_warning

        print_warning(
            f"{name}: {len(articles)} articles in its article_id column, read here as one article in page "
            f"order (roles and context read across them); `topicframe batch --input {name} --unit paragraph` "
            "scores each article as its own"
        )
    return texts, ids
