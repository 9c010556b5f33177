"""`topicframe batch`: registered on the main app by `register`.

Only typer and the package's light modules are imported at the top (``--help`` stays fast; PySpark is
an optional extra, imported only when the command runs).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from training.console import cli_errors, console, print_error, print_plain
from training.errors import TopicframeError


def _spark_error(exc: Exception) -> str | None:
    """The first line of a PySpark error (an unreadable file, a failed task) or of a Java error raised through
    py4j (a Parquet file that is not one, an unreachable hdfs:// name node), else None."""
    errors = sys.modules.get("pyspark.errors")
    protocol = sys.modules.get("py4j.protocol")
    if protocol is not None and isinstance(exc, protocol.Py4JJavaError):
        try:
            said = str(exc.java_exception.toString())
        except Exception:  # the JVM is gone: py4j's own message
            said = str(exc)
    elif errors is not None and isinstance(exc, errors.PySparkException):
        said = str(exc)
    else:
        return None
    lines = [line for line in said.splitlines() if line.strip()]
    return lines[0][:500] if lines else type(exc).__name__


def register(app: typer.Typer) -> None:
    """Add this concern's commands to ``app``."""

    @app.command()
    @cli_errors
    def batch(
        inputs: Annotated[
            list[str],
            typer.Option(
                "--input", help="CSV, JSONL or Parquet file, glob or directory (repeatable; hdfs://, s3a://...)"
            ),
        ],
        output: Annotated[str, typer.Option("--output", help="output directory (must not exist unless --overwrite)")],
        output_format: Annotated[str, typer.Option("--format", help="parquet, jsonl or csv")] = "parquet",
        model: Annotated[
            str | None,
            typer.Option(
                "--model", help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory", show_default=False
            ),
        ] = None,
        model_sha256: Annotated[
            str | None,
            typer.Option("--model-sha256", help="for a model directory: the bundle_sha256 printed at training"),
        ] = None,
        master: Annotated[
            str | None,
            typer.Option("--master", help="Spark master [default: spark-submit's, else local[*]]", show_default=False),
        ] = None,
        unit: Annotated[
            str, typer.Option("--unit", help="article: split each row's text into paragraphs; paragraph: one per row")
        ] = "article",
        text_column: Annotated[
            str, typer.Option("--text-column", help="the column (CSV, Parquet) or field (JSONL) holding the text")
        ] = "text",
        id_column: Annotated[
            str | None,
            typer.Option(
                "--id-column",
                help="each row's id, echoed in the output [default: id, when the input has it]",
                show_default=False,
            ),
        ] = None,
        article_column: Annotated[
            str | None,
            typer.Option(
                "--article-column",
                help="with --unit paragraph: rows sharing it are one article [default: article_id, when present]",
                show_default=False,
            ),
        ] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing output directory")] = False,
        role: Annotated[
            str | None,
            typer.Option(
                "--role",
                help="every paragraph's role, when you know it (body: text taken from articles' bodies); "
                "the role model is then not run and role_score is null",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Score CSV/JSONL/Parquet corpora on Spark with the registered model (the service's labels)."""
        try:  # the optional extra: `./dev run`'s venv and the service image have no PySpark (a traceback said so)
            import pyspark  # noqa: F401
        except ImportError:
            raise TopicframeError(
                "topicframe batch needs PySpark, which `./dev run` and the service image leave out: install the "
                "batch extra (`.venv/bin/pip install -e '.[batch]'`; Spark also needs Java 17)"
            ) from None
        from training.batch.job import BatchOptions, run_batch
        from training.registry import DEFAULT_MODEL_URI

        options = BatchOptions(
            inputs=inputs,
            output=output,
            output_format=output_format,
            model_uri=model or DEFAULT_MODEL_URI,
            model_sha256=model_sha256,
            master=master,
            unit=unit,
            text_column=text_column,
            id_column=id_column,
            article_column=article_column,
            overwrite=overwrite,
            role=role,
        )
        # SIGTERM stops the job as Ctrl-C does (cli_errors), so the staging directory is removed either way.
        try:
            report = run_batch(options, on_status=lambda message: console.print(f"[dim]{message}…[/dim]"))
        except KeyboardInterrupt:
            print_error(f"interrupted: nothing was written under {output}")
            raise typer.Exit(130) from None
        except Exception as exc:
            spark_error = _spark_error(exc)
            if spark_error is None:
                raise
            raise TopicframeError(f"Spark: {spark_error}") from None
        print_plain(
            f"{report.rows_in} rows in, {report.paragraphs_scored} paragraphs scored, {report.rejected} rejected, "
            f"{report.articles} articles; {report.wall_seconds:.1f} s, {report.paragraphs_per_second:,.1f} paragraphs/s"
        )
        print_plain(f"model {report.model['name']} version {report.model['version'] or '-'}; output {report.output}")
