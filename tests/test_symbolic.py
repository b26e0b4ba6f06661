"""Numeric layer == symbolic layer (theory.symbolic) evaluated exactly, at random points."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_frontiers.theory import symbolic
from parity_frontiers.theory.fourier_gaps import hoeffding_sample_size, kappa, kappa_exact
from parity_frontiers.theory.lottery import overlap_pmf, p_at_least_one_lucky, p_lucky, width_needed
from parity_frontiers.theory.sq_bound import (
    sq_log10_cost,
    sq_log10_min_resource,
    sq_log10_threshold,
    sq_max_success_probability,
    two_layer_param_count,
)
from parity_frontiers.theory.upper_bounds import (
    thm4_log10_samples,
    thm4_log10_width,
    thm4_steps,
    thm5_log10_samples,
    thm5_log10_width,
)

SETTINGS = settings(max_examples=20, deadline=None)
EPS = 2.0**-52


def _log10_tol(*terms: float) -> float:
    """Error allowance for a float64 log10 built as a sum of terms (log10 C(n, k), k log10(n/s),
    ...): each good to a few ulps of its size, so 32 eps per unit of summed magnitude (pass k
    as a term where a ratio's rounding is multiplied by k)."""
    return 32 * EPS * (1.0 + sum(abs(float(x)) for x in terms))


def _frac(x) -> Fraction:
    assert isinstance(x, sp.Rational), x
    return Fraction(int(x.p), int(x.q))


def _log10(x) -> float:
    """log10 of a positive sympy number, exactly evaluated to 30 digits."""
    return float(sp.N(sp.log(x, 10), 30))


def nks(max_n):
    return st.integers(1, max_n).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n)))


@SETTINGS
@given(nks(300), st.integers(1, 10**8), st.integers(1, 10**8), st.integers(1, 10**8))
def test_sq_max_success_samples(nks_, r, T, m):
    n, k, _ = nks_
    exact = symbolic.evaluate(symbolic.sq_max_success_expr(in_samples=True),
                              n=n, k=k, r=r, T=T, m=m)
    got = sq_max_success_probability(n, k, params=r, steps=T, samples=m)
    assert got == pytest.approx(float(_frac(exact)), rel=1e-12)


@SETTINGS
@given(nks(300), st.integers(1, 10**8), st.integers(1, 10**8), st.floats(1e-4, 10.0))
def test_sq_max_success_tau(nks_, r, T, tau):
    n, k, _ = nks_
    exact = symbolic.evaluate(symbolic.sq_max_success_expr(), n=n, k=k, r=r, T=T, tau=tau)
    got = sq_max_success_probability(n, k, params=r, steps=T, tau=tau)
    assert got == pytest.approx(float(_frac(exact)), rel=1e-12)


@SETTINGS
@given(nks(300), st.integers(1, 10**8), st.integers(1, 10**8), st.integers(1, 10**8),
       st.floats(1e-6, 0.999))
def test_sq_cost_and_threshold(nks_, r, T, m, delta):
    n, k, _ = nks_
    logs = (math.log10(r), math.log10(T), math.log10(m), math.log10(delta))
    cost = symbolic.evaluate(symbolic.sq_cost_expr(), r=r, T=T, m=m, delta=delta)
    assert sq_log10_cost(r, T, samples=m, delta=delta) == pytest.approx(
        _log10(cost), abs=_log10_tol(*logs))
    cost0 = symbolic.evaluate(symbolic.sq_cost_expr(with_delta=False), r=r, T=T, m=m)
    assert sq_log10_cost(r, T, samples=m) == pytest.approx(_log10(cost0),
                                                           abs=_log10_tol(*logs[:3]))
    thr = symbolic.evaluate(symbolic.sq_threshold_expr(), n=n, k=k)
    assert sq_log10_threshold(n, k) == pytest.approx(_log10(thr), abs=_log10_tol(_log10(thr)))


@SETTINGS
@given(nks(300), st.sampled_from(["params", "steps", "samples"]),
       st.integers(1, 10**6), st.integers(1, 10**6), st.floats(1e-6, 0.999))
def test_sq_min_resource(nks_, resource, a, b, delta):
    n, k, _ = nks_
    names = {"params": ("T", "m"), "steps": ("r", "m"), "samples": ("r", "T")}[resource]
    kw = {"params": {"steps": a, "samples": b}, "steps": {"params": a, "samples": b},
          "samples": {"params": a, "steps": b}}[resource]
    exact = symbolic.evaluate(symbolic.sq_min_resource_expr(resource), n=n, k=k,
                              delta=delta, **{names[0]: a, names[1]: b})
    got = sq_log10_min_resource(n, k, resource, delta=delta, **kw)
    log10_c = _log10(sp.binomial(n, k))
    assert got == pytest.approx(_log10(exact), abs=_log10_tol(
        log10_c, math.log10(a), math.log10(b), math.log10(delta)))


def test_sq_min_resource_delta_matches_max_success():
    # sympy.solve's delta is the unclipped Prop. 3 bound
    expr = symbolic.sq_min_resource_expr("delta")
    assert sp.simplify(sp.Min(1, expr) - symbolic.sq_max_success_expr(in_samples=True)) == 0
    with pytest.raises(ValueError, match=r"^resource"):
        symbolic.sq_min_resource_expr("luck")


@SETTINGS
@given(st.integers(1, 10**6), st.integers(1, 10**5))
def test_two_layer_param_count(n, w):
    exact = symbolic.evaluate(symbolic.two_layer_param_count_expr(), n=n, w=w)
    assert two_layer_param_count(n, w) == int(exact)


@SETTINGS
@given(nks(60))
def test_overlap_pmf(nks_):
    n, k, s = nks_
    law = overlap_pmf(n, k, s)
    expr = symbolic.overlap_pmf_expr()
    for j, value in enumerate(law):
        exact = _frac(symbolic.evaluate(expr, n=n, k=k, s=s, j=j))
        if exact == 0:
            assert value == 0.0
        else:
            assert value == pytest.approx(float(exact), rel=1e-12)


@SETTINGS
@given(nks(500))
def test_p_lucky(nks_):
    n, k, s = nks_
    exact = _frac(symbolic.evaluate(symbolic.p_lucky_expr(), n=n, k=k, s=s))
    assert p_lucky(n, k, s) == pytest.approx(float(exact), rel=1e-12)


@SETTINGS
@given(nks(30), st.integers(1, 60))
def test_p_at_least_one(nks_, r):
    n, k, s = nks_
    p = symbolic.evaluate(symbolic.p_lucky_expr(), n=n, k=k, s=s)
    exact = _frac(symbolic.evaluate(symbolic.p_at_least_one_expr(), p=p, r=r))
    assert p_at_least_one_lucky(n, k, s, r) == pytest.approx(float(exact), rel=1e-12)


@SETTINGS
@given(nks(12), st.sampled_from([0.5, 0.25, 0.1, 0.05, 0.01, 0.001, 0.3, 0.9]))
def test_width_needed(nks_, delta):
    n, k, s = nks_
    p = symbolic.evaluate(symbolic.p_lucky_expr(), n=n, k=k, s=s)
    if p == 1:
        assert width_needed(n, k, s, delta) == 1
        return
    exact = symbolic.evaluate(symbolic.width_needed_expr(), p=p, delta=delta)
    assert exact.is_Integer, exact
    assert width_needed(n, k, s, delta) == max(1, int(exact))


def test_width_needed_exact_boundary():
    # log(1/4)/log(1/2) = 2 exactly: the ceiling is 2, not 3
    exact = symbolic.evaluate(symbolic.width_needed_expr(), p=sp.Rational(1, 2), delta=0.25)
    assert exact == 2
    assert width_needed(2, 1, 1, 0.25) == 2


@pytest.mark.parametrize("s", range(1, 9))
def test_kappa_expr_concrete(s):
    for bias in (0, 1, -1, "1/2", s + 3, -s - 3):
        expr = symbolic.kappa_expr(s, bias)
        for d in range(s + 1):
            exact = _frac(expr.subs(symbolic.SYMBOLS["d"], d).doit())
            assert kappa_exact(s, bias, d) == exact
            assert kappa(s, float(Fraction(bias)), d) == float(exact)


@SETTINGS
@given(st.integers(1, 10).flatmap(lambda s: st.tuples(
    st.just(s), st.integers(0, s), st.fractions(-s, s + 2, max_denominator=4))))
def test_kappa_expr_symbolic_limits(sdb):
    # with s and b symbolic, valid for -s <= b <= s + 2
    s, d, b = sdb
    expr = symbolic.kappa_expr()
    exact = _frac(symbolic.evaluate(expr, s=s, d=d, b=sp.Rational(b.numerator, b.denominator)))
    assert kappa_exact(s, b, d) == exact


def test_hoeffding_expr_solves_the_union_bound():
    # The symbolic formula is the solution m of 2 n exp(-m gap^2 / 8) = delta (Hoeffding plus
    # a union bound over n coordinates), derived here by sympy.solve rather than typed in.
    # The numeric hoeffding_sample_size is checked against the bound itself, in mpmath, by
    # tests/test_fourier_gaps.py (smallest integer m meeting it).
    S = symbolic.SYMBOLS
    x = sp.Symbol("x", positive=True)
    (solution,) = sp.solve(sp.Eq(2 * S["n"] * sp.exp(-x * S["gap"] ** 2 / 8), S["delta"]), x)
    expr = symbolic.hoeffding_expr()
    assert sp.simplify(sp.expand_log(solution - expr, force=True)) == 0
    # and at a point: ceiling of the exact value is the numeric answer (docstring example)
    value = symbolic.evaluate(expr, n=50, delta=sp.Rational(1, 100), gap=sp.Rational(1, 4))
    assert sp.ceiling(value) == 1179 == hoeffding_sample_size(0.25, 50, 0.01)


over = st.integers(2, 10**6).flatmap(
    lambda n: st.integers(1, min(n, 40)).flatmap(
        lambda k: st.tuples(st.just(n), st.just(k), st.integers(k, n))))
under = st.integers(2, 10**6).flatmap(
    lambda n: st.integers(2, min(n, 40)).flatmap(
        lambda k: st.tuples(st.just(n), st.just(k), st.integers(1, k - 1))))


@SETTINGS
@given(over, st.floats(0.01, 100.0), st.floats(0.01, 100.0), st.floats(0.01, 100.0),
       st.floats(1e-3, 1.0))
def test_thm4_exprs(nks_, c2, c3, c4, eps):
    n, k, s = nks_
    width = symbolic.evaluate(symbolic.thm4_width_expr(), n=n, k=k, s=s, c2=c2)
    samples = symbolic.evaluate(symbolic.thm4_samples_expr(), n=n, k=k, s=s, c3=c3)
    steps = symbolic.evaluate(symbolic.thm4_steps_expr(), c4=c4, epsilon=eps)
    assert thm4_log10_width(n, k, s, c2) == pytest.approx(
        _log10(width), abs=_log10_tol(k, math.log10(c2), k * math.log10(n / s)))
    assert thm4_log10_samples(n, k, s, c3) == pytest.approx(
        _log10(samples), abs=_log10_tol(k, math.log10(c3), (k - 1) * math.log10(s / k),
                                        2 * math.log10(n), math.log10(math.log(n))))
    assert thm4_steps(eps, c4) == pytest.approx(float(steps), rel=1e-13)


@SETTINGS
@given(under, st.floats(0.01, 100.0), st.floats(0.01, 100.0))
def test_thm5_exprs(nks_, c2, c3):
    n, k, s = nks_
    width = symbolic.evaluate(symbolic.thm5_width_expr(), n=n, k=k, s=s, c2=c2)
    samples = symbolic.evaluate(symbolic.thm5_samples_expr(), n=n, k=k, s=s, c3=c3)
    ratio = math.log10(n / k)
    assert thm5_log10_width(n, k, s, c2) == pytest.approx(
        _log10(width), abs=_log10_tol(k, math.log10(c2), s * ratio))
    assert thm5_log10_samples(n, k, s, c3) == pytest.approx(
        _log10(samples), abs=_log10_tol(k, math.log10(c3), (k - s - 1) * ratio))


def test_latex_and_evaluate_errors():
    tex = symbolic.latex(symbolic.sq_max_success_expr())
    assert isinstance(tex, str) and "binom" in tex
    assert "binom" in symbolic.latex(symbolic.overlap_pmf_expr())
    with pytest.raises(ValueError, match=r"^unknown symbol"):
        symbolic.evaluate(symbolic.p_lucky_expr(), nn=3)
    # evaluate makes floats exact: 0.1 is the binary float, not 1/10
    assert symbolic.evaluate(symbolic.SYMBOLS["delta"] * 1, delta=0.1) == \
        sp.Rational(Fraction(0.1).numerator, Fraction(0.1).denominator)
    assert symbolic.evaluate(symbolic.p_lucky_expr(), n=10, k=2, s=4) == sp.Rational(2, 15)


def test_p_lucky_expr_vs_enumerated_supports():
    # the Piecewise of p_lucky_expr against counting supports U among all s-subsets of
    # range(n): S = {0, .., k-1} inside U (s >= k) or U inside S (s < k)
    for n in range(1, 9):
        for k in range(1, n + 1):
            for s in range(1, n + 1):
                supports = list(itertools.combinations(range(n), s))
                lucky = sum(1 for u in supports
                            if (set(range(k)) <= set(u) if s >= k else max(u) < k))
                exact = symbolic.evaluate(symbolic.p_lucky_expr(), n=n, k=k, s=s)
                assert _frac(exact) == Fraction(lucky, len(supports)), (n, k, s)
