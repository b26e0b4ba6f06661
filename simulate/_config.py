"""Shared settings of the simulate layer: thread control and the memory cap (derived here)."""

from __future__ import annotations

import contextlib

import numba

#: Default cap on the memory a simulation may allocate, in bytes (4 GiB).
MEMORY_CAP_BYTES = 4 * 2**30


def check_memory(estimated_bytes: int, cap_bytes: int | None, what: str) -> None:
    """Refuse up front, with the estimate, a request that would need more than the cap."""
    cap = MEMORY_CAP_BYTES if cap_bytes is None else cap_bytes
    if estimated_bytes > cap:
        raise ValueError(
            f"{what} needs an estimated {estimated_bytes / 2**30:.3g} GiB, above the memory cap "
            f"of {cap / 2**30:.3g} GiB; use fewer samples, neurons or threads, or raise the cap")


def check_threads(threads: int | None) -> int:
    """Number of worker threads to use: None means all Numba threads; 1..NUMBA_NUM_THREADS."""
    limit = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return limit
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if threads > limit:
        raise ValueError(f"threads must be <= {limit} (NUMBA_NUM_THREADS), got {threads}")
    return threads


@contextlib.contextmanager
def numba_threads(threads: int):
    """Run the enclosed kernels on ``threads`` threads, restoring the previous setting."""
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def check_seed(seed) -> int:
    """Seeds are integers in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return seed


def check_trials(trials) -> int:
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    return trials


def run_in_chunks(step, trials: int, progress: bool, label: str, target_seconds: float = 0.25):
    """Call ``step(start, stop)`` over consecutive trial ranges covering [0, trials).

    Chunks grow until each takes about ``target_seconds``, so a tqdm bar (on stderr, shown only
    on a terminal, and only when ``progress``) advances smoothly. Each trial's randomness depends
    on its index alone, so the chunking never changes the numbers.
    """
    import time

    from tqdm import tqdm

    bar = tqdm(total=trials, desc=label, unit="trial", disable=None if progress else True,
               leave=False)
    try:
        start, size = 0, 1
        while start < trials:
            stop = min(trials, start + size)
            began = time.perf_counter()
            step(start, stop)
            elapsed = time.perf_counter() - began
            bar.update(stop - start)
            start = stop
            if elapsed < target_seconds / 2:
                size *= 2 if elapsed * 4 > target_seconds else 8
    finally:
        bar.close()
