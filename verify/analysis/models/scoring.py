r"""Scoring a fitted frontier model on runs it was not fitted to, by a rule fixed in advance.

For a fitted model and a set of runs (:func:`score_model`):

* ``log_likelihood_per_run``: the runs' Bernoulli log-likelihood at the fitted parameters
  over the number of runs, P clipped to [1e-6, 1 - 1e-6] (:data:`.fit.LOG_CLIP`);
* ``baseline_log_likelihood_per_run``: the same for the baseline that knows nothing of m or n:
  one constant success rate per (width, init, s), fitted on the scored runs themselves (so it
  is favoured: it sees the answers);
* ``cells``: per grid cell the observed successes out of its runs, the model's P with its 95%
  bootstrap band, and the 95% **predictive** band of the count: the central 95% interval of
  the mixture over bootstrap draws b of Binomial(runs, P_b) (parameter uncertainty plus
  binomial sampling noise): the smallest count whose mixture CDF reaches 2.5%, and the
  smallest whose CDF reaches 97.5%. ``inside``: the observed count lies in it;
* ``fraction_inside``: inside cells / cells;
* ``m_star_coverage``: over the curves (every config field but m and seed) whose Firth m*
  (:func:`verify.analysis.frontier.fit_frontier`, Fieller interval) has status "fitted", the
  fraction whose Firth 95% interval **overlaps** the model's 95% bootstrap interval of m*
  (unbounded ends count as unbounded; a model m* with no crossing below 1e12 is the interval
  [its lower end, inf)). ``m_star_contains`` is the stricter fraction whose Firth interval
  contains the model's point m*.

**Verdict** (:data:`VERDICT_RULE`, fixed before any held-out run was trained): ``rejected`` if

1. ``log_likelihood_per_run`` <= ``baseline_log_likelihood_per_run``, or
2. the number of inside cells is below the 1% quantile of Binomial(cells, 0.95) (the count a
   calibrated 95% band would fall below once in 100 held-out sets, were the cells
   independent),

and ``consistent`` otherwise. ``m_star_coverage`` is reported, not used by the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from parity_frontiers.verify.analysis.frontier import (
    CURVE_FIELDS,
    frontier_table,
    success_points,
)
from parity_frontiers.verify.config import RunResult

from .data import RunTable
from .fit import LOG_CLIP, FittedModel

__all__ = ["score_model", "VERDICT_RULE", "NOMINAL_COVERAGE", "INSIDE_ALPHA", "NEAR_FACTOR",
           "inside_threshold", "predictive_band"]

NOMINAL_COVERAGE = 0.95
INSIDE_ALPHA = 0.01
#: Scoring refuses runs whose n or width lies beyond this factor outside the fitted range.
NEAR_FACTOR = 2.0
VERDICT_RULE = (
    "rejected if (1) the log-likelihood per run (P clipped to [1e-6, 1 - 1e-6]) is not above "
    "the baseline's (one constant success rate per (width, init, s) fitted on the scored runs "
    "themselves), or (2) fewer cells than the 1% quantile of Binomial(cells, 0.95) have their "
    "observed success count inside the model's 95% predictive band (mixture over seed-cluster "
    "bootstrap draws of Binomial(runs, P)); consistent otherwise. m_star_coverage is reported, "
    "not used.")


def inside_threshold(cells: int) -> int:
    """Fewest inside cells a ``consistent`` verdict allows: the 1% quantile of
    Binomial(cells, 0.95)."""
    return int(stats.binom.ppf(INSIDE_ALPHA, cells, NOMINAL_COVERAGE))


def predictive_band(runs: int, draws: np.ndarray) -> tuple[int, int]:
    """Central 95% interval of the count under the mixture of Binomial(runs, p) over ``draws``
    of p."""
    counts = np.arange(runs + 1)
    pmf = stats.binom.pmf(counts[None, :], runs, np.atleast_1d(draws)[:, None]).mean(axis=0)
    cdf = np.cumsum(pmf)
    low = int(np.searchsorted(cdf, 0.025 - 1e-12))
    high = int(np.searchsorted(cdf, 0.975 - 1e-12))
    return low, min(high, runs)


def _check_near(fitted: FittedModel, table: RunTable) -> None:
    n_low, n_high = fitted.data["n_range"]
    widths = fitted.data["widths"]
    for name, values, low, high in (("n", table.cells["n"], n_low, n_high),
                                    ("width", table.cells["width"], min(widths), max(widths))):
        far = [int(v) for v in np.unique(values)
               if v < low / NEAR_FACTOR or v > high * NEAR_FACTOR]
        if far:
            raise ValueError(f"the runs have {name} = {far}, beyond a factor {NEAR_FACTOR:g} "
                             f"of the fitted range {low}..{high}: the model was never fitted "
                             "near these sizes")


def _log_lik_baseline(table: RunTable) -> float:
    c = table.cells
    group = [(int(w), str(i), int(s))
             for w, i, s in zip(c["width"], c["init"], c["s"], strict=True)]
    ids = {g: i for i, g in enumerate(dict.fromkeys(group))}
    gid = np.array([ids[g] for g in group])[table.cell_index]
    succ = np.bincount(gid, table.success)
    runs = np.bincount(gid)
    rate = np.clip(succ / runs, LOG_CLIP, 1 - LOG_CLIP)
    return float(np.sum(succ * np.log(rate) + (runs - succ) * np.log1p(-rate)))


def _overlap(a_low, a_high, b_low, b_high) -> bool:
    low = max(v for v in (a_low, b_low, -math.inf) if v is not None)
    high = min(v for v in (a_high, b_high, math.inf) if v is not None)
    return low <= high


def score_model(fitted: FittedModel, results: Sequence[RunResult], target: float = 0.5) -> dict:
    """Score ``fitted`` on ``results`` (see the module docstring for every key)."""
    results = list(results)
    table = RunTable.from_results(results)
    fitted.check_covered(table.cells)
    _check_near(fitted, table)
    if not len(fitted.draws):
        raise ValueError("the model file has no bootstrap draws: refit with --bootstrap >= 1 "
                         "to score it")
    runs = table.runs
    log_lik = fitted.log_likelihood(table) / runs
    baseline = _log_lik_baseline(table) / runs
    succ, trials = table.counts()
    p = fitted.probability(table.cells)
    draws = fitted.draw_probabilities(table.cells)
    p_low, p_high = np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)
    cells = []
    for i, key in enumerate(table.keys):
        band = predictive_band(int(trials[i]), draws[:, i])
        config = dict(zip(CURVE_FIELDS + ("samples",), key, strict=True))
        cells.append({**{f: config[f] for f in ("n", "k", "width", "init", "s", "samples",
                                                "max_steps")},
                      "observed": int(succ[i]), "runs": int(trials[i]),
                      "p_success": float(p[i]), "p_low": float(p_low[i]),
                      "p_high": float(p_high[i]), "band_low": band[0], "band_high": band[1],
                      "inside": band[0] <= succ[i] <= band[1]})
    inside = sum(c["inside"] for c in cells)
    curves = _m_star_rows(fitted, results, target)
    judged = [c for c in curves if c["firth_status"] == "fitted"]
    threshold = inside_threshold(len(cells))
    reasons = []
    if not log_lik > baseline:
        reasons.append(f"log-likelihood per run {log_lik:.4f} is not above the baseline's "
                       f"{baseline:.4f}")
    if inside < threshold:
        reasons.append(f"{inside} of {len(cells)} cells inside their 95% predictive band, "
                       f"fewer than the {threshold} the rule allows")
    return {"model": fitted.model, "runs": runs, "target": target,
            "log_likelihood_per_run": log_lik, "baseline_log_likelihood_per_run": baseline,
            "cells": cells, "cells_inside": inside, "fraction_inside": inside / len(cells),
            "inside_threshold": threshold,
            "m_star_curves": curves, "m_star_judged": len(judged),
            "m_star_coverage": (sum(c["overlap"] for c in judged) / len(judged)
                                if judged else None),
            "m_star_contains": (sum(c["contains"] for c in judged) / len(judged)
                                if judged else None),
            "verdict": "rejected" if reasons else "consistent", "reasons": reasons,
            "verdict_rule": VERDICT_RULE}


def _m_star_rows(fitted: FittedModel, results, target) -> list[dict]:
    rows = []
    for row in frontier_table(success_points(results), target, interval="fieller"):
        model = fitted.m_star(row["n"], row["k"], row["width"], row["init"], row["s"],
                              row["max_steps"], row["batch_size"], target)
        point, low, high = model.pop("m_star_raw")
        fitted_curve = row["status"] == "fitted"
        rows.append({**{f: row[f] for f in ("n", "k", "width", "init", "s")},
                     "firth_status": row["status"], "firth_m_star": row["m_star"],
                     "firth_low": row["ci_low"], "firth_high": row["ci_high"], **model,
                     "overlap": fitted_curve and _overlap(low, high, row["ci_low"],
                                                          row["ci_high"]),
                     "contains": fitted_curve and _overlap(point, point, row["ci_low"],
                                                           row["ci_high"])})
    return rows
