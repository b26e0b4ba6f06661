"""Counter-seeded random streams for Numba kernels (derived here, SplitMix64).

Every Monte Carlo trial ``t`` of a run with seed ``seed`` draws from its own stream, whose state
starts at ``splitmix64(splitmix64(seed) + t)``. A trial's numbers therefore depend only on
``(seed, t)``: the same seed gives the same estimate whatever the thread count or the chunking
of trials into progress-bar steps.

SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
has period 2**64 per stream and passes BigCrush; with streams started at hashed offsets, two
trials overlap only if their starts fall within the few million draws a trial uses, which has
probability below 1e-6 even for 1e9 trials.

The state is a length-1 ``uint64`` array so the jitted helpers can advance it in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def trial_state(seed, trial):
    """Fresh stream state for trial ``trial`` of seed ``seed`` (both non-negative ints)."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = _mix(_mix(np.uint64(seed) + _GOLDEN) + np.uint64(trial))
    return state


@njit(cache=True, inline="always")
def next_u64(state):
    """Next 64 random bits (SplitMix64 output function)."""
    state[0] += _GOLDEN
    return _mix(state[0])


@njit(cache=True, inline="always")
def uniform(state):
    """Uniform float in [0, 1) with 53 random bits."""
    return float(next_u64(state) >> _S11) * _TWO_POW_M53


@njit(cache=True, inline="always")
def _mul_hi_lo(a, b):
    """High and low 64-bit halves of the 128-bit product a * b (schoolbook on 32-bit limbs)."""
    mask = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    a_lo, a_hi = a & mask, a >> s32
    b_lo, b_hi = b & mask, b >> s32
    lo_lo = a_lo * b_lo
    hi_lo = a_hi * b_lo
    lo_hi = a_lo * b_hi
    hi_hi = a_hi * b_hi
    cross = (lo_lo >> s32) + (hi_lo & mask) + lo_hi
    high = hi_hi + (hi_lo >> s32) + (cross >> s32)
    return high, a * b


@njit(cache=True)
def below(state, n):
    """Uniform integer in [0, n), unbiased.

    Lemire's multiply-and-reject ("Fast random integer generation in an interval", ACM TOMACS
    2019): the high half of x * n is uniform once products whose low half falls under
    2**64 mod n are rejected; the division runs only in that rare case.
    """
    bound = np.uint64(n)
    high, low = _mul_hi_lo(next_u64(state), bound)
    if low < bound:
        threshold = (np.uint64(0) - bound) % bound
        while low < threshold:
            high, low = _mul_hi_lo(next_u64(state), bound)
    return np.int64(high)


@njit(cache=True)
def normal(state):
    """Standard normal deviate (Box-Muller; the second deviate is discarded for simplicity)."""
    u1 = 1.0 - uniform(state)  # in (0, 1], so log is finite
    u2 = uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
