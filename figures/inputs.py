"""Argument checks and small helpers shared by the theory figures.

Used by :mod:`figures.theory_plots` (the SQ frontier) and :mod:`figures.lottery_plots` (the
lottery curves): (n, k) problems, positive integer sizes, success levels in (0, 1], the
log-spaced integer grid their lines are drawn on, and counts written as powers of ten. Every
bad value is one ``ValueError`` naming it, raised before anything is drawn or written.
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.theory.checks import check_int, check_real, check_size

__all__ = ["CURVE_POINTS", "pretty_count", "check_unit", "check_problem", "check_problems",
           "check_sizes", "log_int_grid"]

#: Points on the densified width grid of each boundary curve and lottery line.
CURVE_POINTS = 120


def pretty_count(count) -> str:
    """A count for a label: powers of ten as mathtext 10^e, others as %g."""
    exponent = math.log10(count)
    if count >= 100 and exponent == round(exponent):
        return f"$10^{{{round(exponent)}}}$"
    return f"{count:g}"


def check_unit(name: str, value, allow_zero: bool = False) -> np.ndarray:
    """Reals in (0, 1] (success levels), or in [0, 1] with ``allow_zero`` (success rates)."""
    arr = check_real(name, value)
    bad = (arr < 0) | (arr > 1) | ((arr == 0) & (not allow_zero))
    if bad.any():
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {arr[bad].flat[0]:g}")
    return arr


def check_problem(n, k, where: str = "") -> tuple[int, int]:
    """An (n, k) pair of integers with 1 <= k <= n; ``where`` says where it came from."""
    n = check_int("n", n)
    k = check_int("k", k)
    if k > n:
        raise ValueError(f"k must be <= n{where}, got k = {k} > n = {n}")
    return n, k


def check_problems(problems) -> list[tuple[int, int]]:
    """A non-empty list of distinct (n, k) pairs, each checked by :func:`check_problem`."""
    try:
        pairs = [tuple(p) for p in problems]
    except TypeError:
        raise ValueError(f"problems must be a list of (n, k) pairs, got {problems!r}") from None
    if not pairs:
        raise ValueError("problems must list at least one (n, k) pair")
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"problems must be a list of (n, k) pairs, got {problems!r}")
    checked = [check_problem(n, k, f" in problems entry {(n, k)}") for n, k in pairs]
    if len(set(checked)) != len(checked):
        raise ValueError(f"problems lists an (n, k) pair twice: {checked}")
    return checked


def check_sizes(name: str, values) -> np.ndarray:
    """A non-empty 1-d array of positive integers (float64), sorted and without repeats."""
    arr = check_size(name, values)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a flat list of numbers")
    return np.unique(arr.ravel())


def log_int_grid(values: np.ndarray) -> np.ndarray:
    """Integers log-spaced over [min, max] of ``values``, plus the values themselves."""
    lo, hi = float(values.min()), float(values.max())
    dense = np.round(np.geomspace(lo, hi, CURVE_POINTS)) if hi > lo else np.array([lo])
    return np.unique(np.concatenate([dense, values]))
