r"""Numba kernels of :mod:`simulate.sq`: network draws, exact and sampled gradient Fourier
coefficients of a 2-layer ReLU net, and the lucky-guess SQ game (derived here).

Conventions (those of :mod:`simulate._bits`): an input x in {-1, +1}^n is the integer whose bit i
is 1 exactly when x_i = -1, so chi_T(x) = (-1)^{popcount(x & T)} for a set T given as a bit mask,
and the unnormalised Walsh-Hadamard transform of a table f over all 2^n inputs is
:math:`\sum_x f(x) \chi_T(x)` for every mask T at once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from parity_frontiers.simulate._bits import correlation_counts, popcount64, tail_mask
from parity_frontiers.simulate._neurons import SCAN_LIMIT, draw_subset
from parity_frontiers.simulate._rng import next_u64, trial_state, uniform


@njit(cache=True)
def draw_network(seed, stream, n, width, s, sparse, weights, biases, outputs):
    """Draw a 2-layer ReLU net at initialisation from stream ``stream`` of ``seed``.

    The Numba twin of two entries of the trainer's init registry
    (``parity_frontiers.verify.training.registry.INIT_REGISTRY``; simulate/ may not import
    verify/, so the law is restated here): ``sparse=False`` mirrors ``INIT_REGISTRY["dense"]``,
    W_ji and b_j ~ U(-1/sqrt(n), 1/sqrt(n)) (PyTorch nn.Linear default); ``sparse=True``
    mirrors ``INIT_REGISTRY["sparse"]``, neuron j has a uniform s-subset support, its s weights
    and its bias ~ U(-1/sqrt(s), 1/sqrt(s)), every other input weight 0. The output layer a_j and
    c ~ U(-1/sqrt(width), 1/sqrt(width)) as ``verify.training.model.init_params`` draws it. It
    mirrors the *law*, not the draws (its own generator, float64): tests/test_registries.py
    checks that the two agree in distribution. ``sparse-gaussian`` has no twin. Returns the
    output bias c.
    """
    state = trial_state(seed, stream)
    weights[:, :] = 0.0
    if sparse:
        bound = 1.0 / math.sqrt(s)
        support = np.empty(s, dtype=np.int64)
        marks = np.zeros(n if s > SCAN_LIMIT else 1, dtype=np.bool_)
        for j in range(width):
            draw_subset(state, n, s, support, 0, marks)
            for q in range(s):
                weights[j, support[q]] = (2.0 * uniform(state) - 1.0) * bound
            biases[j] = (2.0 * uniform(state) - 1.0) * bound
    else:
        bound = 1.0 / math.sqrt(n)
        for j in range(width):
            for i in range(n):
                weights[j, i] = (2.0 * uniform(state) - 1.0) * bound
            biases[j] = (2.0 * uniform(state) - 1.0) * bound
    bound = 1.0 / math.sqrt(width)
    for j in range(width):
        outputs[j] = (2.0 * uniform(state) - 1.0) * bound
    return (2.0 * uniform(state) - 1.0) * bound


@njit(cache=True)
def subset_masks(n, k):
    """All k-subsets of {0..n-1} as int64 bit masks, in increasing order (Gosper's hack)."""
    count = 1
    for i in range(k):
        count = count * (n - i) // (i + 1)
    out = np.empty(count, dtype=np.int64)
    mask = (np.int64(1) << k) - 1
    for index in range(count):
        out[index] = mask
        if index + 1 < count:
            low = mask & -mask
            ripple = mask + low
            mask = (((ripple ^ mask) >> 2) // low) | ripple
    return out


@njit(cache=True)
def walsh_hadamard(values):
    """In-place unnormalised Walsh-Hadamard transform of a length-2^n table."""
    size = values.shape[0]
    half = 1
    while half < size:
        for start in range(0, size, 2 * half):
            for x in range(start, start + half):
                u = values[x]
                v = values[x + half]
                values[x] = u + v
                values[x + half] = u - v
        half *= 2


@njit(cache=True)
def _neuron_tables(n, w, bias, active, relu):
    """active[x] = 1[w . x + b > 0], relu[x] = max(w . x + b, 0) over all 2^n inputs x."""
    size = 1 << n
    pre = np.empty(size)
    total = bias
    for i in range(n):
        total += w[i]
    pre[0] = total
    for x in range(1, size):
        low = 0
        while not (x >> low) & 1:
            low += 1
        # x differs from x with its lowest set bit cleared in coordinate low only (+1 -> -1).
        pre[x] = pre[x & (x - 1)] - 2.0 * w[low]
    for x in range(size):
        if pre[x] > 0.0:
            active[x] = 1.0
            relu[x] = pre[x]
        else:
            active[x] = 0.0
            relu[x] = 0.0


@njit(cache=True)
def _exact_neurons(n, weights, biases, outputs, masks, lo, hi, best, energy, moments):
    """Neurons lo..hi-1 of :func:`visible_exact_kernel`, maxima into ``best`` (one block)."""
    size = 1 << n
    count = masks.shape[0]
    active = np.empty(size)
    relu = np.empty(size)
    for j in range(lo, hi):
        _neuron_tables(n, weights[j], biases[j], active, relu)
        mean_active = 0.0
        mean_square = 0.0
        for x in range(size):
            mean_active += active[x]
            mean_square += relu[x] * relu[x]
        moments[j, 0] = mean_active / size
        moments[j, 1] = mean_square / size
        walsh_hadamard(active)
        walsh_hadamard(relu)
        scale = abs(outputs[j]) / size
        total = 0.0
        for c in range(count):
            mask = masks[c]
            value = abs(relu[mask]) / size
            total += value * value
            t = scale * abs(active[mask])
            total += t * t
            if t > value:
                value = t
            for i in range(n):
                t = scale * abs(active[mask ^ (np.int64(1) << i)])
                total += t * t
                if t > value:
                    value = t
            if value > best[c]:
                best[c] = value
        energy[j] = total


@njit(parallel=True, cache=True, nogil=True)
def _exact_parallel(n, weights, biases, outputs, masks, nblocks, sup_norm, energy, moments):
    width = weights.shape[0]
    count = masks.shape[0]
    partial = np.zeros((nblocks, count))
    for block in prange(nblocks):
        _exact_neurons(n, weights, biases, outputs, masks, width * block // nblocks,
                       width * (block + 1) // nblocks, partial[block], energy, moments)
    for c in prange(count):
        best = 0.0
        for block in range(nblocks):
            if partial[block, c] > best:
                best = partial[block, c]
        sup_norm[c] = best


#: Below this many operations (width x n x 2^n) one thread does the work: starting Numba's
#: thread pool costs more than it saves there (tens of ms on a loaded machine).
PARALLEL_WORK = 1 << 22


def visible_exact_kernel(n, weights, biases, outputs, masks, threads, sup_norm, energy, moments):
    """Exact sup-norms over parameters of the Fourier coefficients of grad h, for every S.

    For neuron j with activation g_j and ReLU output u_j, the parameter gradients are
    dh/dW_ji = a_j g_j(x) x_i, dh/db_j = a_j g_j(x), dh/da_j = u_j(x); their coefficients on S are
    a_j ĝ_j(S xor {i}), a_j ĝ_j(S) and û_j(S). Writes ``sup_norm[c]`` = max over all of them
    for S = masks[c] (the output bias has coefficient 0 on any S != {}), ``energy[j]`` = sum over
    the masks and neuron j's parameters of the squared coefficients, and ``moments[j]`` =
    (E g_j, E u_j^2), from which E[(dh/dtheta)^2] of each parameter follows. Neurons are split
    into at most ``threads`` blocks with private maxima, so the result does not depend on the
    split.
    """
    width = weights.shape[0]
    nblocks = max(1, min(width, threads))
    if nblocks == 1 or width * n * (1 << n) < PARALLEL_WORK:
        sup_norm[:] = 0.0
        _exact_neurons(n, weights, biases, outputs, masks, 0, width, sup_norm, energy, moments)
    else:
        _exact_parallel(n, weights, biases, outputs, masks, nblocks, sup_norm, energy, moments)


@njit(cache=True)
def _sample_bits(state, n, m, bits):
    nwords = bits.shape[1]
    for w in range(nwords):
        for i in range(n):
            bits[i, w] = next_u64(state)
    last = tail_mask(m)
    for i in range(n):
        bits[i, nwords - 1] &= last


@njit(parallel=True, cache=True, nogil=True)
def visible_sample_kernel(n, k, weights, biases, outputs, m, seed, stream, sup_norm):
    """m-sample estimates of the sup-norms of :func:`visible_exact_kernel` for random S.

    One shared sample of m uniform inputs and ``sup_norm.shape[0]`` uniform k-subsets S, all from
    stream ``stream`` of ``seed``; every coefficient is the empirical mean of chi_S(x) times the
    parameter's gradient function (an unbiased estimate of it).
    """
    width = weights.shape[0]
    parities = sup_norm.shape[0]
    nwords = (m + 63) // 64
    state = trial_state(seed, stream)
    bits = np.empty((n, nwords), dtype=np.uint64)
    _sample_bits(state, n, m, bits)
    sets = np.empty((parities, k), dtype=np.int64)
    marks = np.zeros(n if k > SCAN_LIMIT else 1, dtype=np.bool_)
    for q in range(parities):
        draw_subset(state, n, k, sets[q], 0, marks)

    relu = np.zeros((width, m))
    active = np.zeros((width, nwords), dtype=np.uint64)
    active_count = np.zeros(width, dtype=np.int64)
    for j in prange(width):
        total = 0
        for t in range(m):
            word = t >> 6
            bit = np.uint64(t & 63)
            pre = biases[j]
            for i in range(n):
                if weights[j, i] != 0.0:
                    if (bits[i, word] >> bit) & np.uint64(1):
                        pre -= weights[j, i]
                    else:
                        pre += weights[j, i]
            if pre > 0.0:
                relu[j, t] = pre
                active[j, word] |= np.uint64(1) << bit
                total += 1
        active_count[j] = total

    for q in prange(parities):
        label = np.zeros(nwords, dtype=np.uint64)
        for w in range(nwords):
            acc = np.uint64(0)
            for u in range(k):
                acc ^= bits[sets[q, u], w]
            label[w] = acc
        signs = np.empty(m)
        for t in range(m):
            signs[t] = -1.0 if (label[t >> 6] >> np.uint64(t & 63)) & np.uint64(1) else 1.0
        counts = np.empty(n, dtype=np.int64)
        best = 0.0
        for j in range(width):
            scale = abs(outputs[j]) / m
            correlation_counts(active[j], label, bits, active_count[j], counts)
            for i in range(n):
                value = scale * abs(counts[i])
                if value > best:
                    best = value
            hits = np.uint64(0)
            for w in range(nwords):
                hits += popcount64(active[j, w] & label[w])
            value = scale * abs(active_count[j] - 2 * np.int64(hits))
            if value > best:
                best = value
            acc = 0.0
            for t in range(m):
                acc += signs[t] * relu[j, t]
            value = abs(acc) / m
            if value > best:
                best = value
        sup_norm[q] = best


@njit(cache=True)
def _random_mask(state, n, k, support, marks):
    draw_subset(state, n, k, support, 0, marks)
    mask = np.uint64(0)
    for u in range(k):
        mask |= np.uint64(1) << np.uint64(support[u])
    return mask


@njit(parallel=True, cache=True, nogil=True)
def guess_kernel(n, k, queries, tau, adversarial, seed, start, stop, successes, queried):
    """The lucky-guess SQ game for trials start..stop-1 (see :func:`simulate.sq.simulate_sq_guess`).

    Per trial: a uniform target S, ``queries`` distinct uniform k-sets T (rejection with an
    open-addressing hash set), each answered E[chi_T chi_S] = 1[T = S] perturbed within tau by
    the oracle; the learner outputs the T with the largest answer (earliest on ties).
    ``successes[t]`` = 1 when that T is S, ``queried[t]`` = 1 when S was among the queries.
    """
    count = stop - start
    nblocks = min(count, 64)
    table_size = 1
    while table_size < 2 * queries:
        table_size *= 2
    empty = np.uint64(0)  # no k-set with k >= 1 has the empty mask
    for block in prange(nblocks):
        table = np.zeros(table_size, dtype=np.uint64)
        support = np.empty(k, dtype=np.int64)
        marks = np.zeros(n if k > SCAN_LIMIT else 1, dtype=np.bool_)
        for index in range(count * block // nblocks, count * (block + 1) // nblocks):
            state = trial_state(seed, start + index)
            target = _random_mask(state, n, k, support, marks)
            table[:] = empty
            best = -np.inf
            best_is_target = False
            hit = False
            made = 0
            while made < queries:
                guess = _random_mask(state, n, k, support, marks)
                slot = np.int64((guess * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) \
                    & (table_size - 1)
                seen = False
                while table[slot] != empty:
                    if table[slot] == guess:
                        seen = True
                        break
                    slot = (slot + 1) & (table_size - 1)
                if seen:
                    continue
                table[slot] = guess
                made += 1
                truth = 1.0 if guess == target else 0.0
                if adversarial:
                    answer = truth - tau if truth > 0.5 else truth + tau
                else:
                    answer = truth + tau * (2.0 * uniform(state) - 1.0)
                if answer > best:
                    best = answer
                    best_is_target = guess == target
                if guess == target:
                    hit = True
            successes[index] = 1 if best_is_target else 0
            queried[index] = 1 if hit else 0


__all__ = ["draw_network", "subset_masks", "walsh_hadamard", "visible_exact_kernel",
           "visible_sample_kernel", "guess_kernel"]
