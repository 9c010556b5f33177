"""Where an embedded (SQLite) MLflow store lives, from its tracking URI — without importing MLflow.

The embedded store keeps its artifacts, and the feedback database, beside its file; the registry,
the run logger, the feedback store and the batch benchmark all need that folder.
"""

from __future__ import annotations

from pathlib import Path

PREFIX = "sqlite:///"


def sqlite_file(tracking_uri: str) -> Path | None:
    """The absolute path of a ``sqlite:///`` tracking URI's database file (a relative one is taken from the
    working directory, as SQLAlchemy does), else None."""
    if not tracking_uri.startswith(PREFIX):
        return None
    return Path(tracking_uri.removeprefix(PREFIX)).resolve()
