"""Every table of the theory-vs-experiment report, computed from a results store (no drawing).

:func:`analyze` turns stored runs into the report's tables: cells, measured frontier, its power
law in the width, the three predictions with their verdicts, the paper's findings judged per
(n, k), and what the store lacks. :mod:`figures.report` draws and writes them; the
``report`` and ``plot`` commands call both. The runs come from
:func:`~parity_frontiers.verify.experiments.stored_runs.load_results`: nothing here opens a
store, so the analysis never imports the experiments layer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from parity_frontiers.verify.analysis.findings import judge_findings
from parity_frontiers.verify.analysis.frontier import (
    CELL_FIELDS,
    frontier_table,
    group_rows,
    success_points,
)
from parity_frontiers.verify.analysis.power_law import power_law_fit
from parity_frontiers.verify.analysis.prediction_verdicts import (
    THEOREM_BOOTSTRAP,
    prediction_verdicts,
)
from parity_frontiers.verify.analysis.predictions import (
    onestep_predictions,
    sq_check,
    theorem_frontier,
)
from parity_frontiers.verify.config import RunConfig, RunResult

__all__ = ["GRID_AXES", "analyze", "completeness", "power_law_table"]


def completeness(results: Sequence[RunResult],
                 expected: Sequence[RunConfig] | None = None) -> dict:
    """What the store lacks: against ``expected`` configs if given, else against itself.

    With ``expected``: ``missing_runs`` (count), ``missing_cells`` (cells with no run at all)
    and ``partial_cells`` (some seeds missing), each cell named by its fields. Without it, the
    cells with fewer runs than the fullest cell are reported as ``partial_cells``.
    """
    def cell_of(config: RunConfig) -> tuple:
        return tuple(getattr(config, f) for f in CELL_FIELDS)

    have = Counter(cell_of(r.config) for r in results)
    names = CELL_FIELDS
    if expected is None:
        most = max(have.values(), default=0)
        partial = [dict(zip(names, c, strict=True)) | {"runs": v, "expected": most}
                   for c, v in have.items() if v < most]
        return {"expected_runs": None, "missing_runs": None, "missing_cells": [],
                "partial_cells": partial}
    stored_keys = {r.config.key() for r in results}
    want = Counter(cell_of(config) for config in expected)
    missing = sum(config.key() not in stored_keys for config in expected)
    missing_cells = [dict(zip(names, c, strict=True)) for c in want if c not in have]
    partial = [dict(zip(names, c, strict=True)) | {"runs": have[c], "expected": v}
               for c, v in want.items() if c in have and have[c] < v]
    return {"expected_runs": len(expected), "missing_runs": missing,
            "missing_cells": missing_cells, "partial_cells": partial}


def power_law_table(frontier: Sequence[dict]) -> list[dict]:
    """:func:`verify.analysis.power_law_fit` of m*(r) per (n, k, init, s), over the widths
    with a fitted m* (``exponent`` None with fewer than two)."""
    fitted = [row for row in frontier if row["status"] == "fitted"]
    out = []
    for (n, k, init, s), rows in group_rows(fitted, ("n", "k", "init", "s")).items():
        entry = {"n": n, "k": k, "init": init, "s": s, "widths": tuple(r["width"] for r in rows)}
        if len({r["width"] for r in rows}) >= 2:
            fit = power_law_fit([r["width"] for r in rows], [r["m_star"] for r in rows],
                                [r["ci_low"] for r in rows], [r["ci_high"] for r in rows])
            entry.update(fit.as_dict())
        else:
            entry["exponent"] = None
        out.append(entry)
    return out


#: Fields that may vary within one analysis: the axes of the paper's grid. Anything else
#: varying (learning rate, budget, depth ...) means the store mixes sweeps.
GRID_AXES = ("n", "k", "init", "s", "width", "samples", "seed")


def _check_one_sweep(results: Sequence[RunResult]) -> None:
    """Refuse runs that differ in a training setting: their cells would be pooled silently."""
    varying = []
    first = results[0].config.as_dict()
    for name in first:
        if name in GRID_AXES:
            continue
        values = {getattr(r.config, name) for r in results}
        if len(values) > 1:
            varying.append(f"{name} ({', '.join(map(str, sorted(values, key=str)[:4]))})")
    if varying:
        raise ValueError("the runs mix sweeps with different training settings: "
                         f"{'; '.join(varying)}; analyse one sweep at a time (--config FILE)")


def analyze(results: Iterable[RunResult], *, expected: Sequence[RunConfig] | None = None,
            onestep_trials: int = 200, seed: int = 0, target: float = 0.5,
            progress: bool = False, bootstrap: int = THEOREM_BOOTSTRAP) -> dict:
    """Every table of the report, from stored runs.

    Parameters
    ----------
    results : iterable of RunResult
    expected : sequence of RunConfig, optional
        The sweep's full grid, to report what is missing.
    onestep_trials, seed : int
        Monte Carlo trials and seed of the one-step prediction; ``seed`` also seeds the
        bootstrap over seeds of the Theorem 4/5 n-scaling verdict.
    target : float
        Success probability that defines the frontier m*.
    bootstrap : int
        Bootstrap resamples of that verdict.

    Returns
    -------
    dict
        ``points``, ``frontier``, ``power_laws``, ``sq``, ``onestep``, ``theorem``,
        ``predictions`` (the verdicts of the three predictions), ``findings`` (six verdicts,
        each per (n, k)), ``completeness``, ``runs``, ``target``.
    """
    results = list(results)
    if not results:
        raise ValueError("no runs to analyse")
    _check_one_sweep(results)
    points = success_points(results)
    frontier = frontier_table(points, target)
    onestep = onestep_predictions(points, trials=onestep_trials, seed=seed, target=target,
                                  progress=progress)
    theorem = theorem_frontier(frontier)
    return {"runs": len(results), "target": target, "points": points, "frontier": frontier,
            "power_laws": power_law_table(frontier), "sq": sq_check(points),
            "onestep": onestep, "theorem": theorem,
            "predictions": prediction_verdicts(results, points, frontier, onestep, theorem,
                                               target=target, seed=seed, bootstrap=bootstrap),
            "findings": judge_findings(results, frontier),
            "completeness": completeness(results, expected)}
