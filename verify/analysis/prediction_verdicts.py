r"""Each prediction of :mod:`.predictions` judged against the data (docs/theory.md §5.7).

* :func:`sq_verdict` -- (a) Prop. 3: can any cell contradict it at all?
* :func:`onestep_verdict` -- (b) the lottery x one-step m* against the measured m*;
* :func:`n_scaling_verdict` -- (c) Theorems 4 / 5's m* ratio between two n, the only part the
  fitted constants cannot absorb, with a bootstrap over seeds.

Each returns its ``verdict`` (:data:`PREDICTION_VERDICTS`), the ``rule`` (a ``RULE_*``
constant, fixed before the data) and the numbers behind it; :func:`prediction_verdicts` runs
all three for the report. A prediction the grid cannot contradict is *not testable here*, not
*consistent*; a failed prediction is *refuted*, whatever the reason it fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import special, stats

from parity_frontiers.theory.binomial import log10_comb
from parity_frontiers.theory.lottery import p_at_least_one_lucky
from parity_frontiers.verify.analysis.frontier import curve_key, fit_frontier, group_rows
from parity_frontiers.verify.analysis.inits import is_sparse
from parity_frontiers.verify.analysis.paired import ALPHA, NOT_TESTABLE, init_label, seed_cells
from parity_frontiers.verify.analysis.predictions import (
    cell_param_count,
    crossing,
    mechanism_support,
    sq_samples,
)

__all__ = ["PREDICTION_VERDICTS", "THEOREM_BOOTSTRAP", "RULE_SQ", "RULE_ONESTEP",
           "RULE_N_SCALING", "sq_verdict", "onestep_verdict", "n_scaling_verdict",
           "prediction_verdicts"]

#: Verdicts of a prediction against the data.
PREDICTION_VERDICTS = ("consistent", "refuted", NOT_TESTABLE)
#: Bootstrap resamples over seeds behind the Theorem 4/5 n-scaling verdict.
THEOREM_BOOTSTRAP = 1000


RULE_SQ = (
    "per (n, k): a cell can contradict Prop. 3 only if its bound min(1, 2 r T m / C(n, k)) is "
    "below the largest Wilson 95% lower end its runs allow (all runs successful); refuted if "
    "some cell's Wilson lower end exceeds its bound, consistent if some cell could have and "
    "none did, not testable here if no cell could")


def sq_verdict(points: Iterable[dict]) -> dict:
    r"""(a) Prop. 3 against the grid, per (n, k), by :data:`RULE_SQ`.

    Reports the smallest unclipped value of :math:`2 r T m / \binom{n}{k}` on the grid (r
    counting every parameter, :func:`cell_param_count`): where it is far above 1 the bound
    allows every outcome and the check cannot fail (on the cpu grid about 1.7e5 at its
    smallest), so the verdict is :data:`~verify.analysis.findings.NOT_TESTABLE`, not
    *consistent*.
    """
    from parity_frontiers.simulate.estimates import proportion_estimate

    problems = []
    for (n, k), group in sorted(group_rows(list(points), ("n", "k")).items()):
        log_c = float(log10_comb(n, k))
        rows, testable, contradictions = [], 0, []
        for point in group:
            params = cell_param_count(point)
            samples = sq_samples(point)
            log_ratio = (math.log10(2) + math.log10(params) + math.log10(point["max_steps"])
                         + math.log10(samples) - log_c)
            bound = min(1.0, 10 ** min(log_ratio, 0.0))
            best_low = proportion_estimate(point["runs"], point["runs"]).ci_low
            can_fail = bound < best_low
            testable += can_fail
            if point["ci_low"] > bound:
                contradictions.append({"width": point["width"], "samples": point["samples"],
                                       "init": init_label(point), "bound": bound,
                                       "ci_low": point["ci_low"]})
            rows.append((log_ratio, point, params))
        log_ratio, smallest, params = min(rows, key=lambda r: r[0])
        verdict = ("refuted" if contradictions else "consistent" if testable else NOT_TESTABLE)
        problems.append({"n": n, "k": k, "verdict": verdict, "cells": len(group),
                         "cells_that_could_contradict": testable,
                         "contradictions": contradictions,
                         "smallest_ratio": 10 ** log_ratio,
                         "smallest_ratio_cell": {"width": smallest["width"],
                                                 "samples": smallest["samples"],
                                                 "steps": smallest["max_steps"],
                                                 "params": params}})
    return {"name": "SQ lower bound (Prop. 3)", "rule": RULE_SQ,
            "verdict": _combine_predictions(p["verdict"] for p in problems),
            "problems": problems}


def _combine_predictions(verdicts) -> str:
    verdicts = [v for v in verdicts if v != NOT_TESTABLE]
    if not verdicts:
        return NOT_TESTABLE
    return "refuted" if "refuted" in verdicts else "consistent"


RULE_ONESTEP = (
    "per (n, k) and curve: the predicted m* interval runs from the crossing of the target by "
    "the Monte Carlo's upper 95% band to that of its lower band (< m_min or > m_max where a "
    "band does not cross inside the grid); the measured m* interval is the delta-method "
    "interval at Bonferroni level 1 - 0.05/(curves compared in (n, k)) ([0, m_min] or "
    "[m_max, inf) when the data do not cross inside the grid); refuted if the two intervals "
    "are disjoint for some curve, consistent if they overlap for every curve compared, not "
    "testable here if no curve can be compared")


def _predicted_interval(cells: list[dict], target: float) -> tuple:
    m = [c["samples"] for c in cells]
    low_status, low = crossing(m, [c["ci_high"] for c in cells], target)
    high_status, high = crossing(m, [c["ci_low"] for c in cells], target)
    lo = {"inside": low, "below_grid": 0.0, "above_grid": float(max(m))}[low_status]
    hi = {"inside": high, "below_grid": float(min(m)), "above_grid": None}[high_status]
    return lo, hi


def _measured_interval(row: dict, z: float) -> tuple | None:
    if row["status"] in ("fitted", "extrapolated"):
        b0, b1 = row["intercept"], row["slope"]
        cov = np.asarray(row["covariance"], float)
        log_m = (special.logit(row["target"]) - b0) / b1
        grad = -np.array([1.0, log_m]) / b1
        half = z * math.sqrt(max(float(grad @ cov @ grad), 0.0))
        return float(10 ** (log_m - half)), float(10 ** (log_m + half))
    if row["status"] == "below_grid":
        return 0.0, float(row["m_min"])
    if row["status"] == "above_grid":
        return float(row["m_max"]), None
    return None  # not increasing: no m* to compare


def onestep_verdict(onestep: dict, frontier: Sequence[dict], alpha: float = ALPHA) -> dict:
    """(b) The lottery x one-step prediction against the measured m*, by :data:`RULE_ONESTEP`.

    Each compared curve reports both intervals, the predicted success at the grid's largest
    m and, from :func:`theory.lottery.p_at_least_one_lucky`, P(at least one lucky neuron)
    among its r neurons (s = n for dense, where every neuron is 'lucky'): where that is far
    below the target the mechanism cannot reach it at any m, whatever the data show.
    """
    measured = {curve_key(row): row for row in frontier}
    cells = group_rows(onestep["cells"], curve_key)
    problems = []
    by_problem = group_rows(onestep["curves"], ("n", "k"))
    skipped = {(s["n"], s["k"]) for s in onestep.get("skipped", [])}
    for (n, k) in sorted(set(by_problem) | skipped):
        curves = [c for c in by_problem.get((n, k), []) if curve_key(c) in measured
                  and _measured_interval(measured[curve_key(c)], 1.96) is not None]
        if not curves:
            problems.append({"n": n, "k": k, "verdict": NOT_TESTABLE,
                             "reason": "no curve with both a prediction and a measured m*"})
            continue
        z = float(stats.norm.ppf(1 - alpha / (2 * len(curves))))
        rows = []
        for curve in curves:
            row = measured[curve_key(curve)]
            own = sorted(cells[curve_key(curve)], key=lambda c: c["samples"])
            p_lo, p_hi = _predicted_interval(own, onestep["target"])
            m_lo, m_hi = _measured_interval(row, z)
            disjoint = ((p_hi is not None and p_hi < m_lo)
                        or (m_hi is not None and m_hi < p_lo))
            support = mechanism_support(curve)
            rows.append({"init": init_label(curve), "width": curve["width"],
                         "predicted_status": curve["status"], "predicted_m_star":
                         curve["m_star"], "predicted_interval": [p_lo, p_hi],
                         "measured_status": row["status"], "measured_m_star": row["m_star"],
                         "measured_interval": [m_lo, m_hi],
                         "predicted_at_largest_m": own[-1]["predicted"],
                         "p_any_lucky": float(p_at_least_one_lucky(n, k, support,
                                                                   curve["width"])),
                         "refuted": bool(disjoint)})
        problems.append({"n": n, "k": k,
                         "verdict": "refuted" if any(r["refuted"] for r in rows)
                         else "consistent", "level": 1 - alpha / len(curves),
                         "curves": rows, "refuted_curves": sum(r["refuted"] for r in rows)})
    return {"name": "lottery x one-step mechanism", "rule": RULE_ONESTEP,
            "verdict": _combine_predictions(p["verdict"] for p in problems),
            "problems": problems}


RULE_N_SCALING = (
    "per (init, k): the geometric mean over widths (fitted m* at both n) of "
    "m*(n_high) / m*(n_low), with a percentile bootstrap over seeds (the same resampled seeds "
    "for every cell, m* refitted; level 1 - 0.05/(groups)); refuted if that interval excludes "
    "the theorem's ratio M(n_high) / M(n_low), consistent otherwise; not testable here with "
    "one n or no width fitted at two n")


def _log10_m_star(cells: list[dict], target: float) -> float:
    fit = fit_frontier(cells, target)
    if fit.status in ("fitted", "extrapolated"):
        return math.log10(fit.m_star)
    return {"below_grid": -math.inf, "above_grid": math.inf}.get(fit.status, math.nan)


def _quantiles(values: np.ndarray, level: float) -> tuple:
    """Percentile interval, conservative about undefined replicates (nan counts as -inf for
    the lower end and +inf for the upper); order statistics, no interpolation; None for an
    unbounded end."""
    tail = (1 - level) / 2
    low = float(np.quantile(np.where(np.isnan(values), -np.inf, values), tail,
                            method="lower"))
    high = float(np.quantile(np.where(np.isnan(values), np.inf, values), 1 - tail,
                             method="higher"))
    return (None if not math.isfinite(low) else low, None if not math.isfinite(high) else high)


def n_scaling_verdict(results: Iterable, theorem: dict, target: float = 0.5, seed: int = 0,
                      bootstrap: int = THEOREM_BOOTSTRAP, alpha: float = ALPHA) -> dict:
    r"""(c) Theorems 4 / 5's n-scaling against the data, by :data:`RULE_N_SCALING`.

    The one part of the theorems the fitted constants cannot absorb is how m* changes with n at
    fixed (init, k, width): :math:`M(n_{\rm high}) / M(n_{\rm low})` (8.87 for dense from
    n = 30 to 50 at k = 3, 1 for sparse s = 2 under Theorem 5). The bootstrap resamples seeds
    with replacement -- one draw of seeds applied to every cell, since a seed recurs in every
    cell -- and refits each curve's m* (:func:`verify.analysis.fit_frontier`); replicates
    where a curve has no crossing count as unbounded in the direction that widens the
    interval. The theorems' side conditions (k and s even; dense covered by neither) are
    reported, not required: this tests their scaling read as a prediction.
    """
    scaling = theorem.get("n_scaling", [])
    groups = group_rows(scaling, ("init", "s", "k"))
    if not groups:
        return {"name": "Theorem 4/5 n-scaling", "rule": RULE_N_SCALING, "verdict": NOT_TESTABLE,
                "groups": [], "reason": "no width has a fitted m* at two or more n"}
    offline = [c for c in seed_cells(results) if c["samples"] is not None]
    curves = group_rows(offline, ("n", "k", "init", "s", "width"))
    seeds = sorted({s for c in offline for s in c["outcomes"]})
    index = {s: i for i, s in enumerate(seeds)}

    def matrices(key):
        cells = sorted(curves[key], key=lambda c: c["samples"])
        won = np.zeros((len(cells), len(seeds)))
        ran = np.zeros_like(won)
        for i, cell in enumerate(cells):
            for s, (ok, _) in cell["outcomes"].items():
                ran[i, index[s]] = 1
                won[i, index[s]] = ok
        return [c["samples"] for c in cells], won, ran

    needed = {}
    for row in scaling:
        for n in (row["n_low"], row["n_high"]):
            key = (n, row["k"], row["init"], row["s"], row["width"])
            needed[key] = matrices(key)
    rng = np.random.default_rng(seed)
    draws = np.stack([np.bincount(rng.integers(0, len(seeds), len(seeds)),
                                  minlength=len(seeds)) for _ in range(bootstrap)])
    logs = {}
    for key, (m, won, ran) in needed.items():
        wins, runs = won @ draws.T, ran @ draws.T  # cells x bootstrap
        logs[key] = np.array([_log10_m_star(
            [{"samples": m[i], "successes": int(wins[i, b]), "runs": int(runs[i, b])}
             for i in range(len(m)) if runs[i, b] > 0], target) for b in range(bootstrap)])
    level = 1 - alpha / len(groups)
    out = []
    for (init, s, k), rows in groups.items():
        widths, replicate = [], []
        for row in rows:
            low = logs[(row["n_low"], k, init, s, row["width"])]
            high = logs[(row["n_high"], k, init, s, row["width"])]
            with np.errstate(invalid="ignore"):
                diff = high - low
            replicate.append(diff)
            lo, hi = _quantiles(diff, 0.95)
            widths.append({"width": row["width"], "measured_ratio": row["measured_ratio"],
                           "interval_95": [None if lo is None else 10 ** lo,
                                           None if hi is None else 10 ** hi]})
        with np.errstate(invalid="ignore"):
            mean_log = np.mean(np.vstack(replicate), axis=0)
        lo, hi = _quantiles(mean_log, level)
        predicted = rows[0]["predicted_ratio"]
        log_pred = math.log10(predicted)
        refuted = (lo is not None and log_pred < lo) or (hi is not None and log_pred > hi)
        dense = not is_sparse({"init": init, "s": s})
        support = rows[0]["n_low"] if dense else s
        theorem_name = "Thm 4" if (dense or s >= k) else "Thm 5"
        conditions = []
        if dense:
            conditions.append(f"{init} init is covered by neither theorem")
        if k % 2:
            conditions.append(f"k = {k} is odd ({theorem_name} assumes k even)")
        if theorem_name == "Thm 5" and support % 2:
            conditions.append(f"s = {support} is odd (Thm 5 assumes s even)")
        geo = 10 ** float(np.mean([math.log10(r["measured_ratio"]) for r in rows]))
        out.append({"init": init, "s": s, "k": k, "theorem": theorem_name,
                    "n_low": rows[0]["n_low"], "n_high": rows[0]["n_high"],
                    "widths": widths, "measured_ratio": geo,
                    "interval": [None if lo is None else 10 ** lo,
                                 None if hi is None else 10 ** hi],
                    "level": level, "predicted_ratio": predicted,
                    "verdict": "refuted" if refuted else "consistent",
                    "bootstrap": bootstrap, "seeds": len(seeds),
                    "outside_conditions": conditions})
    return {"name": "Theorem 4/5 n-scaling", "rule": RULE_N_SCALING,
            "verdict": _combine_predictions(g["verdict"] for g in out), "groups": out}


def prediction_verdicts(results: Iterable, points: Sequence[dict], frontier: Sequence[dict],
                        onestep: dict, theorem: dict, *, target: float = 0.5, seed: int = 0,
                        bootstrap: int = THEOREM_BOOTSTRAP) -> dict:
    """The three predictions judged: ``sq`` (:func:`sq_verdict`), ``onestep``
    (:func:`onestep_verdict`) and ``n_scaling`` (:func:`n_scaling_verdict`)."""
    return {"sq": sq_verdict(points), "onestep": onestep_verdict(onestep, frontier),
            "n_scaling": n_scaling_verdict(results, theorem, target=target, seed=seed,
                                           bootstrap=bootstrap)}
