"""The lucky-guess learner: q correlation queries against a tau-tolerant oracle, its exact
success probability and its Monte Carlo, against the SQ bound 2 q / (tau^2 C(n, k))
(docs/theory.md §2).
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.simulate._config import (
    MAX_CHUNK_TRIALS,
    check_memory,
    check_seed,
    check_sizes,
    check_threads,
    check_trials,
    numba_threads,
    run_in_chunks,
)
from parity_frontiers.simulate._sq_kernels import (
    guess_kernel,
)
from parity_frontiers.simulate.budget import (
    SECONDS_PER_GUESS_OP,
    check_seconds,
    parallel_speedup,
)
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.simulate.sq.networks import (
    MAX_GUESS_N,
    MAX_GUESS_TAU,
    MAX_QUERIES,
    check_nk,
    check_total_work,
    sq_binomial,
)
from parity_frontiers.theory.checks import check_int, check_positive
from parity_frontiers.theory.sq_bound import sq_max_success_probability

__all__ = [
    "guess_success_probability", "simulate_sq_guess",
]


def _check_guess_tau(tau) -> float:
    tau = float(check_positive("tau", tau))
    if tau > MAX_GUESS_TAU:
        raise ValueError(f"tau must be <= {MAX_GUESS_TAU:g} for the guess game (correlations lie "
                         f"in [-1, 1], so a larger tolerance answers nothing), got {tau:g}")
    return tau


def guess_success_probability(n, k, queries, tau, oracle="random") -> float:
    r"""Exact success probability of the lucky-guess learner (derived here).

    The learner asks q distinct uniform k-sets T, receives E[chi_T chi_S] = 1[T = S] within
    tolerance tau, and outputs the T with the largest answer (earliest on ties). With
    :math:`p = q / \binom{n}{k}` the chance that S is asked, and a = 1/tau:

    * random oracle (answers perturbed by U(-tau, tau) noise): S wins iff 1 + U_0 exceeds the
      q - 1 other answers, so

      .. math:: P = p \Bigl[\frac{a}{2} + \frac{1 - (a/2)^q}{q}\Bigr] \ (a < 2), \qquad
                P = p \ (\tau \le 1/2);

    * adversarial-sign oracle (1 - tau for S, +tau for every other set): P = p for
      tau < 1/2, and for tau >= 1/2 only the first query can win: P = 1 / C(n, k) when
      tau = 1/2 or q = 1, else 0.

    The tolerance must be at most 1 (:data:`MAX_GUESS_TAU`): correlations lie in [-1, 1], so
    at tau >= 1 the answer 0 is valid for every query and the game carries no information by
    the SQ definition; yet the learner still outputs one of its queries, winning with
    probability >= 1 / C(n, k), which breaks the bound 2 q / (tau^2 C(n, k)) once
    tau > sqrt(2 q). Counting that output as one more query does not rescue it for the random
    oracle, whose U(-tau, tau) noise is not adversarial and still leaks S: its success
    p (a/2 + ...) grows like q / (2 tau C(n, k)), above (2 q / tau^2 + 1) / C(n, k) for
    tau > 4 and large q. For tau <= 1 both oracles give P <= q / C(n, k) <= 2 q / (tau^2
    C(n, k)) (derived here: :math:`(1 - x^q)/q \le 1 - x` for x = a/2 in [1/2, 1)), so the
    SQ bound holds as stated.

    Parameters
    ----------
    n, k : int
        Input dimension and parity degree.
    queries : int
        Number of distinct queries q, at most C(n, k).
    tau : float
        Oracle tolerance, 0 < tau <= 1.
    oracle : {"random", "adversarial"}

    Returns
    -------
    float
        P(the learner outputs S).

    Examples
    --------
    >>> guess_success_probability(10, 2, 9, 0.25)  # 9 / 45
    0.2
    >>> round(guess_success_probability(10, 2, 2, 1.0) * 45 / 2, 6)  # 7/8 when S is asked
    0.875
    """
    n, k = check_nk(n, k)
    q = check_int("queries", queries)
    tau = _check_guess_tau(tau)
    if oracle not in ("random", "adversarial"):
        raise ValueError(f"oracle must be random or adversarial, got {oracle!r}")
    binomial, log_binomial = sq_binomial(n, k)
    if binomial is not None and q > binomial:
        raise ValueError(f"queries must be <= C(n, k) = {binomial} (distinct queries), got {q}")
    asked = q / binomial if binomial is not None else math.exp(math.log(q) - log_binomial)
    single = asked / q
    if oracle == "adversarial":
        if tau < 0.5:
            return asked
        return single if (tau == 0.5 or q == 1) else 0.0
    if tau <= 0.5:
        return asked
    half_a = 0.5 / tau
    return asked * (half_a + (1.0 - half_a**q) / q)


def simulate_sq_guess(n, k, queries, tau, oracle="random", trials=10_000, seed=0, threads=None,
                      progress=False, memory_cap_bytes=None) -> dict:
    r"""Monte Carlo of the lucky-guess SQ learner, against its exact value and the SQ bound.

    Each trial draws S, plays the game of :func:`guess_success_probability` and records whether
    the learner's output is S. The SQ bound for q queries of tolerance tau (Prop. 3 with r = 1
    and T = q, theory.sq_bound) is

    .. math:: \min\Bigl(1, \frac{2q}{\tau^2 \binom{n}{k}}\Bigr),

    valid for this learner at tau <= 1 (larger tolerances are refused; see
    :func:`guess_success_probability` for why).

    Parameters
    ----------
    n, k : int
        Input dimension (at most 62) and parity degree.
    queries : int or sequence of int
        Numbers of queries q (each at most C(n, k) and 2**20).
    tau : float
        Oracle tolerance, 0 < tau <= 1.
    oracle : {"random", "adversarial"}
    trials, seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`.

    Returns
    -------
    dict
        ``rows``: per q, ``estimate``, ``stderr``, ``ci_low``, ``ci_high`` (Wilson),
        ``trials``, ``seed``, ``exact``, ``asked`` (P(S among the queries), Wilson, with exact
        q / C(n, k)) and ``bound``. A single row's keys are also at the top level.

    Examples
    --------
    >>> out = simulate_sq_guess(8, 2, queries=7, tau=0.25, trials=2000, seed=0)
    >>> out["ci_low"] <= out["exact"] == 0.25 <= out["ci_high"] and out["exact"] <= out["bound"]
    True
    """
    n, k = check_nk(n, k, MAX_GUESS_N, "for the guess game (64-bit set masks)")
    query_list = check_sizes("queries", queries)
    tau = _check_guess_tau(tau)
    if oracle not in ("random", "adversarial"):
        raise ValueError(f"oracle must be random or adversarial, got {oracle!r}")
    binomial, _ = sq_binomial(n, k)
    if query_list[-1] > MAX_QUERIES:
        raise ValueError(f"queries must be <= {MAX_QUERIES}, got {query_list[-1]}")
    if query_list[-1] > binomial:
        raise ValueError(f"queries must be <= C(n, k) = {binomial} (distinct queries), got "
                         f"{query_list[-1]}")
    trials = check_trials(trials)
    # A trial draws S and q query sets of k coordinates, hashing each: ~ q (k + 2) plus a
    # fixed cost.
    check_total_work(trials, sum(q * (k + 2) + 64 for q in query_list), "the guess game")
    seed = check_seed(seed)
    threads = check_threads(threads)
    check_memory(8 * (threads * 4 * query_list[-1] + 2 * min(trials, MAX_CHUNK_TRIALS)),
                 memory_cap_bytes,
                 f"guess game (queries={query_list[-1]})")

    def seconds_per_trial(q):
        return SECONDS_PER_GUESS_OP * (q * (k + 2) + 64) / parallel_speedup(threads, trials)

    check_seconds(trials * sum(seconds_per_trial(q) for q in query_list),
                  f"the guess game ({len(query_list)} query counts x {trials:,} trials)")
    rows = []
    with numba_threads(threads):
        for q in query_list:
            tally = {"wins": 0, "asked": 0}

            def step(start, stop, q=q, tally=tally):
                wins = np.zeros(stop - start, dtype=np.int64)
                asked = np.zeros(stop - start, dtype=np.int64)
                guess_kernel(n, k, q, tau, oracle == "adversarial", seed, start, stop, wins,
                             asked)
                tally["wins"] += int(wins.sum())
                tally["asked"] += int(asked.sum())

            run_in_chunks(step, trials, progress, f"sq guess q={q}",
                          seconds_per_trial=seconds_per_trial(q))
            asked = proportion_estimate(tally["asked"], trials, seed).as_dict()
            asked["exact"] = q / binomial
            rows.append({"queries": q, "tau": tau, "oracle": oracle,
                         **proportion_estimate(tally["wins"], trials, seed).as_dict(),
                         "exact": guess_success_probability(n, k, q, tau, oracle),
                         "asked": asked,
                         "bound": float(sq_max_success_probability(n, k, 1, q, tau=tau))})
    out = {"n": n, "k": k, "binomial": binomial, "tau": tau, "oracle": oracle, "trials": trials,
           "seed": seed, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out
