"""The report's Markdown: findings and predictions with their verdicts, frontiers, tables.

:func:`render_markdown` lays out the tables of :func:`verify.analysis.report_tables.analyze`
(or of a ``report.json`` read back, with ``cells`` as ``points``): each finding's and each
prediction's overall verdict and its verdict per (n, k) with the numbers behind it, the
decision rules as the analysis states them, the measured and predicted frontiers, the power
law of m*(r) and the SQ check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from parity_frontiers.verify.analysis.frontier import curve_key
from parity_frontiers.verify.analysis.paired import NOT_TESTABLE, init_label

__all__ = ["render_markdown"]


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}g}"
    return str(value)


def _p(value) -> str:
    return "-" if value is None else f"{value:.2g}"


def _frontier_text(row: dict) -> str:
    if row["status"] == "fitted":
        return f"{row['m_star']:.0f} [{row['ci_low']:.0f}, {row['ci_high']:.0f}]"
    if row["status"] == "below_grid":
        return f"< {row['m_min']}"
    if row["status"] == "above_grid":
        return f"> {row['m_max']}"
    return "no crossing (rate falls with m)"


def _two_way_p(p_for, p_against, against: str, threshold=None, name="sign-flip p") -> str:
    """'sign-flip p = 0.01 (narrower better: 0.9; threshold 0.025)': a test both ways."""
    tail = "" if threshold is None else f"; threshold {threshold:g}"
    return f"{name} = {_p(p_for)} ({against}: {_p(p_against)}{tail})"


def _detectable(p: dict, key: str, what: str, prefix: str = "") -> str:
    """'; smallest detectable mean shift 0.5' where a null result states its power."""
    return f"; smallest detectable {what} {prefix}{_fmt(p[key])}" if key in p else ""


def _m(value) -> str:
    """A sample size or m*: whole numbers from 10 up, 3 digits below."""
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 10 else _fmt(float(value))


def _interval(ends, sizes: bool = False) -> str:
    """[low, high] of an interval whose ends may be None (0 below, inf above); ``sizes``
    prints them as sample sizes."""
    show = _m if sizes else (lambda v: _fmt(float(v)))
    low, high = ends
    return f"[{show(low) if low is not None else '0'}, {show(high) if high is not None else 'inf'}]"


def _numbers_small_m(p: dict) -> str:
    best = p.get("smallest_clear")
    text = (f"{p['clear_cells']} of {p['cells']} offline cells succeed clearly (one-sided "
            f"binomial p <= {p['threshold']:.2g}), {p['clear_cells_small_m']} of them at "
            f"m <= n^k/10 = {p['limit']:g}")
    if best:
        text += (f"; smallest: m = {best['m']} at r = {best['width']} ({best['init']}, "
                 f"{best['successes']}/{best['runs']}, p = {_p(best['p_value'])}), m/n^k = "
                 f"{best['m_over_n_to_k']:.2g}")
    return text


def _numbers_width_compensates(p: dict) -> str:
    arms = "; ".join(
        f"{a['init']} r = {a['widths'][0]} -> {a['widths'][1]}: {a['successes_narrow']} -> "
        f"{a['successes_wide']} successes over m = {a['m'][0]}..{a['m'][-1]}"
        + (", m* " + " -> ".join(_m(a["m_star"][str(w)][1]) for w in a["widths"]
                                  if str(w) in a["m_star"]) if a["m_star"] else "")
        for a in p["arms"])
    text = (f"per seed, grid sizes gained by the widest over the narrowest width (summed over "
            f"inits): mean {p['mean_shift']:.3g}, wider better on {p['seeds_wide_better']} "
            f"seeds, narrower on {p['seeds_narrow_better']}; "
            + _two_way_p(p["p_wide_better"], p["p_narrow_better"], "narrower better",
                         p["threshold"]) + f"; {arms}")
    return text + _detectable(p, "detectable_shift", "mean shift")


def _numbers_width_monotone(p: dict) -> str:
    steps = p["steps"]
    text = (f"{p['pairs']} neighbouring-width pairs, {p['informative_pairs']} able to reach "
            f"significance (Tarone K = {p['tarone_k']}, exact McNemar p <= "
            f"{p['threshold']:.2g}); {p['raw_drops']} with more seeds falling than rising, "
            f"{len(p['significant'])} significant")
    if p["significant"]:
        text += " (" + "; ".join(f"{t['cell']} m = {t['samples']} r = {t['widths'][0]} -> "
                                 f"{t['widths'][1]}: {t['first_only']} vs {t['second_only']} "
                                 f"seeds, p = {_p(t['p_value'])}" for t in p["significant"]) + ")"
    text += (f"; smallest detectable drop: {p['smallest_detectable_drop']} of {p['seeds']} "
             f"seeds succeeding at the narrower width and failing at the wider (none the "
             f"other way)")
    if steps["seeds"]:
        text += (f"; steps (not judged): wider nets faster on {steps['seeds_wider_faster']} "
                 f"of {steps['seeds']} seeds, x{steps['wider_faster_ratio']:.3g} per width "
                 f"step, sign-flip p = {_p(steps['p_two_sided'])}")
    return text


def _numbers_sparse(p: dict) -> str:
    steps = p["steps"]
    text = (f"r in {p['widths']} ({p['cells']} cells): successes sparse "
            f"{p['success_sparse'][0]}/{p['success_sparse'][1]} vs dense "
            f"{p['success_dense'][0]}/{p['success_dense'][1]}; per seed sparse better on "
            f"{p['seeds_sparse_better']}, dense on {p['seeds_dense_better']}: "
            + _two_way_p(p["p_sparse_better"], p["p_dense_better"], "dense better"))
    if steps["seeds"]:
        text += (f"; steps dense/sparse x{steps['dense_over_sparse']:.3g}, sparse faster on "
                 f"{steps['seeds_sparse_faster']} of {steps['seeds']} seeds, "
                 + _two_way_p(steps["p_sparse_faster"], steps["p_sparse_slower"], "slower",
                              name="p"))
    text += f"; threshold {p['threshold']:g} each"
    return text + _detectable(p, "detectable_shift", "mean shift")


def _numbers_steps(p: dict) -> str:
    ratios = ", ".join(_fmt(c["ratio"], 2) for c in p["curves"])
    text = (f"steps at the edge m / at the largest m, per seed over curves: "
            f"x{p['mean_ratio']:.3g} (geometric mean), higher at the edge on "
            f"{p['seeds_more_at_edge']} of {p['seeds']} seeds, lower on "
            f"{p['seeds_fewer_at_edge']}; "
            + _two_way_p(p["p_more_at_edge"], p["p_fewer_at_edge"], "lower", p["threshold"])
            + f"; per curve (median steps of successful runs): {ratios}")
    return text + _detectable(p, "detectable_ratio", "ratio", "x")


def _numbers_double_descent(p: dict) -> str:
    text = (f"{p['triples']} triples m1 < m2 < m3 (Tarone K = {p['tarone_k']}, p <= "
            f"{p['threshold']:.2g}): {p['raw_dips']} with more seeds falling than rising "
            f"and more recovering than not, {len(p['significant'])} significant")
    if p["significant"]:
        text += " (" + "; ".join(f"{t['curve']} r = {t['width']} m = {t['m']}: "
                                 f"{t['successes']}, p = {_p(t['p_value'])}"
                                 for t in p["significant"][:3]) + ")"
    text += (f"; smallest detectable dip: {p['smallest_detectable_dip']} of {p['seeds']} "
             f"seeds succeeding at m1 and m3 and failing at m2 (none the other way)")
    return text


_FINDING_NUMBERS = {"1a": _numbers_small_m, "1b": _numbers_width_compensates,
                    "2": _numbers_width_monotone, "3": _numbers_sparse, "4a": _numbers_steps,
                    "4b": _numbers_double_descent}


def _problem_numbers(finding: dict, problem: dict) -> str:
    if problem["verdict"] == NOT_TESTABLE:
        return problem.get("reason", "")
    return _FINDING_NUMBERS[str(finding["id"])](problem)


def _overall_text(item: dict) -> str:
    problems = item.get("problems", item.get("groups", []))
    testable = sum(p["verdict"] != NOT_TESTABLE for p in problems)
    return f"{testable} of {len(problems)} testable"


def _findings_lines(analysis: dict) -> list[str]:
    lines = ["## Findings (docs/theory.md §5.8)", "",
             "Each finding is judged per (n, k) by a rule fixed before the data, with the seed "
             "as the unit: seeds recur in every cell (a seed fixes S, the test set, the init "
             "and the nested training sets), so cells are compared by paired tests over seeds "
             "(exact sign-flip or McNemar), never by pooling runs. The overall verdict is "
             "*reproduced* only if every testable (n, k) is; a rule that cannot fail on this "
             "grid says *not testable here*; a null result states the smallest effect it could "
             "have detected.", "",
             "| # | claim | (n, k) | verdict | numbers behind it |", "|---|---|---|---|---|"]
    for f in analysis["findings"]:
        lines.append(f"| {f['id']} | {f['claim']} | all | **{f['verdict']}** | "
                     f"{_overall_text(f)} |")
        for p in f["problems"]:
            lines.append(f"| | | ({p['n']}, {p['k']}) | {p['verdict']} | "
                         f"{_problem_numbers(f, p)} |")
    lines += ["", "Decision rules (alpha = 0.05 per finding and (n, k)):", ""]
    lines += [f"- {f['id']}: {f['rule']}." for f in analysis["findings"]]
    return lines


def _onestep_numbers(p: dict) -> str:
    if p["verdict"] == NOT_TESTABLE:
        return p.get("reason", "")
    parts = []
    for c in p["curves"]:
        lucky = "" if c["init"] == "dense" else f", P(>= 1 lucky neuron) {c['p_any_lucky']:.2g}"
        parts.append(f"{c['init']} r = {c['width']}: predicted "
                     f"{_interval(c['predicted_interval'], sizes=True)} (predicted success at "
                     f"the largest m {c['predicted_at_largest_m']:.2g}{lucky}) vs measured "
                     f"{_m(c['measured_m_star'])} {_interval(c['measured_interval'], sizes=True)}"
                     f"{' (disjoint)' if c['refuted'] else ' (overlap)'}")
    return (f"disjoint on {p['refuted_curves']} of {len(p['curves'])} curves (m* intervals; "
            f"measured at {100 * p['level']:.3g}%): " + "; ".join(parts))


def _sq_numbers(p: dict) -> str:
    cell = p["smallest_ratio_cell"]
    text = (f"smallest 2 r T m / C(n, k) on the grid: {p['smallest_ratio']:.3g} (r = "
            f"{cell['params']} parameters at width {cell['width']}, T = {cell['steps']}, "
            f"m = {cell['samples']}); {p['cells_that_could_contradict']} of {p['cells']} "
            f"cells could contradict the bound, {len(p['contradictions'])} do")
    return text


def _scaling_numbers(g: dict) -> str:
    widths = ", ".join(f"r = {w['width']}: {w['measured_ratio']:.3g} "
                       f"{_interval(w['interval_95'])}" for w in g["widths"])
    text = (f"{g['theorem']}: measured m*({g['n_high']}) / m*({g['n_low']}) = "
            f"{g['measured_ratio']:.3g} {_interval(g['interval'])} (geometric mean over "
            f"widths, {100 * g['level']:.3g}% bootstrap interval over {g['seeds']} seeds, "
            f"{g['bootstrap']} resamples) vs predicted {g['predicted_ratio']:.3g}; per width "
            f"(95%): {widths}")
    if g["outside_conditions"]:
        text += "; outside the theorem's conditions: " + "; ".join(g["outside_conditions"])
    return text


def _predictions_lines(analysis: dict) -> list[str]:
    pred = analysis.get("predictions")
    if not pred:
        return []
    lines = ["## Predictions against the data (docs/theory.md §5.7)", "",
             "| prediction | where | verdict | numbers behind it |", "|---|---|---|---|"]
    for key, label, numbers in (("sq", "SQ bound (Prop. 3)", _sq_numbers),
                                ("onestep", "lottery x one step", _onestep_numbers)):
        item = pred[key]
        lines.append(f"| {label} | all | **{item['verdict']}** | {_overall_text(item)} |")
        for p in item["problems"]:
            lines.append(f"| | ({p['n']}, {p['k']}) | {p['verdict']} | {numbers(p)} |")
    item = pred["n_scaling"]
    lines.append(f"| Thm 4/5 n-scaling | all | **{item['verdict']}** | "
                 f"{item.get('reason', _overall_text(item))} |")
    for g in item["groups"]:
        lines.append(f"| | {init_label(g)}, k = {g['k']} | {g['verdict']} | "
                     f"{_scaling_numbers(g)} |")
    lines += ["", "Decision rules:", ""]
    lines += [f"- {pred[key]['name']}: {pred[key]['rule']}."
              for key in ("sq", "onestep", "n_scaling")]
    return lines


def render_markdown(analysis: dict, figures: Sequence[Path], *, title: str,
                    command: str | None = None, store: str | None = None) -> str:
    """The report as Markdown (figures referenced by file name, relative to the report)."""
    lines = [f"# {title}", ""]
    if command:
        lines += ["Made by:", "", "```", command, "```", ""]
    points = analysis["points"]
    seeds = sorted({p["runs"] for p in points})
    lines += [f"Store: `{store}`. " if store else "",
              f"{analysis['runs']} runs in {len(points)} cells; runs per cell: "
              f"{', '.join(map(str, seeds))}. Frontier target: success probability "
              f"{analysis['target']:g}.", ""]
    comp = analysis["completeness"]
    if comp["missing_runs"]:
        lines += [f"**Incomplete:** {comp['missing_runs']} of {comp['expected_runs']} runs "
                  f"of the grid are not in the store ({len(comp['missing_cells'])} cells "
                  f"without any run, {len(comp['partial_cells'])} partial). Verdicts below "
                  "use the runs present.", ""]
    elif comp["partial_cells"]:
        lines += [f"**Uneven:** {len(comp['partial_cells'])} cells have fewer runs than the "
                  "fullest one.", ""]
    lines += _findings_lines(analysis)
    lines += [""] + _predictions_lines(analysis)
    lines += ["", "## Frontier m*(r): measured against predicted", "",
              "m* = training-set size where the success probability crosses "
              f"{analysis['target']:g} (Firth logistic fit in log m, 95% delta-method "
              "interval). One-step = lottery x one-step mechanism (simulate/, +-1 neurons, "
              f"up to {analysis['onestep']['trials']} trials per cell, fewer where the work budget "
              "requires; dense = s = n). Thm 4/5 = the "
              "theorems' scaling with 2 constants fitted per init (c3 from the measured m*, "
              "c2 an upper bound from the narrowest successful width). Ratio = predicted / "
              "measured.", "",
              "| n | k | init | width | measured m* [95%] | one-step m* | ratio | "
              "Thm 4/5 m* | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    onestep = {curve_key(c): c for c in analysis["onestep"]["curves"]}
    theorem = {curve_key(r): r for r in analysis["theorem"]["rows"]}
    for row in analysis["frontier"]:
        key = curve_key(row)
        one = onestep.get(key)
        one_text, one_ratio = "-", "-"
        if one is not None:
            one_text = {"inside": _fmt(one["m_star"]), "below_grid": f"< {one['m_min']}",
                        "above_grid": f"> {one['m_max']}"}[one["status"]]
            if row["status"] == "fitted":
                # Outside the grid the prediction is a bound, and so is its ratio.
                bound = {"inside": ("", "m_star"), "below_grid": ("< ", "m_min"),
                         "above_grid": ("> ", "m_max")}[one["status"]]
                one_ratio = bound[0] + _fmt(one[bound[1]] / row["m_star"])
        thm = theorem.get(key, {})
        init = init_label(row)
        lines.append(f"| {row['n']} | {row['k']} | {init} | {row['width']} | "
                     f"{_frontier_text(row)} | {one_text} | {one_ratio} | "
                     f"{_fmt(thm.get('predicted'))} | {_fmt(thm.get('ratio'))} |")
    verdict = (analysis.get("predictions") or {}).get("onestep")
    if verdict and verdict["verdict"] != NOT_TESTABLE:
        compared = [c for p in verdict["problems"] for c in p.get("curves", [])]
        refuted = sum(c["refuted"] for c in compared)
        lines += ["", f"The one-step prediction is **{verdict['verdict']}**: its m* interval "
                  f"and the measured one are disjoint on {refuted} of {len(compared)} curves "
                  "(Predictions above). Where it predicts `> m_max` the mechanism with this "
                  "many neurons does not reach the target at any m of the grid, while the "
                  "trained nets do; where it predicts `< m_min` it reaches the target already "
                  "at the smallest m, below the measured frontier. A prediction that misses "
                  "in both directions is a failed prediction, not a limit of luck."]
    lines += ["", "The Thm 4/5 ratios average to 1 in log space by construction (c3 is fitted "
              "to these m*); what they test is the *shape*: how m* should change with n (and "
              "s) at fixed constants, judged under Predictions above. The theorems also "
              "assume k and s even and s = Omega(k), not met here."]
    scaling = analysis["theorem"].get("n_scaling", [])
    if scaling:
        intervals = {}
        groups = ((analysis.get("predictions") or {}).get("n_scaling") or {}).get("groups", [])
        for g in groups:
            for w in g["widths"]:
                intervals[(g["init"], g["s"], g["k"], w["width"])] = w["interval_95"]
        lines += ["", "| init | width | n | measured m* ratio [95% bootstrap] | "
                  "theorem's ratio |", "|---|---|---|---|---|"]
        for row in scaling:
            init = init_label(row)
            ends = intervals.get((row["init"], row["s"], row["k"], row["width"]))
            text = f"{row['measured_ratio']:.3g}" + (f" {_interval(ends)}" if ends else "")
            lines.append(f"| {init} | {row['width']} | {row['n_low']} -> {row['n_high']} | "
                         f"{text} | {row['predicted_ratio']:.3g} |")
    for const in analysis["theorem"]["constants"]:
        init = init_label(const)
        lines.append("")
        lines.append(f"Fitted constants, {init} ({', '.join(const['theorem'])}): c3 = "
                     f"{_fmt(const['c3'])} from {const['fitted_from']} m*; c2 <= "
                     f"{_fmt(const['c2_upper'])}.")
    lines += ["", "## Scaling of m* with the width", "",
              "Weighted least squares of log10 m* on log10 r over the widths with a fitted m* "
              "(the paper could not measure this).", "",
              "| n | k | init | widths | exponent [95%] |", "|---|---|---|---|---|"]
    for law in analysis["power_laws"]:
        init = init_label(law)
        text = ("needs 2+ widths" if law["exponent"] is None else
                f"{law['exponent']:.3f} [{law['exponent_ci'][0]:.3f}, "
                f"{law['exponent_ci'][1]:.3f}]")
        widths = ", ".join(f"{w:g}" for w in law["widths"])
        lines.append(f"| {law['n']} | {law['k']} | {init} | {widths} | {text} |")
    sq = analysis["sq"]
    contradictions = [r for r in sq if r["contradiction"]]
    lines += ["", "## SQ lower bound (Prop. 3)", "",
              f"{len(sq)} cells; the bound min(1, 2 r T m / C(n,k)), r counting every "
              f"parameter, is below 1 in {sum(not r['vacuous'] for r in sq)} of them; "
              f"contradictions (Wilson lower end above the bound): {len(contradictions)}."]
    for r in contradictions:
        lines.append(f"- n={r['n']} k={r['k']} r={r['width']} m={r['samples']}: bound "
                     f"{r['bound']:.3g} < observed lower end {r['ci_low']:.3g}")
    sq_verdict = (analysis.get("predictions") or {}).get("sq")
    if sq_verdict and sq_verdict["verdict"] == NOT_TESTABLE:
        smallest = min(p["smallest_ratio"] for p in sq_verdict["problems"])
        lines.append(f"Verdict: **{NOT_TESTABLE}**. At these sizes the bound allows "
                     f"everything (2 r T m / C(n, k) is at least {smallest:.3g} on this "
                     "grid), so no outcome could contradict it. It bites at larger n, k (see "
                     "the SQ figure).")
    elif sq_verdict:
        lines.append(f"Verdict: **{sq_verdict['verdict']}**.")
    skipped = analysis["onestep"]["skipped"]
    if skipped:
        lines += ["", "One-step prediction not made for: " + "; ".join(
            f"n={s['n']} k={s['k']} {s['init']} s={s['s']} ({s['reason']})" for s in skipped)]
    lines += ["", "## Figures", ""]
    for path in figures:
        if Path(path).suffix == ".png":
            lines += [f"![{Path(path).stem}]({Path(path).name})", ""]
    return "\n".join(lines) + "\n"
