"""Random sparse neurons for the Numba kernels: supports, weights, activations (derived here).

A neuron is relu(w . x_U + b) with support U (|U| = s), weights on U drawn from one of two laws,

* ``WEIGHTS_PM1``: w_u = +-1 with equal probability (the idealised neuron of docs/theory.md §4),
* ``WEIGHTS_GAUSSIAN``: w_u ~ N(0, 1) i.i.d.,

and a fixed bias b (the same for every neuron; a bias law beyond a constant is not needed by the
theory this checks). Its activation pattern on a sample is g(x) = 1[w . x_U + b > 0].
"""

from __future__ import annotations

import numpy as np
from numba import njit

from parity_frontiers.simulate._bits import popcount64, tail_mask
from parity_frontiers.simulate._rng import below, next_u64, normal

WEIGHTS_PM1 = 0
WEIGHTS_GAUSSIAN = 1
WEIGHT_LAWS = {"pm1": WEIGHTS_PM1, "gaussian": WEIGHTS_GAUSSIAN}

#: Up to this support size, Floyd's sampler checks repeats by scanning (no n-sized scratch).
SCAN_LIMIT = 32


@njit(cache=True)
def draw_subset(state, n, s, out, offset, marks):
    """Write a uniform s-subset of {offset, ..., offset + n - 1} into ``out[:s]``.

    Floyd's algorithm (Bentley & Floyd, CACM 1987): for j = n - s .. n - 1 draw t uniform in
    [0, j] and take t, or j if t is already taken; every s-subset is equally likely. Repeats
    are found by scanning when s <= SCAN_LIMIT, else with ``marks`` (length >= n, all False on
    entry and on exit).
    """
    count = 0
    for j in range(n - s, n):
        t = below(state, j + 1)
        taken = False
        if s <= SCAN_LIMIT:
            for q in range(count):
                if out[q] == t + offset:
                    taken = True
                    break
        else:
            taken = marks[t]
        pick = j if taken else t
        out[count] = pick + offset
        if s > SCAN_LIMIT:
            marks[pick] = True
        count += 1
    if s > SCAN_LIMIT:
        for q in range(s):
            marks[out[q] - offset] = False


@njit(cache=True)
def draw_weights(state, law, out):
    """Fill ``out`` with +-1 signs (law 0) or standard normals (law 1)."""
    for q in range(out.shape[0]):
        if law == WEIGHTS_PM1:
            out[q] = 1.0 if (next_u64(state) >> np.uint64(63)) == 0 else -1.0
        else:
            out[q] = normal(state)


@njit(cache=True)
def threshold_count(s, bias):
    """H = number of c in 0..s with s - 2c + bias > 0.

    A +-1 neuron is active on a sample iff fewer than H of its s products w_u x_u are -1
    (the same H as :func:`theory.fourier_gaps.threshold_count`).
    """
    count = 0
    for c in range(s + 1):
        if s - 2 * c + bias > 0.0:
            count += 1
    return count


@njit(cache=True)
def _activation_pm1(support, weights, bias, bits, m, active):
    # Bit-sliced (derived here): with v_u = bits[u] XOR [w_u < 0] (bit 1 <=> w_u x_u = -1), a
    # ripple-carry adder over the s words leaves the per-sample count c of -1 products in
    # binary bit-planes, and a bit-sliced comparison with the constant H gives 1[c < H] for 64
    # samples at once: about s log2(s) word operations instead of 64 s bit extractions.
    s = support.shape[0]
    limit = threshold_count(s, bias)
    planes = 1
    while (1 << planes) <= s + 1:  # room for c <= s and for H <= s + 1
        planes += 1
    nwords = active.shape[0]
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    count_planes = np.empty(planes, dtype=np.uint64)
    total = 0
    for w in range(nwords):
        for p in range(planes):
            count_planes[p] = np.uint64(0)
        for q in range(s):
            carry = bits[support[q], w]
            if weights[q] < 0.0:
                carry = ~carry
            for p in range(planes):
                plane = count_planes[p]
                count_planes[p] = plane ^ carry
                carry = plane & carry
        below = np.uint64(0)
        equal = ones
        for p in range(planes - 1, -1, -1):
            plane = count_planes[p]
            if (limit >> p) & 1:
                below |= equal & ~plane
                equal &= plane
            else:
                equal &= ~plane
        if w == nwords - 1:
            below &= tail_mask(m)
        active[w] = below
        total += popcount64(below)
    return total


@njit(cache=True)
def _activation_pm1_small(support, weights, bias, bits, m, active):
    # The bit-sliced path of _activation_pm1 with its (at most 4) count planes in scalar
    # locals, which stay in registers: s <= 14, the common sparse case.
    s = support.shape[0]
    limit = threshold_count(s, bias)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    zero = np.uint64(0)
    flip = np.empty(s, dtype=np.uint64)
    for q in range(s):
        flip[q] = ones if weights[q] < 0.0 else zero
    nwords = active.shape[0]
    total = 0
    for w in range(nwords):
        p0 = zero
        p1 = zero
        p2 = zero
        p3 = zero
        for q in range(s):
            carry = bits[support[q], w] ^ flip[q]
            t = p0 & carry
            p0 ^= carry
            carry = t
            t = p1 & carry
            p1 ^= carry
            carry = t
            t = p2 & carry
            p2 ^= carry
            p3 ^= t
        below = zero
        equal = ones
        for p in range(3, -1, -1):
            plane = p3 if p == 3 else (p2 if p == 2 else (p1 if p == 1 else p0))
            if (limit >> p) & 1:
                below |= equal & ~plane
                equal &= plane
            else:
                equal &= ~plane
        if w == nwords - 1:
            below &= tail_mask(m)
        active[w] = below
        total += popcount64(below)
    return total


@njit(cache=True)
def _activation_general(support, weights, bias, bits, m, active):
    nwords = active.shape[0]
    acc = np.empty(64)
    total = 0
    for w in range(nwords):
        acc[:] = bias
        for q in range(support.shape[0]):
            word = bits[support[q], w]
            weight = weights[q]
            for t in range(64):
                acc[t] += -weight if (word >> np.uint64(t)) & np.uint64(1) else weight
        word = np.uint64(0)
        for t in range(64):
            if acc[t] > 0.0:
                word |= np.uint64(1) << np.uint64(t)
        if w == nwords - 1:
            word &= tail_mask(m)
        active[w] = word
        total += popcount64(word)
    return total


@njit(cache=True)
def activation_bits(support, weights, bias, bits, m, active):
    """Set bit t of ``active`` to g(x_t) = 1[w . x_U + b > 0]; return how many are set.

    ``bits`` is the transposed sample matrix of :mod:`simulate._bits` (bit 1 means x = -1).
    +-1 weights take a bit-sliced path; other weights sum floats 64 samples at a time.
    """
    for q in range(weights.shape[0]):
        if weights[q] != 1.0 and weights[q] != -1.0:
            return _activation_general(support, weights, bias, bits, m, active)
    if support.shape[0] <= 14:  # counts up to 15 fit the four scalar planes
        return _activation_pm1_small(support, weights, bias, bits, m, active)
    return _activation_pm1(support, weights, bias, bits, m, active)
