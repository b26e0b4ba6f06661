r"""One-step feature selection by a layer of random sparse neurons: the simulated frontier.

The idealised mechanism behind Theorems 4 and 5 (docs/theory.md §3-4): draw r neurons with
uniform s-sparse supports, take one population-free gradient step from m samples of an
(n, k)-sparse parity, and ask whether some neuron's gradient singles out S:

* s >= k: a neuron selects S when its k largest |gradient| coordinates are exactly S, i.e.
  min over S of |Ĝ_i| > max over the rest (strict; a tie is no selection);
* s = k - 1: a neuron with U inside S selects S when its largest |gradient| off U is the
  missing element of S, strictly above every coordinate outside U and S.

(For s < k - 1 a neuron inside S has zero population gradient off its support, so selecting S
in one step is impossible by construction and the request is refused.) Ĝ is the m-sample
correlation of :mod:`simulate.gradients`; neurons share the m samples, as in a real layer.

The estimate is P(at least one of r neurons selects S) over (n, k, s, r, m), with a Wilson
interval: the *simulated frontier* that later analyses compare with trained networks. For
s >= k the rule also counts neurons that are not lucky: with overlap k - 1 one coordinate of S
carries signal and the other k - 1 can beat the rest by chance, which matters for small k and
many neurons (e.g. n = 20, k = 2, r = 100: about 0.56 against 0.41 lucky, at any m). So each
row also gives ``p_lucky_selects``, P(at least one *lucky* neuron selects S), the mechanism of
Theorems 4 and 5 alone. Trials
reuse their random numbers across the grid (neuron j and sample t do not depend on r or m), so
the estimate is exactly non-decreasing in r within one run and smooth in m.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from parity_frontiers.simulate._bits import popcount64, sample_parity_bits, words_for
from parity_frontiers.simulate._config import (
    MAX_CHUNK_TRIALS,
    check_bias,
    check_memory,
    check_problem,
    check_seed,
    check_sizes,
    check_threads,
    check_trial_work,
    check_trials,
    check_weight_law,
    numba_threads,
    run_in_chunks,
)
from parity_frontiers.simulate._neurons import (
    SCAN_LIMIT,
    WEIGHT_LAWS,
    activation_bits,
    draw_subset,
    draw_weights,
)
from parity_frontiers.simulate._rng import trial_state
from parity_frontiers.simulate.budget import (
    SECONDS_PER_ACTIVATION_WORD,
    SECONDS_PER_DRAW,
    SECONDS_PER_NEURON_EVALUATION,
    SECONDS_PER_NEURON_VISIT,
    SECONDS_PER_SAMPLE_WORD,
    SECONDS_PER_SCAN_WORD,
    parallel_speedup,
)
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.theory.lottery import p_at_least_one_lucky, p_lucky

__all__ = ["simulate_onestep", "onestep_seconds_per_trial"]


@njit(cache=True, inline="always")
def _coordinate_count(active, yx, i, nwords, total):
    c = np.uint64(0)
    for w in range(nwords):
        c += popcount64(active[w] & yx[i, w])
    return abs(total - 2 * np.int64(c))


@njit(cache=True)
def _selects(active, yx, nwords, total, support, k, s):
    """Whether the neuron selects S = {0..k-1} (module rules), from its active-sample bits.

    |m G_i| = |total - 2 popcount(active & (y xor x_i))| (:mod:`simulate._bits`). The scan stops
    at the first competitor reaching the selected set's minimum, so a neuron that does not
    select (most of them) costs a few coordinates, not n.
    """
    n = yx.shape[0]
    low = np.iinfo(np.int64).max
    if s >= k:
        for i in range(k):
            low = min(low, _coordinate_count(active, yx, i, nwords, total))
    else:  # s = k - 1 and U inside S (checked by the caller): the one missing coordinate
        for i in range(k):
            inside = False
            for q in range(s):
                if support[q] == i:
                    inside = True
            if not inside:
                low = _coordinate_count(active, yx, i, nwords, total)
    if low == 0:
        return False
    for i in range(k, n):
        if _coordinate_count(active, yx, i, nwords, total) >= low:
            return False
    return True


@njit(parallel=True, cache=True, nogil=True)
def _onestep_kernel(n, k, s, widths, samples, law, bias, seed, start, stop, selecting, lucky,
                    lucky_selecting):
    """selecting[t, a, b]: neurons among the first widths[b] that select S with samples[a];
    lucky[t, b]: lucky neurons among them; lucky_selecting[t, a, b]: both."""
    r_max = widths[-1]
    m_max = samples[-1]
    lucky_overlap = min(s, k)  # S inside U (s >= k) or U inside S (s < k)
    nwords_max = (m_max + 63) // 64
    count = stop - start
    nblocks = min(count, 64)
    for block in prange(nblocks):
        # Scratch is allocated once per block of trials; results depend on the trial only.
        supports = np.empty((r_max, s), dtype=np.int64)
        weights = np.empty((r_max, s))
        overlaps = np.empty(r_max, dtype=np.int64)
        marks = np.zeros(n if s > SCAN_LIMIT else 1, dtype=np.bool_)
        bits = np.empty((n, nwords_max), dtype=np.uint64)
        yx = np.empty((n, nwords_max), dtype=np.uint64)
        label = np.empty(nwords_max, dtype=np.uint64)
        active = np.empty(nwords_max, dtype=np.uint64)
        for index in range(count * block // nblocks, count * (block + 1) // nblocks):
            trial = start + index
            neuron_state = trial_state(seed, 2 * trial)
            data_state = trial_state(seed, 2 * trial + 1)
            for j in range(r_max):
                draw_subset(neuron_state, n, s, supports[j], 0, marks)
                draw_weights(neuron_state, law, weights[j])
                overlaps[j] = 0
                for q in range(s):
                    if supports[j, q] < k:
                        overlaps[j] += 1
            sample_parity_bits(data_state, n, k, m_max, bits, label)
            for i in range(n):
                for w in range(nwords_max):
                    yx[i, w] = label[w] ^ bits[i, w]

            b = 0
            running = 0
            for j in range(r_max):
                if overlaps[j] == lucky_overlap:
                    running += 1
                while b < widths.shape[0] and j + 1 == widths[b]:
                    lucky[index, b] = running
                    b += 1
            for a in range(samples.shape[0]):
                m = samples[a]
                nwords = (m + 63) // 64
                b = 0
                chosen = 0
                chosen_lucky = 0
                for j in range(r_max):
                    is_lucky = overlaps[j] == lucky_overlap
                    # Under-sparse, only a neuron inside S can select (module docstring).
                    if s >= k or is_lucky:
                        total = activation_bits(supports[j], weights[j], bias, bits[:, :nwords],
                                                m, active[:nwords])
                        if _selects(active, yx, nwords, total, supports[j], k, s):
                            chosen += 1
                            if is_lucky:
                                chosen_lucky += 1
                    while b < widths.shape[0] and j + 1 == widths[b]:
                        selecting[index, a, b] = chosen
                        lucky_selecting[index, a, b] = chosen_lucky
                        b += 1


def onestep_seconds_per_trial(n: int, k: int, s: int, widths, samples) -> float:
    """Estimated seconds of one trial of :func:`simulate_onestep` on one core (derived here).

    Draws: r (s + 1) coordinates and weights; samples: 2 n words of 64 samples. Per sample
    size m (w = ceil(m / 64) words): every neuron is visited; the evaluated ones (all for
    s >= k; for s = k - 1 the lucky ones, r P(lucky) on average) cost a fixed overhead,
    s w words of activation and (k + 2) w words of comparison; a lucky neuron that selects
    compares all n coordinates. Constants in :mod:`simulate.budget`.

    Examples
    --------
    >>> 1e-5 < onestep_seconds_per_trial(30, 3, 3, [100], [1000]) < 1e-3
    True
    """
    widths, samples = list(widths), list(samples)
    r = max(widths)
    lucky = r * float(p_lucky(n, k, s))
    evaluated = r if s >= k else lucky
    seconds = (SECONDS_PER_DRAW * r * (s + 1)
               + SECONDS_PER_SAMPLE_WORD * 2 * n * words_for(max(samples)))
    for m in samples:
        w = words_for(m)
        seconds += (SECONDS_PER_NEURON_VISIT * r
                    + evaluated * (SECONDS_PER_NEURON_EVALUATION
                                   + w * (SECONDS_PER_ACTIVATION_WORD * s
                                          + SECONDS_PER_SCAN_WORD * (k + 2)))
                    + lucky * SECONDS_PER_SCAN_WORD * n * w)
    return seconds


def simulate_onestep(n, k, s, widths, samples, bias=0, weights="pm1", trials=1000, seed=0,
                     threads=None, progress=False, memory_cap_bytes=None) -> dict:
    r"""Estimate P(some neuron of r selects S after one m-sample gradient step) over a grid.

    Parameters
    ----------
    n, k, s : int
        Input dimension, parity degree, support size; needs s >= k - 1 (module docstring).
    widths : int or sequence of int
        Numbers of neurons r.
    samples : int or sequence of int
        Sample sizes m.
    bias : number or str, default 0
        Bias b of every neuron.
    weights : {"pm1", "gaussian"}
        Law of the weights on each support (:mod:`simulate._neurons`).
    trials, seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`.

    Returns
    -------
    dict
        ``rows``: one entry per (width, samples), sorted by width then samples, with
        ``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials``, ``seed`` for
        P(at least one neuron selects S); ``mean_selecting`` (neurons per trial);
        ``p_lucky_selects`` (P(at least one lucky neuron selects S), same keys);
        ``p_select_given_lucky`` (fraction of lucky neurons that select, None if none was
        drawn; its Wilson interval treats the neurons as independent, which they are not
        quite, as they share the samples); ``p_at_least_one_lucky`` (theory's exact chance of
        a lucky neuron, an upper bound for ``p_lucky_selects``). With a single (width,
        samples) the row's keys are also at the top level.

    Examples
    --------
    >>> out = simulate_onestep(12, 2, 2, widths=[1, 30], samples=400, trials=200, seed=0)
    >>> [row["width"] for row in out["rows"]]
    [1, 30]
    >>> out["rows"][0]["estimate"] <= out["rows"][1]["estimate"]
    True
    """
    n, k, s = check_problem(n, k, s)
    if s < k - 1:
        raise ValueError(f"one-step selection needs s >= k - 1 (got s={s}, k={k}): a neuron "
                         "inside S missing two or more of its coordinates has zero population "
                         "gradient off its support")
    widths = np.asarray(check_sizes("width", widths), dtype=np.int64)
    samples = np.asarray(check_sizes("samples", samples), dtype=np.int64)
    weights = check_weight_law(weights)
    bias_exact, bias_value = check_bias(bias)
    trials = check_trials(trials)
    seed = check_seed(seed)
    threads = check_threads(threads)
    r_max, m_max = int(widths[-1]), int(samples[-1])
    check_trial_work(r_max, s)
    nwords = words_for(m_max)
    scratch = 8 * (2 * n * nwords + 2 * nwords + 2 * r_max * s + r_max)
    scratch += n if s > SCAN_LIMIT else 0
    cells = samples.size * widths.size
    per_trial = 8 * (2 * cells + widths.size)
    check_memory(threads * scratch + min(trials, MAX_CHUNK_TRIALS) * per_trial, memory_cap_bytes,
                 f"one-step simulation (n={n}, width={r_max}, samples={m_max})")

    any_selecting = np.zeros((samples.size, widths.size), dtype=np.int64)
    any_lucky_selecting = np.zeros_like(any_selecting)
    total_selecting = np.zeros_like(any_selecting)
    total_lucky_selecting = np.zeros_like(any_selecting)
    total_lucky = np.zeros(widths.size, dtype=np.int64)

    def step(start, stop):
        selecting = np.zeros((stop - start, samples.size, widths.size), dtype=np.int64)
        lucky = np.zeros((stop - start, widths.size), dtype=np.int64)
        lucky_selecting = np.zeros_like(selecting)
        _onestep_kernel(n, k, s, widths, samples, WEIGHT_LAWS[weights], bias_value, seed,
                        start, stop, selecting, lucky, lucky_selecting)
        any_selecting[:] += np.count_nonzero(selecting, axis=0)
        any_lucky_selecting[:] += np.count_nonzero(lucky_selecting, axis=0)
        total_selecting[:] += selecting.sum(axis=0)
        total_lucky_selecting[:] += lucky_selecting.sum(axis=0)
        total_lucky[:] += lucky.sum(axis=0)

    cost = onestep_seconds_per_trial(n, k, s, widths.tolist(), samples.tolist())
    with numba_threads(threads):
        run_in_chunks(step, trials, progress, "one-step",
                      seconds_per_trial=cost / parallel_speedup(threads, trials))

    rows = []
    for b, r in enumerate(widths):
        lucky_total = int(total_lucky[b])
        for a, m in enumerate(samples):
            est = proportion_estimate(int(any_selecting[a, b]), trials, seed)
            given = (proportion_estimate(int(total_lucky_selecting[a, b]), lucky_total,
                                         seed).as_dict() if lucky_total else None)
            rows.append({"width": int(r), "samples": int(m), **est.as_dict(),
                         "mean_selecting": float(total_selecting[a, b] / trials),
                         "p_lucky_selects": proportion_estimate(
                             int(any_lucky_selecting[a, b]), trials, seed).as_dict(),
                         "p_select_given_lucky": given,
                         "p_at_least_one_lucky": float(p_at_least_one_lucky(n, k, s, int(r)))})
    out = {"n": n, "k": k, "s": s, "bias": str(bias_exact), "weights": weights,
           "trials": trials, "seed": seed, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out
