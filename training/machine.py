"""What this machine offers a fit or a sweep: the cores this process may run on and the memory left."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours CPU pinning (containers, taskset)
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def available_memory_mb() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:  # pragma: no cover - not on Linux
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20)


@contextmanager
def labels_fitted_in_threads(n_jobs: int) -> Iterator[None]:
    """One-vs-rest labels fitted ``n_jobs`` at a time in threads, BLAS in one thread (training and the audit).

    liblinear calls BLAS for tiny vector operations; threaded OpenBLAS only adds synchronisation, and on a
    busy machine its spinning threads made fits 10-20x slower (measured: 64 s against 3 s on the default corpus).
    The cores go to labels instead: scikit-learn's `Parallel` inside `OneVsRestClassifier` picks up this
    threading backend (`build_classifier` keeps estimators that share liblinear's global RNG sequential).
    """
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"), parallel_config(backend="threading", n_jobs=n_jobs):
        yield
