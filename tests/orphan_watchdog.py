"""Stop the servers a test run started when the test process dies without its teardown.

A test run killed from outside (``kill -9``, a CI job's timeout, an OOM kill) never reaches its fixtures'
teardown, and the `mlflow server`, PostgreSQL and service processes they started keep running: they are in
their own sessions, so nothing else stops them. A signal handler in the test process is not the answer: it
cannot run on SIGKILL, and a Python-level SIGTERM handler is inherited by the workers cleanlab's
multiprocessing pool forks, which then ignore the pool's own SIGTERM (found when such a handler hung CI).

So each server gets a watchdog: a separate small process, in a session of its own, that waits for the test
process to exit and then runs the server's cleanup. The fixture stops the watchdog before its normal teardown,
so on a normal run the watchdog does nothing.

    python -m tests.orphan_watchdog PID --group PGID     # SIGTERM, then SIGKILL, the process group PGID
    python -m tests.orphan_watchdog PID -- COMMAND...    # run COMMAND
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRACE_SECONDS = 10.0


@contextlib.contextmanager
def cleanup_if_this_process_dies(cleanup: list[str]) -> Iterator[None]:
    """For the block, a watchdog runs ``cleanup`` (watchdog arguments after PID) if this process dies first."""
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "tests.orphan_watchdog", str(os.getpid()), *cleanup],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a signal to the test run's process group must not reach it
    )
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


def wait_for_exit(pid: int) -> None:
    """Return once process ``pid`` has exited (it is not our child, so ``waitpid`` cannot be used)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    select.select([descriptor], [], [])  # a pidfd becomes readable when its process exits


def stop_group(group: int) -> None:
    def signal_group(sig: int) -> bool:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return False
        return True

    if not signal_group(signal.SIGTERM):
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if not signal_group(0):
            return
    signal_group(signal.SIGKILL)


def main(argv: list[str]) -> None:
    # Checked before waiting: a watchdog started with bad arguments would otherwise wait and then do nothing.
    stops_a_group = argv[1:2] == ["--group"] and len(argv) == 3 and argv[2].isdigit()
    runs_a_command = argv[1:2] == ["--"] and len(argv) >= 3
    if not (argv[:1] and argv[0].isdigit() and (stops_a_group or runs_a_command)):
        raise SystemExit(f"usage: python -m tests.orphan_watchdog PID (--group PGID | -- COMMAND...), not {argv}")
    pid, mode, *rest = argv
    wait_for_exit(int(pid))
    if mode == "--group":
        stop_group(int(rest[0]))
    else:
        subprocess.run(rest, check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
