"""What `topicframe batch` checks in its local input files before Spark starts (training/batch/inputs.py).

The Spark reading itself is tested in tests/integration/test_batch_spark.py.
"""

from __future__ import annotations

import bz2
import gzip
import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.batch.inputs import BatchInputError, check_line_endings
from training.batch.job import BatchOptions, check_master_reachable, check_options
from training.cli import app


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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_csv_is_said_to_be_not_utf8(tmp_path: Path, encoding: str) -> None:
    """It failed as "no text column 'text'; columns: ��i\\0d\\0, \\0t\\0e\\0x\\0t\\0" (NUL bytes on the terminal)."""
    path = tmp_path / "u16.csv"
    path.write_text("id,text\na1,Tariffs rose.\n", encoding=encoding)
    with pytest.raises(BatchInputError, match=r"u16.csv: not UTF-8 text \(it starts like UTF-16 or UTF-32\)"):
        check_line_endings(str(path))
    gzipped = tmp_path / "ok.csv.gz"  # a gzip header holds NUL bytes: it is read through, not refused
    gzipped.write_bytes(gzip.compress(b"id,text\na1,Tariffs rose.\n", mtime=0))
    check_line_endings(str(gzipped))


def test_options_are_checked_before_spark_starts(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.csv").write_text("id,text\na1,Tariffs rose.\n")
    base = BatchOptions(inputs=[str(corpus)], output=str(tmp_path / "out"))
    check_options(base)
    # --overwrite onto the input directory deleted the corpus (a tester's run: exit 0, its three files gone).
    for output in (corpus, corpus / "a.csv", tmp_path):
        with pytest.raises(BatchInputError, match=r"the output would replace input .*a.csv; write the output"):
            check_options(replace(base, output=str(output), overwrite=True))
    check_options(replace(base, output=str(corpus / "scored")))  # beside the input, inside its directory: fine
    # --overwrite replaces an earlier result only: onto a model directory, the MLflow store's folder or the
    # working directory it deleted them (a tester's runs: exit 0, the model gone).
    earlier = tmp_path / "earlier"
    (earlier / "paragraphs").mkdir(parents=True)
    (earlier / "report.json").write_text("{}")
    check_options(replace(base, output=str(earlier), overwrite=True))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text("{}")
    (earlier / "thesis.tex").write_text("")
    (tmp_path / "notes.txt").write_text("")
    for output, found in (("model", "no report.json; it holds model.json"), ("earlier", "it holds thesis.tex")):
        with pytest.raises(BatchInputError, match=rf"{output}: not an earlier batch output \({found}\); --overwrite"):
            check_options(replace(base, output=str(tmp_path / output), overwrite=True))
    with pytest.raises(BatchInputError, match=r"notes.txt: a file, not an earlier batch output"):
        check_options(replace(base, output=str(tmp_path / "notes.txt"), overwrite=True))
    with pytest.raises(BatchInputError, match=r"parent directory .*notes.txt is a file, not a directory"):
        check_options(replace(base, output=str(tmp_path / "notes.txt" / "out")))
    with pytest.raises(BatchInputError, match=r"--master foo://bar: not a Spark master; use local\[N\]"):
        check_options(replace(base, master="foo://bar"))
    for master in ("local", "local[2]", "local[*]", "local-cluster[2,1,1024]", "spark://h:7077", "yarn", "k8s://h"):
        check_options(replace(base, master=master))
    with pytest.raises(BatchInputError, match=r"--format xml: unknown output format; use one of parquet, jsonl, csv$"):
        check_options(replace(base, output_format="xml"))


def test_a_standalone_master_that_does_not_answer_is_named_before_spark_starts() -> None:
    """Spark retried it for a minute, printed Java stack traces, then said "Cannot call methods on a stopped
    SparkContext"."""
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: nothing answers on its port
        up, down = (f"127.0.0.1:{s.getsockname()[1]}" for s in (listening, closed))
        with pytest.raises(BatchInputError, match=rf"--master spark://{down}: no Spark master answers at {down} \("):
            check_master_reachable(f"spark://{down}")
        check_master_reachable(f"spark://{down},{up}")  # high availability: one that answers is enough
        with pytest.raises(BatchInputError, match=r"'nohost' is not HOST:PORT"):
            check_master_reachable("spark://nohost")
    for master in (None, "local[2]", "yarn", "k8s://https://h:6443"):
        check_master_reachable(master)  # nothing to check before Spark starts


def test_without_pyspark_batch_says_which_extra_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`./dev run`'s venv has no PySpark (an optional extra): `topicframe batch` there printed a traceback."""
    (tmp_path / "a.csv").write_text("id,text\na1,Tariffs rose.\n")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what `import pyspark` meets where it is not installed
    result = CliRunner().invoke(app, ["batch", "--input", str(tmp_path / "a.csv"), "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: topicframe batch needs PySpark") and "pip install -e '.[batch]'" in line, line
    assert not (tmp_path / "out").exists()
