"""Wall time and peak RSS of one child process, and prediction throughput."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    """Run ``command`` with stdout+stderr to ``log``; peak RSS and CPU are that process's own.

    The command is started by a small launcher (this module run as a script):
    Linux carries a forking parent's RSS high-water mark into the child's
    ``ru_maxrss``, so a child forked straight from this benchmark process (which
    holds loaded models) would report at least the benchmark's own RSS.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    usage_file = log.with_suffix(".usage.json")
    launcher = [sys.executable, "-m", "bench.public.measure", str(usage_file), str(log), "--", *command]
    subprocess.run(launcher, env=env, cwd=cwd, check=True)
    data = json.loads(usage_file.read_text())
    return Measured(data["returncode"], data["wall_seconds"], data["peak_rss_bytes"], data["cpu_seconds"])


def _launch(usage_file: str, log: str, command: list[str]) -> None:
    """Run ``command`` and record its own rusage (``os.wait4`` reports exactly this child)."""
    with open(log, "w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    record = {
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_seconds": wall,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # KiB on Linux
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    Path(usage_file).write_text(json.dumps(record))


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


if __name__ == "__main__":
    _launch(sys.argv[1], sys.argv[2], sys.argv[4:])  # argv[3] is "--"
