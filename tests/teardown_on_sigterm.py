"""SIGTERM ends a test run as Ctrl-C does, so session fixtures still stop the servers they started.

The suite starts real servers (an `mlflow server`, PostgreSQL, a Spark job) that outlive the test process unless
their fixtures stop them: several run in their own process sessions, so that a signal meant for the test's process
group does not kill them mid-test. A run stopped with SIGTERM (`kill`, `timeout`, a cancelled CI job on a runner
that is reused) skipped every teardown and left them running: an `mlflow server` with eight workers and a
PostgreSQL cluster were found still up an hour after such a run. pytest runs the teardowns on KeyboardInterrupt, so
SIGTERM raises one — in the test process only. A process forked from it (a multiprocessing pool's worker, such as
cleanlab's) inherits the handler, and its pool stops it with SIGTERM: raising there left a worker that ran on as a
copy of the test session while the real one waited for it forever, so a forked process dies of the signal as it
always has.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

import pytest

_TEST_PROCESS: int | None = None  # the pid that installed the handler


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _TEST_PROCESS:  # a forked worker: the default action, death by the signal
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    global _TEST_PROCESS
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # leave a handler someone else installed alone
        _TEST_PROCESS = os.getpid()
        signal.signal(signal.SIGTERM, _interrupt)
