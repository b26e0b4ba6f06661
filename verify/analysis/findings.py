r"""The paper's grid findings (docs/theory.md §5.8), judged per (n, k) by paired per-seed tests.

Six verdicts, each given per (n, k) and then overall (:func:`~.paired.combine_verdicts`:
*reproduced* only if every testable (n, k) is):

* 1a :func:`finding_small_m` -- success with :math:`m \le n^k/10`;
* 1b :func:`finding_width_compensates` -- width compensates for data at those m;
* 2  :func:`finding_width_monotone` -- no width step lowers success;
* 3  :func:`finding_sparse_beats_dense` -- sparse s = 2 beats dense when wide;
* 4a, 4b (data versus time: steps near the edge; double descent) in :mod:`.findings_time`.

The seed is the unit of every test (:mod:`.paired` says why and implements the tests). A rule
that cannot fail on the grid at hand (no m above :math:`n^k/10`, too few seeds for any outcome
to be significant, a missing arm) says *not testable here*, never *reproduced*; a null result
carries the smallest effect its test could have detected. Each rule is a constant
(``RULE_*``) stated before the data, and each function's docstring says how it is computed.

Each finding is a dict: ``id``, ``claim``, ``verdict`` (overall), ``rule`` and ``problems``
(one dict per (n, k) with its ``verdict`` and numbers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats

from parity_frontiers.verify.analysis.findings_time import (
    finding_double_descent,
    finding_steps_vs_m,
)
from parity_frontiers.verify.analysis.frontier import group_rows
from parity_frontiers.verify.analysis.paired import (
    ALPHA,
    by_problem,
    detectable_shift,
    finding_dict,
    init_label,
    mcnemar_test,
    offline_cells,
    paired_outcomes,
    problem_label,
    problem_row,
    seed_cells,
    seed_count,
    seeds_to_detect,
    sign_flip_test,
    tarone_threshold,
    too_few_to_test,
    two_way_sign_flip,
    untestable_row,
)

__all__ = ["SMALL_M_FRACTION", "RULE_SMALL_M", "RULE_WIDTH_COMPENSATES", "RULE_WIDTH_MONOTONE",
           "RULE_SPARSE", "finding_small_m", "finding_width_compensates",
           "finding_width_monotone", "finding_sparse_beats_dense", "judge_findings"]

#: "m << n^k" is read as m <= SMALL_M_FRACTION * n^k.
SMALL_M_FRACTION = 0.1


# --- 1a: success with m << n^k -------------------------------------------------------------------

RULE_SMALL_M = (
    f"per (n, k), a cell 'succeeds clearly' when an exact one-sided binomial test of "
    f"P(success) > 1/2 has p <= {ALPHA}/(offline cells of (n, k)); reproduced if some cell "
    f"with m <= n^k/10 succeeds clearly, not reproduced if clear successes exist only at "
    f"m > n^k/10, inconclusive if none; not testable here when no grid m exceeds n^k/10 (then "
    f"'only at larger m' cannot happen) or no cell has enough runs to succeed clearly")


def finding_small_m(cells: Sequence[dict]) -> dict:
    r"""Finding 1a: success at :math:`m \le n^k/10` (:data:`SMALL_M_FRACTION`).

    Rule (:data:`RULE_SMALL_M`): per (n, k), each offline cell is tested for
    P(success) > 1/2 by an exact one-sided binomial test at Bonferroni :data:`ALPHA` over the
    offline cells of (n, k). Reproduced when a cell with :math:`m \le n^k/10` succeeds clearly;
    not reproduced when clear successes exist only above; inconclusive when none does. The
    rule can fail only if the grid has m on both sides of :math:`n^k/10`: otherwise (e.g.
    n = 50, k = 3: :math:`n^k/10 = 12500` above every m of the cpu grid) it is
    :data:`NOT_TESTABLE`, as it is when no cell has the runs to pass the test.
    """
    problems = []
    for (n, k), group in by_problem(offline_cells(cells)):
        limit = SMALL_M_FRACTION * n ** k
        m_values = sorted({c["samples"] for c in group})
        numbers = {"limit": limit, "m_range": [m_values[0], m_values[-1]], "cells": len(group)}
        threshold = ALPHA / len(group)
        numbers["threshold"] = threshold
        if m_values[-1] <= limit:
            problems.append(untestable_row(n, k, f"no grid m exceeds n^k/10 = {limit:g} (largest "
                                        f"m {m_values[-1]}): the rule cannot fail", **numbers))
            continue
        if m_values[0] > limit:
            problems.append(untestable_row(n, k, f"no grid m is <= n^k/10 = {limit:g}", **numbers))
            continue
        if all(0.5 ** c["runs"] > threshold for c in group):
            problems.append(untestable_row(n, k, "too few runs per cell for any cell to pass the "
                                        "test", **numbers))
            continue
        clear = []
        for c in group:
            p = float(stats.binom.sf(c["successes"] - 1, c["runs"], 0.5))
            if p <= threshold:
                clear.append((c, p))
        small = [cp for cp in clear if cp[0]["samples"] <= limit]
        if small:
            verdict = "reproduced"
        elif clear:
            verdict = "not reproduced"
        else:
            verdict = "inconclusive"
        best = min(small or clear, key=lambda cp: (cp[0]["samples"], cp[0]["width"]),
                   default=None)
        if best is not None:
            c, p = best
            numbers["smallest_clear"] = {
                "m": c["samples"], "width": c["width"], "init": init_label(c),
                "successes": c["successes"], "runs": c["runs"], "p_value": p,
                "m_over_n_to_k": c["samples"] / n ** k,
                "m_over_binomial": c["samples"] / math.comb(n, k)}
        numbers["clear_cells"] = len(clear)
        numbers["clear_cells_small_m"] = len(small)
        problems.append(problem_row(n, k, verdict, **numbers))
    return finding_dict("1a", "success with m << n^k (m <= n^k/10)", RULE_SMALL_M, problems)


# --- 1b: width compensates for data --------------------------------------------------------------

RULE_WIDTH_COMPENSATES = (
    f"per (n, k) over offline m <= n^k/10: each seed's d = sum over inits and m of "
    f"[success at the widest width - success at the narrowest] (how many more grid sizes it "
    f"succeeds at when wide: its own frontier shift); exact sign-flip test over seeds, "
    f"one-sided each way at {ALPHA / 2:g}; reproduced if wide is significantly better, not "
    f"reproduced if narrow is, inconclusive otherwise (with the smallest detectable shift); "
    f"not testable here without two widths at such m or with too few seeds")


def finding_width_compensates(cells: Sequence[dict], frontier: Sequence[dict] = ()) -> dict:
    r"""Finding 1b: at fixed small m (:math:`m \le n^k/10`) a wider net succeeds more often, i.e.
    width compensates for data (the frontier m*(r) falls with r).

    Rule (:data:`RULE_WIDTH_COMPENSATES`): per (n, k), for each init the narrowest and widest
    widths present at those m; each seed's difference
    :math:`d_i = \sum_{\text{init}, m} [y_i(r_{\max}, m) - y_i(r_{\min}, m)]` is the number of
    grid sizes at which it succeeds when wide but not when narrow, minus the reverse, a
    per-seed measure of how far its frontier moves. Exact :func:`sign_flip_test` over seeds,
    one-sided each way at :data:`ALPHA` / 2. The m* of the two widths (from ``frontier``) are
    reported beside it.
    """
    problems = []
    fitted = {(r["n"], r["k"], r["init"], r["s"], r["width"]): r for r in frontier}
    for (n, k), group in by_problem(offline_cells(cells)):
        limit = SMALL_M_FRACTION * n ** k
        small = [c for c in group if c["samples"] <= limit]
        d: dict[int, float] = {}
        arms = []
        for (init, s), arm in group_rows(small, ("init", "s")).items():
            widths = sorted({c["width"] for c in arm})
            if len(widths) < 2:
                continue
            lo, hi = widths[0], widths[-1]
            at = {(c["width"], c["samples"]): c for c in arm}
            m_used = sorted(m for (w, m) in at if w == lo and (hi, m) in at)
            wins = [0, 0]
            for m in m_used:
                for seed, (y_lo, _), (y_hi, _) in paired_outcomes(at[(lo, m)], at[(hi, m)]):
                    d[seed] = d.get(seed, 0.0) + (y_hi - y_lo)
                    wins[0] += y_lo
                    wins[1] += y_hi
            m_star = {w: (fitted[(n, k, init, s, w)]["status"],
                          fitted[(n, k, init, s, w)]["m_star"])
                      for w in (lo, hi) if (n, k, init, s, w) in fitted}
            arms.append({"init": init_label({"init": init, "s": s}), "widths": [lo, hi],
                         "m": m_used, "successes_narrow": wins[0], "successes_wide": wins[1],
                         "m_star": {str(w): v for w, v in m_star.items()}})
        threshold = ALPHA / 2
        numbers = {"limit": limit, "arms": arms, "threshold": threshold}
        if not d:
            problems.append(untestable_row(n, k, "no two widths share an m <= n^k/10", **numbers))
            continue
        if 2.0 ** -len(d) > threshold:
            problems.append(untestable_row(n, k, f"{len(d)} seeds: even all of them favouring "
                                        f"one width gives p = {2.0 ** -len(d):.3g} > "
                                        f"{threshold:g}", **numbers))
            continue
        diffs = [d[s] for s in sorted(d)]
        judged = two_way_sign_flip(diffs, threshold)
        wide, narrow = judged["greater"], judged["less"]
        numbers.update(per_seed=diffs, p_wide_better=wide["p_value"],
                       p_narrow_better=narrow["p_value"], seeds_wide_better=wide["positive"],
                       seeds_narrow_better=wide["negative"], mean_shift=wide["mean"],
                       seeds_to_detect=seeds_to_detect(threshold))
        if "detectable_shift" in judged:
            numbers["detectable_shift"] = judged["detectable_shift"]
        problems.append(problem_row(n, k, judged["verdict"], **numbers))
    return finding_dict("1b", "width compensates for data: at fixed m <= n^k/10, wider nets "
                    "succeed more (m*(r) falls with r)", RULE_WIDTH_COMPENSATES, problems)


# --- 2: width is monotonically beneficial --------------------------------------------------------

RULE_WIDTH_MONOTONE = (
    f"per (n, k), for each (init, m) and each pair of neighbouring widths, an exact one-sided "
    f"McNemar test on the seeds (discordant pairs: success only at the narrower vs only at the "
    f"wider width) of 'the narrower net succeeds more often', at Tarone-Bonferroni {ALPHA} "
    f"over the pairs whose discordant seeds could reach significance; not reproduced if any "
    f"pair is significant, reproduced if none is (stating the smallest detectable drop), "
    f"inconclusive if no pair could be significant; not testable here with one width or too "
    f"few seeds. Steps (paired, seeds successful at both widths) are reported, not judged")


def finding_width_monotone(cells: Sequence[dict]) -> dict:
    """Finding 2: success probability does not fall as the width grows.

    Rule (:data:`RULE_WIDTH_MONOTONE`): each neighbouring-width pair at fixed (init, m) (online
    cells included) is an exact one-sided :func:`mcnemar_test` on its seeds. Only pairs whose
    discordant seeds could reach significance count in the Bonferroni correction
    (:func:`tarone_threshold`): a pair with D discordant seeds cannot give p below 2^-D.
    A null result states the smallest drop it would have caught: that many seeds succeeding at
    the narrower width and failing at the wider one (none the other way) at one width step.
    The paper's "steps fall with width" is reported beside it: per seed, the mean over pairs
    where it succeeds at both widths of log10(steps narrow / steps wide), a two-sided sign-flip
    test over seeds.
    """
    problems = []
    for (n, k), group in by_problem(cells):
        tests, step_logs = [], {}
        for _key, row in group_rows(group, ("init", "s", "samples")).items():
            row = sorted(row, key=lambda c: c["width"])
            for a, b in zip(row, row[1:], strict=False):
                pairs = paired_outcomes(a, b)
                drop = sum(ya and not yb for _, (ya, _), (yb, _) in pairs)
                rise = sum(yb and not ya for _, (ya, _), (yb, _) in pairs)
                test = mcnemar_test(drop, rise, "greater")
                tests.append({"cell": problem_label(a), "samples": a["samples"],
                              "widths": [a["width"], b["width"]],
                              "successes": [a["successes"], b["successes"]],
                              "seeds": len(pairs), **test})
                for seed, (ya, ta), (yb, tb) in pairs:
                    if ya and yb and ta and tb:
                        step_logs.setdefault(seed, []).append(math.log10(ta / tb))
        seeds = seed_count(group)
        skip = too_few_to_test(n, k, tests, seeds, empty="one width only: no pair to compare",
                               what="drop", count="pairs")
        if skip:
            problems.append(skip)
            continue
        k_tests, threshold = tarone_threshold([t["min_p"] for t in tests])
        informative = sum(t["min_p"] <= threshold for t in tests)
        violations = [t for t in tests if t["p_value"] <= threshold]
        if violations:
            verdict = "not reproduced"
        elif informative == 0:
            verdict = "inconclusive"
        else:
            verdict = "reproduced"
        per_seed_steps = [float(np.mean(v)) for _, v in sorted(step_logs.items())]
        steps = sign_flip_test(per_seed_steps, "two-sided") if per_seed_steps else None
        problems.append(problem_row(
            n, k, verdict, pairs=len(tests), informative_pairs=informative,
            tarone_k=k_tests, threshold=threshold, seeds=seeds,
            raw_drops=sum(t["first_only"] > t["second_only"] for t in tests),
            significant=violations,
            largest_drops=sorted((t for t in tests if t["first_only"] > t["second_only"]),
                                 key=lambda t: t["p_value"])[:3],
            smallest_detectable_drop=seeds_to_detect(threshold),
            steps={"seeds": len(per_seed_steps),
                   "wider_faster_ratio": (10 ** float(np.mean(per_seed_steps))
                                          if per_seed_steps else None),
                   "seeds_wider_faster": steps["positive"] if steps else 0,
                   "seeds_wider_slower": steps["negative"] if steps else 0,
                   "p_two_sided": steps["p_value"] if steps else None}))
    return finding_dict(2, "success rate non-decreasing in width", RULE_WIDTH_MONOTONE, problems)


# --- 3: sparse beats dense when wide -------------------------------------------------------------

RULE_SPARSE = (
    f"per (n, k) at the two widest widths present for both inits, offline m: each seed's "
    f"d = sum over (width, m) of [success sparse - success dense], and its mean over (width, "
    f"m) where it succeeds with both of log10(steps dense / steps sparse); exact sign-flip "
    f"tests over seeds, one-sided each way, {ALPHA / 4:g} each (Bonferroni over 2 measures x 2 "
    f"directions); not reproduced if dense is significantly better in success or steps, "
    f"reproduced if sparse is in either, inconclusive otherwise; not testable here without "
    f"both inits at a common width or with too few seeds")


def finding_sparse_beats_dense(cells: Sequence[dict], frontier: Sequence[dict] = ()) -> dict:
    """Finding 3: sparse s = 2 initialisation beats dense when the net is wide.

    Rule (:data:`RULE_SPARSE`): per (n, k), at the two widest widths present for both inits
    and every offline m present for both, cells are paired by (width, m) and by seed. Two
    per-seed measures: the success difference summed over (width, m), and the mean
    log10(dense steps / sparse steps) over the (width, m) where the seed succeeds in both arms.
    Each gets exact one-sided :func:`sign_flip_test` s both ways at :data:`ALPHA` / 4. The m* of
    each arm at those widths is reported beside them.
    """
    problems = []
    for (n, k), group in by_problem(offline_cells(cells)):
        dense = {(c["width"], c["samples"]): c for c in group if c["init"] == "dense"}
        sparse = {(c["width"], c["samples"]): c for c in group
                  if c["init"] == "sparse" and c["s"] == 2}
        common = sorted({w for w, _ in dense} & {w for w, _ in sparse})
        threshold = ALPHA / 4
        if not common:
            problems.append(untestable_row(n, k, "no width has both dense and sparse s=2 cells"))
            continue
        wide = common[-2:]
        keys = sorted(key for key in dense if key in sparse and key[0] in wide)
        success: dict[int, float] = {}
        step_logs: dict[int, list] = {}
        totals = {"dense": 0, "sparse": 0, "runs": 0}
        for key in keys:
            for seed, (yd, td), (ys, ts) in paired_outcomes(dense[key], sparse[key]):
                success[seed] = success.get(seed, 0.0) + (ys - yd)
                totals["dense"] += yd
                totals["sparse"] += ys
                totals["runs"] += 1
                if yd and ys and td and ts:
                    step_logs.setdefault(seed, []).append(math.log10(td / ts))
        m_star = {f"{row['init']}_{row['width']}": (row["status"], row["m_star"])
                  for row in frontier if row["n"] == n and row["k"] == k
                  and row["width"] in wide
                  and (row["init"] == "dense" or (row["init"] == "sparse" and row["s"] == 2))}
        numbers = {"widths": wide, "cells": len(keys), "threshold": threshold,
                   "success_dense": [totals["dense"], totals["runs"]],
                   "success_sparse": [totals["sparse"], totals["runs"]], "m_star": m_star}
        if 2.0 ** -len(success) > threshold:
            problems.append(untestable_row(n, k, f"{len(success)} seeds: even all of them "
                                        f"favouring one init gives p > {threshold:g}",
                                        **numbers))
            continue
        diffs = [success[s] for s in sorted(success)]
        s_better = sign_flip_test(diffs, "greater")
        d_better = sign_flip_test(diffs, "less")
        logs = [float(np.mean(v)) for _, v in sorted(step_logs.items())]
        f_better = sign_flip_test(logs, "greater") if logs else None
        f_worse = sign_flip_test(logs, "less") if logs else None
        if d_better["p_value"] <= threshold or (f_worse and f_worse["p_value"] <= threshold):
            verdict = "not reproduced"
        elif s_better["p_value"] <= threshold or (f_better and f_better["p_value"] <= threshold):
            verdict = "reproduced"
        else:
            verdict = "inconclusive"
        numbers.update(
            per_seed=diffs, seeds_sparse_better=s_better["positive"],
            seeds_dense_better=s_better["negative"], p_sparse_better=s_better["p_value"],
            p_dense_better=d_better["p_value"],
            steps={"seeds": len(logs),
                   "dense_over_sparse": 10 ** float(np.mean(logs)) if logs else None,
                   "seeds_sparse_faster": f_better["positive"] if logs else 0,
                   "seeds_sparse_slower": f_better["negative"] if logs else 0,
                   "p_sparse_faster": f_better["p_value"] if logs else None,
                   "p_sparse_slower": f_worse["p_value"] if logs else None},
            seeds_to_detect=seeds_to_detect(threshold))
        if verdict == "inconclusive":
            numbers["detectable_shift"] = detectable_shift(diffs, threshold)
        problems.append(problem_row(n, k, verdict, **numbers))
    return finding_dict(3, "sparse s = 2 beats dense in success or steps when wide", RULE_SPARSE,
                    problems)


def judge_findings(results: Iterable, frontier: Sequence[dict] = ()) -> list[dict]:
    """All six verdicts (1a, 1b, 2, 3, 4a, 4b), in order, from the runs of one sweep
    (:class:`~verify.config.RunResult`) and, for the m* reported beside 1b and 3, its
    :func:`verify.analysis.frontier_table` rows."""
    cells = seed_cells(results)
    if not cells:
        raise ValueError("no runs to judge")
    frontier = list(frontier)
    return [finding_small_m(cells), finding_width_compensates(cells, frontier),
            finding_width_monotone(cells), finding_sparse_beats_dense(cells, frontier),
            finding_steps_vs_m(cells), finding_double_descent(cells)]
