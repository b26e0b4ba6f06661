"""The four findings of the paper's grid experiment (PAPER.md section 5), judged on stored runs.

Each ``finding_*`` function takes the cells of :func:`verify.analysis.success_points` (and the
frontier rows where needed) and returns a dict with ``id``, ``claim``, ``verdict`` (one of
:data:`VERDICTS`), ``rule`` (the decision rule, stated before looking at the data) and
``evidence`` (the numbers behind the verdict). :func:`judge_findings` runs all four.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from parity_frontiers.verify.analysis.frontier import group_rows
from scipy import stats

__all__ = ["VERDICTS", "ALPHA", "finding_small_m", "finding_width_monotone",
           "finding_sparse_beats_dense", "finding_data_vs_time", "judge_findings"]

VERDICTS = ("reproduced", "not reproduced", "inconclusive")
#: Family-wise significance level of every test below (Bonferroni within a finding).
ALPHA = 0.05
#: Steps comparisons use cells with at least this many successful runs.
MIN_SUCCESSES_FOR_STEPS = 3


def _offline(points):
    return [p for p in points if p["samples"] is not None]


def init_label(point: dict) -> str:
    """'dense' or 'sparse s=2': the init of a row, for tables and evidence."""
    return "dense" if point["init"] == "dense" else f"sparse s={point['s']}"


def _label(p) -> str:
    return f"n={p['n']} k={p['k']} {init_label(p)}"


def _fisher_greater(a_wins, a_runs, b_wins, b_runs) -> float:
    """One-sided Fisher exact p-value for 'rate a > rate b'."""
    table = [[a_wins, a_runs - a_wins], [b_wins, b_runs - b_wins]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def finding_small_m(points: Sequence[dict]) -> dict:
    r"""Finding 1: with enough width, success at :math:`m \ll n^k`.

    Rule: reproduced when some offline cell succeeds clearly (Wilson 95% lower end >= 1/2) with
    :math:`m \le n^k / 10`; not reproduced when no cell succeeds clearly at any m (then the grid
    says nothing about the claim: inconclusive) or only at :math:`m > n^k/10`.
    """
    rule = ("reproduced if a cell has Wilson lower bound >= 1/2 at m <= n^k/10; not reproduced "
            "if clear successes exist only at larger m; inconclusive if none succeeds clearly")
    evidence = []
    for (n, k), cells in sorted(group_rows(_offline(points), ("n", "k")).items()):
        clear = [c for c in cells if c["ci_low"] >= 0.5]
        grid_can_fail = max(c["samples"] for c in cells) > n ** k / 10
        if not clear:
            evidence.append({"n": n, "k": k, "smallest_m": None, "grid_can_fail": grid_can_fail})
            continue
        best = min(clear, key=lambda c: (c["samples"], c["width"]))
        evidence.append({"n": n, "k": k, "smallest_m": best["samples"], "width": best["width"],
                         "init": best["init"], "s": best["s"],
                         "successes": best["successes"], "runs": best["runs"],
                         "m_over_n_to_k": best["samples"] / n ** k,
                         "m_over_binomial": best["samples"] / math.comb(n, k),
                         "grid_can_fail": grid_can_fail})
    found = [e for e in evidence if e["smallest_m"] is not None]
    if not found:
        verdict = "inconclusive"
    elif any(e["m_over_n_to_k"] <= 0.1 for e in found):
        verdict = "reproduced"
    else:
        verdict = "not reproduced"
    return {"id": 1, "claim": "success with m << n^k given enough width", "verdict": verdict,
            "rule": rule, "evidence": evidence}


def finding_width_monotone(points: Sequence[dict]) -> dict:
    """Finding 2: success probability does not fall as the width grows.

    Rule: for every (n, k, init, m) and each pair of neighbouring widths, a one-sided Fisher
    exact test of 'the narrower net succeeds more often'. Only *informative* pairs count in the
    Bonferroni correction at :data:`ALPHA` (Tarone 1990): a pair where the narrower net never
    succeeds or the wider one always does cannot show a decrease, and counting it would only
    make the test blind. Reproduced when no pair is significant; not reproduced otherwise. The
    share of neighbouring pairs whose median steps of the successful runs do not rise (the
    paper's "steps fall") is reported alongside, not judged.
    """
    pairs, informative, decreases, steps_pairs, steps_fall = 0, 0, [], 0, 0
    for _key, cells in group_rows(points, ("n", "k", "init", "s", "samples")).items():
        cells = sorted(cells, key=lambda c: c["width"])
        for a, b in zip(cells, cells[1:], strict=False):
            pairs += 1
            informative += a["successes"] > 0 and b["successes"] < b["runs"]
            if a["success_rate"] > b["success_rate"]:
                p = _fisher_greater(a["successes"], a["runs"], b["successes"], b["runs"])
                decreases.append({"cell": _label(a), "samples": a["samples"],
                                  "widths": [a["width"], b["width"]],
                                  "rates": [a["success_rate"], b["success_rate"]],
                                  "p_value": p})
            ma, mb = _success_median(a), _success_median(b)
            if ma is not None and mb is not None:
                steps_pairs += 1
                steps_fall += mb <= ma
    threshold = ALPHA / max(informative, 1)
    violations = [d for d in decreases if d["p_value"] < threshold]
    if informative == 0:
        verdict = "inconclusive"
    else:
        verdict = "not reproduced" if violations else "reproduced"
    return {"id": 2, "claim": "success rate non-decreasing in width",
            "verdict": verdict,
            "rule": f"no neighbouring-width decrease significant at Bonferroni {ALPHA}/"
                    f"{informative} over the informative pairs (one-sided Fisher exact)",
            "evidence": {"pairs": pairs, "informative_pairs": informative,
                         "decreases": len(decreases), "significant": violations,
                         "threshold": threshold,
                         "largest_decreases": sorted(decreases, key=lambda d: d["p_value"])[:3],
                         "steps_pairs": steps_pairs, "steps_not_rising": steps_fall}}


def _success_median(cell: dict) -> float | None:
    """Median steps of a cell's successful runs, if at least :data:`MIN_SUCCESSES_FOR_STEPS`
    succeeded (older rows without the field fall back to the Kaplan-Meier median)."""
    if cell["successes"] < MIN_SUCCESSES_FOR_STEPS:
        return None
    return cell.get("median_success_steps", cell["median_steps_to_success"])


def finding_sparse_beats_dense(points: Sequence[dict], frontier: Sequence[dict]) -> dict:
    """Finding 3: sparse s = 2 beats dense in success and steps when the net is wide.

    Rule, per (n, k) at the two widest widths present for both inits: pool each init's
    successes over the offline cells (same m for both); a one-sided Fisher exact test in each
    direction at :data:`ALPHA` / 2; and the share of cells (both with at least
    :data:`MIN_SUCCESSES_FOR_STEPS` successes) where sparse needs fewer steps (median over its
    successful runs). Reproduced when sparse is not significantly worse in success and
    is better in success (significant) or in steps (fewer in at least 2/3 of cells); not
    reproduced when dense is significantly better or faster in 2/3 of the cells; inconclusive
    otherwise. m* of each init at those widths is reported too.
    """
    evidence, verdicts = [], []
    for (n, k), cells in sorted(group_rows(points, ("n", "k")).items()):
        dense = [c for c in cells if c["init"] == "dense"]
        sparse = [c for c in cells if c["init"] == "sparse" and c["s"] == 2]
        common = sorted({c["width"] for c in dense} & {c["width"] for c in sparse})
        if not common:
            continue
        wide = common[-2:]
        key = {(c["width"], c["samples"]) for c in dense} & \
              {(c["width"], c["samples"]) for c in sparse}
        key = {wk for wk in key if wk[0] in wide and wk[1] is not None}
        if not key:
            continue
        pick = {"dense": [c for c in dense if (c["width"], c["samples"]) in key],
                "sparse": [c for c in sparse if (c["width"], c["samples"]) in key]}
        wins = {name: sum(c["successes"] for c in group) for name, group in pick.items()}
        runs = {name: sum(c["runs"] for c in group) for name, group in pick.items()}
        p_sparse = _fisher_greater(wins["sparse"], runs["sparse"], wins["dense"], runs["dense"])
        p_dense = _fisher_greater(wins["dense"], runs["dense"], wins["sparse"], runs["sparse"])
        by_cell = {name: {(c["width"], c["samples"]): _success_median(c) for c in group}
                   for name, group in pick.items()}
        both = [wk for wk in key if by_cell["dense"][wk] is not None
                and by_cell["sparse"][wk] is not None]
        faster = sum(by_cell["sparse"][wk] < by_cell["dense"][wk] for wk in both)
        slower = sum(by_cell["sparse"][wk] > by_cell["dense"][wk] for wk in both)
        m_star = {f"{row['init']}_{row['width']}": (row["status"], row["m_star"])
                  for row in frontier if row["n"] == n and row["k"] == k
                  and row["width"] in wide and (row["init"] == "dense" or row["s"] == 2)}
        # Two one-sided tests per (n, k): Bonferroni, ALPHA / 2 each.
        if p_dense < ALPHA / 2 or (both and slower >= 2 * len(both) / 3):
            verdict = "not reproduced"
        elif p_sparse < ALPHA / 2 or (both and faster >= 2 * len(both) / 3):
            verdict = "reproduced"
        else:
            verdict = "inconclusive"
        verdicts.append(verdict)
        evidence.append({"n": n, "k": k, "widths": wide, "cells": len(key),
                         "success_dense": [wins["dense"], runs["dense"]],
                         "success_sparse": [wins["sparse"], runs["sparse"]],
                         "p_sparse_better": p_sparse, "p_dense_better": p_dense,
                         "cells_with_both_medians": len(both), "sparse_faster": faster,
                         "sparse_slower": slower, "m_star": m_star, "verdict": verdict})
    return {"id": 3, "claim": "sparse s = 2 beats dense in success and steps when wide",
            "verdict": _combine(verdicts),
            "rule": "at the two widest widths: sparse not significantly worse in pooled success "
                    "and better in success (one-sided Fisher p < 0.025 each way) or in median "
                    "steps of successful runs (>= 2/3 of cells)", "evidence": evidence}


def _combine(verdicts: list[str]) -> str:
    if not verdicts:
        return "inconclusive"
    if all(v == "reproduced" for v in verdicts):
        return "reproduced"
    if any(v == "not reproduced" for v in verdicts):
        return "not reproduced"
    return "inconclusive"


def finding_data_vs_time(points: Sequence[dict]) -> dict:
    """Finding 4: near the smallest feasible m, many more steps; sample-wise double descent.

    Rule (steps): for each curve (n, k, init, width) with at least 3 offline cells with at least
    :data:`MIN_SUCCESSES_FOR_STEPS` successes, Spearman's rank correlation of m and the median
    steps of the successful runs (not the Kaplan-Meier median, which rises merely because
    fewer runs succeed near the edge). Each correlation's p-value is reported.
    Reproduced when at least 2/3 of those curves have a negative correlation; not reproduced
    when at most 1/3 do; inconclusive between, or with no such curve. Reported with each
    curve's ratio of median steps at its smallest successful m to its largest m.

    Double descent is looked for, not required: a cell whose success rate is below both an
    earlier (smaller m) and a later cell of its curve, significantly below the better of the
    two by a one-sided Fisher test at Bonferroni :data:`ALPHA` over all cells examined.
    """
    curves = group_rows(_offline(points), ("n", "k", "init", "s", "width"))
    rhos, ratios = [], []
    for key, cells in curves.items():
        reached = sorted((c for c in cells if _success_median(c) is not None),
                         key=lambda c: c["samples"])
        if len(reached) < 3:
            continue
        m = [c["samples"] for c in reached]
        steps = [_success_median(c) for c in reached]
        test = stats.spearmanr(m, steps)
        rho, p_value = float(test.statistic), float(test.pvalue)
        if not np.isfinite(rho):
            rho, p_value = 0.0, 1.0
        rhos.append({"curve": _label(reached[0]), "width": key[-1], "spearman": rho,
                     "p_value": p_value, "cells": len(reached)})
        ratios.append({"curve": _label(reached[0]), "width": key[-1],
                       "edge_m": m[0], "edge_steps": steps[0], "far_m": m[-1],
                       "far_steps": steps[-1], "ratio": steps[0] / steps[-1]})
    negative = sum(r["spearman"] < 0 for r in rhos)
    if not rhos:
        verdict = "inconclusive"
    elif negative >= 2 * len(rhos) / 3:
        verdict = "reproduced"
    elif negative <= len(rhos) / 3:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    dips, examined = [], 0
    for cells in curves.values():
        cells = sorted(cells, key=lambda c: c["samples"])
        for i in range(1, len(cells) - 1):
            examined += 1
            before = max(cells[:i], key=lambda c: c["success_rate"])
            after = max(cells[i + 1:], key=lambda c: c["success_rate"])
            mid = cells[i]
            if mid["success_rate"] < min(before["success_rate"], after["success_rate"]):
                better = max(before, after, key=lambda c: c["success_rate"])
                p = _fisher_greater(better["successes"], better["runs"], mid["successes"],
                                    mid["runs"])
                dips.append({"curve": _label(mid), "width": mid["width"],
                             "m": [before["samples"], mid["samples"], after["samples"]],
                             "rates": [before["success_rate"], mid["success_rate"],
                                       after["success_rate"]], "p_value": p})
    threshold = ALPHA / max(examined, 1)
    return {"id": 4, "claim": "median steps rise as m falls to the edge; double descent",
            "verdict": verdict,
            "rule": "Spearman(m, median steps of successful runs) < 0 on >= 2/3 of curves "
                    "with >= 3 cells of >= 3 successes; double descent reported if a dip is "
                    f"significant at Bonferroni {ALPHA}/{examined}",
            "evidence": {"curves": rhos, "negative": negative, "edge_ratios": ratios,
                         "dips": dips, "significant_dips": [d for d in dips
                                                            if d["p_value"] < threshold],
                         "dip_threshold": threshold}}


def judge_findings(points: Sequence[dict], frontier: Sequence[dict]) -> list[dict]:
    """All four findings, in order."""
    points = list(points)
    return [finding_small_m(points), finding_width_monotone(points),
            finding_sparse_beats_dense(points, frontier), finding_data_vs_time(points)]
