"""A test run stopped with SIGTERM still tears its session fixtures down (`tests/teardown_on_sigterm.py`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SESSION = """
import pytest, time
from pathlib import Path

@pytest.fixture(scope="session")
def server():
    Path("started").write_text("")
    yield
    Path("stopped").write_text("")

def test_waits(server):
    time.sleep(60)
"""


@pytest.mark.parametrize("plugin", [True, False], ids=["with the plugin", "without it"])
def test_sigterm_runs_the_session_teardown(tmp_path: Path, plugin: bool) -> None:
    (tmp_path / "test_session.py").write_text(SESSION)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_session.py"]
    if plugin:
        command[3:3] = ["-p", "tests.teardown_on_sigterm"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    # Without the plugin the process dies at once and the fixture never stops its server: what the plugin is for.
    assert (tmp_path / "stopped").exists() is plugin, output
