r"""Findings 4a and 4b of the paper's grid (data versus time, docs/theory.md §5.8), per (n, k).

* 4a :func:`finding_steps_vs_m` -- near the smallest feasible m, many more steps are needed;
* 4b :func:`finding_double_descent` -- sample-wise double descent: success falls as m grows,
  then recovers.

Two verdicts, not one: the paper's finding 4 joins two claims that can fail separately. Both
use the seed as the unit (:mod:`.paired`): a seed's training sets are nested in m, so its
outcomes at two sizes are paired.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from parity_frontiers.verify.analysis.frontier import group_rows
from parity_frontiers.verify.analysis.paired import (
    ALPHA,
    MIN_SUCCESSES_FOR_STEPS,
    by_problem,
    finding_dict,
    mcnemar_test,
    median_success_steps,
    offline_cells,
    paired_outcomes,
    problem_label,
    problem_row,
    seed_count,
    seeds_to_detect,
    tarone_threshold,
    too_few_to_test,
    two_way_sign_flip,
    untestable_row,
)

__all__ = ["RULE_STEPS", "RULE_DOUBLE_DESCENT", "finding_steps_vs_m", "finding_double_descent"]


# --- 4a: steps rise near the edge of feasibility -------------------------------------------------

RULE_STEPS = (
    f"per (n, k), each curve (init, width) with offline cells: its edge m = the smallest m "
    f"with >= {MIN_SUCCESSES_FOR_STEPS} successes, its far m = the largest m; each seed's mean "
    f"over curves where it succeeds at both of log10(steps at edge / steps at far m); exact "
    f"sign-flip test over seeds, one-sided each way at {ALPHA / 2:g}; reproduced if steps are "
    f"significantly higher at the edge, not reproduced if lower, inconclusive otherwise (with "
    f"the smallest detectable ratio); not testable here without such a curve or with too few "
    f"seeds")


def finding_steps_vs_m(cells: Sequence[dict]) -> dict:
    """Finding 4a: near the smallest feasible m, many more steps are needed.

    Rule (:data:`RULE_STEPS`): the training sets of one seed are nested, so a seed that
    succeeds both at a curve's edge m and at its largest m gives a paired log step ratio; per
    seed the mean over curves; exact :func:`sign_flip_test` over seeds both ways at
    :data:`ALPHA` / 2. A null result states the smallest mean ratio detectable given the
    spread (:func:`detectable_shift`, as a ratio). Each curve's ratio of median steps of its
    successful runs (edge / far) is reported.
    """
    problems = []
    for (n, k), group in by_problem(offline_cells(cells)):
        logs: dict[int, list] = {}
        curves = []
        for _key, curve in group_rows(group, ("init", "s", "width")).items():
            curve = sorted(curve, key=lambda c: c["samples"])
            reached = [c for c in curve if c["successes"] >= MIN_SUCCESSES_FOR_STEPS]
            if not reached or reached[0] is curve[-1]:
                continue
            edge, far = reached[0], curve[-1]
            for seed, (ye, te), (yf, tf) in paired_outcomes(edge, far):
                if ye and yf and te and tf:
                    logs.setdefault(seed, []).append(math.log10(te / tf))
            me, mf = median_success_steps(edge), median_success_steps(far)
            curves.append({"curve": problem_label(edge), "width": edge["width"],
                           "edge_m": edge["samples"], "far_m": far["samples"],
                           "edge_steps": me, "far_steps": mf,
                           "ratio": me / mf if me and mf else None})
        threshold = ALPHA / 2
        numbers = {"curves": curves, "threshold": threshold}
        if not logs:
            problems.append(untestable_row(n, k, "no curve has a seed succeeding at both its edge "
                                        "and its largest m", **numbers))
            continue
        if 2.0 ** -len(logs) > threshold:
            problems.append(untestable_row(n, k, f"{len(logs)} seeds with both steps: too few "
                                        f"for p <= {threshold:g}", **numbers))
            continue
        per_seed = [float(np.mean(v)) for _, v in sorted(logs.items())]
        judged = two_way_sign_flip(per_seed, threshold)
        more, fewer = judged["greater"], judged["less"]
        numbers.update(seeds=len(per_seed), mean_ratio=10 ** more["mean"],
                       seeds_more_at_edge=more["positive"],
                       seeds_fewer_at_edge=more["negative"],
                       p_more_at_edge=more["p_value"], p_fewer_at_edge=fewer["p_value"])
        if "detectable_shift" in judged:
            shift = judged["detectable_shift"]
            numbers["detectable_ratio"] = None if shift is None else 10 ** shift
        problems.append(problem_row(n, k, judged["verdict"], **numbers))
    return finding_dict("4a", "steps to success rise as m falls to the edge of feasibility",
                    RULE_STEPS, problems)


# --- 4b: sample-wise double descent --------------------------------------------------------------

RULE_DOUBLE_DESCENT = (
    f"per (n, k), every triple m1 < m2 < m3 of a curve (init, width; offline): a dip when "
    f"success falls from m1 to m2 and recovers from m2 to m3, each an exact one-sided McNemar "
    f"test on the seeds (nested training sets), the triple's p the larger of the two "
    f"(intersection-union); Tarone-Bonferroni {ALPHA} over the triples; reproduced if a dip is "
    f"significant, not reproduced otherwise (stating the smallest dip, in seeds, it would have "
    f"caught); not testable here without a curve of 3 sizes or with too few seeds")


def finding_double_descent(cells: Sequence[dict]) -> dict:
    """Finding 4b: sample-wise double descent, success falling as m grows, then recovering.

    Rule (:data:`RULE_DOUBLE_DESCENT`): a seed's training sets are nested in m, so a seed that
    succeeds at m1 and fails at a larger m2 is a per-seed fall. For each triple of one curve,
    the fall m1 -> m2 and the recovery m2 -> m3 are exact one-sided :func:`mcnemar_test` s and
    the dip's p-value is their maximum (both must hold); Tarone's correction over all triples
    of (n, k). A null result states the smallest dip it would have caught: that many seeds
    succeeding at m1 and m3 but failing at m2, none the other way.
    """
    problems = []
    for (n, k), group in by_problem(offline_cells(cells)):
        triples = []
        for _key, curve in group_rows(group, ("init", "s", "width")).items():
            curve = sorted(curve, key=lambda c: c["samples"])
            for a, b, c in itertools.combinations(curve, 3):
                fall = _mcnemar_cells(a, b)
                rise = _mcnemar_cells(c, b)
                triples.append({"curve": problem_label(b), "width": b["width"],
                                "m": [a["samples"], b["samples"], c["samples"]],
                                "successes": [a["successes"], b["successes"], c["successes"]],
                                "fall": [fall["first_only"], fall["second_only"]],
                                "recovery": [rise["first_only"], rise["second_only"]],
                                "p_value": max(fall["p_value"], rise["p_value"]),
                                "min_p": max(fall["min_p"], rise["min_p"])})
        seeds = seed_count(group)
        skip = too_few_to_test(n, k, triples, seeds, what="dip", count="triples",
                               empty="no curve has 3 or more offline sizes")
        if skip:
            problems.append(skip)
            continue
        k_tests, threshold = tarone_threshold([t["min_p"] for t in triples])
        significant = [t for t in triples if t["p_value"] <= threshold]
        raw = [t for t in triples if t["fall"][0] > t["fall"][1]
               and t["recovery"][0] > t["recovery"][1]]
        verdict = "reproduced" if significant else "not reproduced"
        problems.append(problem_row(
            n, k, verdict, triples=len(triples), tarone_k=k_tests, threshold=threshold,
            seeds=seeds, raw_dips=len(raw), significant=significant[:10],
            largest_dips=sorted(raw, key=lambda t: t["p_value"])[:3],
            smallest_detectable_dip=seeds_to_detect(threshold)))
    return finding_dict("4b", "sample-wise double descent: success falls as m grows, then "
                    "recovers", RULE_DOUBLE_DESCENT, problems)


def _mcnemar_cells(first: dict, second: dict) -> dict:
    pairs = paired_outcomes(first, second)
    only_first = sum(y1 and not y2 for _, (y1, _), (y2, _) in pairs)
    only_second = sum(y2 and not y1 for _, (y1, _), (y2, _) in pairs)
    return mcnemar_test(only_first, only_second, "greater")
