r"""Predicted frontiers on the grid of a sweep (SQ, one-step, Theorem 4/5), next to the data.

* :func:`sq_check` -- (a) Prop. 3's SQ bound per cell. A cell whose observed success rate is
  above :math:`\min(1, 2 r T m / \binom{n}{k})` beyond its Wilson interval would contradict the
  theorem (r = parameter count, T = the step budget, :math:`\tau = 1/\sqrt m`).
* :func:`onestep_predictions` -- (b) the lottery x one-step mechanism of
  :func:`simulate.onestep.simulate_onestep`: P(success | n, k, s, r, m) estimated by Monte Carlo
  per cell, and the m at which it crosses the target.
* :func:`theorem_frontier` -- (c) Theorems 4 / 5, whose constants the paper leaves open, with
  the constants fitted to the measured m* (the docstring states how many).

Each route returns plain rows (dicts) so reports and figures can use them directly.
:mod:`.prediction_verdicts` then judges each route against the data by a fixed rule
(consistent, refuted, or not testable here; docs/theory.md §5.7).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from parity_frontiers.theory.sq_bound import mlp_param_count, sq_max_success_probability
from parity_frontiers.theory.upper_bounds import (
    thm4_log10_samples,
    thm4_log10_width,
    thm5_log10_samples,
    thm5_log10_width,
)
from parity_frontiers.verify.analysis.frontier import CURVE_FIELDS, curve_key, group_rows
from parity_frontiers.verify.analysis.inits import support_size

__all__ = ["sq_check", "onestep_predictions", "crossing", "theorem_frontier",
           "mechanism_support", "cell_param_count", "sq_samples"]


def _check_points(points) -> list[dict]:
    points = list(points)
    if not points:
        raise ValueError("no grid cells to predict: the store or the grid is empty")
    return points


def sq_samples(point: dict) -> int:
    """The m of Prop. 3 for a cell: its training-set size, or for online training every sample
    the budget can draw (T x batch), the most generous reading of 'samples seen'."""
    if point["samples"] is not None:
        return int(point["samples"])
    return int(point["max_steps"]) * int(point["batch_size"])


def cell_param_count(point: dict) -> int:
    """Every trainable parameter of a cell's MLP: ``depth`` hidden layers of ``width`` and one
    output, with biases (:func:`theory.sq_bound.mlp_param_count`; equal to
    ``verify.training.model.param_count``, tested): r(n + 1) + (L - 1) r(r + 1) + r + 1."""
    return mlp_param_count(point["n"], [point["width"]] * int(point.get("depth", 1) or 1))


def sq_check(points: Iterable[dict]) -> list[dict]:
    r"""Prop. 3 for each cell: the largest success probability it allows against the data.

    .. math:: P(\text{success}) \le \min\Bigl(1, \frac{2\, r\, T\, m}{\binom{n}{k}}\Bigr),
              \quad \tau = 1/\sqrt{m}

    with r every parameter of the cell's MLP (:func:`cell_param_count`: all ``depth`` hidden
    layers, not only the first two, which would understate r for deeper nets), T its step
    budget and m its training-set size (online: T x batch, the samples the budget can draw).
    A cell contradicts the bound when the lower end of its Wilson interval exceeds the bound.

    Parameters
    ----------
    points : iterable of dict
        Cells as from :func:`verify.analysis.success_points`.

    Returns
    -------
    list of dict
        Per cell: the curve fields, ``samples``, ``params``, ``bound``, ``success_rate``,
        ``ci_low``, ``vacuous`` (bound = 1) and ``contradiction``.

    Examples
    --------
    >>> cell = dict(n=50, k=3, width=16, samples=100, max_steps=1000, batch_size=32,
    ...             success_rate=0.0, ci_low=0.0)
    >>> sq_check([cell])[0]["vacuous"]
    True
    """
    rows = []
    for point in _check_points(points):
        params = cell_param_count(point)
        bound = float(sq_max_success_probability(point["n"], point["k"], params,
                                                 point["max_steps"],
                                                 samples=sq_samples(point)))
        rows.append({**{f: point.get(f) for f in ("n", "k", "init", "s", "width", "samples",
                                                  "max_steps")},
                     "params": params, "bound": bound, "success_rate": point["success_rate"],
                     "ci_low": point["ci_low"], "vacuous": bound >= 1.0,
                     "contradiction": point["ci_low"] > bound})
    return rows


def mechanism_support(point: dict) -> int:
    """Support size of the idealised neurons for a cell: s for a sparse init law (any the
    registry marks sparse), n for a dense one (a dense +-1 neuron is the s = n case of the
    mechanism)."""
    return support_size(point)


def crossing(m_values: Sequence[float], probabilities: Sequence[float],
             target: float = 0.5) -> tuple[str, float | None]:
    r"""Where a success-vs-m curve first reaches ``target``, by linear interpolation in log m.

    Returns ``("inside", m)``, ``("below_grid", None)`` when the first m already reaches it, or
    ``("above_grid", None)`` when no m does.

    Examples
    --------
    >>> crossing([100, 1000], [0.0, 1.0])
    ('inside', 316.22776601683796)
    """
    m = np.asarray(m_values, float)
    p = np.asarray(probabilities, float)
    order = np.argsort(m)
    m, p = m[order], p[order]
    hits = np.flatnonzero(p >= target)
    if not hits.size:
        return "above_grid", None
    i = hits[0]
    if i == 0:
        return "below_grid", None
    x0, x1 = math.log10(m[i - 1]), math.log10(m[i])
    frac = (target - p[i - 1]) / (p[i] - p[i - 1])
    return "inside", float(10 ** (x0 + frac * (x1 - x0)))


#: Default work budget of :func:`onestep_predictions` per (n, k, init, s) group, in 64-sample
#: word operations (about a minute of one core): the paper's grid (widths to 1e5, m to 1e6,
#: dense n = 300) would otherwise take days for a prediction.
MAX_ONESTEP_WORK = 2e10
#: Fewer trials than this and the prediction is skipped (with its reason) rather than noise.
MIN_ONESTEP_TRIALS = 16


def onestep_predictions(points: Iterable[dict], trials: int = 200, seed: int = 0,
                        target: float = 0.5, progress: bool = False,
                        threads: int | None = None,
                        max_work: float = MAX_ONESTEP_WORK) -> dict:
    r"""(b) The lottery x one-step prediction of success on every offline cell of the grid.

    For each (n, k, init, s) of the grid, :func:`simulate.onestep.simulate_onestep` estimates
    P(some neuron of r selects S after one m-sample gradient step) over the grid's widths and
    sample sizes, with +-1 weights and bias 0 on s-sparse supports (s = n for dense init). Its
    crossing of ``target`` in m (:func:`crossing`) is the predicted frontier m* of each width.
    The mechanism needs s >= k - 1: for s < k - 1 no single step can select S and the rows say
    so instead of predicting.

    Parameters
    ----------
    points : iterable of dict
        Cells (:func:`verify.analysis.success_points`); online cells are skipped (no m).
    trials, seed, threads, progress
        Passed to ``simulate_onestep`` (trials per (width, m) cell; common random numbers
        across the grid).
    max_work : float
        Budget per group in word operations (trials x widest r x s x largest m / 64): the
        trials are reduced to fit it, and a group that cannot afford
        :data:`MIN_ONESTEP_TRIALS` is skipped with its reason (as is one the Monte Carlo
        refuses, e.g. above its memory cap). Each cell reports the trials it got.
    target : float
        Success probability that defines the predicted m*.

    Returns
    -------
    dict
        ``cells``: per (curve, m) the ``predicted`` probability with ``ci_low``/``ci_high``
        and ``p_lucky_selects``; ``curves``: per curve the predicted ``status`` and ``m_star``
        (see :func:`crossing`); ``skipped``: (n, k, init, s) with the reason.
    """
    from parity_frontiers.simulate.onestep import simulate_onestep

    offline = [p for p in _check_points(points) if p["samples"] is not None]
    groups = group_rows(offline, ("n", "k", "init", "s"))
    cells, curves, skipped = [], [], []
    for (n, k, init, s), group in groups.items():
        support = mechanism_support(group[0])
        if support < k - 1:
            skipped.append({"n": n, "k": k, "init": init, "s": s,
                            "reason": f"s = {support} < k - 1: one step cannot select S"})
            continue
        widths = sorted({p["width"] for p in group})
        samples = sorted({p["samples"] for p in group})
        # One trial evaluates max(width) neurons of `support` inputs on max(m) samples, 64 at a
        # time: scale the trials down to the budget rather than run for hours at paper scale.
        per_trial = widths[-1] * support * (samples[-1] / 64 + 1)
        group_trials = min(trials, int(max_work // per_trial))
        if group_trials < MIN_ONESTEP_TRIALS:
            skipped.append({"n": n, "k": k, "init": init, "s": s,
                            "reason": f"one trial costs {per_trial:.2g} word operations; "
                                      f"{MIN_ONESTEP_TRIALS} trials exceed the budget "
                                      f"max_work = {max_work:.2g}"})
            continue
        try:
            out = simulate_onestep(n, k, support, widths=widths, samples=samples,
                                   trials=group_trials, seed=seed, progress=progress,
                                   threads=threads)
        except ValueError as exc:  # e.g. above the Monte Carlo's memory cap
            skipped.append({"n": n, "k": k, "init": init, "s": s, "reason": str(exc)})
            continue
        by_cell = {(row["width"], row["samples"]): row for row in out["rows"]}
        for point in group:
            row = by_cell[(point["width"], point["samples"])]
            cells.append({**{f: point[f] for f in CURVE_FIELDS}, "samples": point["samples"],
                          "predicted": row["estimate"], "ci_low": row["ci_low"],
                          "ci_high": row["ci_high"],
                          "p_lucky_selects": row["p_lucky_selects"]["estimate"],
                          "trials": group_trials, "mechanism_s": support})
    for key, group in group_rows(cells, curve_key).items():
        status, m_star = crossing([c["samples"] for c in group],
                                  [c["predicted"] for c in group], target)
        curves.append({**dict(zip(CURVE_FIELDS, key, strict=True)), "status": status,
                       "m_star": m_star, "m_min": min(c["samples"] for c in group),
                       "m_max": max(c["samples"] for c in group)})
    return {"cells": cells, "curves": curves, "skipped": skipped, "trials": trials,
            "seed": seed, "target": target}


def _theorem_logs(n: int, k: int, support: int) -> tuple[str, float, float]:
    """(theorem, log10 width scale, log10 sample scale) at unit constants."""
    if support >= k:
        return ("Thm 4", float(thm4_log10_width(n, k, support)),
                float(thm4_log10_samples(n, k, support)))
    return ("Thm 5", float(thm5_log10_width(n, k, support)),
            float(thm5_log10_samples(n, k, support)))


def theorem_frontier(frontier_rows: Iterable[dict]) -> dict:
    r"""(c) Theorems 4 / 5 with their constants fitted to the measured frontier.

    For support s (s = n for dense init) the theorems put success at

    .. math:: r \ge c_2\, R(n, k, s), \qquad m \ge c_3\, M(n, k, s)

    with :math:`R = (n/s)^k, M = (s/k)^{k-1} n^2 \ln n` (Thm 4, s >= k) or
    :math:`R = (n/k)^s, M = (n/k)^{k-s-1}` (Thm 5, s < k); both give an m* that does not
    depend on the width once :math:`r \ge c_2 R`. The paper leaves :math:`c_2, c_3` open, so
    **two constants are fitted per init** (dense, and each sparse s):

    * :math:`c_3`: least squares in :math:`\log_{10}` over every fitted m*,
      :math:`\log_{10} c_3 = \operatorname{mean}(\log_{10} m^*_{\rm meas} - \log_{10} M)`;
    * :math:`c_2`: the largest value consistent with the data,
      :math:`c_2 = r_{\min} / R` with :math:`r_{\min}` the narrowest width whose m* is finite
      (fitted or below the grid) -- an upper bound on the constant, not an estimate.

    Theorems' side conditions (k, s even; s = Omega(k)) are not checked: the point is to test
    the *scaling* in n, k, s, which is what the fitted constants cannot absorb. With two or
    more n in the data, ``rows`` show whether one pair of constants fits all of them.

    Parameters
    ----------
    frontier_rows : iterable of dict
        :func:`verify.analysis.frontier_table` rows.

    Returns
    -------
    dict
        ``constants``: per init the theorem, ``c2_upper``, ``c3`` and the number of m* used;
        ``rows``: per curve the predicted ``m_star`` (None below the width threshold) and
        ``ratio`` = predicted / measured (fitted curves only); ``n_scaling``: per (init, width)
        with fitted m* at two or more n, the measured ratio m*(largest n) / m*(smallest n)
        against the theorem's, which the fitted constants cannot absorb.
    """
    rows = list(frontier_rows)
    constants, out_rows = [], []
    for (init, s), group in group_rows(rows, ("init", "s")).items():
        logs = {id(r): _theorem_logs(r["n"], r["k"], mechanism_support(r)) for r in group}
        fitted = [r for r in group if r["status"] == "fitted"]
        finite = [r for r in group if r["status"] in ("fitted", "below_grid")]
        log_c3 = (float(np.mean([math.log10(r["m_star"]) - logs[id(r)][2] for r in fitted]))
                  if fitted else None)
        log_c2 = (min(math.log10(r["width"]) - logs[id(r)][1] for r in finite)
                  if finite else None)
        constants.append({"init": init, "s": s,
                          "theorem": sorted({v[0] for v in logs.values()}),
                          "c2_upper": None if log_c2 is None else 10 ** log_c2,
                          "c3": None if log_c3 is None else 10 ** log_c3,
                          "fitted_from": len(fitted), "constants_fitted": 2})
        for r in group:
            theorem, log_width, log_samples = logs[id(r)]
            predicted = None
            if log_c3 is not None and log_c2 is not None \
                    and math.log10(r["width"]) >= log_c2 + log_width - 1e-12:
                predicted = 10 ** (log_c3 + log_samples)
            ratio = (predicted / r["m_star"]
                     if predicted is not None and r["status"] == "fitted" else None)
            out_rows.append({**{f: r[f] for f in CURVE_FIELDS}, "theorem": theorem,
                             "measured_status": r["status"], "measured": r["m_star"],
                             "predicted": predicted, "ratio": ratio})
    return {"constants": constants, "rows": out_rows, "n_scaling": _n_scaling(rows)}


def _n_scaling(rows: list[dict]) -> list[dict]:
    """Measured m*(n_high) / m*(n_low) per (init, s, k, width) against the theorem's ratio
    M(n_high) / M(n_low): the part of the prediction the fitted constants cannot absorb."""
    fitted = [r for r in rows if r["status"] == "fitted"]
    out = []
    for (init, s, k, width), group in group_rows(fitted, ("init", "s", "k", "width")).items():
        by_n = {r["n"]: r for r in group}
        if len(by_n) < 2:
            continue
        low, high = by_n[min(by_n)], by_n[max(by_n)]
        log_low = _theorem_logs(low["n"], k, mechanism_support(low))[2]
        log_high = _theorem_logs(high["n"], k, mechanism_support(high))[2]
        out.append({"init": init, "s": s, "k": k, "width": width, "n_low": low["n"],
                    "n_high": high["n"], "measured_ratio": high["m_star"] / low["m_star"],
                    "predicted_ratio": 10 ** (log_high - log_low)})
    return out
