"""theory.lottery against brute-force enumeration of supports, Fractions and mpmath."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from parity_frontiers.theory.lottery import (
    log10_width_needed,
    log_overlap_pmf,
    log_p_lucky,
    overlap_pmf,
    p_at_least_one_lucky,
    p_lucky,
    width_needed,
)

SMALL_NKS = [(n, k, s) for n in range(1, 10) for k in range(1, n + 1) for s in range(1, n + 1)]


def _enumerate(n: int, k: int, s: int):
    """Overlap counts and lucky counts over all s-subsets U of range(n), S fixed."""
    target = set(range(1, 2 * k, 2)) if 2 * k <= n else set(range(n - k, n))
    assert len(target) == k
    overlaps = [0] * (min(s, k) + 1)
    over_lucky = under_lucky = total = 0
    for support in itertools.combinations(range(n), s):
        u = set(support)
        overlaps[len(u & target)] += 1
        over_lucky += target <= u
        under_lucky += u <= target
        total += 1
    return [Fraction(c, total) for c in overlaps], Fraction(over_lucky, total), \
        Fraction(under_lucky, total)


@pytest.mark.parametrize("n,k,s", SMALL_NKS)
def test_overlap_pmf_vs_enumeration(n, k, s):
    law, _, _ = _enumerate(n, k, s)
    got = overlap_pmf(n, k, s)
    assert got.shape == (min(s, k) + 1,)
    np.testing.assert_allclose(got, [float(x) for x in law], rtol=1e-12, atol=0)
    assert sum(law) == 1
    assert got.sum() == pytest.approx(1.0, rel=1e-13)
    # explicit j, vectorised, and the log-space law
    j = np.arange(min(s, k) + 1)
    np.testing.assert_allclose(overlap_pmf(n, k, s, j), got, rtol=1e-13)
    with np.errstate(divide="ignore"):
        want_log = [math.log(x) if x else -math.inf for x in law]
    np.testing.assert_allclose(log_overlap_pmf(n, k, s), want_log, rtol=1e-12, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n))))
def test_overlap_pmf_vs_scipy_hypergeom(nks):
    n, k, s = nks
    j = np.arange(min(s, k) + 1)
    want = hypergeom.pmf(j, n, k, s)
    got = overlap_pmf(n, k, s)
    big = want > 1e-250
    np.testing.assert_allclose(got[big], want[big], rtol=1e-9)
    # and the log-space law against exact integers at the mode and at the lucky end
    log_got = log_overlap_pmf(n, k, s)
    for jj in {int(np.argmax(want)), min(s, k)}:
        num = math.comb(k, jj) * math.comb(n - k, s - jj)
        if num == 0:
            assert log_got[jj] == -math.inf
            continue
        den = math.comb(n, s)
        ref = _log_int(num) - _log_int(den)
        assert log_got[jj] == pytest.approx(ref, rel=1e-12, abs=1e-12)


def _log_int(x: int) -> float:
    shift = max(0, x.bit_length() - 60)
    return math.log(x >> shift) + shift * math.log(2.0)


@pytest.mark.parametrize("n,k,s", SMALL_NKS)
def test_p_lucky_vs_enumeration(n, k, s):
    _, over, under = _enumerate(n, k, s)
    want = over if s >= k else under  # S inside U (Thm 4) / U inside S (Thm 5)
    assert want > 0
    assert p_lucky(n, k, s) == pytest.approx(float(want), rel=1e-12)
    assert log_p_lucky(n, k, s) == pytest.approx(math.log(want), rel=1e-12, abs=1e-13)
    # it is the overlap law's mass at min(s, k)
    assert overlap_pmf(n, k, s, min(s, k)) == pytest.approx(float(want), rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 2000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n))))
def test_p_lucky_vs_fraction_formula(nks):
    n, k, s = nks
    if s >= k:
        want = Fraction(math.comb(n - k, s - k), math.comb(n, s))
        assert want == Fraction(math.comb(s, k), math.comb(n, k))
    else:
        want = Fraction(math.comb(k, s), math.comb(n, s))
    got = log_p_lucky(n, k, s)
    ref = math.log(want.numerator) - math.log(want.denominator)
    assert got == pytest.approx(ref, rel=1e-13, abs=1e-12)


def _lucky_ratio_exact(n: int, m: int, s: int) -> Fraction:
    """C(s, m) / C(n, m) = prod_{i<m} (s - i)/(n - i) exactly, for s >= m.

    With t = n - s, the same ratio is C(n - m, t) / C(n, t) = prod_{j<t} (n - m - j)/(n - j)
    (both are (n - m)! s! / (n! (s - m)!)); take whichever product is shorter.
    """
    t = n - s
    if m <= t:
        return Fraction(math.prod(range(s - m + 1, s + 1)), math.prod(range(n - m + 1, n + 1)))
    return Fraction(math.prod(range(n - m - t + 1, n - m + 1)), math.prod(range(n - t + 1, n + 1)))


HUGE_CASES = [
    # (n, k, s): p = C(s, k) / C(n, k) close to 1, where log C(n, k) is large and the log-space
    # difference cancels; the issue asks for relative error <= 1e-9
    (10**12, 3, 10**12 - 1),
    (10**9, 50, 10**9 - 7),
    (10**6, 1000, 10**6 - 3),
    (10**6, 1000, 10**6 - 1000),
    (10**15, 20, 10**15 - 10**9),
    # under-sparse (U inside S): p = C(k, s) / C(n, s)
    (10**12, 10**6, 1),
    (10**12, 10**6, 3),
    (10**9, 5000, 4999),
]


@pytest.mark.parametrize("n,k,s", HUGE_CASES)
def test_p_lucky_huge_n(n, k, s):
    big, small = max(s, k), min(s, k)
    want = _lucky_ratio_exact(n, small, big)
    if small <= 1000 and n - big <= 1000:  # both products cheap: they must agree
        assert want == Fraction(math.prod(range(big - small + 1, big + 1)),
                                math.prod(range(n - small + 1, n + 1)))
    assert p_lucky(n, k, s) == pytest.approx(float(want), rel=1e-9)
    # relative error of p is absolute error of log p
    log_want = _log_int(want.numerator) - _log_int(want.denominator)
    assert log_p_lucky(n, k, s) == pytest.approx(log_want, abs=1e-9)


def test_p_lucky_huge_n_and_k():
    # C(n - 1, k) / C(n, k) = (n - k) / n: log C(1e12, 1e6) ~ 1.5e7, so a log-space
    # difference needs relative accuracy 1e-16 to reach 1e-9 in p
    n, k = 10**12, 10**6
    want = _lucky_ratio_exact(n, k, n - 1)
    assert want == Fraction(n - k, n)
    assert p_lucky(n, k, n - 1) == pytest.approx(float(want), rel=1e-9)
    assert log_p_lucky(n, k, n - 1) == pytest.approx(math.log1p(-k / n), abs=1e-9)


def test_p_lucky_docstring_points():
    assert p_lucky(10, 2, 4) == pytest.approx(6 / 45, rel=1e-13)  # C(4,2)/C(10,2)
    assert p_lucky(50, 3, 2) == pytest.approx(3 / 1225, rel=1e-13)  # C(3,2)/C(50,2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n))),
    st.integers(1, 300))
def test_p_at_least_one_vs_fraction(nks, r):
    n, k, s = nks
    p = Fraction(math.comb(max(s, k), min(s, k)), math.comb(n, min(s, k)))
    want = 1 - (1 - p) ** r
    got = p_at_least_one_lucky(n, k, s, r)
    assert 0.0 <= got <= 1.0
    assert got == pytest.approx(float(want), rel=1e-12)


def _mp_at_least_one(p_num: int, p_den: int, r: int) -> float:
    with mpmath.workdps(60):
        p = mpmath.mpf(p_num) / p_den
        return float(-mpmath.expm1(r * mpmath.log1p(-p)))


@pytest.mark.parametrize("r", [1, 10**6, 10**12, 10**22, 10**23, 10**26])
def test_p_at_least_one_tiny_p(r):
    n, k, s = 10**6, 4, 4
    c = math.comb(n, k)  # p = 1 / C(1e6, 4) ~ 2.4e-23
    want = _mp_at_least_one(1, c, r)
    got = p_at_least_one_lucky(n, k, s, r)
    assert got == pytest.approx(want, rel=1e-12)


def test_p_at_least_one_below_float_p_with_huge_width():
    # p = 1/C(1e6, 60) ~ 1e-278 ... and 1/C(1e6, 100) ~ 1e-442 underflows as a float
    for k in (60, 100):
        c = math.comb(10**6, k)
        for log10_r in (280.0, 300.0):
            r = 10.0**log10_r
            with mpmath.workdps(60):
                p = mpmath.mpf(1) / c
                want = float(-mpmath.expm1(mpmath.mpf(r) * mpmath.log1p(-p)))
            got = p_at_least_one_lucky(10**6, k, k, r)
            if want > 0:
                assert got == pytest.approx(want, rel=1e-11)
            else:
                assert got == 0.0


def test_p_at_least_one_saturates_and_vectorises():
    assert p_at_least_one_lucky(10, 2, 4, 10**300) == 1.0
    assert p_at_least_one_lucky(5, 2, 5, 1) == 1.0  # s = n: every neuron is lucky
    r = np.array([1, 10, 100, 1000])
    got = p_at_least_one_lucky(50, 3, 2, r)
    assert got.shape == (4,)
    p = Fraction(3, 1225)
    for g, rr in zip(got, r, strict=True):
        assert g == pytest.approx(float(1 - (1 - p) ** int(rr)), rel=1e-12)


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 10).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n))),
    st.one_of(st.floats(1e-3, 0.999), st.sampled_from([0.5, 0.25, 0.125, 0.1, 0.01, 0.75])))
def test_width_needed_minimal_exact(nks, delta):
    n, k, s = nks
    p = Fraction(math.comb(max(s, k), min(s, k)), math.comb(n, min(s, k)))
    d = Fraction(delta)
    r = width_needed(n, k, s, delta)
    assert isinstance(r, int) and r >= 1
    assert (1 - p) ** r <= d
    if r > 1:
        assert (1 - p) ** (r - 1) > d


@pytest.mark.parametrize("n,k,s,delta,want", [
    # p = 1/2: (1/2)^r <= 1/4 first at r = 2, exactly on the boundary
    (2, 1, 1, 0.25, 2),
    (2, 1, 1, 0.5, 1),
    (2, 1, 1, 0.125, 3),
    # p = 1: one neuron always suffices, however small delta
    (5, 2, 5, 1e-300, 1),
    (5, 2, 5, 1e-310, 1),
])
def test_width_needed_boundaries(n, k, s, delta, want):
    assert width_needed(n, k, s, delta) == want


def test_width_needed_docstring_point_exact():
    p, d = Fraction(3, 1225), Fraction(0.01)
    r = width_needed(50, 3, 2, 0.01)
    assert (1 - p) ** r <= d < (1 - p) ** (r - 1)


def test_width_needed_vectorised():
    delta = np.array([0.5, 0.1, 0.01])
    got = width_needed(50, 3, 2, delta)
    assert got.shape == (3,)
    p = Fraction(3, 1225)
    for r, dd in zip(got, delta, strict=True):
        r = int(r)
        assert (1 - p) ** r <= Fraction(dd) < (1 - p) ** (r - 1)


def _mp_log10_width(p_num: int, p_den: int, delta: float) -> float:
    """log10 max(1, r) for the real r with (1 - p)^r = delta; p = 1 needs one neuron."""
    if p_num == p_den:
        return 0.0
    with mpmath.workdps(50):
        p = mpmath.mpf(p_num) / p_den
        r = mpmath.log(delta) / mpmath.log1p(-p)
        return float(mpmath.log10(max(mpmath.mpf(1), r)))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n - 1))),
    st.floats(1e-12, 0.999))
def test_log10_width_needed_vs_mpmath(nks, delta):
    n, k, s = nks
    p_num, p_den = math.comb(max(s, k), min(s, k)), math.comb(n, min(s, k))
    want = _mp_log10_width(p_num, p_den, delta)
    # log C(60, 30) < 40 and log(-log delta) < 4: float64 gets the log to ~1e-14 absolute
    assert log10_width_needed(n, k, s, delta) == pytest.approx(want, rel=1e-13, abs=1e-13)
    # consistent with the settled integer width: ceil(r) = width_needed (r >= 1)
    r = width_needed(n, k, s, delta)
    assert r - 1 < 10 ** log10_width_needed(n, k, s, delta) * (1 + 1e-12)
    assert 10 ** log10_width_needed(n, k, s, delta) <= r * (1 + 1e-12)


@pytest.mark.parametrize("n,k,s,delta", [(2, 2, 1, 0.5), (5, 2, 5, 0.01), (4, 2, 3, 0.9),
                                         (10, 1, 9, 0.5)])
def test_log10_width_needed_clamped_at_one_neuron(n, k, s, delta):
    # p = 1 (every support lucky) or (1 - p) <= delta: one neuron suffices, log10 1 = 0
    p_num, p_den = math.comb(max(s, k), min(s, k)), math.comb(n, min(s, k))
    assert _mp_log10_width(p_num, p_den, delta) == 0.0
    assert log10_width_needed(n, k, s, delta) == 0.0
    assert width_needed(n, k, s, delta) == 1


def test_log10_width_needed_astronomical():
    n, k, s, delta = 10**6, 200, 200, 0.01
    got = log10_width_needed(n, k, s, delta)
    assert math.isfinite(got)
    # p = 1/C(n, k), so r = ln(1/delta)/(-ln(1-p)) = ln(1/delta) C(n, k) to 1e-800 relative
    c = math.comb(n, k)
    shift = c.bit_length() - 60
    log10_c = math.log10(c >> shift) + shift * math.log10(2)
    assert got == pytest.approx(math.log10(-math.log(delta)) + log10_c, rel=1e-13)
    with pytest.raises(ValueError, match=r"^delta"):
        width_needed(n, k, s, delta)


@pytest.mark.parametrize("func,args,prefix", [
    (p_lucky, (5, 3, 6), "s"),
    (p_lucky, (5, 6, 2), "k"),
    (p_lucky, (5, 3, 0), "s"),
    (overlap_pmf, (5, 3, 6), "s"),
    (overlap_pmf, (5, 0, 2), "k"),
    (log_overlap_pmf, (5, 3, 6), "s"),
    (log_p_lucky, (5, 2, 2.5), "s"),
    (p_at_least_one_lucky, (5, 3, 6, 10), "s"),
    (p_at_least_one_lucky, (5, 3, 2, 0), "width"),
    (p_at_least_one_lucky, (5, 3, 2, 1.5), "width"),
    (width_needed, (5, 3, 6, 0.1), "s"),
    (width_needed, (5, 3, 2, 0.0), "delta"),
    (width_needed, (5, 3, 2, 1.0), "delta"),
    (log10_width_needed, (5, 6, 2, 0.1), "k"),
    (log10_width_needed, (0, 1, 1, 0.1), "n"),
])
def test_errors(func, args, prefix):
    with pytest.raises(ValueError) as info:
        func(*args)
    assert str(info.value).startswith(prefix)


def test_overlap_pmf_array_needs_j():
    with pytest.raises(ValueError, match=r"^j is required"):
        overlap_pmf([10, 20], 3, 2)
