"""Shared settings of the simulate layer: thread control and the memory cap (derived here)."""

from __future__ import annotations

import contextlib
import threading
import time

import numba
import numpy as np

from parity_frontiers.simulate.budget import check_seconds
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.theory.checks import check_int, check_rational, check_subset_size

#: Default cap on the memory a simulation may allocate, in bytes (4 GiB).
MEMORY_CAP_BYTES = 4 * 2**30

#: Most trials handed to one kernel call; per-trial outputs are reduced chunk by chunk, so
#: memory does not grow with the number of trials.
MAX_CHUNK_TRIALS = 1 << 16

#: Largest size (n, s, width, samples) the int64 kernels accept (float64 holds it exactly).
MAX_KERNEL_SIZE = 2**53


def check_memory(estimated_bytes: int, cap_bytes: int | None, what: str) -> None:
    """Refuse up front, with the estimate, a request that would need more than the cap."""
    cap = (MEMORY_CAP_BYTES if cap_bytes is None
           else check_int("memory_cap_bytes", cap_bytes, strict=True))
    if estimated_bytes > cap:
        raise ValueError(
            f"{what} needs an estimated {format_bytes(estimated_bytes)}, above the memory cap "
            f"(memory_cap_bytes) of {format_bytes(cap)}; use fewer samples, neurons or threads, "
            "or raise the cap")


def format_bytes(count: float) -> str:
    """``512 B``, ``14.6 MiB``, ``3.2 GiB``: a size for a message.

    Examples
    --------
    >>> format_bytes(15_300_000), format_bytes(4 * 2**30)
    ('14.6 MiB', '4 GiB')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


def check_threads(threads: int | None) -> int:
    """Number of worker threads to use: None means all Numba threads; 1..NUMBA_NUM_THREADS."""
    limit = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return limit
    threads = check_int("threads", threads, strict=True)
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


def check_kernel_size(name: str, value, minimum: int = 1) -> int:
    """An integer size in [minimum, 2**53], the range the kernels index without overflow."""
    value = check_int(name, value, minimum)
    if value > MAX_KERNEL_SIZE:
        raise ValueError(f"{name} must be <= 2**53 for the Monte Carlo kernels, got {value:.4g}")
    return value


def check_sizes(name: str, values) -> list[int]:
    """One size or a non-empty list of them, each checked by :func:`check_kernel_size`;
    returned sorted, repeats dropped."""
    values = np.atleast_1d(np.asarray(values, dtype=object))
    if values.ndim != 1 or values.size < 1:
        raise ValueError(f"{name} must be one size or a non-empty list of sizes")
    return sorted({check_kernel_size(name, v) for v in values.tolist()})


def check_problem(n, k, s) -> tuple[int, int, int]:
    """Input dimension n, parity degree k and support size s, with 1 <= k, s <= n <= 2**53."""
    n = check_kernel_size("n", n)
    k = check_kernel_size("k", k)
    s = check_kernel_size("s", s)
    check_subset_size("k", k, n)
    check_subset_size("s", s, n)
    return n, k, s


def check_bias(bias):
    """The bias as an exact rational and as the float the kernels use (refusing overflow)."""
    exact = check_rational("bias", bias)
    try:
        value = float(exact)
    except OverflowError:
        raise ValueError("bias must be within the float64 range (|b| < 1.8e308), got "
                         f"{str(bias)[:40]}") from None
    return exact, value


#: Most neuron draws (width x s) one trial may ask for: about 20 s of one core. A trial is one
#: uninterruptible kernel call, so a larger one is refused rather than left to run for hours.
MAX_DRAWS_PER_TRIAL = 2**31


def check_trial_work(width: int, s: int) -> None:
    if width * s > MAX_DRAWS_PER_TRIAL:
        raise ValueError(f"one trial would draw width x s = {width * s:.3g} support "
                         f"coordinates, more than {MAX_DRAWS_PER_TRIAL:.3g} (about 20 s per "
                         "trial, and a trial cannot be interrupted); use a smaller width")


def check_weight_law(weights) -> str:
    """The name of a weight law of :mod:`simulate._neurons`."""
    from parity_frontiers.simulate._neurons import WEIGHT_LAWS

    if not isinstance(weights, str) or weights not in WEIGHT_LAWS:
        raise ValueError(f"weights must be one of {sorted(WEIGHT_LAWS)}, got {weights!r}")
    return weights


def check_seed(seed) -> int:
    """Seeds are integers in [0, 2**63)."""
    seed = check_int("seed", seed, minimum=0, strict=True)
    if seed >= 2**63:
        raise ValueError(f"seed must be < 2**63, got {seed}")
    return seed


def check_trials(trials) -> int:
    trials = check_int("trials", trials, strict=True)
    if trials > 2**62:
        raise ValueError(f"trials must be <= 2**62, got {trials}")
    return trials


def _interruptible(step, start: int, stop: int) -> None:
    """``step(start, stop)`` in a helper thread, so that Ctrl-C stops the caller at once.

    A Numba kernel holds the main thread until it returns (a single trial may take seconds),
    and Python runs its SIGINT handler only between bytecodes of the main thread. The kernels
    release the GIL (``nogil=True``), so here the main thread waits in short joins and raises
    KeyboardInterrupt within 0.1 s; the abandoned chunk finishes in its daemon thread and its
    results are dropped. Numba's thread count is per thread: the helper gets the caller's.
    """
    if threading.current_thread() is not threading.main_thread():
        step(start, stop)  # only the main thread receives signals
        return
    threads = numba.get_num_threads()
    outcome = {}

    def work():
        try:
            numba.set_num_threads(threads)
            step(start, stop)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            outcome["error"] = exc

    helper = threading.Thread(target=work, name="parity-frontiers-chunk", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(0.1)
    if "error" in outcome:
        raise outcome["error"]


def run_in_chunks(step, trials: int, progress: bool, label: str, target_seconds: float = 0.25,
                  seconds_per_trial: float | None = None):
    """Call ``step(start, stop)`` over consecutive trial ranges covering [0, trials).

    Chunks grow until each takes about ``target_seconds``, so a tqdm bar (on stderr, shown only
    on a terminal, and only when ``progress``) advances smoothly. Each trial's randomness depends
    on its index alone, so the chunking never changes the numbers.

    Inside a :func:`simulate.budget.time_budget`, the total time is checked before the first
    chunk from ``seconds_per_trial`` (a calibrated a priori cost, when the caller has one) and
    after every later chunk from the measured rate (the first chunk may include compilation),
    refusing with ValueError as soon as the estimate exceeds the budget.
    """
    what = f"{label} simulation of {trials:,} trials"
    if seconds_per_trial is not None:
        check_seconds(seconds_per_trial * trials, what)
    bar = progress_bar(trials, unit="trial", desc=label, enabled=progress, leave=False,
                       smoothing=0.3)
    try:
        start, size, spent, chunks = 0, 1, 0.0, 0
        while start < trials:
            stop = min(trials, start + size)
            began = time.perf_counter()
            _interruptible(step, start, stop)
            elapsed = time.perf_counter() - began
            bar.update(stop - start)
            rate = elapsed / (stop - start)
            start = stop
            spent += elapsed
            chunks += 1
            if chunks > 1 and start < trials and (elapsed >= 0.02 or spent >= 0.5):
                check_seconds(spent + rate * (trials - start), what,
                              f"extrapolated from the first {start:,} trials")
            if elapsed < target_seconds / 2:
                growth = 2 if elapsed * 4 > target_seconds else 8
                size = min(MAX_CHUNK_TRIALS, size * growth)
    finally:
        bar.close()
