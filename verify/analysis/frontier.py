r"""Empirical frontiers from stored runs: success rates, censored steps-to-success, m*(r) fits.

Everything here works on :class:`~verify.config.RunResult` lists (``ResultsStore.results()``)
and is pure: no training, no plotting.

* :func:`success_points` -- success rate per grid point with its Wilson 95% interval
  (:mod:`.summaries`), plus the Kaplan-Meier median steps and its interval (:mod:`.survival`).
* :func:`fit_frontier` -- the sample size m* at which the success probability crosses a target
  (default 1/2), from a logistic regression in :math:`\log_{10} m` with Firth's bias reduction
  (finite under the complete separation that 16-seed grids produce), with a delta-method
  interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy import special, stats

from parity_frontiers.verify.analysis.summaries import summarize
from parity_frontiers.verify.analysis.survival import kaplan_meier
from parity_frontiers.verify.config import RunConfig, RunResult

__all__ = [
    "INTERVALS",
    "CELL_FIELDS",
    "CURVE_FIELDS",
    "FrontierFit",
    "success_points",
    "fit_frontier",
    "frontier_table",
    "curve_key",
    "group_rows",
]

#: Fields that name one curve of success against m: every config field but samples and seed.
CURVE_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name not in ("samples", "seed"))
#: Fields that name one grid cell (one success rate): a curve plus its sample size.
CELL_FIELDS = CURVE_FIELDS + ("samples",)
_Z95 = stats.norm.ppf(0.975)


def curve_key(point: dict) -> tuple:
    """The :data:`CURVE_FIELDS` of a config dict or summary point, as a hashable tuple."""
    return tuple(point[name] for name in CURVE_FIELDS)


def group_rows(rows: Iterable, key) -> dict[tuple, list]:
    """Rows grouped by ``key`` (a tuple of field names, or a function of a row), in first-seen
    order of the groups and of the rows within each.

    Examples
    --------
    >>> group_rows([{"n": 1, "w": 2}, {"n": 3, "w": 4}, {"n": 1, "w": 5}], ("n",))
    {(1,): [{'n': 1, 'w': 2}, {'n': 1, 'w': 5}], (3,): [{'n': 3, 'w': 4}]}
    """
    key_of = key if callable(key) else (lambda row: tuple(row[name] for name in key))
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault(key_of(row), []).append(row)
    return groups


# --- steps to success ---------------------------------------------------------------------------







def success_points(results: Iterable[RunResult]) -> list[dict]:
    """One entry per grid cell: :func:`verify.analysis.summaries.summarize` plus the
    Kaplan-Meier interval.

    Adds ``median_ci_low`` / ``median_ci_high`` (None where not reached within max_steps) to
    each point of ``summarize`` (success rate, Wilson interval, Kaplan-Meier median steps), and
    ``median_success_steps``: the plain median of the successful runs' steps (None without
    one). Unlike the Kaplan-Meier median it does not rise merely because fewer runs succeed
    (with a fraction p succeeding, the KM median is the 1/(2p) quantile of their times).
    """
    results = list(results)
    by_cell = group_rows(results, lambda r: tuple(getattr(r.config, f) for f in CELL_FIELDS))
    points = summarize(results)
    for point in points:
        runs = by_cell[tuple(point[f] for f in CELL_FIELDS)]
        km = kaplan_meier(runs)
        point["median_ci_low"], point["median_ci_high"] = km.median_ci
        times = [r.steps_to_success for r in runs if r.success and r.steps_to_success is not None]
        point["median_success_steps"] = float(np.median(times)) if times else None
    return points


# --- the frontier m*(r) -------------------------------------------------------------------------

@dataclass(frozen=True)
class FrontierFit:
    """Where one success-vs-m curve crosses ``target``.

    ``status`` is ``"fitted"`` (m* inside the sampled range, with its 95% interval),
    ``"extrapolated"`` (the sampled cells straddle the target but the fitted crossing falls
    just outside their range; m* and its interval are given, but figures and the power law
    leave it out),
    ``"below_grid"`` (every sampled m already reaches the target: m* < ``m_min``),
    ``"above_grid"`` (no sampled m reaches it: m* > ``m_max``) or ``"not_increasing"`` (the
    fitted slope in log m is not positive, so there is no crossing from below). ``intercept``
    and ``slope`` are the Firth logistic coefficients in log10 m, with their covariance.
    """

    status: str
    m_star: float | None
    ci_low: float | None
    ci_high: float | None
    target: float
    intercept: float | None
    slope: float | None
    covariance: tuple | None
    m_min: int
    m_max: int
    cells: int
    runs: int

    def as_dict(self) -> dict:
        return asdict(self)


def firth_logistic(x, successes, trials, max_iter: int = 200, tol: float = 1e-10):
    r"""Firth-penalised logistic regression of grouped binomial data on one covariate.

    Maximises :math:`\ell(\beta) + \tfrac12 \log\det I(\beta)` (Firth 1993, Jeffreys prior),
    where :math:`\ell` is the binomial log-likelihood of ``successes`` out of ``trials`` with
    :math:`\operatorname{logit} p_i = \beta_0 + \beta_1 x_i` and :math:`I = X^\top W X`,
    :math:`W = \operatorname{diag}(n_i p_i (1 - p_i))`. Newton steps on the modified score
    :math:`X^\top (y - n p + h (1/2 - p))` (h: the hat values), halved until the penalised
    likelihood rises. Unlike the plain MLE it stays finite under complete separation (all
    failures below some m, all successes above), the usual case of a sharp frontier sampled
    with a few seeds. With two distinct x it reproduces the saturated model on counts + 1/2
    (tested).

    Returns
    -------
    (beta, covariance) : ndarray (2,), ndarray (2, 2)
        Coefficients and the inverse information at the estimate.
    """
    x = np.asarray(x, float)
    y = np.asarray(successes, float)
    m = np.asarray(trials, float)
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)

    def penalised(b):
        eta = design @ b
        info = (design * (m * _dlogistic(eta))[:, None]).T @ design
        sign, logdet = np.linalg.slogdet(info)
        if sign <= 0:
            return -np.inf
        # y log p + (m - y) log(1 - p), written with log_expit to stay finite for large |eta|.
        loglik = np.sum(y * special.log_expit(eta) + (m - y) * special.log_expit(-eta))
        return loglik + 0.5 * logdet

    current = penalised(beta)
    for _ in range(max_iter):
        eta = design @ beta
        p = special.expit(eta)
        w = m * p * (1 - p)
        info = (design * w[:, None]).T @ design
        cov = np.linalg.inv(info)
        hat = w * np.einsum("ij,jk,ik->i", design, cov, design)
        score = design.T @ (y - m * p + hat * (0.5 - p))
        step = cov @ score
        for _halving in range(30):
            trial = beta + step
            value = penalised(trial)
            if value >= current - 1e-12:
                break
            step = step / 2
        beta, current = trial, value
        if np.max(np.abs(step)) < tol:
            break
    eta = design @ beta
    info = (design * (m * _dlogistic(eta))[:, None]).T @ design
    return beta, np.linalg.inv(info)


def _dlogistic(eta):
    p = special.expit(eta)
    return p * (1 - p)


INTERVALS = ("delta", "fieller")


def fit_frontier(points: Sequence[dict], target: float = 0.5,
                 interval: str = "delta") -> FrontierFit:
    r"""Locate m*, the sample size where the success probability of one curve crosses target.

    Fits :math:`\operatorname{logit} P(\text{success} \mid m) = \beta_0 + \beta_1 \log_{10} m`
    (:func:`firth_logistic`) to the cells of one curve (same width, n, k, init, ...; online
    cells are left out, they have no m) and solves
    :math:`\log_{10} m^* = (\operatorname{logit}(\text{target}) - \beta_0) / \beta_1`. The 95%
    interval is the delta method on that ratio with the Firth covariance:

    .. math:: \operatorname{Var} \log_{10} m^* \approx g^\top \Sigma g, \quad
              g = -\frac{1}{\beta_1} (1, \log_{10} m^*).

    ``interval="fieller"`` gives Fieller's interval for the ratio instead (Finney, *Probit
    Analysis*, 1971, sec. 4.5): the :math:`x` with

    .. math:: (c - \beta_0 - \beta_1 x)^2 \le z^2 \, (\Sigma_{00} + 2 x \Sigma_{01}
              + x^2 \Sigma_{11}), \quad c = \operatorname{logit}(\text{target}),

    which widens (up to unbounded, ends None) as the slope becomes uncertain. The delta method
    ignores that, and undercovers when few runs sit near a steep crossing: 0.85 against 0.95
    nominal for the adaptive search of :mod:`verify.experiments.frontier_search`, which
    therefore uses Fieller (0.93-0.97 there at its defaults; tests/test_frontier_search.py).
    On a full grid of 16 seeds the two agree closely.

    A curve whose every cell is at or above the target (or at or below) has no crossing inside
    the sampled range; the status says so instead of extrapolating.

    Parameters
    ----------
    points : sequence of dict
        Cells of one curve with ``samples``, ``runs`` and ``successes`` (as from
        :func:`success_points`).
    target : float, default 0.5
        Success probability that defines the frontier, in (0, 1).
    interval : {"delta", "fieller"}
        How the 95% interval of m* is made.

    Returns
    -------
    FrontierFit

    Examples
    --------
    >>> cells = [{"samples": m, "runs": 16, "successes": s}
    ...          for m, s in [(100, 0), (300, 2), (1000, 9), (3000, 15), (10000, 16)]]
    >>> fit = fit_frontier(cells)
    >>> fit.status, 300 < fit.m_star < 3000, fit.ci_low < fit.m_star < fit.ci_high
    ('fitted', True, True)
    """
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    cells = [p for p in points if p["samples"] is not None]
    if not cells:
        raise ValueError("fit_frontier needs at least one cell with a finite sample size "
                         "(online cells have no m)")
    if len({p["samples"] for p in cells}) != len(cells):
        raise ValueError("fit_frontier takes one curve: each sample size once")
    cells.sort(key=lambda p: p["samples"])
    m_values = np.array([p["samples"] for p in cells], float)
    wins = np.array([p["successes"] for p in cells], float)
    runs = np.array([p["runs"] for p in cells], float)
    rates = wins / runs

    def result(status, m_star=None, ci_low=None, ci_high=None, beta=None, cov=None):
        return FrontierFit(status=status, m_star=m_star, ci_low=ci_low, ci_high=ci_high,
                           intercept=None if beta is None else float(beta[0]),
                           slope=None if beta is None else float(beta[1]),
                           covariance=None if cov is None else _tuple2(cov), target=target,
                           m_min=int(m_values[0]), m_max=int(m_values[-1]), cells=len(cells),
                           runs=int(runs.sum()))

    if np.all(rates >= target):
        return result("below_grid", ci_high=float(m_values[0]))
    if np.all(rates <= target):
        return result("above_grid", ci_low=float(m_values[-1]))
    x = np.log10(m_values)
    beta, cov = firth_logistic(x, wins, runs)
    if beta[1] <= 0:
        return result("not_increasing", beta=beta, cov=cov)
    log_m = (special.logit(target) - beta[0]) / beta[1]
    status = "fitted" if m_values[0] <= 10 ** log_m <= m_values[-1] else "extrapolated"
    if interval == "fieller":
        low, high = _fieller(special.logit(target), beta, cov)
        return result(status, float(10 ** log_m), None if low is None else _pow10(low),
                      None if high is None else _pow10(high), beta, cov)
    grad = -np.array([1.0, log_m]) / beta[1]
    half = _Z95 * math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return result(status, float(10 ** log_m), float(10 ** (log_m - half)),
                  float(10 ** (log_m + half)), beta, cov)


def _pow10(x: float) -> float | None:
    # an interval end beyond float range (10**x overflows or underflows to 0) is unbounded
    return float(10 ** x) if -300 < x < 300 else None


def _fieller(c: float, beta: np.ndarray, cov: np.ndarray) -> tuple:
    """Ends of Fieller's 95% set for x = (c - b0) / b1; None for an unbounded end."""
    b0, b1 = beta
    z2 = _Z95 ** 2
    # (c - b0 - b1 x)^2 - z^2 (v00 + 2 v01 x + v11 x^2) <= 0, a quadratic a x^2 + b x + d <= 0
    a = b1 * b1 - z2 * cov[1, 1]
    b = -2 * (c - b0) * b1 - 2 * z2 * cov[0, 1]
    d = (c - b0) ** 2 - z2 * cov[0, 0]
    disc = b * b - 4 * a * d
    if a <= 0 or disc < 0:  # the slope is not significantly positive: no bounded set
        return None, None
    root = math.sqrt(disc)
    return float((-b - root) / (2 * a)), float((-b + root) / (2 * a))


def _tuple2(cov: np.ndarray) -> tuple:
    return tuple(tuple(float(v) for v in row) for row in cov)


def frontier_table(points: Iterable[dict], target: float = 0.5,
                   interval: str = "delta") -> list[dict]:
    """:func:`fit_frontier` for every curve among ``points``: one row per curve.

    Each row has the :data:`CURVE_FIELDS` and the :class:`FrontierFit` fields, in first-seen
    order of the curves.
    """
    rows = []
    for key, cells in group_rows(points, curve_key).items():
        if all(c["samples"] is None for c in cells):
            continue
        fit = fit_frontier(cells, target, interval)
        rows.append({**dict(zip(CURVE_FIELDS, key, strict=True)), **fit.as_dict()})
    return rows


# --- scaling of m* with the width -----------------------------------------------------------------



