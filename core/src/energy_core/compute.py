"""Thread caps for a process that shares a small machine with others.

Why: `simulate` runs three hourly processes side by side on two cores (predict in its own process,
the feature pipeline's and its own monitor worker). DuckDB (2 threads here by default) and Arrow
(one thread per core) each size their pools for a machine of their own, so the three processes
oversubscribed the cores; capped at one thread each, the hour went from 0.89 to about 0.71 s on
one 2-core machine (on a slower one the gain was within noise; bench/bench_hour.py,
docs/performance.md). Training keeps the defaults: LightGBM and torch use every core they are given.
"""

from __future__ import annotations

import pyarrow as pa

from energy_core.feature_store import relational
from energy_core.settings import ComputeSettings, load


def child_environment(threads: int) -> dict[str, str]:
    """Variables that cap a child process at `threads`: ENERGY_THREADS for `limit_threads` at a
    worker's start, OMP_NUM_THREADS for OpenMP and BLAS pools, read when their libraries load."""
    return {"ENERGY_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}


def limit_threads(threads: int) -> None:
    """Cap this process's Arrow CPU pool and DuckDB connections at `threads` threads."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    pa.set_cpu_count(threads)
    relational.set_duckdb_threads(threads)


def cap_hourly_processes(threads: int) -> dict[str, str] | None:
    """Cap this process at `threads` and return the environment that caps its hourly children the
    same way; 0 caps nothing and returns None (the libraries' defaults)."""
    if threads == 0:
        return None
    limit_threads(threads)
    return child_environment(threads)


def limit_threads_from_settings() -> int | None:
    """Apply ENERGY_THREADS when it is set (a worker's start); returns the cap, None if unset."""
    threads = load(ComputeSettings).threads
    if threads is not None:
        limit_threads(threads)
    return threads
