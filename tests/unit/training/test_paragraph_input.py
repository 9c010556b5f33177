"""Paragraph records read by `topicframe classify` (`training.paragraph_input.read_paragraphs`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from training.errors import TopicframeError
from training.paragraph_input import read_paragraphs, read_utf8


def test_records_sent_with_their_markup_are_read_as_their_text(tmp_path: Path) -> None:
    # A CMS export: one paragraph's inner HTML per record, or a reader tool's Markdown.
    records = [
        {"id": "p1", "text": 'Talks in <a href="/geneva">Geneva</a> &amp; Bern resumed.'},
        {"id": "p2", "text": "<p>Envoys met.<br>Both sides spoke.</p>"},
        {"id": "p3", "text": "**Updated** Envoys met [in Geneva](https://x.example)."},
        {"id": "p4", "text": "Prices rose 3 < 5 percent, officials said."},
    ]
    source = tmp_path / "paragraphs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    texts, ids, text_format = read_paragraphs(source)
    assert texts == [
        "Talks in Geneva & Bern resumed.",
        "Envoys met.\nBoth sides spoke.",
        "Updated Envoys met in Geneva.",
        "Prices rose 3 < 5 percent, officials said.",
    ]
    assert ids == ["p1", "p2", "p3", "p4"] and text_format is None
    csv_source = tmp_path / "paragraphs.csv"
    csv_source.write_text('id,text\n1,"<p><a href=""/x"">Read more: talks resume</a></p>"\n')
    assert read_paragraphs(csv_source)[0] == ["Read more: talks resume"]  # a link alone is a paragraph too


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("in.jsonl", '{"text": "ok"}\n{"text": "<p><img src=a.jpg></p>"}\n'),
        ("in.csv", 'text\nok\n"<p><img src=a.jpg></p>"\n'),
    ],
)
def test_a_record_whose_markup_has_no_text_is_refused_with_its_line(tmp_path: Path, name: str, content: str) -> None:
    source = tmp_path / name
    source.write_text(content)
    line = 2 if name.endswith(".jsonl") else 3
    with pytest.raises(TopicframeError, match=f"{name}:{line}: no text once its markup is left out"):
        read_paragraphs(source)


def test_markdown_nested_too_deep_to_read_is_refused_with_its_file_not_cut_short(tmp_path: Path) -> None:
    deep = "\n".join("  " * i + f"- item {i}" for i in range(10)) + "\n\nAfter the list.\n"
    (tmp_path / "story.md").write_text(deep, encoding="utf-8")
    with pytest.raises(TopicframeError, match=r"story\.md: Markdown nested more than 20 levels deep .* at line 10"):
        read_paragraphs(tmp_path / "story.md")
    (tmp_path / "records.jsonl").write_text(json.dumps({"text": "> " * 21 + "**deep**"}) + "\n", encoding="utf-8")
    with pytest.raises(TopicframeError, match=r"records\.jsonl:1: Markdown nested more than 20 levels"):
        read_paragraphs(tmp_path / "records.jsonl")
    shallow = "\n".join("  " * i + f"- item {i}" for i in range(8)) + "\n\nAfter the list.\n"
    (tmp_path / "story.md").write_text(shallow, encoding="utf-8")
    assert read_paragraphs(tmp_path / "story.md")[0][-2:] == ["item 7", "After the list."]


def test_a_csv_of_several_articles_is_read_as_one_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "two.csv").write_text("id,article_id,text\n1,A,Envoys met.\n2,B,Tariffs rose.\n", encoding="utf-8")
    assert read_paragraphs(tmp_path / "two.csv")[0] == ["Envoys met.", "Tariffs rose."]
    said = " ".join(capsys.readouterr().err.split())
    assert "2 articles in its article_id column, read here as one article" in said and "topicframe batch" in said
    (tmp_path / "one.csv").write_text("id,article_id,text\n1,A,Envoys met.\n2,A,Tariffs rose.\n", encoding="utf-8")
    read_paragraphs(tmp_path / "one.csv")
    assert capsys.readouterr().err == ""


def test_a_pipe_is_read_like_a_file_and_a_directory_is_named(tmp_path: Path) -> None:
    """`topicframe classify <(curl ...)`: the shell passes /dev/fd/N, a pipe, which was reported "file not found"."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"Envoys met in Doha.\n\nTalks resume on Monday.\n")
        os.close(write_end)
        assert read_utf8(Path(f"/dev/fd/{read_end}")) == "Envoys met in Doha.\n\nTalks resume on Monday.\n"
    finally:
        os.close(read_end)
    with pytest.raises(TopicframeError, match=rf"^{tmp_path}: is a directory, not a file$"):
        read_utf8(tmp_path)
    with pytest.raises(TopicframeError, match=r": file not found$"):
        read_utf8(tmp_path / "missing.txt")


def test_a_quote_left_open_is_an_error_at_the_line_its_record_starts(tmp_path: Path) -> None:
    """It was read as one paragraph holding the rest of the file ("unterminated\\n2,ok\\n"), exit 0."""
    source = tmp_path / "badq.csv"
    source.write_text('id,text\n1,Fine.\n2,"unterminated\n3,ok\n')
    with pytest.raises(TopicframeError, match=r"badq.csv:3: unreadable CSV record \(a quoted field is not closed"):
        read_paragraphs(source)
    # In the header, a quote left open read the whole file as column names: a traceback, exit 1 without a word.
    source.write_text('id,"text\n1,Fine.\n')
    with pytest.raises(TopicframeError, match=r"badq.csv:1: unreadable CSV header \(a quoted field is not closed"):
        read_paragraphs(source)
