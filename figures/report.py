"""The theory-vs-experiment report of a results store: analysis, figures, findings, Markdown.

:func:`analyze` turns stored runs into every table of the report (cells, measured frontier,
its power law in the width, the three predicted frontiers, the four findings, completeness);
:func:`make_figures` draws them; :func:`write_report` writes ``report.md`` (figures embedded)
and ``report.json`` (every number) into one folder. ``parity-frontiers report`` is the CLI.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from parity_frontiers.verify.analysis.findings import ALPHA, init_label, judge_findings
from parity_frontiers.verify.analysis.frontier import (
    CELL_FIELDS,
    curve_key,
    frontier_table,
    group_rows,
    success_points,
)
from parity_frontiers.verify.analysis.power_law import power_law_fit
from parity_frontiers.verify.analysis.predictions import (
    onestep_predictions,
    sq_check,
    theorem_frontier,
)
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.export import write_replacing

__all__ = ["PLOT_KINDS", "analyze", "completeness", "make_figures", "write_report",
           "load_results", "check_out_dir"]

#: What ``parity-frontiers plot KIND`` draws.
PLOT_KINDS = ("heatmap", "success", "steps", "sq", "lottery", "all")


def load_results(store_path) -> list[RunResult]:
    """Every run of a results store, read-only; a clear error for a missing or empty store."""
    from parity_frontiers.verify.experiments.store import ResultsStore

    path = Path(store_path)
    if not path.exists():
        raise ValueError(f"no results store at {path} (run `parity-frontiers sweep` or "
                         "`parity-frontiers reproduce` first)")
    with ResultsStore(path, readonly=True) as store:
        results = store.results()
    if not results:
        raise ValueError(f"the results store {path} holds no runs yet: nothing to analyse")
    return results


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


def _power_laws(frontier: Sequence[dict]) -> list[dict]:
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
            progress: bool = False) -> dict:
    """Every table of the report, from stored runs.

    Parameters
    ----------
    results : iterable of RunResult
    expected : sequence of RunConfig, optional
        The sweep's full grid, to report what is missing.
    onestep_trials, seed : int
        Monte Carlo trials and seed of the one-step prediction (:mod:`verify.predict`).
    target : float
        Success probability that defines the frontier m*.

    Returns
    -------
    dict
        ``points``, ``frontier``, ``power_laws``, ``sq``, ``onestep``, ``theorem``,
        ``findings``, ``completeness``, ``runs``, ``target``.
    """
    results = list(results)
    if not results:
        raise ValueError("no runs to analyse")
    _check_one_sweep(results)
    points = success_points(results)
    frontier = frontier_table(points, target)
    return {"runs": len(results), "target": target, "points": points, "frontier": frontier,
            "power_laws": _power_laws(frontier), "sq": sq_check(points),
            "onestep": onestep_predictions(points, trials=onestep_trials, seed=seed,
                                           target=target, progress=progress),
            "theorem": theorem_frontier(frontier),
            "findings": judge_findings(points, frontier),
            "completeness": completeness(results, expected)}


def check_out_dir(out_dir, create: bool = True, option: str = "--out") -> Path:
    """Create the output folder (and parents); a clear ValueError when that is impossible, so
    that a bad --out fails before any analysis is done, never with a traceback after. With
    ``create=False`` only check: the folder exists, or its nearest existing parent is one.
    ``option`` names the command-line option in the message."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out} is a file, not a folder")
    if not create:
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ValueError(f"cannot create the output folder {out}: {parent} is a file")
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {out}: {exc.strerror}") from None
    return out


def make_figures(analysis: dict, out_dir, kinds: Sequence[str] = ("all",), *,
                 lottery_trials: int = 2000, seed: int = 0) -> list[Path]:
    """Draw the report's figures (any of :data:`PLOT_KINDS`) into ``out_dir``."""
    from parity_frontiers.figures import frontier_plots, theory_plots

    unknown = sorted(set(kinds) - set(PLOT_KINDS))
    if unknown:
        raise ValueError(f"unknown plot kind(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(PLOT_KINDS)}")
    want = set(PLOT_KINDS[:-1]) if "all" in kinds else set(kinds)
    check_out_dir(out_dir)
    points = analysis["points"]
    paths: list[Path] = []
    if "heatmap" in want:
        paths += frontier_plots.success_heatmap(
            points, out_dir, frontier=analysis["frontier"],
            onestep=analysis["onestep"]["curves"], theorem=analysis["theorem"]["rows"])
    if "success" in want:
        paths += frontier_plots.success_curves(points, out_dir)
    if "steps" in want:
        paths += frontier_plots.steps_curves(points, out_dir)
    problems = sorted({(p["n"], p["k"]) for p in points})
    if "sq" in want:
        # The sweep's own problems, and two where the bound bites (docs/theory.md §2).
        sq_problems = sorted(set(problems) | {(300, 4), (1000, 8)})[:4]
        widths = sorted({p["width"] for p in points} | {10, 100_000})
        steps = sorted({p["max_steps"] for p in points} | {100_000})
        cells = [{"n": p["n"], "k": p["k"], "width": p["width"],
                  "samples": p["samples"] if p["samples"] is not None
                  else p["max_steps"] * p["batch_size"],
                  "steps": p["max_steps"], "success_rate": p["success_rate"]} for p in points]
        paths += theory_plots.sq_frontier_figure(problems=sq_problems, widths=widths,
                                                 steps=steps, samples_range=(1.0, 1e12),
                                                 cells=cells, out_dir=out_dir)
    if "lottery" in want:
        n, k = problems[0]
        s_values = sorted({p["s"] for p in points if p["s"] is not None} | {1, k, k + 1})
        s_values = [s for s in s_values if s <= n]
        widths = sorted({p["width"] for p in points})
        paths += theory_plots.lottery_figure(n=n, k=k, s_values=s_values, widths=widths,
                                             trials=lottery_trials, seed=seed,
                                             out_dir=out_dir)["paths"]
    return paths


# --- Markdown -------------------------------------------------------------------------------------

def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}g}"
    return str(value)


def _frontier_text(row: dict) -> str:
    if row["status"] == "fitted":
        return f"{row['m_star']:.0f} [{row['ci_low']:.0f}, {row['ci_high']:.0f}]"
    if row["status"] == "below_grid":
        return f"< {row['m_min']}"
    if row["status"] == "above_grid":
        return f"> {row['m_max']}"
    return "no crossing (rate falls with m)"


def _finding_numbers(finding: dict) -> str:
    ev = finding["evidence"]
    if finding["id"] == 1:
        parts = []
        for e in ev:
            text = (f"n={e['n']}: smallest clear m = {e['smallest_m']} at r={e['width']} "
                    f"({e['init']}, {e['successes']}/{e['runs']}), m/n^k = "
                    f"{e['m_over_n_to_k']:.2g}" if e["smallest_m"] is not None
                    else f"n={e['n']}: no clear success")
            if not e["grid_can_fail"]:
                text += " (no m of the grid exceeds n^k/10: this could not fail here)"
            parts.append(text)
        return "; ".join(parts)
    if finding["id"] == 2:
        return (f"{ev['pairs']} neighbouring-width pairs ({ev['informative_pairs']} "
                f"informative), {ev['decreases']} raw decreases, {len(ev['significant'])} "
                f"significant (p < {ev['threshold']:.2g}); median steps of successful runs "
                f"did not rise in {ev['steps_not_rising']}/{ev['steps_pairs']} pairs")
    if finding["id"] == 3:
        return "; ".join(
            f"n={e['n']}, r in {e['widths']}: success sparse {e['success_sparse'][0]}/"
            f"{e['success_sparse'][1]} vs dense {e['success_dense'][0]}/"
            f"{e['success_dense'][1]} (p sparse better = {e['p_sparse_better']:.2g}, dense "
            f"better = {e['p_dense_better']:.2g}); sparse faster in {e['sparse_faster']}/"
            f"{e['cells_with_both_medians']} cells, slower in {e['sparse_slower']}"
            for e in ev) or "no width with both inits"
    curves = ev["curves"]
    ratios = [r["ratio"] for r in ev["edge_ratios"]]
    significant = sum(c["spearman"] < 0 and c["p_value"] < ALPHA for c in curves)
    text = (f"Spearman(m, median steps of successful runs) < 0 on {ev['negative']}/"
            f"{len(curves)} curves ({significant} with p < {ALPHA:g}); those steps at the edge "
            f"/ at the largest m: {', '.join(f'{r:.2g}' for r in ratios) or '-'}; ")
    sig = ev["significant_dips"]
    text += (f"double descent: {len(sig)} significant dip(s)" +
             (" at " + "; ".join(f"{d['curve']} r={d['width']} m={d['m'][1]}" for d in sig)
              if sig else f" ({len(ev['dips'])} raw dips, none significant)"))
    return text


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
    lines += ["## Findings (PAPER.md section 5)", "",
              "| # | claim | verdict | numbers behind it |", "|---|---|---|---|"]
    for f in analysis["findings"]:
        lines.append(f"| {f['id']} | {f['claim']} | **{f['verdict']}** | "
                     f"{_finding_numbers(f)} |")
    lines += ["", "Decision rules (fixed before the data):", ""]
    lines += [f"{f['id']}. {f['rule']}" for f in analysis["findings"]]
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
    curves = analysis["onestep"]["curves"]
    measured_fitted = sum(r["status"] == "fitted" for r in analysis["frontier"])
    if curves and not any(c["status"] == "inside" for c in curves):
        lines += ["", "The one-step prediction never crosses the target inside the grid: its "
                  "success hardly depends on m here (a lucky neuron selects S from the "
                  "smallest m), so it is limited by luck, i.e. width (`< m_min` where enough "
                  "neurons are lucky, `> m_max` where too few are); its ratios are bounds."
                  + (f" The trained nets show a data frontier inside the grid on "
                     f"{measured_fitted} of {len(analysis['frontier'])} curves."
                     if analysis["frontier"] else "")]
    lines += ["", "The Thm 4/5 ratios average to 1 in log space by construction (c3 is fitted "
              "to these m*); what they test is the *shape*: how m* should change with n (and "
              "s) at fixed constants. The theorems also assume k and s even and s = Omega(k), "
              "not checked here."]
    scaling = analysis["theorem"].get("n_scaling", [])
    if scaling:
        lines += ["", "| init | width | n | measured m* ratio | theorem's ratio |",
                  "|---|---|---|---|---|"]
        for row in scaling:
            init = init_label(row)
            lines.append(f"| {init} | {row['width']} | {row['n_low']} -> {row['n_high']} | "
                         f"{row['measured_ratio']:.3g} | {row['predicted_ratio']:.3g} |")
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
              f"{len(sq)} cells; the bound min(1, 2 r T m / C(n,k)) is below 1 in "
              f"{sum(not r['vacuous'] for r in sq)} of them; contradictions (Wilson lower end "
              f"above the bound): {len(contradictions)}."]
    for r in contradictions:
        lines.append(f"- n={r['n']} k={r['k']} r={r['width']} m={r['samples']}: bound "
                     f"{r['bound']:.3g} < observed lower end {r['ci_low']:.3g}")
    if sq and all(r["vacuous"] for r in sq):
        lines.append("At these sizes the bound allows everything: C(n, k) is far below "
                     "r T m. It bites at larger n, k (see the SQ figure).")
    skipped = analysis["onestep"]["skipped"]
    if skipped:
        lines += ["", "One-step prediction not made for: " + "; ".join(
            f"n={s['n']} k={s['k']} {s['init']} s={s['s']} ({s['reason']})" for s in skipped)]
    lines += ["", "## Figures", ""]
    for path in figures:
        if Path(path).suffix == ".png":
            lines += [f"![{Path(path).stem}]({Path(path).name})", ""]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    write_replacing(path, lambda tmp: Path(tmp).write_text(text))


def write_report(analysis: dict, out_dir, *, title: str = "parity-frontiers report",
                 command: str | None = None, store: str | None = None,
                 lottery_trials: int = 2000, seed: int = 0) -> dict:
    """Draw every figure and write ``report.md`` and ``report.json`` into ``out_dir``.

    Returns ``{"report": Path, "json": Path, "figures": [Path, ...]}``.
    """
    out = check_out_dir(out_dir)
    figures = make_figures(analysis, out, lottery_trials=lottery_trials, seed=seed)
    report = out / "report.md"
    _write_atomic(report, render_markdown(analysis, figures, title=title, command=command,
                                          store=store))
    data = out / "report.json"
    _write_atomic(data, json.dumps({k: v for k, v in analysis.items() if k != "points"}
                                   | {"cells": analysis["points"]}, indent=1, default=str))
    return {"report": report, "json": data, "figures": figures}
