r"""Gradients of sparse ReLU neurons at initialisation: population and m-sample, by Monte Carlo.

For the correlation loss (equal to the hinge loss while the output is below 1 in magnitude) the
gradient of a neuron a relu(w . x_U + b) on input weight i is -a E[chi_S(x) x_i g(x)] with
g(x) = 1[w . x_U + b > 0] (docs/theory.md §4). This module reports the correlations
E[chi_S(x) x_i g(x)] (a = -1), which carry the same magnitudes:

* **population**, by exhaustive enumeration of x_U in {-1, +1}^s (s <= :data:`MAX_ENUM_S`):
  with z the +-1 pattern on U and chi_A(z) = prod_{u in A} z_u,

  .. math:: G_i = \begin{cases}
            2^{-s}\sum_z \chi_{(S\cap U) \triangle \{i\}}(z)\, g(z) & i \in U,\ S \subseteq U\\
            2^{-s}\sum_z \chi_{S\cap U}(z)\, g(z) & S \setminus U = \{i\}\\
            0 & \text{otherwise;}\end{cases}

* **empirical**, from m uniform samples: :math:`\hat G_i = m^{-1}\sum_t y_t g(x_t) x_{t,i}`,
  an unbiased estimate of G_i, computed bit-packed (:mod:`simulate._bits`).

The neuron *selects* S from its m-sample gradient when its empirical selection gap is positive
(the rule of :func:`theory.fourier_gaps.selection_gap`): for s >= k, min over S of
:math:`|\hat G_i|` exceeds max over the rest; for s < k, min over S \ U exceeds max over the
coordinates outside U and S.

Each trial draws one neuron whose support meets S in exactly ``overlap`` coordinates (default
the luckiest, min(s, k)), weights from the chosen law (:mod:`simulate._neurons`), fixed bias b,
and a fresh sample. Per coordinate class (:data:`theory.fourier_gaps.COORDINATE_CLASSES`) the
sign-corrected mean sign(G_i) Ĝ_i estimates |G_i| without bias; for +-1 weights it is compared
with theory's exact kappa magnitudes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from parity_frontiers.simulate._bits import correlation_counts, sample_parity_bits, words_for
from parity_frontiers.simulate._config import (
    MAX_CHUNK_TRIALS,
    check_bias,
    check_kernel_size,
    check_memory,
    check_problem,
    check_seed,
    check_threads,
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
    SECONDS_PER_ENUMERATED,
    SECONDS_PER_SAMPLE_WORD,
    parallel_speedup,
)
from parity_frontiers.simulate.estimates import ExactMean, proportion_estimate
from parity_frontiers.theory.checks import check_int, check_rational, check_subset_size
from parity_frontiers.theory.fourier_gaps import (
    COORDINATE_CLASSES,
    fourier_gap,
    neuron_gradient_by_class,
)

__all__ = ["simulate_gradient", "population_gradient", "MAX_ENUM_S"]

#: Largest support enumerated exactly (2^s patterns per neuron).
MAX_ENUM_S = 20

_IN_S_IN_U, _IN_S_OFF_U, _IN_U_OFF_S, _OUTSIDE = range(4)


@njit(cache=True)
def _population_numerators(k, support, weights, bias, out):
    """Write 2^s G_i (integers; G_i as in the module docstring) into the int64 array ``out``."""
    s = support.shape[0]
    out[:] = 0
    missing = k
    for q in range(s):
        if support[q] < k:
            missing -= 1
    if missing > 1:
        return
    coef = np.zeros(s, dtype=np.int64)
    base = 0
    for pattern in range(1 << s):
        acc = bias
        parity = 1
        for q in range(s):
            if (pattern >> q) & 1:
                acc -= weights[q]
                if support[q] < k:
                    parity = -parity
            else:
                acc += weights[q]
        if acc > 0.0:
            base += parity
            for q in range(s):
                coef[q] += -parity if (pattern >> q) & 1 else parity
    if missing == 0:
        for q in range(s):
            out[support[q]] = coef[q]
    else:
        for i in range(k):
            inside = False
            for q in range(s):
                if support[q] == i:
                    inside = True
            if not inside:
                out[i] = base


@njit(cache=True)
def _classify(n, k, support, classes):
    """classes[i] = coordinate class of i relative to S = {0..k-1} and U = support."""
    for i in range(n):
        classes[i] = _IN_S_OFF_U if i < k else _OUTSIDE
    for q in range(support.shape[0]):
        classes[support[q]] = _IN_S_IN_U if support[q] < k else _IN_U_OFF_S


@njit(cache=True)
def _selection_gap(values, classes, s, k):
    """min |v| over the selected set minus max |v| over the competitors (module docstring),
    on integer numerators (so sums over trials are exact and order-free)."""
    low = np.iinfo(np.int64).max
    high = 0
    for i in range(values.shape[0]):
        c = classes[i]
        a = abs(values[i])
        if s >= k:
            on = c == _IN_S_IN_U or c == _IN_S_OFF_U
            off = not on
        else:
            on = c == _IN_S_OFF_U
            off = c == _OUTSIDE
        if on and a < low:
            low = a
        if off and a > high:
            high = a
    return low - high


@njit(parallel=True, cache=True, nogil=True)
def _gradient_kernel(n, k, s, overlap, law, bias, m, enumerate_population, seed, start, stop,
                     class_sums, class_counts, population_class, empirical_gap, population_gap):
    nwords = (m + 63) // 64
    count = stop - start
    nblocks = min(count, 64)
    for block in prange(nblocks):
        # Scratch is allocated once per block of trials; results depend on the trial only.
        support = np.empty(s, dtype=np.int64)
        marks = np.zeros(n if s > SCAN_LIMIT else 1, dtype=np.bool_)
        weights = np.empty(s)
        bits = np.empty((n, nwords), dtype=np.uint64)
        label = np.empty(nwords, dtype=np.uint64)
        active = np.empty(nwords, dtype=np.uint64)
        counts = np.empty(n, dtype=np.int64)
        classes = np.empty(n, dtype=np.int64)
        population = np.zeros(n, dtype=np.int64)
        for index in range(count * block // nblocks, count * (block + 1) // nblocks):
            trial = start + index
            neuron_state = trial_state(seed, 2 * trial)
            data_state = trial_state(seed, 2 * trial + 1)
            draw_subset(neuron_state, k, overlap, support[:overlap], 0, marks)
            draw_subset(neuron_state, n - k, s - overlap, support[overlap:], k, marks)
            draw_weights(neuron_state, law, weights)

            sample_parity_bits(data_state, n, k, m, bits, label)
            total = activation_bits(support, weights, bias, bits, m, active)
            correlation_counts(active, label, bits, total, counts)

            _classify(n, k, support, classes)
            if enumerate_population:
                _population_numerators(k, support, weights, bias, population)
                population_gap[index] = _selection_gap(population, classes, s, k)
            empirical_gap[index] = _selection_gap(counts, classes, s, k)
            for i in range(n):
                c = classes[i]
                sign = -1 if population[i] < 0 else 1
                class_sums[index, c] += sign * counts[i]
                class_counts[index, c] += 1
                population_class[index, c] += abs(population[i])


def population_gradient(n, target_size, support, weights, bias) -> np.ndarray:
    """Population correlations G_i of one neuron, by enumeration (S = {0, ..., k-1}).

    Parameters
    ----------
    n, target_size : int
        Input dimension and k.
    support : sequence of int
        Support U (distinct coordinates in [0, n)), at most :data:`MAX_ENUM_S` of them.
    weights : sequence of float
        Weights on U (any reals; +-1 for the idealised neuron).
    bias : float

    Returns
    -------
    numpy.ndarray
        Length-n float array; equals -``theory.neuron_population_gradient`` for +-1 weights.

    Examples
    --------
    >>> population_gradient(5, 2, [0, 1, 2], [1, 1, 1], 0.0)[:3]
    array([ 0.25,  0.25, -0.25])
    """
    n = check_int("n", n)
    k = check_int("target_size", target_size)
    check_subset_size("target_size", k, n)
    support = np.asarray(support, dtype=np.int64)
    weights = np.asarray(weights, dtype=float)
    if support.ndim != 1 or support.size < 1 or support.size > MAX_ENUM_S:
        raise ValueError(f"support must list 1..{MAX_ENUM_S} coordinates")
    if weights.shape != support.shape or not np.all(np.isfinite(weights)):
        raise ValueError("weights must be finite, one per support coordinate")
    if support.min() < 0 or support.max() >= n or np.unique(support).size != support.size:
        raise ValueError(f"support must hold distinct coordinates in [0, {n})")
    bias = float(check_rational("bias", bias)) if not isinstance(bias, float) else bias
    if not np.isfinite(bias):
        raise ValueError("bias must be finite")
    numerators = np.zeros(n, dtype=np.int64)
    _population_numerators(k, support, weights, bias, numerators)
    out = numerators / 2.0**support.size
    return out


def _theory_classes(s, k, bias, overlap):
    """Exact magnitudes per class for +-1 weights, and the exact selection gap."""
    by_class = neuron_gradient_by_class(s, k, bias, overlap)
    if s >= k:
        return by_class, fourier_gap(s, k, bias, overlap)
    # Under-sparse (theory.selection_gap, for any overlap): the coordinates of S off U against
    # those outside U and S; both classes exist whenever s < k.
    return by_class, by_class["in_S_off_U"] - by_class["outside"]


def simulate_gradient(n, k, s, samples, bias=0, overlap=None, weights="pm1", trials=1000, seed=0,
                      threads=None, progress=False, memory_cap_bytes=None) -> dict:
    """Estimate gradients, gaps and the chance that one sparse neuron selects S from m samples.

    Parameters
    ----------
    n, k, s : int
        Input dimension, parity degree, support size.
    samples : int
        Sample size m of the empirical gradient.
    bias : number or str, default 0
        Neuron bias b (fractions like "1/2" allowed).
    overlap : int, optional
        |U n S| of the drawn neurons; default min(s, k) (the lucky neuron).
    weights : {"pm1", "gaussian"}
        Law of the weights on the support.
    trials, seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`.

    Returns
    -------
    dict
        ``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials``, ``seed``: the probability
        that the neuron's m-sample selection gap is positive (it selects S); ``gap``: the mean
        empirical selection gap with its interval; ``population_gap`` (by enumeration, mean
        over trials) and ``exact_gap`` (theory, +-1 weights only); ``classes``: per coordinate
        class the sign-corrected mean gradient magnitude with interval, its enumerated
        ``population`` value and theory's ``exact`` (+-1 only).

    Examples
    --------
    >>> out = simulate_gradient(8, 2, 4, samples=256, trials=200, seed=0)
    >>> c = out["classes"]["in_S_in_U"]
    >>> c["population"] == c["exact"] == 0.1875  # 3/16 = |kappa(4, 0, 1)|
    True
    """
    n, k, s = check_problem(n, k, s)
    m = check_kernel_size("samples", samples)
    if overlap is None:
        overlap = min(s, k)
    overlap = check_int("overlap", overlap, minimum=0)
    if overlap > min(s, k) or s - overlap > n - k:
        raise ValueError(f"overlap must be in [{max(0, s - (n - k))}, {min(s, k)}] for "
                         f"n={n}, k={k}, s={s}, got {overlap}")
    weights = check_weight_law(weights)
    bias_exact, bias_value = check_bias(bias)
    trials = check_trials(trials)
    if trials < 2:
        raise ValueError("simulate_gradient needs trials >= 2 (its means need a spread)")
    seed = check_seed(seed)
    threads = check_threads(threads)
    nwords = words_for(m)
    scratch = 8 * (n * nwords + 2 * nwords + 5 * n + 3 * s) + (n if s > SCAN_LIMIT else 0)
    check_memory(threads * scratch + min(trials, MAX_CHUNK_TRIALS) * 8 * 14,
                 memory_cap_bytes,
                 f"gradient simulation (n={n}, samples={m})")
    enumerate_population = s <= MAX_ENUM_S

    class_sums = [ExactMean() for _ in range(4)]
    gaps = ExactMean(scale=m)
    population_gaps = ExactMean(scale=2**s) if enumerate_population else None
    population_sums = [ExactMean() for _ in range(4)]
    tally = {"selects": 0}
    coordinates = np.zeros(4, dtype=np.int64)

    def step(start, stop):
        size = stop - start
        class_num = np.zeros((size, 4), dtype=np.int64)
        class_counts = np.zeros((size, 4), dtype=np.int64)
        population_num = np.zeros((size, 4), dtype=np.int64)
        empirical_gap = np.zeros(size, dtype=np.int64)
        population_gap = np.zeros(size, dtype=np.int64)
        _gradient_kernel(n, k, s, overlap, WEIGHT_LAWS[weights], bias_value, m,
                         enumerate_population, seed, start, stop, class_num, class_counts,
                         population_num, empirical_gap, population_gap)
        if enumerate_population:  # the per-class sums are read only in that case
            for c in range(4):
                class_sums[c].update(class_num[:, c])
                population_sums[c].update(population_num[:, c])
        gaps.update(empirical_gap)
        if population_gaps is not None:
            population_gaps.update(population_gap)
        tally["selects"] += int(np.count_nonzero(empirical_gap > 0))
        coordinates[:] = class_counts[0]  # the same for every trial: fixed by the overlap

    with numba_threads(threads):
        cost = SECONDS_PER_SAMPLE_WORD * m * (n / 64 + 1)
        if enumerate_population:
            cost += SECONDS_PER_ENUMERATED * 2.0**s * s
        run_in_chunks(step, trials, progress, "gradient",
                      seconds_per_trial=cost / parallel_speedup(threads, trials))

    exact_classes, exact_gap = (_theory_classes(s, k, bias_exact, overlap)
                                if weights == "pm1" else ({}, None))
    classes = {}
    for c, name in enumerate(COORDINATE_CLASSES):
        size = int(coordinates[c])
        if size == 0:
            continue
        entry = {}
        if enumerate_population:
            # Per trial: sum over the class of sign(G_i) m G_i, so divide by m * size.
            class_sums[c].scale = m * size
            population_sums[c].scale = 2**s * size
            entry = class_sums[c].estimate(seed).as_dict()
        entry["coordinates"] = size
        entry["population"] = (population_sums[c].estimate().estimate if enumerate_population
                               else None)
        entry["exact"] = float(exact_classes[name]) if name in exact_classes else None
        classes[name] = entry
    selects = proportion_estimate(tally["selects"], trials, seed)
    return {"n": n, "k": k, "s": s, "samples": m, "bias": str(bias_exact), "overlap": overlap,
            "weights": weights, **selects.as_dict(),
            "gap": gaps.estimate(seed).as_dict(),
            "population_gap": (population_gaps.estimate().estimate if enumerate_population
                               else None),
            "exact_gap": float(exact_gap) if exact_gap is not None else None,
            "classes": classes}
