"""Validation of labelled CSVs: every problem reported at once, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LABELS, write_csv
from training.codebook import load_codebooks
from training.dataset import ColumnMap, DataValidationError, load_labelled_data

GOOD = [
    {"id": "1", "article_id": "a1", "text": "Tariffs on steel rose again.", "topic": "trade", "frame": "conflict"},
    {"id": "2", "article_id": "a1", "text": "The ministers met in Geneva.", "topic": "diplomacy", "frame": ""},
    {"id": "3", "article_id": "a2", "text": "By Jane Roe, Geneva", "topic": "", "frame": ""},
]


@pytest.fixture
def codebooks(codebooks):
    """Topic and frame only: these tests are about CSV validation, not roles (see the role tests below)."""
    return {name: codebooks[name] for name in ("topic", "frame")}


def messages(exc: DataValidationError) -> list[str]:
    return [str(p) for p in exc.problems]


def test_clean_file_loads(tmp_path: Path, codebooks) -> None:
    path = write_csv(tmp_path / "good.csv", GOOD)
    data = load_labelled_data([path], codebooks, min_positives=0)
    assert data.texts[0] == "Tariffs on steel rose again."
    assert data.labels["topic"] == [("trade",), ("diplomacy",), ()]
    assert data.article_ids == ["a1", "a1", "a2"]
    assert data.label_matrix("topic", codebooks["topic"].label_names).sum() == 2


def test_missing_column_names_file_and_header(tmp_path: Path, codebooks) -> None:
    path = write_csv(tmp_path / "bad.csv", GOOD, header=["id", "text", "topic"])
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{path}:1: error: missing column(s) frame (codebook {LABELS / 'frame.yaml'}); header has: id, text, topic; "
        "add the column(s), or list the sets to train in data.label_sets"
    ]


def test_every_row_problem_is_reported_with_its_line(tmp_path: Path, codebooks) -> None:
    rows = [
        *GOOD,
        {"id": "4", "text": "Talks on chips stalled.", "topic": "tecnology", "frame": ""},  # line 5: typo
        {"id": "5", "text": "   ", "topic": "trade", "frame": ""},  # line 6: empty text
        {"id": "6", "text": "Tariffs on steel rose again.", "topic": "economy", "frame": "conflict"},  # line 7
        {"id": "7", "text": "Envoys traded accusations.", "topic": "conflict", "frame": ""},  # line 8: wrong column
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    got = messages(err.value)
    assert f"{path}:5: error: unknown topic label 'tecnology' (did you mean 'technology'?)" in got
    assert f"{path}:6: error: empty text" in got
    assert f"{path}:7: error: same text as {path}:2 but with different labels" in got
    # Not "did you mean 'climate'?": a label of the other set, in the wrong column.
    assert (
        f"{path}:8: error: unknown topic label 'conflict' ('conflict' is a frame label: is it in the right column?)"
        in got
    )
    assert len(got) == 4


def test_invalid_bytes_name_the_line(tmp_path: Path, codebooks) -> None:
    path = write_csv(tmp_path / "latin.csv", GOOD)
    raw = path.read_bytes().replace(b"Geneva.", "Gen\xe8ve.".encode("latin-1"))
    path.write_bytes(raw)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert any(m.startswith(f"{path}:3: error: byte 0xe8") and "not valid utf-8" in m for m in messages(err.value))
    # A bad byte in a label cell is said once: not again as "unknown topic label 'trade\ufffd'".
    path.write_bytes(path.read_bytes().replace(b",trade,", b",trade\xe9,"))
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert [m.split(": error: ")[0] for m in messages(err.value)] == [f"{path}:2", f"{path}:3"], messages(err.value)


def test_malformed_split_value(tmp_path: Path, codebooks) -> None:
    rows = [dict(GOOD[0], split="train"), dict(GOOD[1], split="tset"), dict(GOOD[2], split="test")]
    path = write_csv(tmp_path / "split.csv", rows, header=["id", "text", "topic", "frame", "split"])
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert messages(err.value) == [f"{path}:3: error: split must be 'train' or 'test', got 'tset'"]


def test_label_floor_is_a_warning_unless_strict(tmp_path: Path, codebooks) -> None:
    path = write_csv(tmp_path / "small.csv", GOOD)
    data = load_labelled_data([path], codebooks, min_positives=1)
    floor_warnings = [str(w) for w in data.warnings if "fewer than the floor" in w.message]
    assert any("topic label 'climate' has 0 positive row(s)" in w for w in floor_warnings)
    assert all(w.severity == "warning" for w in data.warnings)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=1, strict=True)
    assert any("'climate' has 0 positive" in m and ": error:" in m for m in messages(err.value))


def test_exact_duplicates_are_dropped_with_a_count(tmp_path: Path, codebooks) -> None:
    path = write_csv(tmp_path / "dups.csv", [*GOOD, GOOD[0], GOOD[1]])
    data = load_labelled_data([path], codebooks, min_positives=0)
    assert len(data) == 3
    assert any("dropped 2 exact duplicate row(s)" in w.message for w in data.warnings)


def test_conflicts_across_files_and_globs(tmp_path: Path, codebooks) -> None:
    write_csv(tmp_path / "part1.csv", GOOD)
    write_csv(tmp_path / "part2.csv", [dict(GOOD[1], topic="alliances")])
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([str(tmp_path / "part*.csv")], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{tmp_path / 'part2.csv'}:2: error: same text as {tmp_path / 'part1.csv'}:3 but with different labels"
    ]


def test_configurable_columns_and_multiline_rows(tmp_path: Path, codebooks) -> None:
    path = tmp_path / "own.csv"
    path.write_text(
        'paragraph,subjects,frames\n"First line\nsecond line",trade;economy,\n"Next",diplomcy,\n', encoding="utf-8"
    )
    columns = ColumnMap(text="paragraph", label_sets={"topic": "subjects", "frame": "frames"})
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, columns=columns, min_positives=0)
    # The second record starts on physical line 4 because the first spans lines 2-3.
    assert messages(err.value) == [f"{path}:4: error: unknown topic label 'diplomcy' (did you mean 'diplomacy'?)"]


def test_missing_file_and_empty_glob(tmp_path: Path, codebooks) -> None:
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([str(tmp_path / "nope-*.csv")], codebooks)
    assert "no file matches this pattern" in messages(err.value)[0]


def test_a_header_without_rows_is_an_error_and_a_missing_file_only_says_so(tmp_path: Path, codebooks) -> None:
    """Label floors judged on no rows would add one warning per label to an error that already says why."""
    header_only = write_csv(tmp_path / "header.csv", [])
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([header_only], codebooks)
    assert messages(err.value) == [f"{header_only}: error: no labelled rows (a header only, or blank lines)"]
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([tmp_path / "missing.csv"], codebooks)
    assert messages(err.value) == [f"{tmp_path / 'missing.csv'}: error: file not found"]
    # Beside a file with rows it is a warning that names it (it was accepted without a word): an export with
    # no corrections yet is a header only, and the feedback loop trains on it.
    good = write_csv(tmp_path / "good.csv", GOOD)
    data = load_labelled_data([good, header_only], codebooks, min_positives=0)
    assert [str(w) for w in data.warnings] == [
        f"{header_only}: warning: no labelled rows (a header only, or blank lines)"
    ]


def test_an_id_used_twice_is_a_warning_naming_both_rows(tmp_path: Path, codebooks) -> None:
    """Training does not read ids, but agreement, diff and corrections match paragraphs by them. Ids made for
    rows without one (file stem and line) are not counted, even for two files of the same name."""
    first = write_csv(tmp_path / "a.csv", GOOD)
    second = write_csv(tmp_path / "b.csv", [{**GOOD[0], "id": "2", "text": "Ports reopened."}])
    without_ids = []
    for folder, text in (("x", "Talks resumed."), ("y", "Envoys left.")):
        (tmp_path / folder).mkdir()
        rows = [{"text": text, "topic": "diplomacy"}]
        without_ids.append(write_csv(tmp_path / folder / "c.csv", rows, header=["text", "topic", "frame"]))
    data = load_labelled_data([first, second, *without_ids], codebooks, min_positives=0)
    reused = [w for w in data.warnings if "reuse an id" in w.message]
    assert [w.message for w in reused] == [f"1 row(s) reuse an id, e.g. '2' at {second}:2 (first at {first}:3)"]


def test_digest_changes_with_labels(tmp_path: Path, codebooks) -> None:
    a = load_labelled_data([write_csv(tmp_path / "a.csv", GOOD)], codebooks, min_positives=0)
    b = load_labelled_data(
        [write_csv(tmp_path / "b.csv", [*GOOD[:2], dict(GOOD[2], topic="trade")])], codebooks, min_positives=0
    )
    assert a.digest() != b.digest()
    assert a.digest() == load_labelled_data([tmp_path / "a.csv"], codebooks, min_positives=0).digest()


def test_roles_and_positions_are_validated_with_their_lines(tmp_path: Path) -> None:
    codebooks = load_codebooks(LABELS, ["role", "topic", "frame"])
    rows = [
        {
            "id": "1",
            "article_id": "a1",
            "position": "1",
            "text": "Steel duties rose.",
            "topic": "trade",
            "role": "body",
        },
        {"id": "2", "article_id": "a1", "position": "1", "text": "Envoys met.", "topic": "diplomacy", "role": "body"},
        {"id": "3", "article_id": "a1", "position": "two", "text": "By Jane Roe", "role": "byline"},
        {"id": "4", "article_id": "a2", "position": "0", "text": "Photo: AFP", "role": "photo"},
    ]
    header = ["id", "article_id", "position", "text", "topic", "frame", "role"]
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    got = messages(err.value)
    assert f"{path}:3: error: position 1 of article 'a1' is also used at {path}:2" in got
    assert f"{path}:4: error: position must be a whole number, got 'two'" in got
    assert f"{path}:5: error: unknown role label 'photo' (did you mean 'promo'?)" in got
    assert len(got) == 3


def test_a_blank_position_in_an_article_that_has_positions_is_an_error(tmp_path: Path) -> None:
    """It was read as position 0: the paragraph moved to the top of its article, whose page order context reads."""
    codebooks = load_codebooks(LABELS, ["role", "topic", "frame"])
    rows = [
        {"id": "1", "article_id": "a1", "position": "2", "text": "Steel duties rose.", "topic": "trade"},
        {"id": "2", "article_id": "a1", "position": "", "text": "Envoys met.", "topic": "diplomacy"},
        {"id": "3", "article_id": "a1", "position": "two", "text": "Talks resume.", "topic": "diplomacy"},
        {"id": "4", "article_id": "a2", "position": "", "text": "Ports reopened.", "topic": "trade"},  # none: fine
    ]
    header = ["id", "article_id", "position", "text", "topic", "frame", "role"]
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{path}:4: error: position must be a whole number, got 'two'",
        f"{path}:3: error: position is empty, but article 'a1' has positions (from {path}:2)",
    ]


def test_labels_joined_by_another_separator_are_named_as_such(tmp_path: Path, codebooks) -> None:
    rows = [{**GOOD[0], "topic": "trade, diplomacy"}, {**GOOD[1], "topic": "trade|securty"}]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{path}:2: error: unknown topic label 'trade, diplomacy' (several labels are separated by ';': "
        "trade;diplomacy)",
        f"{path}:3: error: unknown topic label 'trade|securty' (did you mean 'security'?)",
    ]


def test_positions_put_rows_in_page_order(tmp_path: Path) -> None:
    codebooks = load_codebooks(LABELS, ["role", "topic", "frame"])
    rows = [
        {"id": "b", "article_id": "a1", "position": "1", "text": "Steel duties rose.", "topic": "trade"},
        {"id": "x", "article_id": "a2", "position": "0", "text": "Envoys met in Doha.", "topic": "diplomacy"},
        {"id": "a", "article_id": "a1", "position": "0", "text": "Steel row", "topic": "trade", "role": "headline"},
    ]
    path = write_csv(
        tmp_path / "order.csv", rows, header=["id", "article_id", "position", "text", "topic", "frame", "role"]
    )
    assert load_labelled_data([path], codebooks, min_positives=0).ids == ["a", "b", "x"]


def test_a_paragraph_sent_as_html_or_markdown_is_trained_on_as_its_text(tmp_path: Path, codebooks) -> None:
    # A CMS export: the model is trained on the text the service classifies when the same paragraph is sent.
    rows = [
        *GOOD,
        {"id": "4", "text": '<p>Chip talks <a href="/x">stalled</a> again.</p>', "topic": "technology", "frame": ""},
        {"id": "5", "text": "Steel **quotas** were cut.", "topic": "trade", "frame": ""},
    ]
    path = write_csv(tmp_path / "cms.csv", rows)
    data = load_labelled_data([path], codebooks, min_positives=0)
    assert data.texts[3:] == ["Chip talks stalled again.", "Steel quotas were cut."]
    assert data.texts[:3] == [row["text"] for row in GOOD]  # plain text as it is
    assert [str(w) for w in data.warnings] == [
        f"{path}:5: warning: 2 row(s) read as HTML or Markdown (tags, link targets and emphasis marks dropped), "
        "the first on this line"
    ]
    # Markup with no text in it is an error at its line, like an empty text.
    path = write_csv(tmp_path / "images.csv", [*GOOD, {"id": "4", "text": "<p><img src='a.jpg'></p>", "topic": ""}])
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{path}:5: error: no text once read as HTML or Markdown (only tags, images or scripts)"
    ]


def test_a_single_label_content_set_is_left_empty_on_rows_that_carry_no_content(tmp_path: Path) -> None:
    """A custom single-label set (stance) could not be trained beside roles: an empty cell on a byline was
    "each row needs exactly one label, got 0", and a label there was "role 'byline' gets no stance label"."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "role.yaml").write_text((LABELS / "role.yaml").read_text())
    (labels / "stance.yaml").write_text(
        "name: stance\nmulti_label: false\ndescription: How a paragraph judges its subject.\nlabels:\n"
        "  - {name: neutral, description: Reports without judging.}\n"
        "  - {name: critical, description: Finds fault.}\n"
    )
    codebooks = load_codebooks(labels, ["role", "stance"])
    roles = ("role", ["body", "headline"])
    rows = [
        {"id": "1", "article_id": "a1", "text": "Ports reopen after strike", "role": "headline", "stance": "neutral"},
        {"id": "2", "article_id": "a1", "text": "By Jane Roe", "role": "byline", "stance": ""},
        {"id": "3", "article_id": "a1", "text": "The strike cost millions.", "role": "body", "stance": "critical"},
    ]
    header = ["id", "article_id", "text", "role", "stance"]
    data = load_labelled_data(
        [write_csv(tmp_path / "ok.csv", rows, header=header)], codebooks, min_positives=0, roles=roles
    )
    assert data.labels["stance"] == [("neutral",), (), ("critical",)]
    # A content row still needs its one label, and two are too many anywhere.
    rows[2]["stance"] = ""
    rows[1]["stance"] = "neutral;critical"
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([path], codebooks, min_positives=0, roles=roles)
    assert messages(err.value) == [
        f"{path}:3: error: 'stance' is single-label: each row needs exactly one label, got 2",
        f"{path}:3: error: role 'byline' gets no stance label (only body, headline paragraphs do)",
        f"{path}:4: error: 'stance' is single-label: each row needs exactly one label, got 0",
    ]
    # Without the roles, every row needs one, as before.
    rows[1]["stance"], rows[2]["stance"] = "", "critical"
    with pytest.raises(DataValidationError, match="got 0"):
        load_labelled_data([write_csv(tmp_path / "ok.csv", rows, header=header)], codebooks, min_positives=0)


def test_a_header_in_another_encoding_or_delimiter_and_a_directory_say_what_they_are(tmp_path: Path, codebooks) -> None:
    """A tester's Excel exports: UTF-16 was reported as missing columns with NUL bytes in the message, a
    semicolon file as three missing columns, a directory as "file not found"."""
    from training.labelled_csv import read_header

    plain = "id,article_id,text,topic,frame\n1,a1,Tariffs rose.,trade,\n"
    (tmp_path / "utf16.csv").write_text(plain, encoding="utf-16")
    (tmp_path / "semicolons.csv").write_text(plain.replace(",", ";"), encoding="utf-8")
    (tmp_path / "tabs.csv").write_text(plain.replace(",", "\t"), encoding="utf-8")
    (tmp_path / "utf8.csv").write_text(plain, encoding="utf-8")
    for name, said in (
        ("utf16.csv", "the file is UTF-16 (it starts with a UTF-16 byte-order mark"),
        ("semicolons.csv", "the columns are separated by ';', not commas ('id;article_id;text;topic;frame')"),
        ("tabs.csv", "the columns are separated by tabs, not commas"),
    ):
        with pytest.raises(DataValidationError) as err:
            read_header(tmp_path / name)
        (message,) = messages(err.value)
        assert message.startswith(f"{tmp_path / name}:1: error: {said}"), message
    assert read_header(tmp_path / "utf16.csv", "utf-16")[:2] == ["id", "article_id"]  # as data.encoding says
    with pytest.raises(DataValidationError, match=r"utf8.csv:1: error: cannot be read as utf-16: UTF-16 stream"):
        read_header(tmp_path / "utf8.csv", "utf-16")
    with pytest.raises(DataValidationError) as err:
        load_labelled_data([tmp_path], codebooks, min_positives=0)
    assert messages(err.value) == [
        f"{tmp_path}: error: a directory, not a file (for its CSV files: --data 'DIR/*.csv')"
    ]
