r"""Monte Carlo of lucky neurons under s-sparse initialisation (checks :mod:`theory.lottery`).

Each trial draws ``width`` independent uniform s-subsets U of [n] and compares them with the
parity set S (fixed as {0, ..., k-1}; the law of U is permutation invariant, so this loses
nothing). It records, per trial, the number of lucky neurons,

* over-sparse (s >= k): S inside U, probability C(n-k, s-k) / C(n, s) = C(s,k)/C(n,k),
* under-sparse (s < k): U inside S, probability C(k, s) / C(n, s),

and the histogram of overlaps |U n S| over all neurons (the hypergeometric law). The estimates
are the per-neuron lucky rate, P(at least one lucky among width) and each overlap frequency,
each with a Wilson 95% interval, next to theory's exact value (docs/theory.md §3).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from parity_frontiers.simulate._config import (
    MAX_CHUNK_TRIALS,
    check_kernel_size,
    check_memory,
    check_problem,
    check_seed,
    check_threads,
    check_trial_work,
    check_trials,
    numba_threads,
    run_in_chunks,
)
from parity_frontiers.simulate._neurons import SCAN_LIMIT, draw_subset
from parity_frontiers.simulate._rng import trial_state
from parity_frontiers.simulate.budget import SECONDS_PER_DRAW, parallel_speedup
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.theory.lottery import (
    MAX_LAW_LENGTH,
    overlap_pmf,
    p_at_least_one_lucky,
    p_lucky,
)

__all__ = ["simulate_lottery", "MAX_LOTTERY_OVERLAPS"]

#: Longest overlap histogram kept (min(s, k) + 1 entries): theory's longest exact law.
MAX_LOTTERY_OVERLAPS = MAX_LAW_LENGTH


@njit(parallel=True, cache=True, nogil=True)
def _lottery_kernel(n, k, s, width, seed, start, stop, lucky_counts, histograms):
    """For trials start..stop-1: lucky_counts[t - start] and histograms[t - start, j]."""
    lucky_overlap = min(s, k)  # S inside U (s >= k) or U inside S (s < k)
    count = stop - start
    nblocks = min(count, 64)
    for block in prange(nblocks):
        # Scratch is allocated once per block of trials; results depend on the trial only.
        support = np.empty(s, dtype=np.int64)
        marks = np.zeros(n if s > SCAN_LIMIT else 1, dtype=np.bool_)
        for index in range(count * block // nblocks, count * (block + 1) // nblocks):
            state = trial_state(seed, start + index)
            lucky = 0
            for _ in range(width):
                draw_subset(state, n, s, support, 0, marks)
                overlap = 0
                for q in range(s):
                    if support[q] < k:
                        overlap += 1
                histograms[index, overlap] += 1
                if overlap == lucky_overlap:
                    lucky += 1
            lucky_counts[index] = lucky


def simulate_lottery(n, k, s, width=1, trials=10_000, seed=0, threads=None, progress=False,
                     memory_cap_bytes=None) -> dict:
    r"""Estimate lucky-neuron probabilities of s-sparse initialisation by Monte Carlo.

    Parameters
    ----------
    n, k, s : int
        Input dimension, parity degree and support size (1 <= k, s <= n).
    width : int
        Neurons r per trial.
    trials : int
        Independent trials (each draws ``width`` neurons).
    seed : int
        Seed in [0, 2**63); the same seed gives the same numbers for any ``threads``.
    threads : int, optional
        Numba threads (default: all).
    progress : bool
        Show a progress bar on a terminal.
    memory_cap_bytes : int, optional
        Refuse requests needing more memory (default :data:`simulate._config.MEMORY_CAP_BYTES`).

    Returns
    -------
    dict
        ``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials``, ``seed`` for
        P(at least one lucky among ``width``), with ``exact`` = 1 - (1 - p)^r from theory;
        ``per_neuron``: the same keys for P(lucky) over trials x width neurons, with ``exact``;
        ``overlap``: one entry per j = 0..min(s, k) with the frequency of |U n S| = j, its
        interval and the hypergeometric ``exact``; ``mean_lucky``; the inputs.

    Examples
    --------
    >>> out = simulate_lottery(10, 2, 3, width=5, trials=2000, seed=1)
    >>> out["ci_low"] <= out["exact"] <= out["ci_high"]
    True
    """
    n, k, s = check_problem(n, k, s)
    width = check_kernel_size("width", width)
    check_trial_work(width, s)
    trials = check_trials(trials)
    seed = check_seed(seed)
    threads = check_threads(threads)
    overlaps = min(s, k) + 1
    if overlaps > MAX_LOTTERY_OVERLAPS:
        raise ValueError(f"min(s, k) + 1 = {overlaps} overlap classes exceed the histogram limit "
                         f"{MAX_LOTTERY_OVERLAPS}")
    per_trial = 8 * (overlaps + 1)
    scratch = 8 * s + (n if s > SCAN_LIMIT else 0)
    check_memory(min(trials, MAX_CHUNK_TRIALS) * per_trial + threads * scratch,
                 memory_cap_bytes, f"lottery simulation (n={n}, s={s}, min(s, k)={overlaps - 1})")

    totals = np.zeros(overlaps, dtype=np.int64)
    tally = {"any": 0, "lucky": 0}

    def step(start, stop):
        lucky_counts = np.zeros(stop - start, dtype=np.int64)
        histograms = np.zeros((stop - start, overlaps), dtype=np.int64)
        _lottery_kernel(n, k, s, width, seed, start, stop, lucky_counts, histograms)
        tally["any"] += int(np.count_nonzero(lucky_counts))
        tally["lucky"] += int(lucky_counts.sum())
        totals[:] += histograms.sum(axis=0)

    with numba_threads(threads):
        run_in_chunks(step, trials, progress, "lottery",
                      seconds_per_trial=SECONDS_PER_DRAW * (width * s + 1)
                      / parallel_speedup(threads, trials))

    neurons = trials * width
    any_lucky = proportion_estimate(tally["any"], trials, seed)
    per_neuron = proportion_estimate(tally["lucky"], neurons, seed)
    exact_law = np.asarray(overlap_pmf(n, k, s), dtype=float)
    overlap = [{"j": j, **proportion_estimate(int(c), neurons, seed).as_dict(),
                "exact": float(exact_law[j])} for j, c in enumerate(totals)]
    return {"n": n, "k": k, "s": s, "width": width,
            "regime": "over-sparse" if s >= k else "under-sparse",
            **any_lucky.as_dict(), "exact": float(p_at_least_one_lucky(n, k, s, width)),
            "per_neuron": {**per_neuron.as_dict(), "exact": float(p_lucky(n, k, s))},
            "mean_lucky": tally["lucky"] / trials, "overlap": overlap}
