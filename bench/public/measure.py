"""Wall time and peak RSS of one child process, and prediction throughput."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    cpu_seconds: float  # user + system: robust to other jobs on the machine, unlike wall time


def run_measured(command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run ``command`` with stdout+stderr to ``log``; peak RSS is that child's own.

    ``os.wait4`` reports the rusage of exactly this child, unlike
    RUSAGE_CHILDREN, which is the maximum over every child reaped so far.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(process.returncode, wall, usage.ru_maxrss * 1024, cpu)  # ru_maxrss is in KiB on Linux


def throughput(predict: Callable[[list[str]], object], texts: list[str], repeats: int = 3) -> float:
    """Paragraphs per second for a batch predict over ``texts``: best of ``repeats`` after a warm-up.

    Best-of rather than mean, because other jobs share this machine's two cores.
    """
    predict(texts[:10])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        predict(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best
