"""Process and load-generation helpers for the serving benchmark: /proc readings, servers, wrk."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[float, float]:
    """(largest RSS among the worker processes = the tree's leaves, RSS of the whole tree) in MB."""
    tree = process_tree(pid)
    parents = set()
    for p in tree:
        with contextlib.suppress(OSError, IndexError):
            parents.add(int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]))
    leaves = [p for p in tree if p not in parents]
    return max((rss_mb(p) for p in leaves), default=0.0), sum(rss_mb(p) for p in tree)


@contextlib.contextmanager
def started(
    name: str, command: list[str], ready_url: str, env: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[tuple[subprocess.Popen, float]]:
    """Start a server in its own process group; yield it and the seconds until ``ready_url`` answered; stop it."""
    began = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 600  # spawned workers import slowly on a busy machine
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after 600 s; see {log}")
            time.sleep(0.05)
        yield process, time.perf_counter() - began
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=5)


# ---------------------------------------------------------------- load generation with wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, body: str, connections: int, seconds: float, workdir: Path) -> tuple[float, float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, wrk's CPU as a share of one core, non-2xx + socket errors)."""
    script = workdir / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n'
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = result.stdout
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / round(seconds)

    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, flags=re.M)
        assert match, out
        return float(match[1]) * _UNITS[match[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return float(rate[1]), percentile("50"), percentile("99"), cpu, errors
