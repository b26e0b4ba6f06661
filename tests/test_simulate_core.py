"""Building blocks of simulate/: popcount, SplitMix64 draws, Floyd subsets, bit-packed samples,
activations and the Estimate helpers, each checked against plain Python / numpy / scipy.

Statistical checks use fixed seeds, so their outcome is deterministic; the thresholds are set
so that a correct implementation would fail a check with probability below 1e-6 (stated per
test) had the seed been drawn at random.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from parity_frontiers.simulate._bits import (
    correlation_counts,
    popcount64,
    sample_parity_bits,
    tail_mask,
    words_for,
)
from parity_frontiers.simulate._neurons import (
    SCAN_LIMIT,
    WEIGHTS_GAUSSIAN,
    WEIGHTS_PM1,
    activation_bits,
    draw_subset,
    draw_weights,
)
from parity_frontiers.simulate._rng import below, next_u64, normal, trial_state, uniform
from parity_frontiers.simulate.estimates import Estimate, mean_estimate, proportion_estimate

#: Chi-square / KS p-values below this fail (false-failure probability 1e-6 per test).
P_MIN = 1e-6


# --- jitted drivers (bulk draws; calling the kernels once per draw from Python is slow) -------

@njit(cache=True)
def _popcounts(values):
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = np.int64(popcount64(values[i]))
    return out


@njit(cache=True)
def _below_many(seed, n, count):
    state = trial_state(seed, 0)
    out = np.empty(count, dtype=np.int64)
    for i in range(count):
        out[i] = below(state, n)
    return out


@njit(cache=True)
def _uniform_many(seed, count):
    state = trial_state(seed, 0)
    out = np.empty(count)
    for i in range(count):
        out[i] = uniform(state)
    return out


@njit(cache=True)
def _normal_many(seed, count):
    state = trial_state(seed, 0)
    out = np.empty(count)
    for i in range(count):
        out[i] = normal(state)
    return out


@njit(cache=True)
def _subsets_many(seed, n, s, offset, count, marks):
    state = trial_state(seed, 0)
    out = np.empty((count, s), dtype=np.int64)
    for i in range(count):
        draw_subset(state, n, s, out[i], offset, marks)
    return out


def _bit_matrix(words, count):
    """Unpack a uint64 vector (or rows of them) into bits, sample t = bit t % 64 of word t//64."""
    words = np.atleast_2d(np.asarray(words, dtype=np.uint64))
    shifts = np.arange(64, dtype=np.uint64)
    bits = (words[:, :, None] >> shifts) & np.uint64(1)
    return bits.reshape(words.shape[0], -1)[:, :count].astype(np.int64)


def _padding(m):
    """Mask of the padding bits of the last word of an m-bit vector, as a Python int."""
    return (2**64 - 1) ^ int(tail_mask(m))


# --- popcount ------------------------------------------------------------------------------

def test_popcount64_matches_python():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2**64, size=2000, dtype=np.uint64, endpoint=False)
    values = np.concatenate([values, np.array([0, 2**64 - 1, 1, 2**63, 2**32 - 1],
                                              dtype=np.uint64)])
    expected = [bin(int(v)).count("1") for v in values]
    assert _popcounts(values).tolist() == expected
    assert _popcounts(np.array([0], dtype=np.uint64))[0] == 0
    assert _popcounts(np.array([2**64 - 1], dtype=np.uint64))[0] == 64


def test_tail_mask_and_words_for():
    assert words_for(1) == 1 and words_for(64) == 1 and words_for(65) == 2
    assert int(tail_mask(64)) == 2**64 - 1
    assert int(tail_mask(128)) == 2**64 - 1
    assert int(tail_mask(3)) == 0b111
    assert int(tail_mask(70)) == 2**6 - 1


# --- random streams ------------------------------------------------------------------------

def test_trial_state_depends_on_seed_and_trial_only():
    a = trial_state(7, 3)
    b = trial_state(7, 3)
    assert a.dtype == np.uint64 and a.shape == (1,)
    assert a[0] == b[0]
    assert trial_state(7, 4)[0] != a[0]
    assert trial_state(8, 3)[0] != a[0]
    # Advancing one copy leaves the other untouched, and both give the same numbers.
    first = [int(next_u64(a)) for _ in range(5)]
    assert first == [int(next_u64(b)) for _ in range(5)]
    assert len(set(first)) == 5


@pytest.mark.parametrize("n", [2, 7, 10])
def test_below_uniform_chi_square(n):
    draws = _below_many(11, n, 50_000)
    assert draws.min() >= 0 and draws.max() < n
    counts = np.bincount(draws, minlength=n)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_below_one_is_zero():
    assert np.all(_below_many(3, 1, 100) == 0)


def test_below_large_range():
    n = 2**40
    draws = _below_many(5, n, 40_000)
    assert draws.min() >= 0 and draws.max() < n
    # The top 4 bits of the 40 are uniform over 16 bins.
    counts = np.bincount(draws >> 36, minlength=16)
    assert counts.size == 16
    assert stats.chisquare(counts).pvalue > P_MIN


def test_below_rejects_the_short_block():
    # n = 3 * 2**61: plain modulo would make residues below 2**64 - 2n = 2**62 more likely,
    # P(x < 2**62) = 3/4 instead of 2/3. Tolerance 4.5 se (false failure < 7e-6).
    n = 3 * 2**61
    draws = _below_many(9, n, 40_000)
    assert draws.min() >= 0 and draws.max() < n
    p_hat = np.mean(draws < 2**62)
    se = math.sqrt(2 / 3 * (1 - 2 / 3) / draws.size)
    assert abs(p_hat - 2 / 3) <= 4.5 * se


def test_uniform_in_unit_interval():
    u = _uniform_many(2, 100_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    # 53-bit resolution: all values are multiples of 2**-53.
    assert np.all(u * 2.0**53 == np.floor(u * 2.0**53))


def test_normal_mean_variance_and_law():
    z = _normal_many(4, 100_000)
    assert np.all(np.isfinite(z))
    se_mean = 1 / math.sqrt(z.size)
    assert abs(z.mean()) <= 4.5 * se_mean
    se_var = math.sqrt(2 / z.size)  # variance of the sample variance of N(0,1) ~ 2/N
    assert abs(z.var(ddof=1) - 1) <= 4.5 * se_var
    assert stats.kstest(z, "norm").pvalue > P_MIN


# --- Floyd subsets -------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "s", "offset"), [(6, 3, 0), (7, 2, 10), (5, 5, 3), (5, 1, 0)])
def test_draw_subset_scan_path_uniform(n, s, offset):
    assert s <= SCAN_LIMIT
    count = 30_000
    marks = np.zeros(1, dtype=np.bool_)
    subsets = _subsets_many(21, n, s, offset, count, marks)
    assert subsets.min() >= offset and subsets.max() < offset + n
    rows = [tuple(sorted(r)) for r in subsets.tolist()]
    assert all(len(set(r)) == s for r in rows)
    index = {c: i for i, c in enumerate(combinations(range(offset, offset + n), s))}
    counts = np.bincount([index[r] for r in rows], minlength=len(index))
    assert counts.size == math.comb(n, s)
    if counts.size > 1:
        assert stats.chisquare(counts).pvalue > P_MIN
    else:
        assert counts[0] == count


@pytest.mark.parametrize(("n", "s", "offset"), [(35, 33, 0), (36, 34, 5)])
def test_draw_subset_marks_path_uniform(n, s, offset):
    # s > SCAN_LIMIT: repeats found with `marks`. The complement is a uniform (n-s)-subset.
    assert s > SCAN_LIMIT
    count = 30_000
    marks = np.zeros(n, dtype=np.bool_)
    subsets = _subsets_many(22, n, s, offset, count, marks)
    assert not marks.any()
    assert subsets.min() >= offset and subsets.max() < offset + n
    universe = set(range(offset, offset + n))
    index = {c: i for i, c in enumerate(combinations(sorted(universe), n - s))}
    keys = []
    for row in subsets.tolist():
        assert len(set(row)) == s
        keys.append(index[tuple(sorted(universe - set(row)))])
    counts = np.bincount(keys, minlength=len(index))
    assert stats.chisquare(counts).pvalue > P_MIN


def test_draw_subset_marks_path_large_n():
    n, s = 40, 35
    marks = np.zeros(n, dtype=np.bool_)
    subsets = _subsets_many(23, n, s, 0, 20_000, marks)
    assert not marks.any()
    assert all(len(set(r)) == s for r in subsets.tolist())
    # Every element is included with probability s / n (4.5 se on each of 40 counts:
    # false failure < 40 * 7e-6 = 3e-4).
    inclusion = np.bincount(subsets.ravel(), minlength=n) / subsets.shape[0]
    se = math.sqrt(s / n * (1 - s / n) / subsets.shape[0])
    assert np.all(np.abs(inclusion - s / n) <= 4.5 * se)


# --- bit-packed parity samples --------------------------------------------------------------

@pytest.mark.parametrize(("n", "k", "m"), [(9, 3, 200), (5, 1, 64), (12, 4, 130), (6, 6, 1)])
def test_sample_parity_bits_and_correlation_counts(n, k, m):
    words = words_for(m)
    bits = np.empty((n, words), dtype=np.uint64)
    label = np.empty(words, dtype=np.uint64)
    sample_parity_bits(trial_state(31, m), n, k, m, bits, label)

    # Padding bits past m are zero, in the samples and in the labels.
    pad = _padding(m)
    assert all(int(v) & pad == 0 for v in bits[:, -1])
    assert int(label[-1]) & pad == 0

    b = _bit_matrix(bits, m)  # n x m, 1 means x = -1
    x = 1 - 2 * b
    y = np.prod(x[:k], axis=0)
    assert np.array_equal(1 - 2 * _bit_matrix(label, m)[0], y)

    rng = np.random.default_rng(m)
    g = rng.integers(0, 2, size=m)
    packed = np.zeros(words, dtype=np.uint64)
    for t in np.flatnonzero(g):
        packed[t // 64] |= np.uint64(1) << np.uint64(t % 64)
    out = np.empty(n, dtype=np.int64)
    correlation_counts(packed, label, bits, int(g.sum()), out)
    assert np.array_equal(out, (x * (y * g)).sum(axis=1))


def test_sample_parity_bits_are_balanced():
    n, m = 8, 4096
    bits = np.empty((n, words_for(m)), dtype=np.uint64)
    label = np.empty(words_for(m), dtype=np.uint64)
    sample_parity_bits(trial_state(1, 0), n, 2, m, bits, label)
    ones = _bit_matrix(bits, m).mean(axis=1)
    se = math.sqrt(0.25 / m)
    assert np.all(np.abs(ones - 0.5) <= 4.5 * se)  # false failure < 8 * 7e-6


def test_sample_parity_bits_nest_over_m():
    # Word-column order: the first 64 w samples do not depend on m > 64 w.
    n, k = 5, 2
    small = np.empty((n, 1), dtype=np.uint64)
    large = np.empty((n, 3), dtype=np.uint64)
    lab_s = np.empty(1, dtype=np.uint64)
    lab_l = np.empty(3, dtype=np.uint64)
    sample_parity_bits(trial_state(3, 1), n, k, 64, small, lab_s)
    sample_parity_bits(trial_state(3, 1), n, k, 150, large, lab_l)
    assert np.array_equal(small[:, 0], large[:, 0])
    assert lab_s[0] == lab_l[0]


# --- neurons -------------------------------------------------------------------------------

@pytest.mark.parametrize("law", [WEIGHTS_PM1, WEIGHTS_GAUSSIAN])
@pytest.mark.parametrize(("m", "bias"), [(200, 0.0), (128, 1.0), (37, -0.5)])
def test_activation_bits_match_numpy(law, m, bias):
    n, s = 10, 5
    rng = np.random.default_rng(m + 7 * law)
    support = rng.choice(n, size=s, replace=False).astype(np.int64)
    weights = np.empty(s)
    draw_weights(trial_state(17, m), law, weights)
    if law == WEIGHTS_PM1:
        assert set(weights.tolist()) <= {-1.0, 1.0}
    words = words_for(m)
    bits = np.empty((n, words), dtype=np.uint64)
    label = np.empty(words, dtype=np.uint64)
    sample_parity_bits(trial_state(19, m), n, 3, m, bits, label)
    active = np.empty(words, dtype=np.uint64)
    total = activation_bits(support, weights, bias, bits, m, active)

    x = 1 - 2 * _bit_matrix(bits, m)
    acc = np.full(m, bias)
    for q in range(s):  # same summation order as the kernel, so the floats agree exactly
        acc = acc + weights[q] * x[support[q]]
    expected = acc > 0
    assert total == int(expected.sum())
    assert np.array_equal(_bit_matrix(active, m)[0].astype(bool), expected)
    assert int(active[-1]) & _padding(m) == 0


def test_activation_bits_pm1_all_thresholds():
    # +-1 weights, every support size class (powers of two and one below) and biases that
    # give every threshold count, from never active to always active.
    n = 24
    rng = np.random.default_rng(5)
    for m in (37, 64, 200):
        words = words_for(m)
        bits = np.empty((n, words), dtype=np.uint64)
        label = np.empty(words, dtype=np.uint64)
        sample_parity_bits(trial_state(41, m), n, 2, m, bits, label)
        x = 1 - 2 * _bit_matrix(bits, m)
        active = np.empty(words, dtype=np.uint64)
        for s in (1, 2, 3, 7, 8, 15, 16, 20):
            support = rng.choice(n, size=s, replace=False).astype(np.int64)
            weights = rng.choice([-1.0, 1.0], size=s)
            dot = weights @ x[support]
            for bias in sorted({-s - 1.0, -s, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, s, s + 1.0}):
                total = activation_bits(support, weights, float(bias), bits, m, active)
                expected = dot + bias > 0
                assert total == int(expected.sum()), (m, s, bias)
                assert np.array_equal(_bit_matrix(active, m)[0].astype(bool), expected)
                assert int(active[-1]) & _padding(m) == 0


def test_draw_weights_laws():
    pm1 = np.empty(20_000)
    draw_weights(trial_state(1, 0), WEIGHTS_PM1, pm1)
    assert set(pm1.tolist()) == {-1.0, 1.0}
    assert abs(pm1.mean()) <= 4.5 / math.sqrt(pm1.size)
    gauss = np.empty(20_000)
    draw_weights(trial_state(1, 0), WEIGHTS_GAUSSIAN, gauss)
    assert stats.kstest(gauss, "norm").pvalue > P_MIN


# --- estimates -----------------------------------------------------------------------------

@pytest.mark.parametrize(("x", "n"), [(30, 100), (1, 7), (0, 50), (50, 50), (0, 1), (1, 1),
                                      (123, 4567)])
def test_proportion_estimate_matches_scipy_wilson(x, n):
    e = proportion_estimate(x, n, seed=3)
    ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert e.estimate == x / n
    assert e.stderr == pytest.approx(math.sqrt(x / n * (1 - x / n) / n), abs=1e-15)
    assert e.ci_low == pytest.approx(ci.low, abs=1e-14)
    assert e.ci_high == pytest.approx(ci.high, abs=1e-14)
    assert e.trials == n and e.seed == 3
    assert 0.0 <= e.ci_low <= e.estimate <= e.ci_high <= 1.0
    assert e.contains(x / n)
    assert set(e.as_dict()) == {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed"}


def test_proportion_estimate_edges():
    zero = proportion_estimate(0, 40)
    assert zero.estimate == 0.0 and zero.stderr == 0.0 and zero.ci_low == 0.0
    assert 0.0 < zero.ci_high < 0.15  # Wilson: not empty at x = 0
    full = proportion_estimate(40, 40)
    assert full.estimate == 1.0 and full.stderr == 0.0 and full.ci_high == 1.0
    assert 0.85 < full.ci_low < 1.0
    wide = proportion_estimate(30, 100, confidence=0.999)
    assert wide.ci_low < proportion_estimate(30, 100).ci_low


@pytest.mark.parametrize(("x", "n", "match"), [(1, 0, "trials"), (-1, 10, "successes"),
                                               (11, 10, "successes"), (0, -3, "trials")])
def test_proportion_estimate_bad_input(x, n, match):
    with pytest.raises(ValueError, match=match):
        proportion_estimate(x, n)


def test_proportion_estimate_rejects_fractional_counts():
    with pytest.raises(ValueError):
        proportion_estimate(2.5, 10)


def test_mean_estimate():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=500)
    e = mean_estimate(values, seed=9)
    se = values.std(ddof=1) / math.sqrt(values.size)
    z = stats.t.ppf(0.975, values.size - 1)  # Student's t with N - 1 degrees of freedom
    assert e.estimate == pytest.approx(values.mean(), rel=1e-15)
    assert e.stderr == pytest.approx(se, rel=1e-12)
    assert e.ci_low == pytest.approx(values.mean() - z * se, rel=1e-12)
    assert e.ci_high == pytest.approx(values.mean() + z * se, rel=1e-12)
    assert e.trials == 500 and e.seed == 9
    assert isinstance(e, Estimate)
    with pytest.raises(ValueError, match="at least two"):
        mean_estimate([2.5])
    const = mean_estimate([[1.0, 1.0], [1.0, 1.0]])
    assert const.trials == 4 and const.stderr == 0.0


@pytest.mark.parametrize("values", [[], [1.0, float("nan")], [float("inf")]])
def test_mean_estimate_bad_input(values):
    with pytest.raises(ValueError):
        mean_estimate(values)
