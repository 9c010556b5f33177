"""`topicframe model convert`: rewrite a model saved by older code (a joblib pickle) in the pickle-free format.

Registered on the main app by `register`. Only typer and the package's light modules are
imported at the top (``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.console import cli_errors, console
from training.errors import TopicframeError

model_app = typer.Typer(help="Saved models: convert old ones to the format the service serves.", no_args_is_help=True)


def convert(
    old_dir: Annotated[Path, typer.Argument(help="the old model directory (holding model.joblib)")],
    sha256: Annotated[
        str,
        typer.Option(
            "--sha256",
            help="sha256 of its model.joblib from a record you trust (e.g. the registry's bundle_sha256 tag); "
            "checked before the pickle is opened",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="new model directory to write (must not exist)")],
) -> None:
    """Convert an old pickled model (model.joblib) into the pickle-free format; prints its new digest."""
    from training.legacy import convert_legacy

    if out.exists():
        raise TopicframeError(f"{out}: already exists; give a new directory")
    digest = convert_legacy(old_dir, sha256, out)
    console.print(f"wrote {out}; serve it with TOPICFRAME_MODEL_SHA256={digest} (CLI: --model-sha256 {digest})")


def register(app: typer.Typer) -> None:
    """Add ``topicframe model ...`` to ``app``."""

    model_app.command("convert")(cli_errors(convert))
    app.add_typer(model_app, name="model")
