"""kappa_row_exact (three-term recurrence) against the docs/theory.md §4 double sum, and limits."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from parity_frontiers.theory import kappa, kappa_exact, kappa_row_exact
from parity_frontiers.theory.fourier_gaps import MAX_KAPPA_ROW_S, MAX_KAPPA_S


def paper_double_sum(s: int, b: Fraction, d: int) -> Fraction:
    """kappa(s, b, d) = 2^-s sum_{h: s-2h+b>0} sum_q (-1)^q C(d,q) C(s-d,h-q)
    (docs/theory.md eq. (4.3))."""
    total = 0
    for h in range(s + 1):
        if s - 2 * h + b > 0:
            total += sum((-1) ** q * math.comb(d, q) * math.comb(s - d, h - q)
                         for q in range(d + 1) if 0 <= h - q <= s - d)
    return Fraction(total, 2**s)


@pytest.mark.parametrize("s", [1, 2, 3, 4, 7, 12, 25, 40])
@pytest.mark.parametrize("bias", ["0", "1", "-1", "2", "1/2", "-3/2", "7/3", "100", "-100"])
def test_row_matches_double_sum(s, bias):
    b = Fraction(bias)
    assert kappa_row_exact(s, b) == [paper_double_sum(s, b, d) for d in range(s + 1)]


def test_row_at_scale_matches_single_coefficients():
    row = kappa_row_exact(1500, 3)
    for d in (0, 1, 2, 3, 750, 1499, 1500):
        assert row[d] == kappa_exact(1500, 3, d)


def test_size_limits_are_clear_errors():
    with pytest.raises(ValueError, match=f"^s must be <= {MAX_KAPPA_ROW_S}"):
        kappa_row_exact(MAX_KAPPA_ROW_S + 1, 0)
    with pytest.raises(ValueError, match=f"^s must be <= {MAX_KAPPA_S}"):
        kappa_exact(MAX_KAPPA_S + 1, 0, 1)
    with pytest.raises(ValueError, match=f"^s must be <= {MAX_KAPPA_S}"):
        kappa([3, 10**7], 0, 1)
