"""theory.summaries (what the CLI prints) and the exact decisions behind it."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_frontiers.theory import (
    demo_summary,
    gap_summary,
    hoeffding_sample_size,
    lottery_summary,
    overlap_pmf,
    sq_bound_summary,
    sq_rules_out,
    two_layer_param_count,
)

# --- sq_rules_out: exact decision at the frontier ------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       st.integers(1, 50), st.integers(1, 50), st.integers(1, 50),
       st.sampled_from([0.5, 0.25, 0.125, 0.1, 0.3, 0.75]))
def test_rules_out_matches_exact_rationals(nk, r, t, m, delta):
    n, k = nk
    expected = Fraction(2 * r * t * m, math.comb(n, k)) < Fraction(delta)
    assert sq_rules_out(n, k, r, t, samples=m, delta=delta) is expected


def test_rules_out_is_false_exactly_at_the_solved_frontier():
    # 2 * 10 * 10 * 49 / C(50, 3) = 9800 / 19600 = 1/2 exactly: success 1/2 is allowed.
    out = sq_bound_summary(50, 3, params=10, steps=10, delta=0.5, solve_for="samples")
    assert out["solved_value"] == 49
    assert out["forbidden"] is False
    assert sq_rules_out(50, 3, 10, 10, samples=48, delta=0.5) is True


def test_rules_out_with_tau_uses_exact_square():
    # tau = 0.5 means precision 4; 2 * 3 * 5 * 4 / C(20, 2) = 120 / 190.
    assert sq_rules_out(20, 2, 3, 5, tau=0.5, delta=120 / 190 + 1e-9) is True
    assert sq_rules_out(20, 2, 3, 5, tau=0.5, delta=0.5) is False


def test_summary_past_float_range_fills_frontier_keys():
    out = sq_bound_summary(10**7, 50_000, width=10**5, steps=10**5, delta=0.25,
                           solve_for="samples")
    assert out["solved_value"] is None and out["exact"] is False
    assert out["max_success_probability"] == 0.25
    assert out["log10_cost"] == out["log10_threshold"]
    assert out["forbidden"] is False


def test_summary_solved_width_is_smallest_covering_width():
    out = sq_bound_summary(100, 4, steps=10, samples=10, delta=0.5, solve_for="params")
    params, width = out["solved_value"], out["solved_width"]
    assert two_layer_param_count(100, width) >= params > two_layer_param_count(100, width - 1)


def test_param_count_is_exact_beyond_float():
    assert two_layer_param_count(10**9, 10**9) == 10**18 + 2 * 10**9 + 1


# --- lottery_summary -----------------------------------------------------------------------


def test_lottery_summary_when_every_neuron_is_lucky():
    out = lottery_summary(10, 3, 10, width=5, delta=0.1)     # s = n: S is always inside U
    assert out["p_lucky"] == 1.0 and out["p_at_least_one"] == 1.0
    assert out["width_needed"] == 1 and out["log10_width_needed"] == 0.0


def test_lottery_summary_impossible_overlaps_and_expectation():
    out = lottery_summary(10, 8, 5, width=7)
    # 5 of the 10 coordinates lie outside S only twice over: overlap < 3 is impossible.
    counts = [0] * 6
    for support in combinations(range(10), 5):
        counts[sum(1 for i in support if i < 8)] += 1
    assert out["overlap_pmf"] == pytest.approx([c / math.comb(10, 5) for c in counts],
                                               rel=1e-13, abs=0)
    assert out["log10_overlap_pmf"][:3] == [None, None, None]
    assert out["log10_overlap_pmf"][3] == pytest.approx(math.log10(counts[3] / 252), rel=1e-13)
    assert out["expected_lucky"] == pytest.approx(7 * counts[5] / 252, rel=1e-13)
    assert out["log10_expected_lucky"] == pytest.approx(math.log10(7 * counts[5] / 252),
                                                        rel=1e-13)


def test_lottery_summary_omits_unreadable_laws():
    out = lottery_summary(10**9, 20_000, 20_000)
    assert out["overlap_pmf"] is None and out["log10_overlap_pmf"] is None
    with pytest.raises(ValueError, match="^j is required"):
        overlap_pmf(10**9, 20_000, 20_000)


# --- gap_summary ---------------------------------------------------------------------------


def test_gap_summary_validates_delta_without_n():
    with pytest.raises(ValueError, match="^delta"):
        gap_summary(3, 2, 0, delta=2.0)


def test_gap_summary_gradients_by_enumeration():
    """Per-class |gradient| of a +-1 neuron with weights +1 and bias b, by brute force."""
    s, k, b, n = 4, 2, Fraction(-1, 2), 7
    out = gap_summary(s, k, b)
    for entry in out["gradients"]:
        j = entry["overlap"]
        support = list(range(s))
        target = list(range(s - j, s - j + k))           # overlap j with the support
        grads = [Fraction(0)] * n
        for bits in range(2**n):
            x = [1 if bits >> i & 1 else -1 for i in range(n)]
            if sum(x[i] for i in support) + b > 0:
                y = math.prod(x[i] for i in target)
                for i in range(n):
                    grads[i] -= Fraction(y * x[i], 2**n)
        classes = {
            "in_S_in_U": [i for i in target if i in support],
            "in_S_off_U": [i for i in target if i not in support],
            "in_U_off_S": [i for i in support if i not in target],
            "outside": [i for i in range(n) if i not in support and i not in target],
        }
        for name, coords in classes.items():
            if coords:
                assert {abs(grads[i]) for i in coords} == {Fraction(entry[name])}, (j, name)
            else:
                assert name not in entry


def test_gap_summary_huge_sample_size_is_logged():
    out = gap_summary(2, 3, 0, n=10**400, delta=1e-300)
    mpmath.mp.dps = 60
    exact = mpmath.mpf(8) * mpmath.log(2 * mpmath.mpf(10) ** 400 / mpmath.mpf(1e-300)) * 16
    # ~1.7e5: small enough that the ceiling is exact despite the float logarithm.
    assert out["samples_needed"] == math.ceil(exact)
    assert out["log10_samples_needed"] == pytest.approx(math.log10(math.ceil(exact)), rel=1e-14)


@pytest.mark.parametrize("gap,n,delta", [(1e-200, 10, 0.1), (1e-160, 10, 0.1),
                                         (0.25, 50, 1e-320), (0.5, 10**400, 0.5)])
def test_hoeffding_extremes_are_minimal(gap, n, delta):
    mpmath.mp.dps = 60
    m = hoeffding_sample_size(gap, n, delta)
    # Smallest m with 2 n exp(-m gap^2 / 8) <= delta, decided in high precision.
    bound = 8 * mpmath.log(2 * mpmath.mpf(n) / mpmath.mpf(delta)) / mpmath.mpf(gap) ** 2
    if bound < 2**53:
        assert m - 1 < bound <= m
    else:  # the float logarithm fixes only the leading ~16 digits of a huge m
        assert abs(m - bound) <= bound * 1e-15
    with pytest.raises(ValueError, match="^delta must be a scalar"):
        hoeffding_sample_size(gap, n, [delta, delta])


# --- demo ----------------------------------------------------------------------------------


def test_demo_summary_small_n_with_certain_luck():
    out = demo_summary(6, 3)                                 # s = 6 = n is in the s list
    row = next(r for r in out["lottery"] if r["s"] == 6)
    assert row["width_needed"] == 1
    assert {r["s"] for r in out["gaps"]} == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("n", [2**53 + 1, [5, 2**53 + 1], 1e17])
def test_sizes_beyond_exact_float_are_refused(n):
    from parity_frontiers.theory import log_comb
    with pytest.raises(ValueError, match=r"^n must be <= 2\*\*53"):
        log_comb(n, 3)
