"""Figure of an adaptive frontier search (:mod:`verify.experiments.frontier_search`).

One row of two panels per (n, k, init, s):

* left -- every sampled size m of every width: success rate with Wilson 95% bars, the marker
  area proportional to the runs spent there (where the search put its runs), the fitted Firth
  logistic curve, and m* with its Fieller 95% interval as a horizontal bar at the target;
* right -- the frontier m*(r) against the width r, log-log, with the intervals (open arrows
  for unbounded ends) and the curves whose search ended at a lattice edge drawn as
  triangles at that edge ("< m_min" / "> m_max").

:func:`draw_search` draws into ``ax=`` / ``fig=`` and returns the Figure; :func:`search_figure`
writes it (PNG + PDF); :func:`stored_search` recomputes a finished search's results from its
store without training, to redraw it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from parity_frontiers.figures.frontier_plots import MIN_SEEDS_FOR_INTERVAL
from parity_frontiers.figures.layout import log_axis, panel_axes
from parity_frontiers.figures.style import (
    MARKERS,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.verify.analysis.frontier import group_rows
from parity_frontiers.verify.analysis.inits import is_sparse

__all__ = ["draw_search", "search_figure", "stored_search", "logistic_curve"]


def _panel_key(found) -> tuple:
    c = found.curve
    return (c["n"], c["k"], c["init"], c["s"])


def _title(key) -> str:
    n, k, init, s = key
    sparse = is_sparse({"init": init, "s": s})
    return f"(n, k) = ({n}, {k}), {init} init" + (f" s = {s}" if sparse else "")


def draw_search(found: Sequence, *, ax=None, fig=None):
    """Draw the search results (a list of
    :class:`verify.experiments.frontier_search.CurveFrontier`).

    Two panels per (n, k, init, s): ``ax`` takes them in order (left, right of the first
    group, then of the next ...), e.g. ``ax=axes`` of a ``(groups, 2)`` grid. Both panels have
    log axes labelled with plain numbers across the data's range (never only 500 .. 1000);
    the right panel's legend lists only the statuses drawn. Returns the Figure.
    """
    found = list(found)
    if not found:
        raise ValueError("no search results to draw")
    panels = group_rows(found, _panel_key)
    figure, flat, owned = panel_axes(2 * len(panels), ax=ax, fig=fig, ncols=2,
                                     figsize=(11, 4.2 * len(panels)))
    for row, (key, curves) in enumerate(panels.items()):
        left, right = flat[2 * row], flat[2 * row + 1]
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
            left.errorbar(m, rate, yerr=np.clip(err, 0, None), fmt="none", ecolor=color,
                          alpha=0.5, lw=1)
            left.scatter(m, rate, s=12 * runs, color=color, marker=marker, alpha=0.8,
                         label=f"r = {item.curve['width']} ({item.runs} runs, {item.status})")
            _draw_fit(left, item, m, color)
        log_axis(left.xaxis)
        left.set_ylim(-0.05, 1.05)
        left.set_xlabel("training samples m (log scale)")
        left.set_ylabel("success rate (Wilson 95%)")
        left.set_title(_title(key) + ": runs placed by the search", fontsize=10)
        left.legend(fontsize=7, loc="lower right")
        if few:
            add_caveat(left, f"cells with < {MIN_SEEDS_FOR_INTERVAL} runs: wide intervals "
                             "(marker area = runs)")
            # Headroom above success 1, where the fitted curves end, for the caveat's box.
            left.set_ylim(-0.05, 1.2)
            left.set_yticks(np.linspace(0, 1, 6))
        _draw_frontier(right, curves)
        right.set_title(_title(key) + f": frontier m*(r), P(success) = {curves[0].target:g}",
                        fontsize=10)
    return root_figure(figure)


def search_figure(found: Sequence, out_dir, *, stem: str = "frontier_search") -> list:
    """:func:`draw_search` written to ``out_dir/STEM.png`` and ``.pdf``; returns the paths."""
    return save_figure(draw_search(found), out_dir, stem)


def stored_search(store_path, templates, settings=None) -> list:
    """The results of a finished search, recomputed from its store without training.

    Runs :func:`verify.experiments.frontier_search.search_frontiers` on the stored runs
    (opened read-only) with an executor that refuses to train: a search that would still want
    runs (other settings, an unfinished store) raises ``ValueError`` instead. With the command's own
    settings this redraws ``frontier_search.png`` of a store in a second.

    Parameters
    ----------
    store_path : path
        The search's results store (``--store``).
    templates : sequence of RunConfig
        :func:`verify.experiments.frontier_search.curve_templates` with the search's
        training options.
    settings : SearchSettings, optional
        The search's settings (``--m-min``, ``--tol``, ``--seed-start`` ...).

    Returns
    -------
    list of CurveFrontier
    """
    from parity_frontiers.verify.experiments.executors import Executor
    from parity_frontiers.verify.experiments.frontier_search import search_frontiers
    from parity_frontiers.verify.experiments.store import ResultsStore

    class _NoTraining(Executor):
        def train(self, configs, on_result=None, progress=True, _bar=None):
            raise ValueError(f"the store {store_path} lacks {len(configs)} run(s) that this "
                             "search would train (other settings, or an unfinished search); "
                             "nothing was trained")

    with ResultsStore(store_path, readonly=True) as store:
        return search_frontiers(templates, _NoTraining(), store=store, settings=settings,
                                progress=False)


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
    statuses = {"below_grid": ("v", "m* below the searched range"),
                "above_grid": ("^", "m* above the searched range")}
    drawn = set()  # legend labels already given: each status once, only if drawn
    for item in sorted(curves, key=lambda c: c.curve["width"]):
        r = item.curve["width"]
        if item.status in statuses:
            edge = min(c["samples"] for c in item.cells) if item.status == "below_grid" \
                else max(c["samples"] for c in item.cells)
            marker, label = statuses[item.status]
            ax.plot([r], [edge], marker, color=PALETTE[1], mfc="none", ms=9,
                    label="_" if label in drawn else label)
            drawn.add(label)
            continue
        if item.m_star is None or item.fit_status not in ("fitted", "extrapolated"):
            continue
        low = item.ci_low if item.ci_low is not None else item.m_star
        high = item.ci_high if item.ci_high is not None else item.m_star
        label = "converged" if item.status == "converged" else \
            f"not converged ({item.status})"
        ax.errorbar([r], [item.m_star], yerr=[[item.m_star - low], [high - item.m_star]],
                    fmt="o", color=PALETTE[0], capsize=4,
                    mfc=PALETTE[0] if item.status == "converged" else "white",
                    label="_" if label in drawn else label)
        drawn.add(label)
        for end, direction in ((item.ci_low, -1), (item.ci_high, 1)):
            if end is None:  # unbounded: an arrow, never a cap
                ax.annotate("", xy=(r, item.m_star * 3.0 ** direction), xytext=(r, item.m_star),
                            arrowprops={"arrowstyle": "->", "color": PALETTE[0]})
    widths = sorted({c.curve["width"] for c in curves})
    ax.set_xlim(widths[0] / 1.6, widths[-1] * 1.6)
    log_axis(ax.xaxis, candidates=widths)
    log_axis(ax.yaxis)
    ax.set_xlabel("hidden width r (log scale)")
    ax.set_ylabel("m* (training samples, 95% interval)")
    if not drawn:
        add_caveat(ax, "no curve has a fitted frontier yet")
    else:
        ax.legend(fontsize=7, loc="best")


def logistic_curve(intercept: float, slope: float, m: np.ndarray) -> np.ndarray:
    """P(success | m) of a fitted curve: expit(b0 + b1 log10 m)."""
    return special.expit(intercept + slope * np.log10(m))
