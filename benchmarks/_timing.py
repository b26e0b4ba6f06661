"""Timing shared by the benchmark scripts (run as `python benchmarks/bench_*.py`, which puts
this folder on sys.path)."""

import time


def best_of(fn, repeat):
    """Shortest wall time of ``repeat`` calls of ``fn``: the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
