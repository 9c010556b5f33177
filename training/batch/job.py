"""One `topicframe batch` job: resolve the model, read the inputs, score on Spark, write atomically.

The output directory holds ``paragraphs/`` (one row per scored paragraph), ``articles/`` (label
shares per article), ``rejected/`` (rows that could not be scored, with the reason and the source
file and line) and ``report.json``. Everything is written into a hidden sibling directory first
and renamed onto the output name at the very end, so the output name never holds a half-written
result: a job that fails leaves nothing there (and, with ``--overwrite``, the previous result).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.batch.inputs import BatchInputError, expand_local, expand_remote, has_scheme, local_output, read_inputs
from training.batch.output import StagedOutput, refuse_to_replace

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from training.bundle import ModelBundle
    from training.registry import ModelRef

OUTPUT_FORMATS = ("parquet", "jsonl", "csv")
UNITS = ("article", "paragraph")
# Rows per Arrow batch handed to the Python workers: whole articles hold ~15 paragraphs each.
ARROW_BATCH_ROWS = {"article": 512, "paragraph": 4096}
# The model's output as it left the Python workers, kept in the staging directory until the outputs
# are written from it (hidden: a reader of a committed output never sees it).
SCORED_ROWS = "_scored"


@dataclass(frozen=True)
class BatchOptions:
    inputs: list[str]
    output: str
    output_format: str = "parquet"
    model_uri: str = "models:/topicframe@champion"
    model_sha256: str | None = None  # required for a model directory, as for the service
    master: str | None = None
    unit: str = "article"
    text_column: str = "text"
    # None: the column of the default name ("id", "article_id") when the input has it; a name given must exist.
    id_column: str | None = None
    article_column: str | None = None
    overwrite: bool = False
    progress: bool = True
    role: str | None = None  # every paragraph's role, as the caller knows it (the role model is then not run)


@dataclass(frozen=True)
class BatchReport:
    output: str
    rows_in: int
    paragraphs_scored: int
    rejected: int
    articles: int
    wall_seconds: float
    paragraphs_per_second: float
    model: dict[str, str | None]
    master: str


# What Spark 4 accepts as a master URL (SparkContext's own parse), checked before the JVM starts: a typo there
# failed as a Java stack trace and "Java gateway process exited".
_SPARK_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+, *\d+, *\d+\]|spark://\S+|yarn|k8s://\S+")


def check_options(options: BatchOptions) -> list[str]:
    """What can be checked before Spark starts; returns the local input files (remote ones are expanded later)."""
    if options.output_format not in OUTPUT_FORMATS:
        known = ", ".join(OUTPUT_FORMATS)
        raise BatchInputError(f"--format {options.output_format}: unknown output format; use one of {known}")
    if options.unit not in UNITS:
        raise BatchInputError(f"--unit {options.unit}: use one of {', '.join(UNITS)}")
    if not options.inputs:
        raise BatchInputError("no --input given")
    if options.master is not None and not _SPARK_MASTER.fullmatch(options.master):
        raise BatchInputError(
            f"--master {options.master}: not a Spark master; use local[N], local-cluster[N,C,M], spark://HOST:PORT, "
            "yarn or k8s://URL"
        )
    files: list[str] = []
    for pattern in options.inputs:
        if not has_scheme(pattern):
            files += expand_local(pattern)
    from training.batch.inputs import check_line_endings, group_by_format

    # An unknown extension or a CSV file whose rows end two ways fails here, before the JVM starts.
    for file in group_by_format(files).get("csv", []):
        check_line_endings(file)
    if not has_scheme(options.output):
        output = Path(local_output(options.output))
        if output.exists() and not options.overwrite:
            raise BatchInputError(f"{options.output}: output exists; pass --overwrite to replace it")
        if not output.parent.is_dir():
            what = "is a file, not a directory" if output.parent.exists() else "does not exist"
            raise BatchInputError(f"{options.output}: parent directory {output.parent} {what}")
        # --overwrite replaces the output name as a whole: an input inside it (or the input itself) would be gone.
        replaced = output.resolve()
        for file in files:
            if Path(file) == replaced or replaced in Path(file).parents:
                raise BatchInputError(
                    f"{options.output}: the output would replace input {file}; write the output somewhere else"
                )
        if output.exists():
            refuse_to_replace(options.output, [entry.name for entry in output.iterdir()] if output.is_dir() else None)
    return files


def check_master_reachable(master: str | None, timeout: float = 5.0) -> None:
    """A standalone master (``spark://HOST:PORT``, or several for high availability) must answer on its port.

    Spark itself retries an unreachable master for a minute, logs a Java stack trace per try, and then fails
    with "Cannot call methods on a stopped SparkContext" (a tester's ``--master spark://`` typo). A TCP connect
    says in a second which address does not answer.
    """
    if master is None or not master.startswith("spark://"):
        return  # local masters need nothing; yarn and k8s are found through their own configuration
    failures = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise BatchInputError(f"--master {master}: {address!r} is not HOST:PORT")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            return  # one master that answers is enough: it is the one Spark registers with
        except OSError as err:
            failures.append(f"{address} ({err.strerror or err})")
    raise BatchInputError(f"--master {master}: no Spark master answers at {', '.join(failures)}; is it running?")


def pinned_uri(ref: ModelRef) -> str:
    """The URI executors load: a fixed registry version, so an alias moved mid-job cannot mix two models."""
    return f"models:/{ref.name}/{ref.version}" if ref.version is not None else ref.uri


def balance_splits(spark: SparkSession, local_files: list[str]) -> None:
    """Split the input into at least four pieces per core, so no core idles while another finishes.

    Spark's default split (128 MB, or the input's size divided by the cores plus a 4 MB per-file
    allowance) can cut a 5 MB Parquet file into a 4.5 MB and a 0.5 MB task: one core does 90% of the work.
    """
    import os

    total = sum(os.path.getsize(f) for f in local_files)
    if total:
        pieces = 4 * spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(1 << 20, total // pieces)))
        spark.conf.set("spark.sql.files.openCostInBytes", str(1 << 20))


def scoring_input(df: DataFrame, unit: str, grouped: bool) -> DataFrame:
    """Rows as the workers take them: flat, or one row per article with its paragraphs in page order."""
    if not grouped:
        return df
    from pyspark.sql import functions as F

    # Rows without an article id stand alone: a key of their own, so they never form one huge group.
    key = F.coalesce(F.col("_article"), F.concat(F.lit("\u0000"), F.col("_order").cast("string")))
    rows = F.sort_array(F.collect_list(F.struct("_order", "_id", "_text", "_source_file", "_source_line", "_problem")))
    grouped_df = df.groupBy(key.alias("_key")).agg(F.first("_article").alias("_article"), rows.alias("_rows"))
    return grouped_df.select(
        "_article",
        F.col("_rows._id").alias("_ids"),
        F.col("_rows._text").alias("_texts"),
        F.col("_rows._source_file").alias("_files"),
        F.col("_rows._source_line").alias("_lines"),
        F.col("_rows._problem").alias("_problems"),
    )


def article_summary(paragraphs: DataFrame, bundle: ModelBundle, label_sets: list[str]) -> DataFrame:
    """Per article: paragraphs, content paragraphs the model read, paragraphs it did not read, and each label's
    share of the content paragraphs read (the service's ``summary.label_sets.<set>.counts.<label>.share``)."""
    from pyspark.sql import functions as F

    content = (F.col("content") & F.col("read")).cast("int")
    unread = (~F.col("read")).cast("int")  # whatever the role, as the service's summary counts them
    aggregates = [
        F.count(F.lit(1)).alias("paragraphs"),
        F.sum(content).alias("content_paragraphs"),
        F.sum(unread).alias("unread_paragraphs"),
    ]
    for name in label_sets:
        for label in bundle.label_names[name]:
            has = F.array_contains(F.col(name), label).cast("int") * content
            aggregates.append(F.sum(has).alias(f"{name}__{label}"))
    summary = paragraphs.filter(F.col("article_id").isNotNull()).groupBy("article_id").agg(*aggregates)
    shares = [
        F.when(F.col("content_paragraphs") > 0, F.round(F.col(f"{name}__{label}") / F.col("content_paragraphs"), 4))
        .otherwise(F.lit(0.0))
        .alias(f"{name}_share_{label}")
        for name in label_sets
        for label in bundle.label_names[name]
    ]
    return summary.select("article_id", "paragraphs", "content_paragraphs", "unread_paragraphs", *shares)


def _for_format(df: DataFrame, output_format: str, label_sets: list[str]) -> DataFrame:
    """CSV has no arrays: label lists become ';'-joined text there, as in the pyfunc's output."""
    if output_format != "csv":
        return df
    from pyspark.sql import functions as F

    return df.select(*[F.array_join(c, ";").alias(c) if c in label_sets else F.col(c) for c in df.columns])


def _write(df: DataFrame, path: str, output_format: str) -> None:
    writer = df.write.mode("errorifexists")
    if output_format == "csv":
        # RFC 4180, as the CSV reader reads it: a quote inside a field is doubled (Spark's default writes \",
        # which pandas and csv.DictReader misread).
        writer.option("header", True).option("escape", '"').csv(path)
    elif output_format == "jsonl":
        # Every record has every key (a row without an article id has "article_id": null), as a schema reader
        # expects; Spark leaves null fields out by default.
        writer.option("ignoreNullFields", False).json(path)
    else:
        writer.parquet(path)


def run_batch(options: BatchOptions, spark: SparkSession | None = None, on_status: Any = None) -> BatchReport:
    """Run one job; ``spark`` reuses a session (tests, benchmark), else one is started on ``options.master``."""
    from pyspark.sql import functions as F

    from training.batch.scoring import ScoringTask, output_schema, score_batches
    from training.registry import load_model, tracking_uri

    status = on_status or (lambda message: None)
    local_files = check_options(options)
    if spark is None:
        check_master_reachable(options.master)
    started = time.perf_counter()
    status(f"loading model {options.model_uri}")
    bundle, ref = load_model(
        options.model_uri, expected_sha256=options.model_sha256
    )  # resolves, fetches and verifies before any Spark work
    label_sets = list(bundle.content_label_sets)
    if options.role is not None:
        try:
            bundle.check_roles([options.role], 1)
        except ValueError as err:
            raise BatchInputError(f"--role {options.role}: {err}") from None
    task = ScoringTask(
        model_uri=pinned_uri(ref),
        expected_sha256=ref.bundle_sha256,
        tracking_uri=tracking_uri() if ref.version is not None else None,
        unit=options.unit,
        grouped=False,
        label_sets=tuple(label_sets),
        labels=tuple(tuple(bundle.label_names[name]) for name in label_sets),
        role_set=bundle.role_set,
        role=options.role,
    )
    owns_session = spark is None
    if spark is None:
        status(f"starting Spark ({options.master or 'spark-submit / local[*]'})")
        spark = _start_uninterrupted(options)
    master = str(spark.sparkContext.master)
    files = local_files + [f for p in options.inputs if has_scheme(p) for f in expand_remote(spark, p)]
    output = StagedOutput(spark, options.output)
    if output.exists() and not options.overwrite:
        raise BatchInputError(f"{options.output}: output exists; pass --overwrite to replace it")
    if output.exists():  # checked again through Hadoop's FileSystem: hdfs:// and s3a:// outputs too
        refuse_to_replace(options.output, output.entries())

    status(f"reading {len(files)} file(s)")
    balance_splits(spark, local_files)
    df = read_inputs(
        spark, files, options.text_column, options.id_column or "id", options.article_column or "article_id"
    )
    for given, column, what in (
        (options.id_column, "_id", "--id-column"),
        (options.article_column, "_article", "--article-column"),
    ):
        # A name given on the command line that no input has read as "no ids" (a misspelt --article-column
        # scored every row alone). Absent, the column is a constant null, which Spark answers without a scan.
        if given and df.filter(F.col(column).isNotNull()).limit(1).count() == 0:
            raise BatchInputError(f"{what} {given}: no input has a column '{given}' (or it is empty in every row)")
    # Paragraph rows that name their article are scored as that article (positions, neighbours).
    has_articles = options.unit == "paragraph" and _has_article_ids(df)
    task = ScoringTask(**{**asdict(task), "grouped": has_articles})
    spark.conf.set(
        "spark.sql.execution.arrow.maxRecordsPerBatch",
        str(ARROW_BATCH_ROWS["article" if has_articles or options.unit == "article" else "paragraph"]),
    )
    if not has_articles and any(not f.endswith(".parquet") for f in files):
        # Line numbers are counted per file (one partition per file): spread the rows over the cores again.
        df = df.repartition(max(2, 2 * spark.sparkContext.defaultParallelism))
    scored = scoring_input(df, options.unit, has_articles).mapInPandas(
        partial(score_batches, task), output_schema(task)
    )
    model_columns = [
        F.lit(ref.name).alias("model_name"),
        F.lit(ref.version).cast("string").alias("model_version"),
        F.lit(ref.run_id).cast("string").alias("model_run_id"),
    ]
    try:
        status("scoring")
        # The model's only pass: every row it produced (scored or rejected) is written once as Parquet
        # in the staging directory and every output and count below is read back from there. A cache
        # (`persist`) would do the same in memory, but a million scored paragraphs with their text do not
        # fit local mode's 1 GB driver, and a block lost under memory pressure would be scored again.
        rows_path = output.path(SCORED_ROWS)
        scored.write.parquet(rows_path)
        rows = spark.read.parquet(rows_path)
        ok = rows.filter(F.col("reject_reason").isNull())
        paragraphs = ok.drop("reject_reason", "_rows_in").select("*", *model_columns)
        rejected = rows.filter(F.col("reject_reason").isNotNull()).select(
            "input_id", "article_id", "source_file", "source_line", "reject_reason", "text"
        )
        status("writing")
        _write(
            _for_format(paragraphs, options.output_format, label_sets), output.path("paragraphs"), options.output_format
        )
        _write(rejected, output.path("rejected"), options.output_format)
        summary = article_summary(ok, bundle, label_sets)
        _write(summary, output.path("articles"), options.output_format)
        counts = rows.agg(
            F.sum("_rows_in").alias("rows_in"),
            F.sum(F.col("reject_reason").isNull().cast("long")).alias("scored"),
            F.sum(F.col("reject_reason").isNotNull().cast("long")).alias("rejected"),
        ).first()
        rows_in = int(counts["rows_in"] or 0) if counts else 0
        if rows_in == 0:  # a header and nothing else: an empty output would read as a job that found nothing
            raise BatchInputError(f"{', '.join(options.inputs)}: no rows to score (a header only?); nothing written")
        articles = summary.count()  # from the columns it needs of the scored rows, not the written text
        output.delete(SCORED_ROWS)
        wall = time.perf_counter() - started
        scored_n = int(counts["scored"] or 0) if counts else 0
        report = BatchReport(
            output=local_output(options.output),
            rows_in=rows_in,
            paragraphs_scored=scored_n,
            rejected=int(counts["rejected"] or 0) if counts else 0,
            articles=int(articles),
            wall_seconds=round(wall, 2),
            paragraphs_per_second=round(scored_n / wall, 1) if wall > 0 else 0.0,
            model={"uri": options.model_uri, "name": ref.name, "version": ref.version, "run_id": ref.run_id},
            master=master,
        )
        output.write_text("report.json", json.dumps(asdict(report), indent=2) + "\n")
        output.commit(options.overwrite)
    except BaseException as exc:
        if owns_session and isinstance(exc, KeyboardInterrupt):
            # Ctrl-C or SIGTERM reaches Python only: Spark's tasks would write on into the staging directory
            # after it is removed (a tester found a finished articles/ there). The JVM goes first.
            _stop_jvm(spark)
        output.discard()
        raise
    return report


def _start_uninterrupted(options: BatchOptions) -> SparkSession:
    """Start the session with Ctrl-C and SIGTERM held until it is up, then stop it and say interrupted.

    Interrupted while PySpark launched the JVM, Python left with the JVM still running (an orphan holding its
    ports, found by a tester): there was no session yet to stop.
    """
    from training.batch.session import spark_session

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return spark_session(options.master, progress=options.progress)
    received: list[int] = []
    held = {
        signum: signal.signal(signum, lambda number, frame: received.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        spark = spark_session(options.master, progress=options.progress)
    finally:
        for signum, previous in held.items():
            signal.signal(signum, previous)
    if received:
        _stop_jvm(spark)
        raise KeyboardInterrupt
    return spark


def _stop_jvm(spark: SparkSession) -> None:
    """Stop the session; when py4j cannot (the interrupted call left the gateway mid-answer), end the JVM
    process this Python started."""
    try:
        spark.stop()
        return
    except Exception:
        pass
    process = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None)
    if process is not None:
        process.kill()
        process.wait(timeout=60)


def _has_article_ids(df: DataFrame) -> bool:
    from pyspark.sql import functions as F

    return df.filter(F.col("_article").isNotNull()).limit(1).count() > 0
