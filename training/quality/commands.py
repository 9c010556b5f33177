"""`topicframe audit` and `topicframe suggest`: registered on the main app by `register`.

Only typer and the package's light modules are imported at the top (``--help`` stays fast).
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this concern's commands to ``app``."""
