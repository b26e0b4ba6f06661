"""theory.sq_bound (Proposition 3) against exact rational arithmetic, sympy and torch."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from parity_frontiers.theory import symbolic
from parity_frontiers.theory.binomial import comb_is_cheap
from parity_frontiers.theory.sq_bound import (
    mlp_param_count,
    sq_log10_cost,
    sq_log10_max_success_probability,
    sq_log10_min_resource,
    sq_log10_threshold,
    sq_max_success_probability,
    sq_solve,
    two_layer_param_count,
)

LOG10_2 = math.log10(2.0)
EPS = 2.0**-52


def _log10_tol(*terms: float) -> float:
    """Error allowance for a float64 sum of log10 terms (log10 C(n, k), log10 r, ...).

    Each term is good to a few ulps of its own size (log_comb: ~1e-15 relative), and the
    sum adds one rounding per term, so the error is a small multiple of eps times the
    summed magnitudes, even where the terms cancel: 32 eps per unit, plus 32 eps.
    """
    return 32 * EPS * (1.0 + sum(abs(x) for x in terms))


def _log10_int(x: int) -> float:
    shift = max(0, x.bit_length() - 60)
    return math.log10(x >> shift) + shift * LOG10_2


def _log10_frac(x: Fraction) -> float:
    return _log10_int(x.numerator) - _log10_int(x.denominator)


def exact_delta(n, k, r, T, precision: Fraction) -> Fraction:
    """min(1, 2 r T / (tau^2 C(n, k))) with precision = 1/tau^2, exactly."""
    return min(Fraction(1), 2 * r * T * precision / math.comb(n, k))


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


nk = st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n)))
resource = st.integers(1, 10**9)
deltas = st.floats(1e-6, 0.999999)


@settings(max_examples=80, deadline=None)
@given(nk, resource, resource, resource)
def test_max_success_vs_fraction(nk_, r, T, m):
    n, k = nk_
    want = exact_delta(n, k, r, T, Fraction(m))
    got = sq_max_success_probability(n, k, params=r, steps=T, samples=m)
    assert 0.0 <= got <= 1.0
    if want == 1:
        assert got == 1.0
    else:
        assert _rel(got, float(want)) < 1e-12
    # tau-form with tau = 1/sqrt(m): same up to the rounding of sqrt
    got_tau = sq_max_success_probability(n, k, params=r, steps=T, tau=1 / math.sqrt(m))
    assert got_tau == pytest.approx(got, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(nk, resource, resource, st.floats(1e-4, 10.0))
def test_max_success_tau_vs_fraction(nk_, r, T, tau):
    n, k = nk_
    want = exact_delta(n, k, r, T, 1 / Fraction(tau) ** 2)
    got = sq_max_success_probability(n, k, params=r, steps=T, tau=tau)
    if want == 1:
        assert got == 1.0
    else:
        assert _rel(got, float(want)) < 1e-12


def test_paper_docstring_point():
    # 2 * 10 * 10 * 10 / C(50, 3) = 2000 / 19600 = 5/49
    assert math.comb(50, 3) == 19600
    got = sq_max_success_probability(50, 3, params=10, steps=10, samples=10)
    assert _rel(got, 5 / 49) < 1e-13


def test_clipped_to_one():
    assert sq_max_success_probability(10, 2, params=10**6, steps=10**6, samples=10**6) == 1.0
    assert sq_log10_max_success_probability(10, 2, params=10**6, steps=10**6,
                                            samples=10**6) == 0.0


def test_log10_finite_where_value_underflows():
    n, k, r, T, m = 10**6, 100, 10**9, 10**5, 10**6
    c = math.comb(n, k)
    want = _log10_int(2 * r * T * m) - _log10_int(c)
    assert want < -330  # the value itself is below the smallest float
    assert sq_max_success_probability(n, k, params=r, steps=T, samples=m) == 0.0
    got = sq_log10_max_success_probability(n, k, params=r, steps=T, samples=m)
    assert math.isfinite(got)
    assert abs(got - want) < 1e-12 * abs(want)


@settings(max_examples=40, deadline=None)
@given(nk, resource, resource, resource)
def test_log10_equals_log10_of_value(nk_, r, T, m):
    n, k = nk_
    value = sq_max_success_probability(n, k, params=r, steps=T, samples=m)
    assume(value > 1e-300)
    got = sq_log10_max_success_probability(n, k, params=r, steps=T, samples=m)
    assert got == pytest.approx(math.log10(value), rel=1e-12, abs=1e-13)


@settings(max_examples=60, deadline=None)
@given(nk, resource, resource, resource, deltas)
def test_log_cost_identity(nk_, r, T, m, delta):
    n, k = nk_
    log10_delta = sq_log10_max_success_probability(n, k, params=r, steps=T, samples=m)
    cost = sq_log10_cost(r, T, samples=m)
    threshold = sq_log10_threshold(n, k)
    log10_c = _log10_int(math.comb(n, k))
    tol = _log10_tol(math.log10(r), math.log10(T), math.log10(m), log10_c)
    # independently: cost is log10(r T m), threshold log10(C(n, k)/2), exactly
    want_cost = _log10_int(r * T * m)
    want_threshold = _log10_frac(Fraction(math.comb(n, k), 2))
    assert cost == pytest.approx(want_cost, abs=tol)
    assert threshold == pytest.approx(want_threshold, abs=_log10_tol(log10_c))
    # the identity log10 delta* = min(0, cost - threshold), against the exact values
    assert log10_delta == pytest.approx(min(0.0, want_cost - want_threshold), abs=tol)
    with_delta = sq_log10_cost(r, T, samples=m, delta=delta)
    assert with_delta == pytest.approx(_log10_frac(Fraction(r * T * m) / Fraction(delta)),
                                       abs=_log10_tol(want_cost, math.log10(delta)))


def _check_minimal(n, k, solve_for, x, fixed, precision, delta):
    """2 x ... / C >= delta and (x - 1) fails, in exact arithmetic."""
    c = math.comb(n, k)
    d = Fraction(delta)

    def bound(v):
        if solve_for == "samples":
            return 2 * fixed["params"] * fixed["steps"] * Fraction(v) / c
        other = fixed["steps"] if solve_for == "params" else fixed["params"]
        return 2 * v * other * precision / c

    assert isinstance(x, int) and x >= 1
    assert bound(x) >= d
    if x > 1:
        assert bound(x - 1) < d


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       st.sampled_from(["params", "steps", "samples"]),
       st.integers(1, 10**6), st.integers(1, 10**6), deltas, st.booleans(),
       st.floats(1e-3, 1.0))
def test_solve_round_trip(nk_, solve_for, a, b, delta, use_tau, tau):
    n, k = nk_
    if solve_for == "samples":
        fixed = {"params": a, "steps": b}
        sol = sq_solve(n, k, "samples", params=a, steps=b, delta=delta)
        precision = None
    else:
        other = "steps" if solve_for == "params" else "params"
        fixed = {other: a}
        if use_tau:
            precision = 1 / Fraction(tau) ** 2
            sol = sq_solve(n, k, solve_for, **{other: a}, tau=tau, delta=delta)
        else:
            precision = Fraction(b)
            sol = sq_solve(n, k, solve_for, **{other: a}, samples=b, delta=delta)
    assert sol.exact and sol.resource == solve_for
    _check_minimal(n, k, solve_for, sol.value, fixed, precision, delta)
    # log10_value is the real-valued frontier: value = max(1, ceil(10**log10_value))
    real = Fraction(delta) * math.comb(n, k) / (2 * a * (b if solve_for == "samples"
                                                          else precision))
    log10_c = _log10_int(math.comb(n, k))
    # the frontier's sum has a log10 2 term as well (the 2 of 2 r T / C(n, k))
    tol = _log10_tol(math.log10(delta), log10_c, math.log10(a), _log10_frac(Fraction(
        b if solve_for == "samples" else precision)), LOG10_2)
    assert sol.log10_value == pytest.approx(_log10_frac(real), abs=tol)


@settings(max_examples=40, deadline=None)
@given(nk, resource, resource, resource)
def test_solve_delta_equals_max_success(nk_, r, T, m):
    n, k = nk_
    sol = sq_solve(n, k, "delta", params=r, steps=T, samples=m)
    want = exact_delta(n, k, r, T, Fraction(m))
    assert sol.exact
    assert sol.value == float(want)
    num = sq_max_success_probability(n, k, params=r, steps=T, samples=m)
    assert sol.value == pytest.approx(num, rel=1e-12)
    if want < 1:
        tol = _log10_tol(math.log10(r), math.log10(T), math.log10(m),
                         _log10_int(math.comb(n, k)))
        assert sol.log10_value == pytest.approx(_log10_frac(want), abs=tol)


def test_solve_docstring_point():
    # 0.5 * C(50, 3) / (2 * 10 * 10) = 0.5 * 19600 / 200 = 49 exactly
    assert sq_solve(50, 3, "params", steps=10, samples=10, delta=0.5).value == 49
    # 0.3 * 98 = 29.4 -> 30
    assert sq_solve(50, 3, "params", steps=10, samples=10, delta=0.3).value == 30
    # exact boundary: 2 r * 1225 * 2 / 19600 = r / 4 reaches 0.75 at r = 3 exactly
    assert sq_solve(50, 3, "params", steps=1225, samples=2, delta=0.75).value == 3
    assert sq_solve(50, 3, "params", steps=1225, samples=2,
                    delta=math.nextafter(0.75, 1.0)).value == 4
    assert sq_solve(50, 3, "params", steps=1225, samples=2,
                    delta=math.nextafter(0.75, 0.0)).value == 3


def test_non_exact_path_for_huge_binomial():
    n, k = 10**7, 50_000
    assert not comb_is_cheap(n, k)
    log10_c = _log10_int(math.comb(n, k))  # reference, computed once exactly
    r, T, m, delta = 10**9, 10**5, 10**6, 0.5
    sol = sq_solve(n, k, "samples", params=r, steps=T, delta=delta)
    assert not sol.exact and sol.value is None
    want = math.log10(delta) + log10_c - math.log10(2 * r * T)
    assert sol.log10_value == pytest.approx(want, rel=1e-13)
    sol_p = sq_solve(n, k, "params", steps=T, samples=m, delta=delta)
    assert sol_p.log10_value == pytest.approx(math.log10(delta) + log10_c
                                              - math.log10(2 * T * m), rel=1e-13)
    sol_d = sq_solve(n, k, "delta", params=r, steps=T, samples=m)
    assert not sol_d.exact
    assert sol_d.value == 0.0  # underflows; the log carries it
    assert sol_d.log10_value == pytest.approx(math.log10(2 * r * T * m) - log10_c, rel=1e-13)
    assert sq_log10_threshold(n, k) == pytest.approx(log10_c - LOG10_2, rel=1e-13)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       st.sampled_from(["params", "steps", "samples", "delta"]),
       st.integers(1, 10**6), st.integers(1, 10**6), deltas)
def test_min_resource_vs_sympy(nk_, solve_for, a, b, delta):
    n, k = nk_
    expr = symbolic.sq_min_resource_expr(solve_for)
    values = {"n": n, "k": k}
    kwargs = {}
    if solve_for == "params":
        values.update(T=a, m=b, delta=sp.Rational(delta))
        kwargs = {"steps": a, "samples": b, "delta": delta}
    elif solve_for == "steps":
        values.update(r=a, m=b, delta=sp.Rational(delta))
        kwargs = {"params": a, "samples": b, "delta": delta}
    elif solve_for == "samples":
        values.update(r=a, T=b, delta=sp.Rational(delta))
        kwargs = {"params": a, "steps": b, "delta": delta}
    else:
        values.update(r=a, T=b, m=b)
        kwargs = {"params": a, "steps": b, "samples": b}
    exact = symbolic.evaluate(expr, **values)
    assert exact.is_Rational
    want = _log10_frac(Fraction(int(exact.p), int(exact.q)))
    if solve_for == "delta":
        want = min(0.0, want)
    tol = _log10_tol(_log10_int(math.comb(n, k)), math.log10(a), math.log10(b),
                     math.log10(delta), LOG10_2)
    got = sq_log10_min_resource(n, k, solve_for, **kwargs)
    assert got == pytest.approx(want, abs=tol)
    if solve_for != "delta" and comb_is_cheap(n, k):
        sol = sq_solve(n, k, solve_for, **kwargs)
        # both fields against the sympy-derived exact frontier, not against each other
        assert sol.log10_value == pytest.approx(want, abs=tol)
        assert sol.value == max(1, math.ceil(Fraction(int(exact.p), int(exact.q))))


def test_two_layer_param_count_matches_torch():
    torch = pytest.importorskip("torch")
    for n, w in [(1, 1), (50, 100), (200, 1000), (7, 13)]:
        net = torch.nn.Sequential(torch.nn.Linear(n, w), torch.nn.ReLU(), torch.nn.Linear(w, 1))
        count = sum(p.numel() for p in net.parameters())
        assert two_layer_param_count(n, w) == count == w * (n + 2) + 1
        assert mlp_param_count(n, [w]) == count
        assert mlp_param_count(n, w) == count


def test_mlp_param_count_deep_matches_torch():
    torch = pytest.importorskip("torch")
    for n, widths, out in [(10, [4, 3], 2), (30, [16, 8, 4], 1), (5, [7], 3)]:
        layers = []
        sizes = [n, *widths]
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        layers.append(torch.nn.Linear(sizes[-1], out))
        count = sum(p.numel() for p in torch.nn.Sequential(*layers).parameters())
        assert mlp_param_count(n, widths, n_outputs=out) == count


def test_two_layer_param_count_vectorised():
    w = np.array([10, 100, 1000])
    out = two_layer_param_count(50, w)
    assert out.shape == (3,)
    np.testing.assert_array_equal(out, [521, 5201, 52001])  # w * 52 + 1 by hand


def test_vectorised_grid_million_points():
    rng = np.random.default_rng(0)
    size = 10**6
    n = rng.integers(50, 10**6, size)
    k = rng.integers(1, 50, size)
    r = rng.integers(1, 10**9, size)
    out = sq_max_success_probability(n, k, params=r, steps=10**5, samples=1000)
    log_out = sq_log10_max_success_probability(n, k, params=r, steps=10**5, samples=1000)
    assert out.shape == log_out.shape == (size,)
    assert np.all((out >= 0) & (out <= 1))
    assert np.all(np.isfinite(log_out)) and np.all(log_out <= 0)
    # spot-check a few points in exact arithmetic
    for i in rng.integers(0, size, 5):
        want = exact_delta(int(n[i]), int(k[i]), int(r[i]), 10**5, Fraction(1000))
        tol = _log10_tol(_log10_int(math.comb(int(n[i]), int(k[i]))), math.log10(r[i]), 8.0)
        assert log_out[i] == pytest.approx(_log10_frac(want), abs=tol)


@pytest.mark.parametrize("kwargs,prefix", [
    ({"params": 10, "steps": 10, "tau": 0.0}, "tau"),
    ({"params": 10, "steps": 10, "tau": -1.0}, "tau"),
    ({"params": 10, "steps": 10, "tau": 0.1, "samples": 100}, "tau"),
    ({"params": 10, "steps": 10}, "samples"),
    ({"params": 0, "steps": 10, "samples": 10}, "params"),
    ({"params": 10, "steps": 2.5, "samples": 10}, "steps"),
    ({"params": 10, "steps": 10, "samples": float("nan")}, "samples"),
])
def test_max_success_errors(kwargs, prefix):
    with pytest.raises(ValueError) as info:
        sq_max_success_probability(50, 3, **kwargs)
    assert str(info.value).startswith(prefix)


@pytest.mark.parametrize("solve_for,kwargs,prefix", [
    ("params", {"steps": 10, "samples": 10, "delta": 0.0}, "delta"),
    ("params", {"steps": 10, "samples": 10, "delta": 1.0}, "delta"),
    ("params", {"steps": 10, "samples": 10, "delta": 1.5}, "delta"),
    ("params", {"params": 5, "steps": 10, "samples": 10, "delta": 0.5}, "params"),
    ("delta", {"params": 5, "steps": 10, "samples": 10, "delta": 0.5}, "delta"),
    ("params", {"samples": 10, "delta": 0.5}, "steps"),
    ("steps", {"samples": 10, "delta": 0.5}, "params"),
    ("samples", {"params": 10, "steps": 10}, "delta"),
    ("samples", {"params": 10, "steps": 10, "delta": 0.5, "tau": 0.1}, "tau"),
    ("params", {"steps": 10, "delta": 0.5}, "samples"),
    ("params", {"steps": 10, "delta": 0.5, "tau": 0.0}, "tau"),
    ("luck", {"params": 10}, "solve_for"),
])
def test_solve_errors(solve_for, kwargs, prefix):
    for func in (sq_solve, sq_log10_min_resource):
        with pytest.raises(ValueError) as info:
            func(50, 3, solve_for, **kwargs)
        assert str(info.value).startswith(prefix)


def test_nk_errors():
    with pytest.raises(ValueError, match=r"^k must be <= n"):
        sq_max_success_probability(3, 4, params=1, steps=1, samples=1)
    with pytest.raises(ValueError, match=r"^k must be >= 1"):
        sq_log10_threshold(3, 0)
    with pytest.raises(ValueError, match=r"^n must be an integer"):
        sq_log10_threshold(3.5, 1)
    with pytest.raises(ValueError, match=r"^width must"):
        mlp_param_count(10, [])
    with pytest.raises(ValueError, match=r"^width must be an integer"):
        two_layer_param_count(10, 2.5)
