"""theory.upper_bounds (Theorems 4 and 5) against mpmath, exact integers and sympy."""

from __future__ import annotations

import math

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_frontiers.theory import symbolic
from parity_frontiers.theory.upper_bounds import (
    thm4_log10_samples,
    thm4_log10_width,
    thm4_steps,
    thm5_log10_samples,
    thm5_log10_width,
    upper_bound_frontier,
)

EPS = 2.0**-52


def _mp_log10(x) -> float:
    with mpmath.workdps(50):
        return float(mpmath.log10(x))


def _tol(k: int, *terms: float) -> float:
    """Error allowance for a float64 log10 built as a sum of terms such as k log10(n/s).

    Each term is good to a few ulps of its size, and the factor k multiplies the rounding of
    the ratio (0.22 eps in log10 each), so: 32 eps per unit of summed magnitude and of k.
    """
    return 32 * EPS * (1.0 + k + sum(abs(x) for x in terms))


over = st.integers(2, 10**6).flatmap(
    lambda n: st.integers(1, min(n, 60)).flatmap(
        lambda k: st.tuples(st.just(n), st.just(k), st.integers(k, n))))
under = st.integers(2, 10**6).flatmap(
    lambda n: st.integers(2, min(n, 60)).flatmap(
        lambda k: st.tuples(st.just(n), st.just(k), st.integers(1, k - 1))))
consts = st.floats(1e-3, 1e3)


@settings(max_examples=60, deadline=None)
@given(over, consts, consts)
def test_thm4_vs_mpmath(nks, c2, c3):
    n, k, s = nks
    with mpmath.workdps(50):
        width = mpmath.mpf(c2) * (mpmath.mpf(n) / s) ** k
        samples = mpmath.mpf(c3) * (mpmath.mpf(s) / k) ** (k - 1) * mpmath.mpf(n) ** 2 \
            * mpmath.log(n)
    lc2, lc3 = math.log10(c2), math.log10(c3)
    assert thm4_log10_width(n, k, s, c2) == pytest.approx(
        _mp_log10(width), abs=_tol(k, lc2, k * math.log10(n / s)))
    assert thm4_log10_samples(n, k, s, c3) == pytest.approx(
        _mp_log10(samples), abs=_tol(k, lc3, (k - 1) * math.log10(s / k), 2 * math.log10(n),
                                     math.log10(math.log(n))))


@settings(max_examples=60, deadline=None)
@given(under, consts, consts)
def test_thm5_vs_mpmath(nks, c2, c3):
    n, k, s = nks
    with mpmath.workdps(50):
        width = mpmath.mpf(c2) * (mpmath.mpf(n) / k) ** s
        samples = mpmath.mpf(c3) * (mpmath.mpf(n) / k) ** (k - s - 1)
    ratio = math.log10(n / k)
    assert thm5_log10_width(n, k, s, c2) == pytest.approx(
        _mp_log10(width), abs=_tol(k, math.log10(c2), s * ratio))
    assert thm5_log10_samples(n, k, s, c3) == pytest.approx(
        _mp_log10(samples), abs=_tol(k, math.log10(c3), (k - s - 1) * ratio))


def test_exact_integer_points():
    # n/s and n/k integers: the frontier values are exact integers
    assert 10 ** thm4_log10_width(100, 4, 10) == pytest.approx(10**4, rel=1e-13)
    assert 10 ** thm5_log10_width(1000, 10, 2) == pytest.approx(100**2, rel=1e-13)
    assert 10 ** thm5_log10_samples(1000, 10, 2) == pytest.approx(100**7, rel=1e-13)
    # (s/k)^(k-1) n^2 ln n at s = 2k: 2^(k-1) n^2 ln n
    want = 2**3 * 50**2 * math.log(50)
    assert 10 ** thm4_log10_samples(50, 4, 8) == pytest.approx(want, rel=1e-13)
    assert thm4_steps(0.1) == pytest.approx(100.0, rel=1e-13)
    assert thm4_steps(0.5, c4=3.0) == pytest.approx(12.0, rel=1e-13)


def test_sympy_exprs_vs_numeric_at_a_point():
    n, k, s = 300, 4, 20
    w = symbolic.evaluate(symbolic.thm4_width_expr(), n=n, k=k, s=s, c2=3)
    assert w == 3 * 15**4
    assert thm4_log10_width(n, k, s, c2=3.0) == pytest.approx(math.log10(3 * 15**4), abs=1e-13)
    m5 = symbolic.evaluate(symbolic.thm5_samples_expr(), n=n, k=6, s=2, c3=1)
    assert m5 == 50**3
    assert thm5_log10_samples(n, 6, 2) == pytest.approx(3 * math.log10(50), abs=1e-13)


@pytest.mark.parametrize("call,prefix", [
    (lambda: thm4_log10_width(100, 4, 3), "s"),
    (lambda: thm4_log10_samples(100, 4, 2), "s"),
    (lambda: thm5_log10_width(100, 4, 4), "s"),
    (lambda: thm5_log10_samples(100, 4, 6), "s"),
    (lambda: thm4_log10_width(100, 4, 101), "s"),
    (lambda: thm4_log10_width(1, 1, 1), "n"),
    (lambda: thm4_log10_width(100, 101, 101), "k"),
    (lambda: thm4_log10_width(100, 4, 8, c2=0), "c2"),
    (lambda: thm4_log10_samples(100, 4, 8, c3=-1), "c3"),
    (lambda: thm4_steps(0.0), "epsilon"),
    (lambda: thm4_steps(0.1, c4=float("nan")), "c4"),
    (lambda: upper_bound_frontier(100, 101), "k"),
    (lambda: upper_bound_frontier(100, 4, [0]), "s"),
    (lambda: upper_bound_frontier(100, 4, [101]), "s"),
    (lambda: upper_bound_frontier(100, 4, [2.5]), "s"),
    (lambda: upper_bound_frontier(1, 1), "n"),
])
def test_errors(call, prefix):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(prefix)


def _check_row(row, n, k, c2, c3, c4, epsilon):
    s = row["s"]
    with mpmath.workdps(50):
        if s >= k:
            assert row["theorem"] == 4
            assert row["applies"] == (k % 2 == 0)
            width = mpmath.mpf(c2) * (mpmath.mpf(n) / s) ** k
            samples = mpmath.mpf(c3) * (mpmath.mpf(s) / k) ** (k - 1) * mpmath.mpf(n) ** 2 \
                * mpmath.log(n)
            steps = mpmath.mpf(c4) / mpmath.mpf(epsilon) ** 2
        else:
            assert row["theorem"] == 5
            assert row["applies"] == (k % 2 == 0 and s % 2 == 0)
            width = mpmath.mpf(c2) * (mpmath.mpf(n) / k) ** s
            samples = mpmath.mpf(c3) * (mpmath.mpf(n) / k) ** (k - s - 1)
            steps = mpmath.mpf(1)
        params = width * (n + 2) + 1
        threshold = mpmath.mpf(math.comb(n, k)) / 2
        cost = params * samples * steps
        want = {"log10_width": _mp_log10(width), "log10_samples": _mp_log10(samples),
                "log10_params": _mp_log10(params), "log10_cost": _mp_log10(cost),
                "log10_sq_threshold": _mp_log10(threshold),
                "log10_cost_over_threshold": _mp_log10(cost / threshold)}
    # every field is a sum of at most these terms (each a few ulps of its size)
    tol = _tol(k, want["log10_width"], want["log10_samples"], math.log10(n + 2),
               _mp_log10(steps), want["log10_sq_threshold"], math.log10(c2), math.log10(c3),
               2 * math.log10(n))
    for key, value in want.items():
        assert row[key] == pytest.approx(value, abs=tol), key
    # 1/eps^2 costs two roundings, times c4 a third
    assert row["steps"] == pytest.approx(float(steps), rel=4 * EPS)


@pytest.mark.parametrize("n,k", [(100, 4), (100, 3), (50, 6), (1000, 2), (64, 64), (7, 1)])
def test_frontier_rows_default_s(n, k):
    rows = upper_bound_frontier(n, k)
    want_s = sorted({2**i for i in range(20) if 2**i <= n} | {k, n})
    assert [row["s"] for row in rows] == want_s
    for row in rows:
        _check_row(row, n, k, 1.0, 1.0, 1.0, 0.1)


def test_frontier_rows_custom():
    rows = upper_bound_frontier(200, 4, [1, 2, 3, 4, 6, 200], c2=2.0, c3=0.5, c4=7.0,
                                epsilon=0.05)
    assert [row["theorem"] for row in rows] == [5, 5, 5, 4, 4, 4]
    assert [row["applies"] for row in rows] == [False, True, False, True, True, True]
    for row in rows:
        _check_row(row, 200, 4, 2.0, 0.5, 7.0, 0.05)
    # s = n in Theorem 4: width c2 (n/n)^k = 2, so params = 2 (n + 2) + 1 = 405 exactly
    assert 10 ** rows[-1]["log10_params"] == pytest.approx(2.0 * 202 + 1, rel=1e-13)


def test_frontier_large_n_finite():
    rows = upper_bound_frontier(10**6, 50, [2, 50, 1000])
    for row in rows:
        for key, value in row.items():
            if key.startswith("log10"):
                assert math.isfinite(value), key
        _check_row(row, 10**6, 50, 1.0, 1.0, 1.0, 0.1)
