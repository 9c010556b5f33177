"""Command-line options that several command modules declare alike (``--model``, ``--config``, ...).

Kept apart from ``training.cli`` so that the command modules it registers can use them without
importing it (no import cycle). Only typer is imported here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory "
        "[default: models:/NAME@champion, NAME the config's model_name]",
        show_default=False,
    ),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="run config YAML (experiments/*.yaml)")]


def _sha256_digest(value: str | None) -> str | None:
    """A digest is 64 hexadecimal characters: anything else is said to be no digest, not a mismatch against it."""
    if value is None:
        return None
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise typer.BadParameter(f"{value[:80]!r} is not a sha256 digest (64 hexadecimal characters)")
    return digest


ModelSha256Option = Annotated[
    str | None,
    typer.Option(
        "--model-sha256",
        help="for a model directory: its digest (the registry version's bundle_sha256 tag, or what "
        "`topicframe model convert` printed), which every file is checked against",
        show_default=False,
        callback=_sha256_digest,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="no progress bars (also off when the output is not a terminal)"),
]


def refuse_existing(out: Path | None, overwrite: bool) -> None:
    """Checked before any work: a long command must not end in a refusal to write its result, nor replace a
    file the user did not ask it to."""
    from training.errors import TopicframeError

    if out is not None and out.is_dir():  # --overwrite or not: a directory is never replaced by a file
        raise TopicframeError(f"{out}: is a directory; give a file name, e.g. {out / 'out.csv'}")
    if out is not None and out.exists() and not overwrite:
        raise TopicframeError(f"{out}: already exists (pass --overwrite to replace it)")
    if out is not None and not out.parent.is_dir():
        raise TopicframeError(f"{out}: directory {out.parent} does not exist")
