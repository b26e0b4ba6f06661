"""Random sparse neurons for the Numba kernels: supports, weights, activations (derived here).

A neuron is relu(w . x_U + b) with support U (|U| = s), weights on U drawn from one of two laws,

* ``WEIGHTS_PM1``: w_u = +-1 with equal probability (the idealised neuron of PAPER.md sec. 4),
* ``WEIGHTS_GAUSSIAN``: w_u ~ N(0, 1) i.i.d.,

and a fixed bias b (the same for every neuron; a bias law beyond a constant is not needed by the
theory this checks). Its activation pattern on a sample is g(x) = 1[w . x_U + b > 0].
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._bits import tail_mask
from ._rng import below, next_u64, normal

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
def activation_bits(support, weights, bias, bits, m, active):
    """Set bit t of ``active`` to g(x_t) = 1[w . x_U + b > 0]; return how many are set.

    ``bits`` is the transposed sample matrix of :mod:`simulate._bits` (bit 1 means x = -1).
    """
    nwords = active.shape[0]
    total = 0
    for w in range(nwords):
        word = np.uint64(0)
        upto = 64 if w < nwords - 1 or m % 64 == 0 else m % 64
        for t in range(upto):
            acc = bias
            for q in range(support.shape[0]):
                if (bits[support[q], w] >> np.uint64(t)) & np.uint64(1):
                    acc -= weights[q]
                else:
                    acc += weights[q]
            if acc > 0.0:
                word |= np.uint64(1) << np.uint64(t)
                total += 1
        active[w] = word & (tail_mask(m) if w == nwords - 1 else np.uint64(0xFFFFFFFFFFFFFFFF))
    return total
