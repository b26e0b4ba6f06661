"""Steps to success as a survival problem: a run that did not succeed within its budget is
right-censored at ``max_steps``, never dropped (Kaplan-Meier, docs/theory.md §5).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from parity_frontiers.verify.analysis.summaries import median_steps_to_success
from parity_frontiers.verify.config import RunResult

__all__ = ["KaplanMeier", "kaplan_meier"]


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve of P(not yet succeeded by step t).

    ``times`` are the distinct success steps; ``survival[i]`` is the estimate just after
    ``times[i]`` and ``ci_low``/``ci_high`` its pointwise 95% interval (Greenwood, log-log).
    ``median`` is :func:`~.summaries.median_steps_to_success`: the first step with survival
    <= 1/2, except where the curve sits at exactly 1/2 between two success steps, where it is
    their midpoint (so the ordinary median when every run succeeds; 250 for events at 100,
    200, 300 of four runs); None when survival stays above 1/2 within the budget, and the
    first step at 1/2 when exactly half the runs succeeded. ``median_ci`` inverts the band:
    the first steps at which the lower and the upper curve drop to 1/2 (None where a curve
    never does: the bound is only known to exceed ``max_steps``).
    """

    times: tuple
    survival: tuple
    ci_low: tuple
    ci_high: tuple
    median: float | None
    median_ci: tuple
    runs: int
    successes: int
    max_steps: int

    def as_dict(self) -> dict:
        return asdict(self)


def kaplan_meier(results: Sequence[RunResult]) -> KaplanMeier:
    r"""Kaplan-Meier estimate of the steps-to-success distribution of one grid cell.

    A run that succeeded is an event at ``steps_to_success``; every other run (budget spent,
    diverged) is right-censored at ``max_steps``: it did not succeed within the budget, which
    is all its data says. The estimator is

    .. math:: \hat S(t) = \prod_{t_i \le t} \Bigl(1 - \frac{d_i}{n_i}\Bigr)

    with Greenwood's variance and the log-log interval (scipy.stats.ecdf on
    :class:`scipy.stats.CensoredData`). All runs of one cell share ``max_steps``, so every
    censoring comes after every event and :math:`\hat S` is the plain fraction of runs not yet
    succeeded; the interval is what the library adds.

    Parameters
    ----------
    results : sequence of RunResult
        Runs of one cell (same config up to the seed); at least one.

    Returns
    -------
    KaplanMeier

    Examples
    --------
    >>> from parity_frontiers.verify.config import RunConfig, RunResult
    >>> def run(seed, steps):
    ...     config = RunConfig(n=8, k=2, width=4, seed=seed, max_steps=1000)
    ...     return RunResult(config, steps is not None, steps, 0.0, 0.0,
    ...                      "success" if steps else "max_steps", steps or 1000)
    >>> km = kaplan_meier([run(0, 100), run(1, 300), run(2, None), run(3, 200)])
    >>> km.times, km.survival, km.median
    ((100, 200, 300), (0.75, 0.5, 0.25), 250)
    """
    results = list(results)
    if not results:
        raise ValueError("kaplan_meier needs at least one run")
    budgets = {r.config.max_steps for r in results}
    if len(budgets) != 1:
        raise ValueError(f"runs of one cell must share max_steps, got {sorted(budgets)}")
    max_steps = budgets.pop()
    events = sorted(r.steps_to_success for r in results
                    if r.success and r.steps_to_success is not None)
    censored = len(results) - len(events)
    if not events:
        return KaplanMeier((), (), (), (), None, (None, None), len(results), 0, max_steps)
    data = stats.CensoredData(uncensored=np.asarray(events, float),
                              right=np.full(censored, float(max_steps)))
    sf = stats.ecdf(data).sf
    times = sf.quantiles
    survival = sf.probabilities
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # scipy warns where the estimate is 0 or 1 and the log-log band is undefined.
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(0.95, method="log-log")
    keep = np.isin(times, events)  # the censoring time is not a step of the curve
    times, survival = times[keep], survival[keep]
    low, high = band.low.probabilities[keep], band.high.probabilities[keep]
    # Where the estimate drops to 0 (the last event of a cell where every run succeeded) the
    # log-log band is undefined (nan), and the estimate is not exact: bound the survival of the
    # d runs still at risk by Clopper-Pearson with 0 of d surviving, 1 - 0.025**(1/d), times
    # the curve just before. One run alone then gives no upper limit (0.975 > 1/2).
    for i in np.flatnonzero(np.isnan(high)):
        at_risk = sum(e >= times[i] for e in events) + censored
        before = survival[i - 1] if i > 0 else 1.0
        high[i] = before * (1.0 - 0.025 ** (1.0 / at_risk))
    low = np.where(np.isnan(low), 0.0, low)
    return KaplanMeier(
        times=tuple(int(t) for t in times), survival=tuple(float(p) for p in survival),
        ci_low=tuple(float(p) for p in low), ci_high=tuple(float(p) for p in high),
        median=median_steps_to_success(results), median_ci=(_first_at_most_half(times, low),
                                                    _first_at_most_half(times, high)),
        runs=len(results), successes=len(events), max_steps=max_steps)


def _first_at_most_half(times: np.ndarray, curve: np.ndarray) -> int | None:
    below = np.flatnonzero(curve <= 0.5 + 1e-12)
    return int(times[below[0]]) if below.size else None
