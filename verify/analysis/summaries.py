"""Per-cell summaries of stored runs: success rate with its Wilson interval, and the
Kaplan-Meier median of the steps to success (docs/theory.md §5).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.verify.config import RunResult, group_by_shape

__all__ = ["summarize", "median_steps_to_success"]


def summarize(results: Iterable[RunResult]) -> list[dict]:
    """Success rate per grid point (runs sharing a shape key), with the Wilson 95% interval.

    Each entry has the point's config fields (no seed), ``runs``, ``successes``,
    ``success_rate``, ``ci_low``, ``ci_high`` and ``median_steps_to_success``, in first-seen
    order.

    ``median_steps_to_success`` is the Kaplan-Meier median over *all* the point's runs (see
    :func:`median_steps_to_success`): a run that did not succeed counts as right-censored at
    ``max_steps``, not as absent, so the median does not flatter a point where most runs fail.
    It is None when the median is not reached within ``max_steps`` (fewer than half the runs
    succeeded): the median time to success is then only known to exceed ``max_steps``.
    """
    points = []
    for group in group_by_shape(results, lambda result: result.config):
        config = {k: v for k, v in group[0].config.as_dict().items() if k != "seed"}
        wins = sum(bool(r.success) for r in group)
        estimate = proportion_estimate(wins, len(group))
        points.append({**config, "runs": len(group), "successes": wins,
                       "success_rate": estimate.estimate, "ci_low": estimate.ci_low,
                       "ci_high": estimate.ci_high,
                       "median_steps_to_success": median_steps_to_success(group)})
    return points


def median_steps_to_success(results: Sequence[RunResult]) -> int | float | None:
    """Kaplan-Meier median of the steps to success of runs of one config (and max_steps).

    A run that succeeded is an event at its ``steps_to_success``; any other run (max_steps,
    diverged) is right-censored at ``max_steps`` -- it did not succeed within the budget. All
    the censoring is at ``max_steps``, after every event, so the Kaplan-Meier survival curve is
    the empirical one with the censored runs at +inf: S(t) = #(runs not succeeded by t) / N.
    The median is the first t with S(t) <= 1/2 (the midpoint of the two middle success times
    when S is exactly 1/2 between them, which is the ordinary median when every run succeeds),
    and None when S stays above 1/2 up to ``max_steps``: fewer than half the runs succeeded,
    so the median is only known to exceed ``max_steps``. Agrees with
    ``scipy.stats.ecdf(scipy.stats.CensoredData(uncensored=..., right=...))`` (tested).
    """
    times = sorted(r.steps_to_success if r.success and r.steps_to_success is not None
                   else math.inf for r in results)
    if not times:
        return None
    half = (len(times) + 1) // 2  # 1-based rank where S first drops to <= 1/2
    median = times[half - 1]
    if median == math.inf:
        return None
    if len(times) % 2 == 0 and times[half] != math.inf:
        total = median + times[half]
        # an integer step where the midpoint is one (JSON keeps counts integral)
        return total // 2 if total % 2 == 0 else total / 2
    return median
