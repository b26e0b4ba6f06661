"""Bit tricks for Numba kernels: a popcount intrinsic and sparse-parity sampling in uint64 words.

Bit layout used throughout :mod:`simulate` (derived here): a +-1 sample is one bit, 1 meaning
-1. Samples are stored *transposed*, one bit-vector over samples per input coordinate
(``bits[i, w]`` holds samples 64 w .. 64 w + 63 of coordinate i). Then the label bits of the
parity chi_S are the XOR of the rows in S, and a correlation sum over samples becomes

.. math:: \\sum_{t \\in A} y_t x_{t,i} = |A| - 2\\,\\mathrm{popcount}(A \\wedge (Y \\oplus X_i)),

one AND, one XOR and one popcount per 64 samples instead of 64 multiply-adds.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from parity_frontiers.simulate._rng import next_u64


@intrinsic
def popcount64(typingctx, value):
    """Number of set bits of a uint64 (LLVM ``ctpop``; one POPCNT instruction on x86-64)."""
    if value != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


def words_for(count: int) -> int:
    """Number of uint64 words holding ``count`` bits."""
    return (int(count) + 63) // 64


@njit(cache=True)
def tail_mask(count):
    """Mask of the valid bits in the last word of a ``count``-bit vector."""
    rem = count % 64
    if rem == 0:
        return np.uint64(0xFFFFFFFFFFFFFFFF)
    return (np.uint64(1) << np.uint64(rem)) - np.uint64(1)


@njit(cache=True)
def sample_parity_bits(state, n, k, m, bits, label):
    """Fill ``bits`` (n x words) with m uniform +-1 samples and ``label`` with chi_S bits.

    S is {0, ..., k-1}: by the symmetry of the uniform law under relabelling coordinates this
    loses nothing, and the caller draws neuron supports uniformly. Padding bits past m are zero.
    """
    nwords = bits.shape[1]
    last = tail_mask(m)
    # Word-column order: the first 64 w samples are the same for every m > 64 w, so estimates
    # on a grid of m share their random numbers (smoother curves, exact nesting).
    for w in range(nwords):
        for i in range(n):
            bits[i, w] = next_u64(state)
    for i in range(n):
        bits[i, nwords - 1] &= last
    for w in range(nwords):
        acc = np.uint64(0)
        for i in range(k):
            acc ^= bits[i, w]
        label[w] = acc


@njit(cache=True)
def correlation_counts(active, label, bits, active_count, out):
    """out[i] = sum over active samples t of y_t x_{t,i}, for every coordinate i (see module)."""
    n, nwords = bits.shape
    for i in range(n):
        c = np.uint64(0)
        for w in range(nwords):
            c += popcount64(active[w] & (label[w] ^ bits[i, w]))
        out[i] = active_count - 2 * np.int64(c)
