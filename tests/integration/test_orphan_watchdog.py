"""A test process killed without its teardown leaves no server running (tests/orphan_watchdog.py).

Each test runs a small "test process" in a child Python, which starts a server the way the fixtures do and
then is killed with SIGKILL, as a CI timeout would: its fixtures' teardown never runs.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from .conftest import ROOT, child_env


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan is reaped by whoever adopted it, maybe late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def start_test_process(code: str) -> tuple[subprocess.Popen, str]:
    """Run ``code`` in a child Python at the repository root; return it and the first line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first_line = process.stdout.readline().strip()
    assert first_line, f"the test process printed nothing (exit code {process.poll()})"
    return process, first_line


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


SLEEPER = "[sys.executable, '-c', 'import time; time.sleep(600)']"


def test_a_server_started_by_running_stops_when_the_test_process_is_killed(tmp_path: Path) -> None:
    test_process, line = start_test_process(f"""
        import sys, time
        from pathlib import Path
        from tests.integration.conftest import child_env, running
        with running({SLEEPER}, Path({str(tmp_path / "server.log")!r}), child_env()) as server:
            print(server.pid, flush=True)
            time.sleep(600)
    """)
    server = int(line)
    assert is_running(server)
    kill(test_process)
    assert wait_until(lambda: not is_running(server), timeout=20), "the server outlived the killed test process"


def test_without_the_watchdog_the_same_server_would_outlive_the_test_process() -> None:
    """The control for the test above: what a server in its own session does when nothing stops it."""
    test_process, line = start_test_process(f"""
        import subprocess, sys, time
        server = subprocess.Popen({SLEEPER}, start_new_session=True)
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    server = int(line)
    try:
        kill(test_process)
        assert not wait_until(lambda: not is_running(server), timeout=3)
    finally:
        os.killpg(server, signal.SIGKILL)


def test_a_postgres_server_stops_and_its_directory_goes_when_the_test_process_is_killed() -> None:
    pattern = os.path.join(tempfile.gettempdir(), "topicframe-pg-*")
    before = set(glob.glob(pattern))
    test_process, url = start_test_process("""
        import time
        from tests.postgres import postgres_server
        with postgres_server() as url:
            print(url, flush=True)
            time.sleep(600)
    """)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, connect_timeout=5) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    ours = set(glob.glob(pattern)) - before
    assert len(ours) == 1
    kill(test_process)

    def refused() -> bool:
        try:
            psycopg.connect(conninfo, connect_timeout=2).close()
        except psycopg.OperationalError:
            return True
        return False

    assert wait_until(refused, timeout=30), "PostgreSQL outlived the killed test process"
    assert wait_until(lambda: not any(os.path.exists(d) for d in ours), timeout=10), f"{ours} was not deleted"


@pytest.mark.parametrize("argv", [["1", "--bogus", "x"], ["1"], ["1", "--group", "x"], ["pid", "--", "true"]])
def test_the_watchdog_refuses_arguments_it_does_not_know(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.orphan_watchdog", *argv], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "usage: python -m tests.orphan_watchdog" in result.stderr
