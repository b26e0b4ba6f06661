"""theory.lottery exact where cheap: the overlap law to 1e-12 at huge n, exact widths above 2**53.

References are computed with mpmath at 80 significant digits (independent of the package's
integer arithmetic).
"""

from __future__ import annotations

import time

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_frontiers.theory.lottery import (
    log_overlap_pmf,
    log_p_lucky,
    overlap_pmf,
    p_lucky,
    width_needed,
)

DPS = 80


def ref_pmf(n, k, s, j):
    with mpmath.workdps(DPS):
        return mpmath.binomial(k, j) * mpmath.binomial(n - k, s - j) / mpmath.binomial(n, s)


def ref_width(n, k, s, delta):
    """Smallest r with (1 - p)^r <= delta, at 80 digits, checked at r and r - 1."""
    with mpmath.workdps(DPS):
        m, big = min(k, s), max(k, s)
        p = mpmath.binomial(big, m) / mpmath.binomial(n, m)
        log_q, log_d = mpmath.log1p(-p), mpmath.log(mpmath.mpf(delta))
        r = max(1, int(mpmath.ceil(log_d / log_q)))
        assert r * log_q <= log_d
        assert r == 1 or (r - 1) * log_q > log_d
        return r


def test_issue_case_overlap_law_at_huge_n():
    n, k, s = 10**9, 10, 10**7
    got = overlap_pmf(n, k, s)
    assert abs(float(sum(mpmath.mpf(float(v)) for v in got)) - 1) <= 1e-12
    for j in range(k + 1):
        want = ref_pmf(n, k, s, j)
        assert abs(float((mpmath.mpf(float(got[j])) - want) / want)) <= 1e-12, j
        assert overlap_pmf(n, k, s, j) == pytest.approx(float(want), rel=1e-12)
        assert log_overlap_pmf(n, k, s, j) == pytest.approx(float(mpmath.log(want)),
                                                            rel=1e-12, abs=1e-13)


def test_issue_case_exact_width_above_2_53():
    r = width_needed(10**12, 500, 2, 0.01)
    assert isinstance(r, int)
    assert r == 18457595935805555818 == ref_width(10**12, 500, 2, 0.01)


huge = st.integers(10**6, 2**53)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(n=huge, k=st.integers(1, 30), s_frac=st.floats(0, 1), j=st.integers(0, 30))
def test_overlap_pmf_huge_n_vs_mpmath(n, k, s_frac, j):
    s = max(1, int(s_frac * n))
    j = min(j, k, s)
    want = ref_pmf(n, k, s, j)
    got = overlap_pmf(n, k, s, j)
    if want < 1e-300:
        return  # below the float range: reported as 0 (log_overlap_pmf has it)
    assert got == pytest.approx(float(want), rel=1e-12)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(n=huge, k=st.integers(1, 12), s=st.integers(1, 12))
def test_whole_law_sums_to_one(n, k, s):
    law = overlap_pmf(n, k, s)
    total = float(sum(mpmath.mpf(float(v)) for v in law))
    assert abs(total - 1) <= 1e-12


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(n=huge, k=st.integers(1, 40), s=st.integers(1, 40))
def test_p_lucky_huge_n_vs_mpmath(n, k, s):
    with mpmath.workdps(DPS):
        m, big = min(k, s), max(k, s)
        want = mpmath.binomial(big, m) / mpmath.binomial(n, m)
    assert log_p_lucky(n, k, s) == pytest.approx(float(mpmath.log(want)), rel=1e-13)
    if want > 1e-300:
        assert p_lucky(n, k, s) == pytest.approx(float(want), rel=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(n=st.integers(10**4, 10**15), k=st.integers(1, 600), s=st.integers(1, 4),
       delta=st.sampled_from([0.5, 0.1, 0.01, 1e-6, 0.3]))
def test_width_needed_exact_vs_mpmath(n, k, s, delta):
    k = min(k, n)
    try:
        got = width_needed(n, k, s, delta)
    except ValueError:  # beyond 1e300: log10_width_needed's business
        return
    assert got == ref_width(n, k, s, delta)


def test_width_needed_arrays_unchanged_and_fast():
    n = np.arange(100, 100_100, 10)
    started = time.perf_counter()
    law = overlap_pmf(n, 3, 4, 2)
    widths = width_needed(n, 3, 4, 0.01)
    assert time.perf_counter() - started < 5
    assert law.shape == widths.shape == n.shape
