r"""Lottery-ticket probabilities of s-sparse initialisation (docs/theory.md §3).

A hidden neuron's support U is a uniform s-subset of [n]; the target S is a fixed k-subset.
The overlap |U n S| is hypergeometric, and a neuron is *lucky* when its overlap is as large as
it can be:

* over-sparse, s >= k: S inside U, probability C(s, k) / C(n, k) = C(n-k, s-k) / C(n, s)
  (Theorem 4's lottery ticket);
* under-sparse, s < k: U inside S, probability C(k, s) / C(n, s)
  (Theorem 5's partial-progress neuron).

Both are the hypergeometric mass at j = min(s, k). With r independent neurons,

.. math:: P(\text{at least one lucky}) = 1 - (1 - p)^r = -\mathrm{expm1}(r\,\mathrm{log1p}(-p)),

the scipy ``geom`` idiom, evaluated without the cancellation of ``1 - (1 - p)**r``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from parity_frontiers.theory.binomial import log_comb, log_comb_unchecked
from parity_frontiers.theory.checks import (
    LN10,
    as_result,
    check_probability,
    check_size,
    check_subset_size,
)

__all__ = [
    "overlap_pmf",
    "log_overlap_pmf",
    "p_lucky",
    "log_p_lucky",
    "p_at_least_one_lucky",
    "width_needed",
    "log10_width_needed",
]

# Below this log-probability, log(1 - p) = -p to better than 1e-13 relative.
_TINY_LOG_P = -30.0
# log C(n, m) above which p_lucky is summed term by term (see _log_p_lucky), and the most
# terms we are willing to sum per point (80 MB of float64).
_LOG_C_EXACT_LIMIT = 1e5
_MAX_PRODUCT_TERMS = 10_000_000
#: Longest overlap law returned whole by :func:`overlap_pmf` when j is omitted.
MAX_LAW_LENGTH = 10_000
#: The overlap law and p_lucky are products of min(s, k) ratios: up to this many factors they
#: are computed in exact integer arithmetic (then rounded once) wherever the float formula's
#: error could exceed 1e-13 relative (log-binomials above :data:`_LOG_C_FLOAT_OK`).
EXACT_TERMS = 2000
_LOG_C_FLOAT_OK = 200.0


def _falling(x: int, m: int) -> int:
    """x (x - 1) ... (x - m + 1), exact; 0 when m > x >= 0."""
    if m > x:
        return 0
    return math.prod(range(x - m + 1, x + 1)) if m > 0 else 1


def _exact_pmf(n: int, k: int, s: int, j: int) -> Fraction:
    """P(|U n S| = j) as an exact fraction, from min(s, k) factors.

    Hypergeometric symmetry lets the smaller of k and s play the parity's role:
    P(j) = C(m, j) (M)_j (n - M)_(m - j) / (n)_m with m = min(k, s), M = max(k, s) and
    (x)_i the falling factorial.
    """
    m, big = min(k, s), max(k, s)
    if j < 0 or j > m:
        return Fraction(0)
    numerator = math.comb(m, j) * _falling(big, j) * _falling(n - big, m - j)
    return Fraction(numerator, _falling(n, m))


def _fraction_log(value: Fraction) -> float:
    """Natural log of a positive fraction, correctly rounded or nearly (huge ones included)."""
    as_float = float(value)
    if as_float >= 1e-300:
        return math.log(as_float)
    return math.log(value.numerator) - math.log(value.denominator)


def _check_nks(n, k, s):
    n_arr = check_size("n", n, exact=True)
    k_arr = check_size("k", k, exact=True)
    s_arr = check_size("s", s, exact=True)
    check_subset_size("k", k_arr, n_arr)
    check_subset_size("s", s_arr, n_arr)
    return n_arr, k_arr, s_arr


def overlap_pmf(n, k, s, j=None):
    r"""P(|U n S| = j) for a uniform s-subset U of [n] and a fixed k-subset S.

    .. math:: P(j) = \frac{\binom{k}{j}\binom{n-k}{s-j}}{\binom{n}{s}}

    the hypergeometric law (``scipy.stats.hypergeom(M=n, n=k, N=s)``), evaluated here from
    :func:`log_comb` because scipy's pmf costs O(k) per point on mixed grids (100 s for a
    million points against 0.1 s); the tests compare the two.

    Parameters
    ----------
    n, k, s : int or array_like
        Dimension, parity degree and support size, ``k <= n``, ``s <= n``.
    j : int or array_like, optional
        Overlap(s). When omitted, n, k, s must be scalars and the whole law for
        j = 0 .. min(s, k) is returned.

    Examples
    --------
    >>> overlap_pmf(10, 3, 2)
    array([0.46666667, 0.46666667, 0.06666667])
    """
    n_arr, k_arr, s_arr = _check_nks(n, k, s)
    if j is None and not (n_arr.ndim or k_arr.ndim or s_arr.ndim) \
            and min(int(k_arr), int(s_arr)) <= EXACT_TERMS \
            and float(log_comb_unchecked(n_arr, s_arr)) > _LOG_C_FLOAT_OK:
        # The whole law in exact integers, each entry rounded once: sums to 1 within 1e-15.
        return _exact_law(int(n_arr), int(k_arr), int(s_arr))
    with np.errstate(under="ignore"):
        pmf = np.exp(np.asarray(log_overlap_pmf(n, k, s, j)))
    # Subnormal results carry few significant digits; report them as the underflow they are
    # (log-space values: :func:`log_overlap_pmf`).
    return as_result(np.where(pmf < np.finfo(np.float64).tiny, 0.0, pmf))


def _exact_law(n: int, k: int, s: int) -> np.ndarray:
    """The overlap law j = 0 .. min(s, k), each entry the exact value rounded once."""
    m, big = min(k, s), max(k, s)
    denominator = _falling(n, m)
    # N(j) = C(m, j) (big)_j (n - big)_(m - j), by the recurrence
    # N(j + 1) = N(j) (m - j) (big - j) / ((j + 1) (n - big - m + j + 1)), exact divisions.
    values = np.zeros(m + 1)
    low = max(0, m - (n - big))  # smaller overlaps are impossible
    term = math.comb(m, low) * _falling(big, low) * _falling(n - big, m - low)
    for j in range(low, m + 1):
        values[j] = term / denominator  # int / int: correctly rounded
        if j < m:
            term = term * (m - j) * (big - j) // ((j + 1) * (n - big - m + j + 1))
    tiny = np.finfo(np.float64).tiny
    return np.where(values < tiny, 0.0, values)


def log_overlap_pmf(n, k, s, j=None):
    r"""Natural log of :func:`overlap_pmf`; finite for every possible overlap.

    .. math:: \log P(j) = \log\binom{k}{j} + \log\binom{n-k}{s-j} - \log\binom{n}{s}

    Impossible overlaps (j > s or s - j > n - k) give -inf.
    """
    n_arr, k_arr, s_arr = _check_nks(n, k, s)
    if j is None:
        if n_arr.ndim or k_arr.ndim or s_arr.ndim:
            raise ValueError("j is required when n, k or s is an array")
        length = int(min(s_arr, k_arr)) + 1
        if length > MAX_LAW_LENGTH:
            raise ValueError(f"j is required: the whole overlap law would have {length} "
                             f"entries (more than {MAX_LAW_LENGTH})")
        j_arr = np.arange(length, dtype=np.float64)
    else:
        j_arr = check_size("j", j, minimum=0, exact=True)
    n_arr, k_arr, s_arr, j_arr = np.broadcast_arrays(n_arr, k_arr, s_arr, j_arr)
    possible = (j_arr <= k_arr) & (j_arr <= s_arr) & (s_arr - j_arr <= n_arr - k_arr)
    jj = np.where(possible, j_arr, 0.0)
    ss = np.where(possible, s_arr, 0.0)
    kk = np.where(possible, k_arr, 0.0)
    nn = np.where(possible, n_arr, 0.0)
    log_c = log_comb_unchecked(nn, ss)
    out = log_comb_unchecked(kk, jj) + log_comb_unchecked(nn - kk, ss - jj) - log_c
    # The difference of log-binomials keeps ~1e-16 * log C(n, s) absolute error: where that
    # could pass 1e-13 and the law has few terms, settle each value in exact arithmetic.
    redo = possible & (log_c > _LOG_C_FLOAT_OK) & (np.minimum(kk, ss) <= EXACT_TERMS)
    if np.any(redo):
        shape = np.shape(out)
        out = np.array(out, dtype=np.float64, ndmin=1).ravel()
        flat = [np.ravel(x) for x in (nn, kk, ss, jj)]
        for i in np.flatnonzero(np.ravel(redo)):
            out[i] = _fraction_log(_exact_pmf(*(int(x[i]) for x in flat)))
        out = out.reshape(shape)
    return as_result(np.where(possible, out, -np.inf))


def log_p_lucky(n, k, s):
    """Natural log of :func:`p_lucky`; finite however small the probability."""
    return as_result(_log_p_lucky(*_check_nks(n, k, s)))


def _log_p_lucky(n_arr, k_arr, s_arr):
    # C(max, min) / C(n, min): both branches in one expression, S in U or U in S.
    small = np.minimum(s_arr, k_arr)
    big = np.maximum(s_arr, k_arr)
    log_c = log_comb_unchecked(n_arr, small)
    out = log_comb_unchecked(big, small) - log_c
    # The difference of two log-binomials keeps ~1e-16 * log C(n, min) absolute error; past
    # 1e5 that is 1e-11 relative in p and growing, so there sum the ratio term by term:
    # C(big, m) / C(n, m) = prod_{i < m} (1 - (n - big) / (n - i)).
    exact = (log_c > _LOG_C_FLOAT_OK) & (small <= EXACT_TERMS)
    if np.any(exact):
        shape = np.shape(out)
        out = np.array(out, dtype=np.float64, ndmin=1).ravel()
        n_b, big_b, small_b, exact_b = (np.broadcast_to(x, shape).ravel()
                                        for x in (n_arr, big, small, exact))
        for i in np.flatnonzero(exact_b):
            m = int(small_b[i])
            out[i] = _fraction_log(Fraction(_falling(int(big_b[i]), m), _falling(int(n_b[i]), m)))
        out = out.reshape(shape)
    redo = (log_c > _LOG_C_EXACT_LIMIT) & (small <= _MAX_PRODUCT_TERMS) & ~exact
    if np.any(redo):
        shape = np.shape(out)
        out = np.array(out, dtype=np.float64, ndmin=1).ravel()
        n_b, big_b, small_b, redo_b = (np.broadcast_to(x, shape).ravel()
                                       for x in (n_arr, big, small, redo))
        for i in np.flatnonzero(redo_b):
            terms = n_b[i] - np.arange(small_b[i], dtype=np.float64)
            out[i] = np.sum(np.log1p(-(n_b[i] - big_b[i]) / terms))
        out = out.reshape(shape)
    return out


def p_lucky(n, k, s):
    r"""Probability that one s-sparse neuron is lucky.

    .. math::
        p = \begin{cases} \binom{s}{k} / \binom{n}{k} & s \ge k
            \quad (S \subseteq U,\ \text{Theorem 4}) \\
            \binom{k}{s} / \binom{n}{s} & s < k \quad (U \subseteq S,\ \text{Theorem 5})
            \end{cases}

    Examples
    --------
    >>> round(p_lucky(10, 2, 4), 12)   # C(4,2)/C(10,2) = 6/45
    0.133333333333
    >>> round(p_lucky(50, 3, 2), 12)   # C(3,2)/C(50,2) = 3/1225
    0.002448979592
    """
    return as_result(np.exp(log_p_lucky(n, k, s)))


def _log1m_exp(log_p):
    """log(1 - exp(log_p)) for log_p <= 0, accurate at both ends (Maechler 2012)."""
    log_p = np.asarray(log_p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(log_p > -math.log(2.0),
                        np.log(-np.expm1(np.minimum(log_p, 0.0))),
                        np.log1p(-np.exp(np.minimum(log_p, -math.log(2.0)))))


def _log_fail_all(log_p, width):
    """log P(no lucky neuron among r) = r log(1 - p), finite unless p == 1."""
    log_r = np.log(width)
    tiny = log_p < _TINY_LOG_P
    # For tiny p, r log(1-p) = -r p to 1e-13, and r p is formed in log-space so that a
    # p below the smallest float still counts when r is huge.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(tiny, -np.exp(log_r + np.minimum(log_p, 0.0)),
                        width * _log1m_exp(log_p))


def p_at_least_one_lucky(n, k, s, width):
    r"""Probability that at least one of r independent s-sparse neurons is lucky.

    .. math:: 1 - (1 - p)^r = -\mathrm{expm1}\bigl(r\, \mathrm{log1p}(-p)\bigr)

    Examples
    --------
    >>> round(p_at_least_one_lucky(50, 3, 2, width=1000), 6)
    0.913877
    """
    n_arr, k_arr, s_arr = _check_nks(n, k, s)
    w_arr = check_size("width", width)
    log_p = _log_p_lucky(n_arr, k_arr, s_arr)
    with np.errstate(invalid="ignore"):
        log_fail = _log_fail_all(log_p, w_arr)
    out = -np.expm1(log_fail)
    return as_result(np.clip(out, 0.0, 1.0))


def log10_width_needed(n, k, s, delta):
    """log10 of max(1, r), r the real-valued width with (1 - p)^r = delta.

    Always finite; :func:`width_needed` is its ceiling, settled exactly.
    """
    n_arr, k_arr, s_arr = _check_nks(n, k, s)
    d_arr = check_probability("delta", delta)
    # Clamped at width 1 (log 0): when p is close to 1 one neuron is already enough.
    log_r = _log_width(_log_p_lucky(n_arr, k_arr, s_arr), np.log(d_arr))
    return as_result(np.maximum(log_r, 0.0) / LN10)


def _log_width(log_p, log_delta):
    # r = log(delta) / log(1-p); in logs: log(-log delta) - log(-log(1-p)). p = 1 gives -inf
    # (any width works), which callers turn into width 1.
    with np.errstate(divide="ignore"):
        log_neg_log1m = np.where(log_p < _TINY_LOG_P, log_p, np.log(-_log1m_exp(log_p)))
    return np.log(-log_delta) - log_neg_log1m


def width_needed(n, k, s, delta):
    r"""Smallest width r with P(at least one lucky neuron among r) >= 1 - delta.

    .. math:: r = \Bigl\lceil \frac{\log \delta}{\log(1 - p)} \Bigr\rceil

    Returns an exact int for scalar input -- above 2**53 too, settled in exact and
    high-precision arithmetic when p is a product of at most :data:`EXACT_TERMS` ratios
    (min(s, k) <= 2000), never below the true minimum -- and a float64 array of integers
    for array input.

    Raises
    ------
    ValueError
        If the width exceeds 1e300 (C(n, k) astronomically large); use
        :func:`log10_width_needed` there.

    Examples
    --------
    >>> width_needed(50, 3, 2, delta=0.01)
    1879
    """
    n_arr, k_arr, s_arr = _check_nks(n, k, s)
    log_delta = np.log(check_probability("delta", delta))
    log_p = _log_p_lucky(n_arr, k_arr, s_arr)
    log_r = _log_width(log_p, log_delta)
    if np.any(log_r > 300 * LN10):
        raise ValueError(f"delta: the width needed is about 10^{float(np.max(log_r)) / LN10:.1f}"
                         ", beyond float range; use log10_width_needed")
    with np.errstate(under="ignore"):
        r = np.maximum(1.0, np.ceil(np.exp(log_r)))
    # The ceiling of a rounded quotient can be off by one at exact boundaries: settle it
    # against the defining inequality r log(1-p) <= log(delta).
    with np.errstate(invalid="ignore"):
        r = np.where((r > 1) & (_log_fail_all(log_p, np.maximum(r - 1, 1.0)) <= log_delta),
                     r - 1, r)
        r = np.where(_log_fail_all(log_p, r) > log_delta, r + 1, r)
    if r.ndim:
        return r
    exact_delta = delta if isinstance(delta, Fraction) else float(np.asarray(delta))
    return _settle_exactly(int(n_arr), int(k_arr), int(s_arr), exact_delta, int(r))


def _settle_exactly(n: int, k: int, s: int, delta: float | Fraction, r: int) -> int:
    """The exact smallest r with (1 - p)^r <= delta, from the float estimate ``r``.

    Small cases (r <= 2000, C(n, min(s, k)) below 1e30) in exact rationals, where floats
    cannot decide ties such as p = delta = 1/2. Otherwise, when p is a product of at most
    :data:`EXACT_TERMS` ratios, p is formed exactly and r = ceil(log(delta) / log(1 - p)) is
    settled with mpmath at a precision that grows until the sign of r log(1 - p) - log(delta)
    at the candidate and its predecessor is certain -- so a width above 2**53 is the exact
    integer, never below the true minimum. Beyond that, the float estimate is returned.
    """
    small, big = min(s, k), max(s, k)
    if r <= 2000 and log_comb(n, small) <= 30 * LN10:
        q = 1 - Fraction(math.comb(big, small), math.comb(n, small))
        d = Fraction(delta)
        while r > 1 and q ** (r - 1) <= d:
            r -= 1
        while q**r > d:
            r += 1
        return r
    if small > EXACT_TERMS:
        return r
    p = Fraction(_falling(big, small), _falling(n, small))
    return _settle_with_mpmath(p, Fraction(delta), r)


def _settle_with_mpmath(p: Fraction, delta: Fraction, estimate: int) -> int:
    """Smallest r >= 1 with r log(1 - p) <= log(delta), p and delta exact, 0 < p, delta < 1."""
    import mpmath

    bits = 128 + 2 * max(estimate, 1).bit_length() + p.denominator.bit_length() // 8
    for _ in range(8):
        with mpmath.workprec(bits):
            log_q = mpmath.log1p(-mpmath.mpf(p.numerator) / p.denominator)
            log_d = mpmath.log(mpmath.mpf(delta.numerator) / delta.denominator)
            r = max(1, int(mpmath.ceil(log_d / log_q)))
            # r is right when r log q <= log d < (r - 1) log q; check both with a margin far
            # above the rounding error at this precision, else retry with more bits.
            margin = mpmath.mpf(2) ** (-(bits - 32)) * (abs(log_d) + r * abs(log_q) + 1)
            upper = r * log_q - log_d  # must be <= 0
            lower = (r - 1) * log_q - log_d  # must be > 0 (or r == 1)
            if upper <= -margin and (r == 1 or lower > margin):
                return r
            if upper > margin:
                r += 1
                if (r - 1) * log_q - log_d > margin and r * log_q - log_d <= -margin:
                    return r
            elif r > 1 and lower <= -margin:
                r -= 1
                if r * log_q - log_d <= -margin and (r == 1 or (r - 1) * log_q - log_d > margin):
                    return r
        bits *= 2
    return max(1, estimate)  # an exact tie (or no decision): the float answer
