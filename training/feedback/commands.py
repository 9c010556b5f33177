"""`topicframe feedback ...`: registered on the main app by `register`.

Only typer and the package's light modules are imported at the top (``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.console import cli_errors

feedback_app = typer.Typer(help="Corrections sent to POST /v1/feedback.", no_args_is_help=True)


def parse_since(value: str | None) -> object:
    """``--since``: an ISO date or date-time (UTC when it names no zone)."""
    from datetime import datetime

    from training.errors import TopicframeError
    from training.feedback.store import since_in_utc

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TopicframeError(
            f"--since: '{value}' is not an ISO date or date-time (e.g. 2026-12-01 or 2026-12-01T08:00:00Z)"
        ) from None
    try:
        return since_in_utc(parsed)
    except ValueError as err:
        raise TopicframeError(f"--since: {err}") from None


def export(
    out: Annotated[Path, typer.Option("--out", help="the CSV to write (training format)")],
    since: Annotated[
        str | None, typer.Option("--since", help="only corrections stored at or after this ISO date/time (UTC)")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="database URL [default: TOPICFRAME_FEEDBACK_URL, else feedback.db beside the MLflow store]",
            show_default=False,
        ),
    ] = None,
    labels: Annotated[Path, typer.Option("--labels", help="codebook directory: one column per label set")] = Path(
        "labels"
    ),
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace --out if it exists")] = False,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            "--exclude",
            help="leave out corrections of the paragraphs of this labelled CSV (repeatable; e.g. the test set's, "
            "which training refuses as a leak)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the stored corrections as a labelled CSV for `topicframe train --data ... --data OUT`.

    The newest correction of each text is written; ids are feedback-<n>, so that
    `train --prefer-feedback` lets them win over corpus rows with the same text.
    """
    from training.cli_options import refuse_existing
    from training.console import console
    from training.errors import TopicframeError
    from training.feedback.export import export_corrections, texts_in
    from training.feedback.store import default_feedback_url, describe_url, open_store, sqlite_path

    since_time = parse_since(since)
    refuse_existing(out, overwrite)
    excluded_texts = texts_in(exclude or [])
    database = url or default_feedback_url()
    path = sqlite_path(database)
    if path is not None and not path.is_file():
        raise TopicframeError(
            f"no feedback store at {path}: nothing has been stored there (set --url or TOPICFRAME_FEEDBACK_URL)"
        )
    store = open_store(database)
    try:
        result = export_corrections(store, out, labels, since_time, overwrite, excluded_texts)  # type: ignore[arg-type]
    finally:
        store.close()
    # The corpus and codebooks beside which the corrections were exported (labels/ in the project folder).
    corpus, codebooks = labels.as_posix(), "" if labels == Path("labels") else f" --labels {labels.as_posix()}"
    superseded = f" ({result.superseded} older correction(s) of the same text left out)" if result.superseded else ""
    if exclude:
        names = ", ".join(path.as_posix() for path in exclude)
        superseded += f" ({result.excluded} correction(s) of paragraphs in {names} left out: --exclude)"
    console.print(
        f"wrote {result.rows} correction(s) from {describe_url(database)} to {out}{superseded}; "
        f"retrain with: topicframe train --data {corpus}/paragraphs.csv --data {out} "
        f"--test-data {corpus}/paragraphs_test.csv{codebooks} --prefer-feedback"
    )


def register(app: typer.Typer) -> None:
    """Add this concern's commands to ``app``."""

    feedback_app.command("export")(cli_errors(export))
    app.add_typer(feedback_app, name="feedback")
