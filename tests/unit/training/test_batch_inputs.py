"""What `topicframe batch` checks in its local input files before Spark starts (training/batch/inputs.py).

The Spark reading itself is tested in tests/integration/test_batch_spark.py.
"""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from training.batch.inputs import BatchInputError, check_line_endings


@pytest.mark.parametrize(
    ("content", "line", "ending", "first"),
    [
        # rows appended with LF to a file written with CRLF: Spark ran rows 4 and 5 together
        (b'id,text\r\na1,"One."\r\na2,Two\r\na3,Three\na4,Four\n', 4, "LF", "CRLF"),
        # the other way round: row 3 would keep a carriage return in its last column
        (b"id,text\na1,One\na2,Two\r\na3,Three\n", 3, "CRLF", "LF"),
        (b"id,text\ra1,One\na2,Two\r", 2, "LF", "CR"),
        # a quoted field's breaks count as lines of the file, so the number is the one an editor shows
        (b'id,text\r\na1,"One\nstill one\nand one"\r\na2,Two\n', 5, "LF", "CRLF"),
    ],
)
def test_a_csv_whose_rows_end_two_ways_is_refused_with_its_first_odd_line(
    tmp_path: Path, content: bytes, line: int, ending: str, first: str
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(content)
    with pytest.raises(BatchInputError) as raised:
        check_line_endings(str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: this line ends with {ending} ")
    assert f"the file's first line ends with {first} " in message and "dos2unix" in message


@pytest.mark.parametrize(
    "content",
    [
        b"id,text\na1,One\na2,Two\n",
        b"id,text\r\na1,One\r\na2,Two",  # no break after the last row
        # a spreadsheet's export: CRLF rows, LF inside a quoted cell, a doubled quote inside one
        b'id,text\r\na1,"One\nline two"\r\na2,"He said ""no""\r\nthen left"\r\n',
        b"",
    ],
)
def test_a_csv_whose_rows_all_end_the_same_way_passes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "same.csv"
    path.write_bytes(content)
    check_line_endings(str(path))


def test_a_crlf_split_between_two_chunks_is_one_break_and_compressed_files_are_read(tmp_path: Path) -> None:
    rows = b"id,text\r\n" + b"".join(b"a%d,Row %d\r\n" % (i, i) for i in range(200))
    path = tmp_path / "rows.csv"
    path.write_bytes(rows)
    for chunk_chars in (1, 2, 3, 7, 64):  # every chunk boundary falls between a CR and its LF somewhere
        check_line_endings(str(path), chunk_chars=chunk_chars)
    compressed = tmp_path / "rows.csv.bz2"
    compressed.write_bytes(bz2.compress(rows + b"a200,Appended\n"))
    with pytest.raises(BatchInputError, match=r"rows\.csv\.bz2:202: this line ends with LF"):
        check_line_endings(str(compressed), chunk_chars=5)
