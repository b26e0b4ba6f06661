r"""Upper-bound frontiers of sparse initialisation: Theorems 4 and 5 of Edelman et al. (2023).

The support size s of the initialisation traces a curve of (width r, samples m):

* Theorem 4, over-sparse (s >= k, k even, s = Omega(k)):

  .. math:: r = c_2 \Bigl(\frac{n}{s}\Bigr)^k, \quad
            m = c_3 \Bigl(\frac{s}{k}\Bigr)^{k-1} n^2 \ln n, \quad
            T = \frac{c_4}{\varepsilon^2}

  and gradient descent reaches loss <= eps with probability 0.99.
* Theorem 5, under-sparse (s < k, k and s even), one step of clipped batch GD:

  .. math:: r = c_2 \Bigl(\frac{n}{k}\Bigr)^s, \quad
            m = c_3 \Bigl(\frac{n}{k}\Bigr)^{k-s-1}, \quad T = 1.

The constants c2, c3, c4 are not given by the paper; they are parameters here (default 1).
Values are computed in log10 so that (n/s)^k for n = 1e6 never overflows.
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.theory.binomial import log10_comb
from parity_frontiers.theory.checks import (
    LN10,
    as_result,
    check_positive,
    check_size,
    check_subset_size,
)

__all__ = [
    "thm4_log10_width",
    "thm4_log10_samples",
    "thm4_steps",
    "thm4_log10_steps",
    "thm5_log10_width",
    "thm5_log10_samples",
    "upper_bound_frontier",
]


def _check(n, k, s, over: bool):
    n_arr = check_size("n", n, minimum=2, exact=True)
    k_arr = check_size("k", k, exact=True)
    s_arr = check_size("s", s, exact=True)
    check_subset_size("k", k_arr, n_arr)
    check_subset_size("s", s_arr, n_arr)
    if over and np.any(s_arr < k_arr):
        raise ValueError("s must be >= k for Theorem 4 (over-sparse); use Theorem 5 for s < k")
    if not over and np.any(s_arr >= k_arr):
        raise ValueError("s must be < k for Theorem 5 (under-sparse); use Theorem 4 for s >= k")
    return n_arr, k_arr, s_arr


def thm4_log10_width(n, k, s, c2=1.0):
    """log10 of Theorem 4's width r = c2 (n/s)^k (s >= k)."""
    n_arr, k_arr, s_arr = _check(n, k, s, over=True)
    return as_result(np.log10(check_positive("c2", c2)) + k_arr * np.log10(n_arr / s_arr))


def thm4_log10_samples(n, k, s, c3=1.0):
    """log10 of Theorem 4's sample size m = c3 (s/k)^(k-1) n^2 ln n (s >= k, n >= 2)."""
    n_arr, k_arr, s_arr = _check(n, k, s, over=True)
    return as_result(np.log10(check_positive("c3", c3)) + (k_arr - 1) * np.log10(s_arr / k_arr)
                + 2 * np.log10(n_arr) + np.log10(np.log(n_arr)))


def thm4_log10_steps(epsilon, c4=1.0):
    """log10 of Theorem 4's iteration count T = c4 / eps^2 for target loss eps."""
    return as_result(np.log10(check_positive("c4", c4))
                - 2.0 * np.log10(check_positive("epsilon", epsilon)))


def thm4_steps(epsilon, c4=1.0):
    """Theorem 4's iteration count T = c4 / eps^2 for target loss eps.

    Raises ValueError when T exceeds 1e300 (use :func:`thm4_log10_steps`).
    """
    log10_t = np.asarray(thm4_log10_steps(epsilon, c4))
    if np.any(log10_t > 300):
        raise ValueError(f"epsilon: c4 / epsilon^2 = 10^{float(np.max(log10_t)):.1f} is beyond "
                         "float range; use thm4_log10_steps")
    return as_result(10.0 ** log10_t)


def thm5_log10_width(n, k, s, c2=1.0):
    """log10 of Theorem 5's width r = c2 (n/k)^s (s < k)."""
    n_arr, k_arr, s_arr = _check(n, k, s, over=False)
    return as_result(np.log10(check_positive("c2", c2)) + s_arr * np.log10(n_arr / k_arr))


def thm5_log10_samples(n, k, s, c3=1.0):
    """log10 of Theorem 5's sample size m = c3 (n/k)^(k-s-1) (s < k)."""
    n_arr, k_arr, s_arr = _check(n, k, s, over=False)
    return as_result(np.log10(check_positive("c3", c3))
                     + (k_arr - s_arr - 1) * np.log10(n_arr / k_arr))


def upper_bound_frontier(n: int, k: int, s_values=None, *, c2=1.0, c3=1.0, c4=1.0,
                         epsilon=0.1) -> list[dict]:
    """The (r(s), m(s), T) curve of Theorems 4 and 5 for each support size s.

    Parameters
    ----------
    n, k : int
        Dimension and parity degree.
    s_values : sequence of int, optional
        Support sizes; default 1, 2, 4, ... up to n, plus k and n.
    c2, c3, c4 : float
        The theorems' unspecified constants.
    epsilon : float
        Target loss for Theorem 4's step count.

    Returns
    -------
    list of dict
        One row per s with keys ``s``, ``theorem`` (4 or 5), ``applies`` (the theorem's parity
        conditions hold: k even, and for Theorem 5 s even), ``log10_width``,
        ``log10_samples``, ``log10_steps``, ``steps`` (None beyond 1e300), ``log10_params``
        (width * (n + 2) + 1 parameters),
        ``log10_cost`` (log10 of params * steps * samples) and ``log10_sq_threshold``
        (log10 C(n, k)/2 of Proposition 3, which any successful learner's cost must reach up
        to its success probability), and ``log10_cost_over_threshold``, their difference:
        negative means the constants must multiply to at least 10^-(difference) * 0.99 for the
        two theorems to agree (derived here).

    Examples
    --------
    >>> row = upper_bound_frontier(100, 4, [2, 8])[1]
    >>> row["theorem"], round(row["log10_width"], 3)
    (4, 4.388)
    """
    n_int = int(check_size("n", n, minimum=2, exact=True))
    k_int = int(check_size("k", k, exact=True))
    if k_int > n_int:
        raise ValueError(f"k must be <= n, got k={k_int} > n={n_int}")
    if s_values is None:
        s_values = sorted({2**i for i in range(int(math.log2(n_int)) + 1)} | {k_int, n_int})
    s_arr = np.atleast_1d(check_size("s", s_values, exact=True))
    check_subset_size("s", s_arr, np.float64(n_int))
    threshold = float(log10_comb(n_int, k_int) - math.log10(2.0))
    rows = []
    for s in s_arr.astype(int).tolist():
        if s >= k_int:
            theorem = 4
            log10_r = thm4_log10_width(n_int, k_int, s, c2)
            log10_m = thm4_log10_samples(n_int, k_int, s, c3)
            log10_t = thm4_log10_steps(epsilon, c4)
            applies = k_int % 2 == 0
        else:
            theorem = 5
            log10_r = thm5_log10_width(n_int, k_int, s, c2)
            log10_m = thm5_log10_samples(n_int, k_int, s, c3)
            log10_t = 0.0
            applies = k_int % 2 == 0 and s % 2 == 0
        # log10(r (n + 2) + 1), safe for any magnitude of r (c2 may be tiny or huge).
        base = log10_r + math.log10(n_int + 2)
        log10_params = float(np.logaddexp(base * LN10, 0.0) / LN10)
        log10_cost = log10_params + log10_m + log10_t
        rows.append({
            "s": s,
            "theorem": theorem,
            "applies": applies,
            "log10_width": log10_r,
            "log10_samples": log10_m,
            "log10_steps": log10_t,
            "steps": 10.0**log10_t if log10_t <= 300 else None,
            "log10_params": log10_params,
            "log10_cost": log10_cost,
            "log10_sq_threshold": threshold,
            "log10_cost_over_threshold": log10_cost - threshold,
        })
    return rows
