"""`topicframe audit` and `topicframe suggest`: registered on the main app by `register`.

Only typer and the package's light modules are imported at the top (``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.cli_options import refuse_existing
from training.console import cli_errors, console, print_plain, print_warning, progress_bar
from training.errors import TopicframeError

AUDIT_EXPERIMENT = "topicframe-audit"


def audit(
    data: Annotated[list[str] | None, typer.Option("--data", help="labelled CSV file or glob (repeatable)")] = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="directory of <label_set>.yaml codebooks (default: labels)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="run config YAML (experiments/*.yaml)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the full ranking to this CSV")] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="rows to show in the terminal table")] = 20,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace --out if it exists")] = False,
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment")] = AUDIT_EXPERIMENT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key, e.g. cv.folds=3")] = None,
) -> None:
    """Find probably wrong labels: out-of-fold scores + cleanlab's confident learning, rows ranked.

    Topics and frames are audited on body and headline rows only; roles on every row.
    """
    import tempfile

    from training.config import load_config, parse_override
    from training.quality.audit import log_audit_run, print_top, run_audit, summary_line, write_ranking

    refuse_existing(out, overwrite)
    overrides = dict(parse_override(item) for item in set_ or [])
    if data:
        overrides["data.train"] = data
    if labels is not None:  # as `train --labels` sets it (it took `--set data.labels_dir=...`, which --help hid)
        overrides["data.labels_dir"] = str(labels)
    run_config = load_config(config, overrides)
    with progress_bar(counter=True) as bar:
        task = bar.add_task("out-of-fold scores", total=run_config.cv.folds)
        result = run_audit(run_config, on_fold=lambda: bar.update(task, advance=1))
    if top:
        print_top(result, top)
    console.print(summary_line(result))
    with tempfile.TemporaryDirectory(prefix="topicframe-audit-") as tmp:
        ranking = Path(tmp) / "label_audit.csv"
        write_ranking(result, ranking)
        run_id = log_audit_run(run_config, result, ranking, experiment)
        if out is not None:
            write_ranking(result, out)
            print_plain(f"wrote {out}")
    console.print(f"MLflow run {run_id} in experiment '{experiment}'")


def suggest(
    pool: Annotated[
        list[Path],
        typer.Option(
            "--pool", help="unlabelled CSV (text column), .jsonl, .txt/.md/.html, a directory or a glob (repeatable)"
        ),
    ],
    n: Annotated[int, typer.Option("-n", min=1, help="how many paragraphs to propose")] = 50,
    strategy: Annotated[
        str, typer.Option("--strategy", help="uncertainty | diversity | mixed | random")
    ] = "uncertainty",
    out: Annotated[Path | None, typer.Option("--out", help="write the CSV here (default: stdout)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace --out if it exists")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory")
    ] = None,
    model_sha256: Annotated[
        str | None,
        typer.Option("--model-sha256", help="for a model directory: its digest (bundle_sha256), checked on load"),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="run config YAML (for the model name)")] = None,
    labelled: Annotated[
        list[Path] | None, typer.Option("--labelled", help="labelled CSV: clusters it covers count as covered")
    ] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="CSV/JSONL field with the text")] = "text",
    seed: Annotated[int, typer.Option("--seed", help="seed for k-means and the random strategy")] = 0,
) -> None:
    """Propose the next paragraphs to label, each with its reason, as a CSV ready to be labelled."""
    import sys

    from training.quality.suggest import STRATEGIES, read_pool, suggestion_records, write_records
    from training.quality.suggest import suggest as choose_paragraphs

    if strategy not in STRATEGIES:
        raise TopicframeError(f"--strategy {strategy}: expected one of {', '.join(STRATEGIES)}")
    refuse_existing(out, overwrite)
    paragraphs = read_pool(pool, text_column)
    labelled_texts = read_pool(labelled, text_column).texts if labelled else None
    from training.registry import champion_uri, load_model

    bundle, ref = load_model(model or champion_uri(config), expected_sha256=model_sha256)
    choices = choose_paragraphs(paragraphs, bundle, n, strategy, seed, labelled_texts)
    if len(choices) < n:
        print_warning(f"the pool has only {len(choices)} candidate paragraph(s); proposing all of them")
    records = suggestion_records(paragraphs, choices, bundle.label_sets, strategy)
    if out is None:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return
    write_records(records, out)
    print_plain(f"wrote {len(records)} paragraphs to label to {out} (model {ref.name} {ref.version or ''})".rstrip())


def register(app: typer.Typer) -> None:
    """Add this concern's commands to ``app``."""

    app.command()(cli_errors(audit))
    app.command()(cli_errors(suggest))
