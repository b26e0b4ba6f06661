"""Trial-by-trial reproduction of the Numba kernels with plain numpy (an independent route).

Each test replays one trial's random draws through the same stream helpers, unpacks the
bit-packed samples into a +-1 matrix, and recomputes activations, correlations and the
selection rules with numpy's integer arithmetic, following the module docstrings rather than
the kernels' code (no bit slicing, no early exit). Results must agree exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_frontiers.simulate._bits import sample_parity_bits, words_for
from parity_frontiers.simulate._neurons import WEIGHT_LAWS, draw_subset, draw_weights
from parity_frontiers.simulate._rng import trial_state
from parity_frontiers.simulate.gradients import _gradient_kernel
from parity_frontiers.simulate.onestep import _onestep_kernel


def _unpack(bits: np.ndarray, m: int) -> np.ndarray:
    """(n, words) uint64, bit 1 = -1  ->  (m, n) int64 matrix of +-1."""
    as_bytes = bits.view(np.uint8).reshape(bits.shape[0], -1)
    flags = np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :m]
    return (1 - 2 * flags.astype(np.int64)).T


def _replay_neurons(seed, trial, n, s, r, law):
    state = trial_state(seed, 2 * trial)
    supports = np.empty((r, s), dtype=np.int64)
    weights = np.empty((r, s))
    marks = np.zeros(n, dtype=np.bool_)
    for j in range(r):
        draw_subset(state, n, s, supports[j], 0, marks)
        draw_weights(state, WEIGHT_LAWS[law], weights[j])
    return supports, weights


def _replay_samples(seed, trial, n, k, m):
    bits = np.empty((n, words_for(m)), dtype=np.uint64)
    label = np.empty(words_for(m), dtype=np.uint64)
    sample_parity_bits(trial_state(seed, 2 * trial + 1), n, k, m, bits, label)
    x = _unpack(bits, m)
    y = np.prod(x[:, :k], axis=1)
    assert np.array_equal(y, _unpack(label[None, :], m)[:, 0])
    return x


def _selects(corr, support, k, s):
    """Module rule of simulate.onestep, written from its docstring."""
    n = corr.shape[0]
    a = np.abs(corr)
    in_s = np.arange(n) < k
    if s >= k:
        return a[in_s].min() > a[~in_s].max(initial=0)
    if not np.all(support < k):
        return False
    in_u = np.zeros(n, dtype=bool)
    in_u[support] = True
    return a[in_s & ~in_u].min() > a[~in_s & ~in_u].max(initial=0)


@pytest.mark.parametrize("n, k, s, law, bias", [
    (12, 2, 2, "pm1", 0.0), (20, 3, 2, "pm1", 0.0), (16, 3, 4, "pm1", 1.0),
    (16, 3, 3, "gaussian", 0.0), (10, 2, 5, "pm1", -1.0), (70, 4, 3, "pm1", 0.5),
    (40, 3, 35, "pm1", 1.0),
])
def test_onestep_kernel_matches_numpy_replay(n, k, s, law, bias):
    widths = np.array([1, 7, 40], dtype=np.int64)
    samples = np.array([50, 64, 200], dtype=np.int64)
    seed, trials = 11, 6
    shape = (trials, samples.size, widths.size)
    selecting = np.zeros(shape, dtype=np.int64)
    lucky = np.zeros((trials, widths.size), dtype=np.int64)
    lucky_selecting = np.zeros(shape, dtype=np.int64)
    _onestep_kernel(n, k, s, widths, samples, WEIGHT_LAWS[law], bias, seed, 0, trials,
                    selecting, lucky, lucky_selecting)
    for t in range(trials):
        supports, weights = _replay_neurons(seed, t, n, s, widths[-1], law)
        x_all = _replay_samples(seed, t, n, k, samples[-1])
        overlap = (supports < k).sum(axis=1)
        is_lucky = overlap == (k if s >= k else s)
        for a, m in enumerate(samples):
            x = x_all[:m]
            y = np.prod(x[:, :k], axis=1)
            chosen = np.zeros(widths[-1], dtype=bool)
            for j in range(widths[-1]):
                active = (x[:, supports[j]] @ weights[j] + bias) > 0
                corr = (y * active) @ x
                chosen[j] = _selects(corr, supports[j], k, s)
            for b, r in enumerate(widths):
                assert selecting[t, a, b] == chosen[:r].sum()
                assert lucky_selecting[t, a, b] == (chosen[:r] & is_lucky[:r]).sum()
                assert lucky[t, b] == is_lucky[:r].sum()


@pytest.mark.parametrize("n, k, s, overlap, law, bias", [
    (15, 3, 4, 3, "pm1", 0.0), (15, 3, 2, 2, "pm1", 1.0), (20, 2, 5, 1, "gaussian", 0.5),
])
def test_gradient_kernel_empirical_gap_matches_numpy_replay(n, k, s, overlap, law, bias):
    m, seed, trials = 130, 5, 8
    # The kernel works in integer numerators: gaps in units of 1/m (population: 2^-s).
    sums = np.zeros((trials, 4), dtype=np.int64)
    counts = np.zeros((trials, 4), dtype=np.int64)
    pop = np.zeros((trials, 4), dtype=np.int64)
    gap = np.zeros(trials, dtype=np.int64)
    pop_gap = np.zeros(trials, dtype=np.int64)
    _gradient_kernel(n, k, s, overlap, WEIGHT_LAWS[law], bias, m, True, seed, 0, trials,
                     sums, counts, pop, gap, pop_gap)
    for t in range(trials):
        state = trial_state(seed, 2 * t)
        support = np.empty(s, dtype=np.int64)
        marks = np.zeros(n, dtype=np.bool_)
        draw_subset(state, k, overlap, support[:overlap], 0, marks)
        draw_subset(state, n - k, s - overlap, support[overlap:], k, marks)
        weights = np.empty(s)
        draw_weights(state, WEIGHT_LAWS[law], weights)
        x = _replay_samples(seed, t, n, k, m)
        y = np.prod(x[:, :k], axis=1)
        corr = (y * ((x[:, support] @ weights + bias) > 0)) @ x
        a = np.abs(corr)
        in_s = np.arange(n) < k
        in_u = np.zeros(n, dtype=bool)
        in_u[support] = True
        if s >= k:
            expected = a[in_s].min() - a[~in_s].max(initial=0)
        else:
            expected = a[in_s & ~in_u].min() - a[~in_s & ~in_u].max(initial=0)
        assert gap[t] == expected
