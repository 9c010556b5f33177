"""training.tracking: a write stopped by Ctrl-C or SIGTERM must not keep the store locked for the clean-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.tracking import _release_interrupted_write


def rows_then_an_interrupt() -> Iterator[tuple[int]]:
    yield (1,)
    raise KeyboardInterrupt  # as the SIGTERM handler raises it, in the middle of the statement


def write_interrupted(database: Path) -> None:
    cursor = sqlite3.connect(database).cursor()
    cursor.executemany("insert into runs values (?)", rows_then_an_interrupt())


def can_write(database: Path) -> bool:
    other = sqlite3.connect(database, timeout=0.2)
    try:
        other.execute("insert into runs values (2)")
        other.commit()
        return True
    except sqlite3.OperationalError as err:
        assert "database is locked" in str(err)
        return False
    finally:
        other.close()


def test_an_interrupted_write_holds_the_lock_until_its_frames_are_let_go(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    with sqlite3.connect(database) as setup:
        setup.execute("create table runs (x)")
    with pytest.raises(KeyboardInterrupt) as stopped:
        write_interrupted(database)
    assert not can_write(database)  # what ending the run met: "database is locked"
    _release_interrupted_write(stopped.value)
    assert can_write(database)
