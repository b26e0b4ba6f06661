"""theory.fourier_gaps against brute-force enumeration of {-1,1}^s and {-1,1}^n."""

from __future__ import annotations

import functools
import itertools
import math
import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_frontiers.theory.fourier_gaps import (
    COORDINATE_CLASSES,
    fourier_gap,
    hoeffding_sample_size,
    kappa,
    kappa_exact,
    kappa_row_exact,
    neuron_gradient_by_class,
    neuron_population_gradient,
    selection_gap,
    threshold_count,
)

# ---------------------------------------------------------------- brute-force references


def brute_kappa(s: int, bias, degree_set) -> Fraction:
    """E over z in {-1,1}^s of prod_{j in D} z_j * 1[sum(z) + b > 0], exactly."""
    b = Fraction(bias)
    total = Fraction(0)
    for z in itertools.product((-1, 1), repeat=s):
        if sum(z) + b > 0:
            total += math.prod(z[j] for j in degree_set)
    return total / 2**s


def brute_kappa_row(s: int, bias) -> list[Fraction]:
    """[brute_kappa(s, bias, range(d)) for d = 0..s] in one pass over {-1,1}^s."""
    b = Fraction(bias)
    totals = [0] * (s + 1)
    for z in itertools.product((-1, 1), repeat=s):
        if sum(z) + b > 0:
            totals[0] += 1
            prod = 1
            for d, zj in enumerate(z, 1):
                prod *= zj
                totals[d] += prod
    return [Fraction(t, 2**s) for t in totals]


def _comb0(a: int, b: int) -> int:
    return math.comb(a, b) if 0 <= b <= a else 0


@functools.cache
def paper_inner_sums(s: int) -> tuple[tuple[int, ...], ...]:
    """K[h][d] = sum_q (-1)^q C(d, q) C(s - d, h - q) for h, d in 0..s: the inner sum of
    docs/theory.md §4's double sum (the Krawtchouk polynomial K_h(d; s)), typed in here."""
    return tuple(tuple(sum((-1) ** q * _comb0(d, q) * _comb0(s - d, h - q)
                           for q in range(d + 1))
                       for d in range(s + 1))
                 for h in range(s + 1))


def paper_kappa_row(s: int, bias) -> list[Fraction]:
    """kappa(s, b, d) = 2^-s sum_{h: s - 2h + b > 0} K_h(d; s) for d = 0..s, exactly.

    The firing levels are selected by the paper's condition itself, not by a threshold count.
    """
    b = Fraction(bias)
    K = paper_inner_sums(s)
    firing = [h for h in range(s + 1) if s - 2 * h + b > 0]
    return [Fraction(sum(K[h][d] for h in firing), 2**s) for d in range(s + 1)]


def brute_gradient(n, target, support, weights, bias, a) -> list[Fraction]:
    """E_x[-y a 1[w.x + b > 0] x_i] for y = prod_{i in S} x_i, over all x in {-1,1}^n."""
    b, a = Fraction(bias), Fraction(a)
    grad = [Fraction(0)] * n
    for x in itertools.product((-1, 1), repeat=n):
        pre = sum(w * x[j] for j, w in zip(support, weights, strict=True)) + b
        if pre > 0:
            y = math.prod(x[i] for i in target)
            for i in range(n):
                grad[i] -= y * a * x[i]
    return [g / 2**n for g in grad]


def _biases(s):
    """Integers, rationals (as Fraction, str and float) and the extremes around +-s."""
    return ["1/2", "-7/4", Fraction(-3, 2), Fraction(1, 3), Fraction(-1, 7), 0.5, -2.25,
            -1, 0, 1, 2, s - 1, 1 - s, s, -s, s + 1, -s - 1, s + 5, -s - 5,
            Fraction(2 * s - 1, 2), Fraction(1 - 2 * s, 2), 1e-17, -1e-17]


# ---------------------------------------------------------------- kappa


@pytest.mark.parametrize("s", range(1, 11))
def test_kappa_exact_vs_enumeration(s):
    for bias in _biases(s):
        want = brute_kappa_row(s, bias)
        assert kappa_row_exact(s, bias) == want
        assert [kappa_exact(s, bias, d) for d in range(s + 1)] == want


PAPER_S = [*range(1, 25), 31, 32, 33, 47, 59, 60]


@pytest.mark.parametrize("s", PAPER_S)
def test_kappa_exact_vs_paper_double_sum(s):
    for bias in _biases(s):
        want = paper_kappa_row(s, bias)
        assert [kappa_exact(s, bias, d) for d in range(s + 1)] == want, bias
        assert kappa_row_exact(s, bias) == want, bias


@pytest.mark.parametrize("s", [1, 3, 5, 7, 9, 11, 21])
def test_even_degree_vanishes_for_odd_s_zero_bias(s):
    # 1[sum z > 0] = (1 + Maj_s)/2 and Maj_s is odd: even degrees >= 2 vanish, degree 0 is 1/2
    assert kappa_exact(s, 0, 0) == Fraction(1, 2)
    for d in range(2, s + 1, 2):
        assert kappa_exact(s, 0, d) == 0
    assert any(kappa_exact(s, 0, d) != 0 for d in range(1, s + 1, 2))


def krawtchouk(t: int, d: int, N: int) -> int:
    """K_t(d; N) = sum_q (-1)^q C(d, q) C(N - d, t - q) (zero for t < 0)."""
    return sum((-1) ** q * _comb0(d, q) * _comb0(N - d, t - q) for q in range(d + 1))


def _count_firing_levels(s: int, bias) -> int:
    b = Fraction(bias)
    return sum(1 for h in range(s + 1) if s - 2 * h + b > 0)


@pytest.mark.parametrize("s", range(1, 25))
def test_krawtchouk_partial_sum_identity_vs_double_sum(s):
    # The closed form kappa_exact is built on, checked against the paper's double sum (not
    # against kappa_exact): sum_{h < H} K_h(d; s) = K_{H-1}(d-1; s-1) for d >= 1 (generating
    # function (1-x)^d (1+x)^(s-d) / (1-x)), and sum_{h < H} C(s, h) for d = 0.
    K = paper_inner_sums(s)
    for H in range(s + 2):
        for d in range(1, s + 1):
            assert sum(K[h][d] for h in range(H)) == krawtchouk(H - 1, d - 1, s - 1)
        assert sum(K[h][0] for h in range(H)) == sum(math.comb(s, h) for h in range(H))


@pytest.mark.parametrize("s", range(1, 25))
def test_threshold_count_vs_firing_levels(s):
    for bias in _biases(s):
        assert threshold_count(s, bias) == _count_firing_levels(s, bias)


def test_kappa_float_vectorised():
    s = np.array([3, 3, 4, 8, 8, 12])
    d = np.array([1, 3, 2, 0, 5, 7])
    b = np.array([0, 0, 0, 0.5, -1.5, 2])
    got = kappa(s, b, d)
    assert got.shape == (6,)
    for g, ss, bb, dd in zip(got, s, b, d, strict=True):
        assert g == float(paper_kappa_row(int(ss), float(bb))[int(dd)])
    grid = kappa(np.arange(1, 9)[:, None], 0, 1)
    assert grid.shape == (8, 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30).flatmap(lambda s: st.tuples(st.just(s), st.integers(0, s))),
       st.one_of(st.integers(-40, 40).map(float),
                 st.fractions(-40, 40, max_denominator=8).map(float),
                 st.floats(-40, 40, allow_nan=False, allow_infinity=False),
                 st.sampled_from([1e-17, -1e-17, 5e-324, 1 + 2**-52, 3 - 2**-51, 1e300])))
def test_kappa_float_equals_exact(sd, bias):
    s, d = sd
    # correctly rounded: the float of the exact value, the bias taken exactly
    assert kappa(s, bias, d) == float(paper_kappa_row(s, bias)[d])


def test_kappa_float_tiny_bias_regression():
    # (s + b)/2 rounds to an integer in float64 here; the exact threshold count must win
    assert brute_kappa(2, Fraction(1e-17), []) == Fraction(3, 4)
    assert kappa(2, 1e-17, 0) == 0.75
    assert kappa(3, 1 + 2**-52, 0) == float(brute_kappa(3, Fraction(1 + 2**-52), [])) == 0.875
    assert kappa(np.array([2, 3]), np.array([1e-17, 1 + 2**-52]), 0).tolist() == [0.75, 0.875]


# ---------------------------------------------------------------- population gradients


def _random_neuron(rng: random.Random, n: int):
    k = rng.randint(1, n)
    s = rng.randint(1, n)
    target = rng.sample(range(n), k)
    support = rng.sample(range(n), s)
    weights = [rng.choice((-1, 1)) for _ in support]
    bias = Fraction(rng.randint(-2 * s - 2, 2 * s + 2), rng.choice((1, 2, 3)))
    a = Fraction(rng.randint(-5, 5), rng.randint(1, 4))
    return target, support, weights, bias, a


@pytest.mark.parametrize("seed", range(30))
def test_population_gradient_vs_enumeration(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    target, support, weights, bias, a = _random_neuron(rng, n)
    got = neuron_population_gradient(n, target, support, weights, bias, a)
    assert got == brute_gradient(n, target, support, weights, bias, a)


def _layout(k: int, s: int, j: int, extra: int):
    """S = {0..k-1}; U shares j coordinates with S and has s - j of its own; extra outside."""
    target = list(range(k))
    support = list(range(j)) + list(range(k, k + s - j))
    n = k + s - j + extra
    return n, target, support


def _classes(n, target, support):
    S, U = set(target), set(support)
    out = {}
    for i in range(n):
        name = ("in_S_in_U" if i in U else "in_S_off_U") if i in S else \
               ("in_U_off_S" if i in U else "outside")
        out.setdefault(name, []).append(i)
    return out


GRAD_CASES = [(s, k, j) for s in range(1, 6) for k in range(1, 6)
              for j in range(min(s, k) + 1) if k + s - j <= 8]


@pytest.mark.parametrize("s,k,j", GRAD_CASES)
def test_gradient_by_class_vs_enumeration(s, k, j):
    rng = random.Random(100 * s + 10 * k + j)
    for bias in (0, 1, Fraction(-1, 2), s - 1):
        a = Fraction(rng.choice((-3, -1, 1, 2)), rng.choice((1, 2)))
        n, target, support = _layout(k, s, j, extra=1)
        weights = [rng.choice((-1, 1)) for _ in support]
        grad = brute_gradient(n, target, support, weights, bias, a)
        classes = _classes(n, target, support)
        by_class = neuron_gradient_by_class(s, k, bias, overlap=j, output_weight=a)
        assert set(by_class) == set(classes)
        assert set(by_class) <= set(COORDINATE_CLASSES)
        for name, coords in classes.items():
            magnitudes = {abs(grad[i]) for i in coords}
            assert magnitudes == {by_class[name]}, name
        on_s = [abs(grad[i]) for i in target]
        off_s = [abs(grad[i]) for i in range(n) if i not in target]
        assert fourier_gap(s, k, bias, overlap=j, output_weight=a) == min(on_s) - max(off_s)


@pytest.mark.parametrize("s,k", [(s, k) for s in range(1, 6) for k in range(1, 6)
                                 if max(s, k) + 1 <= 8])
def test_selection_gap_vs_enumeration(s, k):
    for bias in (0, 1, -1, Fraction(1, 2), 2):
        if s >= k:
            n, target, support = _layout(k, s, k, extra=1)  # S inside U
        else:
            n, target, support = _layout(k, s, s, extra=1)  # U inside S
        weights = [1] * len(support)
        grad = brute_gradient(n, target, support, weights, bias, 1)
        if s >= k:
            on = [abs(grad[i]) for i in target]
            off = [abs(grad[i]) for i in range(n) if i not in target]
        else:
            on = [abs(grad[i]) for i in target if i not in support]
            off = [abs(grad[i]) for i in range(n) if i not in target and i not in support]
        assert selection_gap(s, k, bias) == min(on) - max(off)


def test_gradient_docstring_points_by_hand():
    # s = 4, b = 0 fires on the 5 inputs with at most one -1 (h = 0, 1). By hand:
    # kappa(4, 0, 1) = E[z_1; fires] = (1 + (3 - 1)) / 16 = 3/16 (the -1 off/on coordinate 1),
    # kappa(4, 0, 3) = E[z_1 z_2 z_3; fires] = (1 + (1 - 3)) / 16 = -1/16.
    assert kappa_exact(4, 0, 1) == Fraction(3, 16)
    assert kappa_exact(4, 0, 3) == Fraction(-1, 16)
    assert neuron_gradient_by_class(4, 2, 0) == {
        "in_S_in_U": Fraction(3, 16), "in_U_off_S": Fraction(1, 16), "outside": 0}
    assert fourier_gap(4, 2, 0) == Fraction(1, 8)


# ---------------------------------------------------------------- Hoeffding


def _assert_hoeffding_minimal(m, gap: Fraction, n: int, delta: float) -> None:
    """m is the smallest sample size with the Hoeffding + union bound
    2 n exp(-m gap^2 / 8) <= delta, decided in 60-digit arithmetic from the bound itself
    (no closed form for m involved)."""
    assert isinstance(m, int) and m >= 1
    with mpmath.workdps(60):
        g2 = (mpmath.mpf(gap.numerator) / gap.denominator) ** 2
        d = mpmath.mpf(delta)  # the float delta, exactly

        def failure_bound(mm):
            return 2 * n * mpmath.exp(-mm * g2 / 8)

        assert failure_bound(m) <= d
        assert m == 1 or failure_bound(m - 1) > d


@settings(max_examples=120, deadline=None)
@given(st.fractions(Fraction(1, 1000), 2, max_denominator=1000), st.integers(1, 10**6),
       st.floats(1e-9, 0.999))
def test_hoeffding_minimal_vs_mpmath(gap, n, delta):
    _assert_hoeffding_minimal(hoeffding_sample_size(gap, n, delta), gap, n, delta)


@pytest.mark.parametrize("gap,n,delta", [
    (Fraction(1, 4), 50, 0.01), (Fraction(2), 1, 0.999), (Fraction(1, 1000), 10**6, 1e-9),
    (Fraction(1, 8), 100, 0.05), (Fraction(3, 7), 12345, 0.5), (Fraction(1, 10**4), 10, 0.1),
])
def test_hoeffding_minimal_fixed_points(gap, n, delta):
    _assert_hoeffding_minimal(hoeffding_sample_size(gap, n, delta), gap, n, delta)


def test_hoeffding_docstring_point_and_types():
    assert hoeffding_sample_size(0.25, 50, 0.01) == 1179
    _assert_hoeffding_minimal(1179, Fraction(1, 4), 50, 0.01)
    assert hoeffding_sample_size(Fraction(1, 4), 50, 0.01) == \
        hoeffding_sample_size("1/4", 50, 0.01) == 1179
    # gap from an exact neuron computation feeds straight in
    gap = fourier_gap(4, 2, 0)
    _assert_hoeffding_minimal(hoeffding_sample_size(gap, 100, 0.05), gap, 100, 0.05)


@pytest.mark.parametrize("gap", [0, -0.1, Fraction(-1, 3), "0"])
def test_hoeffding_nonpositive_gap_raises(gap):
    with pytest.raises(ValueError, match=r"^gap must be > 0"):
        hoeffding_sample_size(gap, 50, 0.01)


def test_zero_gap_odd_k_at_zero_bias():
    # paper section 4: odd k gets no signal at b = 0 -- kappa(s, 0, k - 1) = 0 when s is odd
    for s, k in [(3, 3), (5, 3), (5, 5), (7, 3)]:
        assert neuron_gradient_by_class(s, k, 0)["in_S_in_U"] == 0
        assert fourier_gap(s, k, 0) <= 0
        with pytest.raises(ValueError, match=r"^gap"):
            hoeffding_sample_size(fourier_gap(s, k, 0), 50, 0.01)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("call,prefix", [
    (lambda: kappa_exact(3, 0, 4), "d"),
    (lambda: kappa_exact(3, 0, -1), "d"),
    (lambda: kappa_exact(0, 0, 0), "s"),
    (lambda: kappa_exact(3, "x", 1), "bias"),
    (lambda: kappa_exact(3, float("nan"), 1), "bias"),
    (lambda: kappa(3, 0, 4), "d"),
    (lambda: kappa(3.5, 0, 1), "s"),
    (lambda: kappa(3, float("inf"), 1), "bias"),
    (lambda: threshold_count(3, True), "bias"),
    (lambda: neuron_gradient_by_class(4, 2, 0, overlap=3), "overlap"),
    (lambda: neuron_gradient_by_class(4, 2, 0, overlap=-1), "overlap"),
    (lambda: neuron_gradient_by_class(0, 2, 0), "s"),
    (lambda: neuron_gradient_by_class(4, 2, 0, output_weight="a"), "output_weight"),
    (lambda: neuron_population_gradient(3, [0, 3], [0], [1], 0), "target"),
    (lambda: neuron_population_gradient(3, [0, 0], [0], [1], 0), "target"),
    (lambda: neuron_population_gradient(3, [], [0], [1], 0), "target"),
    (lambda: neuron_population_gradient(3, [0], [1, 2], [1], 0), "weights"),
    (lambda: neuron_population_gradient(3, [0], [1, 2], [1, 0], 0), "weights"),
    (lambda: neuron_population_gradient(3, [0], [1, 2], [1, True], 0), "weights"),
    (lambda: neuron_population_gradient(3, [0], [1, -1], [1, 1], 0), "support"),
    (lambda: hoeffding_sample_size(0.1, 0, 0.01), "n"),
    (lambda: hoeffding_sample_size(0.1, 10, 1.0), "delta"),
    (lambda: hoeffding_sample_size(float("nan"), 10, 0.1), "gap"),
])
def test_errors(call, prefix):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(prefix)
