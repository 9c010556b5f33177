"""Input files for `topicframe batch`: which files, in which format, read into one normalised DataFrame.

Local paths are expanded here (files, globs, directories) before Spark starts, so a missing path or
an empty glob fails in a second rather than after the JVM's start-up; a URI with a scheme
(``hdfs://``, ``s3a://``, ``abfss://``...) is expanded by Hadoop's own glob once the session runs.

Every input row becomes one row of ``_source_file, _source_line, _order, _id, _article, _text,
_problem``: ``_order`` keeps the rows' order (rows of one article are scored in page order),
``_source_line`` is the line of a JSONL record and the line of a CSV record counted as one line per
record after the header (exact unless a quoted field spans lines; Parquet rows have no line), and
``_problem`` says why a row could not be read (it goes to ``rejected/``).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from training.errors import TopicframeError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
NORMALISED_COLUMNS = ["_source_file", "_source_line", "_order", "_id", "_article", "_text", "_problem"]


class BatchInputError(TopicframeError):
    """An input that cannot be read as asked: nothing is scored and nothing is written."""


def has_scheme(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def input_format(path: str) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file's extension (a ``.gz``/``.bz2`` suffix is read through)."""
    name = path.rsplit("/", 1)[-1].lower()
    for compressed in (".gz", ".bz2"):
        name = name.removesuffix(compressed)
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise BatchInputError(f"{path}: unknown input format '{suffix or '(no extension)'}'; known: {known}")
    return FORMATS[suffix]


def _visible(path: Path) -> bool:
    # Spark's own markers and hidden files (_SUCCESS, .crc, _committed) are not data.
    return not path.name.startswith(("_", "."))


def expand_local(pattern: str) -> list[str]:
    """Data files for one local ``--input``: a file, a directory (its data files, recursively) or a glob."""
    raw = pattern.removeprefix("file://")
    matches = sorted(glob.glob(raw, recursive=True)) if glob.has_magic(raw) else [raw]
    if not matches:
        raise BatchInputError(f"{pattern}: the glob matches no file")
    files: list[str] = []
    for match in matches:
        path = Path(match)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _visible(p) and _visible(p.parent))
            if not inside:
                raise BatchInputError(f"{pattern}: directory {match} holds no data file")
            files += [str(p.resolve()) for p in inside]
        elif path.is_file():
            files.append(str(path.resolve()))
        else:
            raise BatchInputError(f"{match}: input not found")
    return files


def expand_remote(spark: SparkSession, pattern: str) -> list[str]:
    """The same for a URI with a scheme, through Hadoop's FileSystem (what Spark itself reads with)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    statuses = fs.globStatus(hadoop_path)
    if statuses is None or len(statuses) == 0:
        raise BatchInputError(f"{pattern}: input not found (or the glob matches no file)")
    files: list[str] = []
    for status in statuses:
        if status.isDirectory():
            found = fs.listFiles(status.getPath(), True)
            while found.hasNext():
                path = found.next().getPath()
                if not path.getName().startswith(("_", ".")):
                    files.append(path.toString())
        else:
            files.append(status.getPath().toString())
    if not files:
        raise BatchInputError(f"{pattern}: holds no data file")
    return sorted(files)


def group_by_format(files: list[str]) -> dict[str, list[str]]:
    """Files grouped by format; each group is read by one Spark reader."""
    groups: dict[str, list[str]] = {}
    for file in files:
        groups.setdefault(input_format(file), []).append(file)
    return groups


def _missing_column(column: str, what: str, where: str, available: list[str]) -> BatchInputError:
    if not available:  # an empty JSONL file (or blank lines only): there is nothing, not a wrong column
        return BatchInputError(f"{where}: no rows to score (the file is empty or holds blank lines only)")
    shown = ", ".join(available[:20])
    return BatchInputError(f"{where}: no {what} column '{column}'; columns: {shown}")


def read_inputs(
    spark: SparkSession, files: list[str], text_column: str, id_column: str, article_column: str | None
) -> DataFrame:
    """All files as one DataFrame of ``NORMALISED_COLUMNS``. ``article_column`` is used when the files have it."""
    from functools import reduce

    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    frames = [
        readers[fmt](spark, group, text_column, id_column, article_column)
        for fmt, group in group_by_format(files).items()
    ]
    return reduce(lambda a, b: a.unionByName(b), frames)


# Spark decodes a CSV or JSONL file's bytes that are not UTF-8 as U+FFFD without a word; training refuses such a
# file (file:line), and a batch job rejects the row, so that damaged text is not scored as if it were whole.
NOT_A_STRING = "text is not a string but a JSON "
NOT_UTF8 = (
    "text holds U+FFFD, the replacement character Spark reads a byte that is not UTF-8 as: the file is probably not "
    "UTF-8 (a U+FFFD typed into the text reads the same)"
)


def _normalised(df: DataFrame, text: str, id_column: str | None, article: str | None, line: str | None) -> DataFrame:
    """``line`` names the column of a text file's line numbers (CSV, JSONL); Parquet has none, and its strings
    were never decoded from bytes by Spark."""
    from pyspark.sql import functions as F

    source_line = F.col(line).cast("long") if line else F.lit(None).cast("long")
    problem = F.col("_problem") if "_problem" in df.columns else F.lit(None).cast("string")
    if line:
        problem = F.coalesce(problem, F.when(F.col(text).contains("\ufffd"), F.lit(NOT_UTF8)))
    # A blank article id is no article, however the format spells it: CSV reads an empty cell as null, JSONL
    # keeps "" (which grouped every such row into one article "").
    article_id = F.col(article).cast("string") if article else F.lit(None).cast("string")
    return df.select(
        F.col("_source_file"),
        source_line.alias("_source_line"),
        F.col("_order"),
        (F.col(id_column).cast("string") if id_column else F.lit(None).cast("string")).alias("_id"),
        F.when(F.trim(article_id) != "", article_id).alias("_article"),
        F.col(text).cast("string").alias("_text"),
        problem.alias("_problem"),
    )


def _with_source(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    # Row order as read: the id grows with the partition index and the row within it, and a file's
    # splits keep their order, so ordering by it is reading order within each file.
    return df.withColumn("_source_file", F.input_file_name()).withColumn("_order", F.monotonically_increasing_id())


def _line_numbers(df: DataFrame, first: int) -> DataFrame:
    """``_line``: the row's number within its file (``first`` for the first row), in reading order."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy("_source_file").orderBy("_order")
    return df.withColumn("_line", F.row_number().over(window) + (first - 1))


def _read_parquet(spark: SparkSession, files: list[str], text: str, id_column: str, article: str | None) -> DataFrame:
    df = spark.read.parquet(*files)
    if text not in df.columns:
        raise _missing_column(text, "text", files[0], df.columns)
    df = _with_source(df)
    return _normalised(
        df, text, id_column if id_column in df.columns else None, article if article in df.columns else None, None
    )


def _read_csv(spark: SparkSession, files: list[str], text: str, id_column: str, article: str | None) -> DataFrame:
    """Local files are read in groups of one header each (Spark reads a group with one schema: files whose
    columns came in another order failed the job with a long Java trace); remote files as one group."""
    from functools import reduce

    groups: dict[tuple[str, ...] | None, list[str]] = {}
    for file in files:
        groups.setdefault(_local_csv_header(file), []).append(file)
    frames = [_read_csv_group(spark, group, text, id_column, article) for group in groups.values()]
    return reduce(lambda a, b: a.unionByName(b), frames)


def _local_csv_header(file: str) -> tuple[str, ...] | None:
    """A local CSV file's column names (its first record); None for a remote file, whose header Spark reads."""
    if has_scheme(file):
        return None
    import csv

    with _open_text(file.removeprefix("file://")) as f:
        return tuple(next(csv.reader(f), []))


# What matters in a CSV file for its line endings: a quote opens or closes a quoted field (a doubled quote
# inside one closes and re-opens it), and outside quotes a line break ends a record.
_QUOTE_OR_BREAK = re.compile(r'"|\r\n|\n|\r')
_ENDING_NAMES = {"\r\n": "CRLF (\\r\\n)", "\n": "LF (\\n)", "\r": "CR (\\r)"}


def check_line_endings(file: str, chunk_chars: int = 1 << 20) -> None:
    """Refuse a local CSV file whose records do not all end the same way.

    Spark reads a multi-line CSV file with the line ending of its first line: in a file that starts with CRLF
    and goes on with LF (rows appended by another tool), every LF row ran into the one before it and the pair
    was rejected as one malformed record; the other way round, each CRLF row kept a carriage return in its last
    column. Breaks inside quoted fields are text and may differ (a spreadsheet's CRLF rows with LF inside
    cells are fine).
    """
    with _open_text(_local(file)) as f:
        start = f.read(4)  # read through .gz/.bz2: UTF-16 or UTF-32 text has NUL bytes among its first four
    if "\x00" in start:
        raise BatchInputError(
            f"{file}: not UTF-8 text (it starts like UTF-16 or UTF-32); save it as UTF-8 and run again"
        )
    with _open_text(_local(file)) as f:
        first: str | None = None
        for line, ending in _record_breaks(f, chunk_chars):
            first = first or ending
            if ending != first:
                raise BatchInputError(
                    f"{file}:{line}: this line ends with {_ENDING_NAMES[ending]} but the file's first line ends "
                    f"with {_ENDING_NAMES[first]}; Spark reads a CSV file with one line ending, so its rows would "
                    "run together. Convert the file to one line ending (e.g. dos2unix) and run again"
                )


def _record_breaks(f: IO[str], chunk_chars: int) -> Iterator[tuple[int, str]]:
    """(line number, the break) for each line break outside quoted fields; every break counts as a line.
    Read in chunks, so a large file costs one pass over its text, not its size in memory."""
    line, in_quotes, carry = 1, False, ""
    while True:
        chunk = f.read(chunk_chars)
        text, carry = carry + chunk, ""
        if chunk and text.endswith("\r"):  # a CRLF split between two chunks is one break, not two
            text, carry = text[:-1], "\r"
        for match in _QUOTE_OR_BREAK.finditer(text):
            token = match.group()
            if token == '"':
                in_quotes = not in_quotes
                continue
            if not in_quotes:
                yield line, token
            line += 1
        if not chunk:
            return


def _local(file: str) -> str:
    return file.removeprefix("file://")


def _open_text(path: str) -> IO[str]:
    """A local file as text, read through a .gz or .bz2 suffix as Spark reads it."""
    import bz2
    import gzip

    suffix = Path(path).suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def _read_csv_group(spark: SparkSession, files: list[str], text: str, id_column: str, article: str | None) -> DataFrame:
    from pyspark.sql.types import StringType, StructField, StructType

    header = spark.read.option("header", True).csv(files[0]).columns
    if text not in header:
        raise _missing_column(text, "text", files[0], header)
    # Every column as text (no schema inference pass over the data), plus the record Spark could not parse.
    schema = StructType([StructField(c, StringType()) for c in header] + [StructField("_corrupt", StringType())])
    df = (
        spark.read.schema(schema)
        .option("header", True)
        .option("multiLine", True)  # a paragraph's text may hold newlines inside quotes
        .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled (Spark's default is \\)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt")
        .option("enforceSchema", False)  # every file's header is checked against the first one's
        .csv(files)
    )
    df = _line_numbers(_with_source(df), first=2)
    from pyspark.sql import functions as F

    df = df.withColumn(
        "_problem", F.when(F.col("_corrupt").isNotNull(), F.lit("malformed CSV record (wrong number of fields)"))
    )
    return _normalised(
        df, text, id_column if id_column in header else None, article if article in header else None, "_line"
    )


def _read_jsonl(spark: SparkSession, files: list[str], text: str, id_column: str, article: str | None) -> DataFrame:
    from pyspark.sql import functions as F

    lines = _line_numbers(_with_source(spark.read.text(files)), first=1)
    lines = lines.filter(F.trim(F.col("value")) != "")  # blank lines are not records
    keys = {
        key
        for row in lines.select(F.json_object_keys("value").alias("keys")).limit(1000).collect()
        for key in row["keys"] or []
    }
    if text not in keys:
        raise _missing_column(text, "text", f"{files[0]} (first 1000 records)", sorted(keys))
    fields = [c for c in (id_column, article) if c and c in keys and c != text]
    # The text as a VARIANT, so a value that is not a string ([...], {...}, 12345) is rejected, not scored as its
    # JSON (the service refuses it with a 422); ids and article ids of any kind are read as text.
    schema = ", ".join([f"`{text}` VARIANT", *(f"`{name}` STRING" for name in dict.fromkeys(fields))])
    schema += ", `_corrupt` STRING"
    parsed = F.from_json("value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"})
    df = lines.withColumn("_record", parsed)
    df = df.withColumn(
        "_problem",
        F.when(
            F.col("_record").isNull() | F.col("_record._corrupt").isNotNull(),
            F.lit("not a JSON object on one line"),
        ),
    )
    df = df.select("_source_file", "_order", "_line", "_problem", "_record.*")
    kind = F.expr(f"schema_of_variant(`{text}`)")  # STRING, VOID (a null), ARRAY<STRING>, BIGINT, OBJECT<...>
    not_text = F.when(kind.isNotNull() & ~kind.isin("STRING", "VOID"), F.concat(F.lit(NOT_A_STRING), kind))
    df = df.withColumn("_problem", F.coalesce(F.col("_problem"), not_text))
    df = df.withColumn(text, F.expr(f"try_variant_get(`{text}`, '$', 'string')"))
    return _normalised(
        df, text, id_column if id_column in keys else None, article if article and article in keys else None, "_line"
    )


def local_output(path: str) -> str:
    """An output path as Hadoop reads it: local paths absolute (a relative one means the working directory)."""
    return path if has_scheme(path) else os.path.abspath(path.removeprefix("file://"))
