"""How an admin reload reaches every worker: a file the reloading worker replaces and all of them watch.

uvicorn's ``--workers N`` runs N processes, and a request reaches one of them, so ``POST /v1/admin/reload``
used to switch one worker while the others served the old version until their next background refresh (up
to 30 s: half the traffic on a model being rolled back). `python -m service` gives the workers one file in a
temporary directory (`Settings.reload_signal_file`); the worker that reloaded replaces it, and each worker
looks at it every second (one stat) and checks the alias when it has changed.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def reload_signal(path: Path | None) -> tuple[int, int] | None:
    """What the signal file is now (inode, modification time), or None when there is none."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def signal_reload(path: Path | None) -> None:
    """Tell the other workers that an admin reload happened: the file is replaced (a new inode), atomically."""
    if path is None:
        return
    with contextlib.suppress(OSError):  # the reload itself succeeded; the others still follow at their refresh
        staged = path.with_name(f".{path.name}.{os.getpid()}")
        staged.write_text(f"{os.getpid()} {time.time()}\n", encoding="utf-8")
        os.replace(staged, path)
