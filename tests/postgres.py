"""A real, throw-away PostgreSQL server for tests: `initdb` + `pg_ctl` in a temp directory.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user
(``runuser -u postgres --``) in a directory that user owns. It listens on a free
loopback port only (no Unix socket), trusts local connections, and skips fsync
(a test cluster has nothing to keep). `postgres_server` yields a SQLAlchemy URL
of its ``postgres`` database; `create_database` makes one database per test module.
If the test process dies without its teardown, a watchdog stops the server and
deletes its directory (tests/orphan_watchdog.py).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.orphan_watchdog import cleanup_if_this_process_dies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_bin_dir() -> Path:
    """The directory of the server's programs (Debian keeps them in /usr/lib/postgresql/N/bin)."""
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("pg_ctl is not on PATH: install PostgreSQL (Debian: apt-get install postgresql)")
    return Path(pg_ctl).resolve().parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster; yield ``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``; stop and delete it."""
    bin_dir = server_bin_dir()
    # Not under pytest's tmp_path: its parents are private to root, and the server user must reach the directory.
    root = Path(tempfile.mkdtemp(prefix="topicframe-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": root}
    try:
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            **run,  # type: ignore[call-overload]
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off"
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            **run,  # type: ignore[call-overload]
        )
    except subprocess.CalledProcessError as exc:
        detail = log.read_text(errors="replace") if log.is_file() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{detail}") from None
    stop = _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    directory = shlex.quote(str(root))
    stop_and_delete = f"cd {directory} && {shlex.join(stop)} >/dev/null 2>&1; rm -rf {directory}"
    try:
        with cleanup_if_this_process_dies(["--", "sh", "-c", stop_and_delete]):
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(stop, capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server; return its SQLAlchemy URL."""
    conninfo = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server_url.rsplit("/", 1)[0] + f"/{name}"
