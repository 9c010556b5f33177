"""Real processes for integration tests: a free port, waiting for HTTP, an `mlflow server`.

Every process is started in its own process group and the whole group is
killed at teardown (`mlflow server` and `uvicorn --workers` start children that
would outlive a parent killed alone), or by a watchdog if the test process dies
without its teardown (tests/orphan_watchdog.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.orphan_watchdog import cleanup_if_this_process_dies

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# `topicframe train --set` for the runs that test machinery (logging, promotion, sweeps, serving), not features:
# 3-character role n-grams, where the default's 2-5 take twice the role model's fit time.
FAST_ROLES = ("--set", "roles.char_ngram_range=[3,3]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(log: Path | None, lines: int = 40) -> str:
    """The end of a process log, for failure messages."""
    if log is None or not log.is_file():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll ``url`` until it answers 2xx; fail early if ``process`` died (showing the end of ``log``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered\n{tail(log)}")
        try:
            if httpx.get(url, timeout=1.0).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s\n{tail(log)}")


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process's group, then SIGKILL whatever is left after ``grace`` seconds.

    For a process not started in its own session this signals just the process.
    """
    own_group = os.getpgid(process.pid) == process.pid if process.poll() is None else True

    def signal_all(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if own_group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    if process.poll() is None:
        signal_all(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    signal_all(signal.SIGKILL)  # children that outlived their parent, or a parent that ignored SIGTERM
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: the venv's bin first on PATH, no stray TOPICFRAME_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOPICFRAME_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@contextlib.contextmanager
def running(command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """Run ``command`` in its own process group (output appended to ``log``) for the block, then stop it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        with cleanup_if_this_process_dies(["--group", str(process.pid)]):
            yield process
    finally:
        stop(process)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (SQLite backend, local artifact root) on 127.0.0.1; yields its tracking URI.

    Shared by the whole session: tests that register models use their own model names.
    """
    root: Path = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--workers", "1",
    ]  # fmt: skip
    log = root / "server.log"
    # No job runner (huey consumers for MLflow's GenAI jobs): as `topicframe ui` starts the server.
    with running(command, log, child_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"), cwd=root) as process:
        uri = f"http://127.0.0.1:{port}"
        wait_for_http(f"{uri}/health", timeout=90, process=process, log=log)
        yield uri


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (tests/postgres.py); yields the URL of its ``postgres`` database.

    Tests create their own databases on it (`tests.postgres.create_database`).
    """
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url
