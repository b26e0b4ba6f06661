"""Monte Carlo estimates with their uncertainty: value, standard error, 95% interval.

Every estimator of :mod:`simulate` (and the success rates of :mod:`verify`) returns an
:class:`Estimate`. Proportions get the Wilson score interval (scipy's ``binomtest``), means
Student's t interval from the sample standard deviation (mean +- t_{N-1} s / sqrt(N)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from scipy import stats

from parity_frontiers.theory.checks import check_int

__all__ = ["Estimate", "proportion_estimate", "mean_estimate", "ExactMean"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate.

    Attributes
    ----------
    estimate : float
        Point estimate (a proportion or a mean).
    stderr : float
        Its standard error: sqrt(p (1 - p) / N) for a proportion, s / sqrt(N) for a mean.
    ci_low, ci_high : float
        The 95% interval (Wilson score for proportions, Student's t with N - 1 degrees of
        freedom for means).
    trials : int
        Number of independent trials N behind the estimate.
    seed : int or None
        Seed that reproduces it.
    """

    estimate: float
    stderr: float
    ci_low: float
    ci_high: float
    trials: int
    seed: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval [ci_low, ci_high]."""
        return self.ci_low <= value <= self.ci_high


def proportion_estimate(successes: int, trials: int, seed: int | None = None,
                        confidence: float = 0.95) -> Estimate:
    r"""Proportion ``successes / trials`` with the Wilson score interval.

    .. math:: \hat p = x / N, \quad \mathrm{se} = \sqrt{\hat p (1 - \hat p) / N}

    The interval is scipy's ``binomtest(x, N).proportion_ci(method="wilson")``; unlike the
    normal interval it stays inside [0, 1] and is not empty at x = 0 or x = N.

    Examples
    --------
    >>> e = proportion_estimate(30, 100, seed=1)
    >>> round(e.estimate, 2), round(e.ci_low, 3), round(e.ci_high, 3)
    (0.3, 0.219, 0.396)
    """
    trials = check_int("trials", trials, strict=True)
    successes = check_int("successes", successes, minimum=0, strict=True)
    if successes > trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    p = successes / trials
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence,
                                                           method="wilson")
    return Estimate(p, math.sqrt(p * (1 - p) / trials), float(ci.low), float(ci.high), trials,
                    seed)


def mean_estimate(values, seed: int | None = None, confidence: float = 0.95) -> Estimate:
    r"""Sample mean of ``values`` with Student's t interval mean +- t_{N-1} se, se = s / sqrt(N).

    At least two values are needed: one value says nothing of its spread.

    Examples
    --------
    >>> e = mean_estimate([1.0, 2.0, 3.0, 4.0])
    >>> e.estimate, round(e.stderr, 4)
    (2.5, 0.6455)
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size < 2:
        raise ValueError("mean_estimate needs at least two values")
    if not np.all(np.isfinite(values)):
        raise ValueError("mean_estimate got a non-finite value")
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(values.size))
    t = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1))
    return Estimate(mean, se, mean - t * se, mean + t * se, int(values.size), seed)


class ExactMean:
    r"""Mean and standard error of values ``v / scale`` with integer numerators v, accumulated
    exactly over chunks (Python integers), so the result does not depend on how the values
    were split or ordered.

    .. math:: \bar v = S_1 / N, \quad s^2 = (S_2 - S_1^2 / N) / (N - 1)

    Examples
    --------
    >>> acc = ExactMean(scale=4)
    >>> acc.update([1, 2]); acc.update([3, 4])
    >>> acc.estimate().estimate == mean_estimate([0.25, 0.5, 0.75, 1.0]).estimate
    True
    """

    def __init__(self, scale=1):
        self.scale = check_int("scale", scale, strict=True)
        self.count = 0
        self.total = 0
        self.total_squares = 0

    def update(self, numerators) -> None:
        values = np.asarray(numerators)
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"ExactMean takes integer numerators, got dtype {values.dtype}")
        values = values.ravel().tolist()
        self.count += len(values)
        self.total += sum(values)
        self.total_squares += sum(v * v for v in values)

    def estimate(self, seed: int | None = None, confidence: float = 0.95) -> Estimate:
        """The :func:`mean_estimate` of every value seen so far, in units of 1 / scale."""
        if self.count < 2:
            raise ValueError("ExactMean needs at least two values")
        n, scale = self.count, self.scale
        mean = float(Fraction(self.total, n * scale))
        variance = Fraction(self.total_squares * n - self.total**2, n * (n - 1) * scale**2)
        se = math.sqrt(variance / n)
        t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
        return Estimate(mean, se, mean - t * se, mean + t * se, n, seed)
