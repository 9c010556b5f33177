"""SIGTERM ends a test run as Ctrl-C does, so session fixtures still stop the servers they started.

The suite starts real servers (an `mlflow server`, PostgreSQL, a Spark job) that outlive the test process unless
their fixtures stop them: several run in their own process sessions, so that a signal meant for the test's process
group does not kill them mid-test. A run
stopped with SIGTERM (`kill`, `timeout`, a cancelled CI job on a runner that is reused) skipped every teardown
and left them running: an `mlflow server` with eight workers and a PostgreSQL cluster were found still up an hour
after such a run. pytest runs the teardowns on KeyboardInterrupt, so SIGTERM raises one.
"""

from __future__ import annotations

import signal
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # leave a handler someone else installed alone
        signal.signal(signal.SIGTERM, _interrupt)
