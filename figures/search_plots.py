"""Figure of an adaptive frontier search (:mod:`verify.frontier_search`).

One row of two panels per (n, k, init, s):

* left -- every sampled size m of every width: success rate with Wilson 95% bars, the marker
  area proportional to the runs spent there (where the search put its runs), the fitted Firth
  logistic curve, and m* with its Fieller 95% interval as a horizontal bar at the target;
* right -- the frontier m*(r) against the width r, log-log, with the intervals (open arrows
  for unbounded ends) and the curves whose search ended at a lattice edge drawn as
  triangles at that edge ("< m_min" / "> m_max").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from parity_frontiers.figures.frontier_plots import MIN_SEEDS_FOR_INTERVAL
from parity_frontiers.figures.style import MARKERS, PALETTE, add_caveat, save_figure, subplots
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.verify.analysis.frontier import group_rows
from scipy import special

__all__ = ["search_figure"]


def _panel_key(found) -> tuple:
    c = found.curve
    return (c["n"], c["k"], c["init"], c["s"])


def _title(key) -> str:
    n, k, init, s = key
    return f"(n, k) = ({n}, {k}), " + (f"sparse init s = {s}" if init == "sparse" else
                                        "dense init")


def search_figure(found: Sequence, out_dir, *, stem: str = "frontier_search") -> list:
    """Draw the search results (a list of :class:`verify.frontier_search.CurveFrontier`).

    Returns the written paths (PNG and PDF).
    """
    found = list(found)
    if not found:
        raise ValueError("no search results to draw")
    panels = group_rows(found, _panel_key)
    fig, axes = subplots(len(panels), 2, figsize=(11, 4.2 * len(panels)), squeeze=False)
    for row, (key, curves) in enumerate(panels.items()):
        left, right = axes[row]
        widths = sorted({c.curve["width"] for c in curves})
        few = False
        for item in curves:
            i = widths.index(item.curve["width"]) % len(PALETTE)
            color, marker = PALETTE[i], MARKERS[i]
            cells = list(item.cells)
            m = np.array([c["samples"] for c in cells], float)
            runs = np.array([c["runs"] for c in cells], float)
            wins = np.array([c["successes"] for c in cells], float)
            few = few or bool(np.any(runs < MIN_SEEDS_FOR_INTERVAL))
            est = [proportion_estimate(int(w), int(r)) for w, r in zip(wins, runs, strict=True)]
            rate = wins / runs
            err = np.array([rate - [e.ci_low for e in est], [e.ci_high for e in est] - rate])
            left.errorbar(m, rate, yerr=err, fmt="none", ecolor=color, alpha=0.5, lw=1)
            left.scatter(m, rate, s=12 * runs, color=color, marker=marker, alpha=0.8,
                         label=f"r = {item.curve['width']} ({item.runs} runs, {item.status})")
            _draw_fit(left, item, m, color)
        left.set_xscale("log")
        _plain_ticks(left.xaxis)
        left.set_ylim(-0.05, 1.05)
        left.set_xlabel("training samples m")
        left.set_ylabel("success rate (Wilson 95%)")
        left.set_title(_title(key) + ": runs placed by the search", fontsize=10)
        left.legend(fontsize=7, loc="lower right")
        if few:
            add_caveat(left, f"cells with < {MIN_SEEDS_FOR_INTERVAL} runs: wide intervals "
                             "(marker area = runs)")
        _draw_frontier(right, curves)
        right.set_title(_title(key) + f": frontier m*(r), P(success) = {curves[0].target:g}",
                        fontsize=10)
    return save_figure(fig, out_dir, stem)


def _draw_fit(ax, item, m, color) -> None:
    """The fitted logistic curve over the sampled range, and m* with its interval."""
    if item.fit_status not in ("fitted", "extrapolated") or item.m_star is None:
        return
    grid = np.geomspace(m.min(), m.max(), 200)
    ax.plot(grid, logistic_curve(item.intercept, item.slope, grid), color=color, lw=1)
    low, high = item.ci_low, item.ci_high
    if low is not None and high is not None:
        ax.errorbar([item.m_star], [item.target],
                    xerr=[[item.m_star - low], [high - item.m_star]], fmt="|", color=color,
                    capsize=4, lw=2, ms=14)
    else:  # Fieller's set is unbounded: no bar pretends otherwise
        ax.plot([item.m_star], [item.target], "|", color=color, ms=14)


def _draw_frontier(ax, curves) -> None:
    statuses = {"below_grid": "v", "above_grid": "^"}
    drawn = False
    for item in sorted(curves, key=lambda c: c.curve["width"]):
        r = item.curve["width"]
        if item.status in statuses:
            edge = min(c["samples"] for c in item.cells) if item.status == "below_grid" \
                else max(c["samples"] for c in item.cells)
            ax.plot([r], [edge], statuses[item.status], color=PALETTE[1], mfc="none", ms=9)
            drawn = True
            continue
        if item.m_star is None or item.fit_status not in ("fitted", "extrapolated"):
            continue
        low = item.ci_low if item.ci_low is not None else item.m_star
        high = item.ci_high if item.ci_high is not None else item.m_star
        ax.errorbar([r], [item.m_star], yerr=[[item.m_star - low], [high - item.m_star]],
                    fmt="o", color=PALETTE[0], capsize=4,
                    mfc=PALETTE[0] if item.status == "converged" else "white")
        for end, direction in ((item.ci_low, -1), (item.ci_high, 1)):
            if end is None:  # unbounded: an arrow, never a cap
                ax.annotate("", xy=(r, item.m_star * 3.0 ** direction), xytext=(r, item.m_star),
                            arrowprops={"arrowstyle": "->", "color": PALETTE[0]})
        drawn = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax.xaxis)
    _plain_ticks(ax.yaxis)
    ax.set_xlabel("hidden width r")
    ax.set_ylabel("m* (training samples, 95% interval)")
    if not drawn:
        add_caveat(ax, "no curve has a fitted frontier yet")
    ax.plot([], [], "o", color=PALETTE[0], label="converged")
    ax.plot([], [], "o", color=PALETTE[0], mfc="white", label="budget / exhausted (not converged)")
    ax.plot([], [], "v", color=PALETTE[1], mfc="none", label="m* below / above the range")
    ax.legend(fontsize=7, loc="best")


def _plain_ticks(axis) -> None:
    """Sizes and widths as plain numbers (30, not 3 x 10^1) on a log axis; on an axis of more
    than a decade, in-between ticks are labelled only at 2, 3 and 5 times a power of ten, so
    that they never run together."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _pos, minor):
        if value <= 0:
            return ""
        low, high = sorted(axis.get_view_interval())
        if not minor or (low > 0 and high / low < 10):  # less than a decade: label them all
            return f"{value:g}"
        leading = round(value / 10 ** np.floor(np.log10(value) + 1e-9))
        return f"{value:g}" if leading in (2, 3, 5) else ""

    axis.set_major_formatter(FuncFormatter(lambda v, p: label(v, p, False)))
    axis.set_minor_formatter(FuncFormatter(lambda v, p: label(v, p, True)))


def logistic_curve(intercept: float, slope: float, m: np.ndarray) -> np.ndarray:
    """P(success | m) of a fitted curve: expit(b0 + b1 log10 m)."""
    return special.expit(intercept + slope * np.log10(m))
