"""`topicframe model convert`: rewrite a model saved by older code (a joblib pickle) in the pickle-free format;
`topicframe model verify`: check a registered MLflow model's files before MLflow's own loaders import them.

Registered on the main app by `register`. Only typer and the package's light modules are
imported at the top (``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.console import cli_errors, console
from training.errors import TopicframeError

model_app = typer.Typer(
    help="Saved models: convert old ones to the format the service serves; verify a registered MLflow model.",
    no_args_is_help=True,
)


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


def verify(
    model: Annotated[str, typer.Argument(help="a registry model, models:/NAME@ALIAS or models:/NAME/VERSION")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="write the checked copy to this new directory, for mlflow.pyfunc.load_model"),
    ] = None,
) -> None:
    """Check every file of a registered MLflow model against the registry's pyfunc_sha256 before MLflow loads it
    (its loaders import the Python files logged with the model)."""
    from training.pyfunc_check import PYFUNC_SHA256_TAG, verify_logged_model

    ref = verify_logged_model(model, to)
    console.print(
        f"{model}: version {ref.version}: every file matches the registry's {PYFUNC_SHA256_TAG} {ref.pyfunc_sha256}"
    )
    if to is not None:
        console.print(f"checked copy: {to}; load it with mlflow.pyfunc.load_model({str(to)!r})")


def register(app: typer.Typer) -> None:
    """Add ``topicframe model ...`` to ``app``."""

    model_app.command("convert")(cli_errors(convert))
    model_app.command("verify")(cli_errors(verify))
    app.add_typer(model_app, name="model")
