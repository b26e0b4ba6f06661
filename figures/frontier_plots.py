"""Theory-vs-experiment figures of a sweep: the paper's Figure 1 (left) and Figure 2.

* :func:`draw_success_heatmap` -- success rate over (m, width) on true log axes, dense and
  sparse side by side, with the measured frontier m*(r) and the predicted ones drawn on top
  (defined in :mod:`figures.heatmap`, re-exported here);
* :func:`draw_success_curves` -- success rate against m, one line per width, Wilson 95% bars;
* :func:`draw_steps_curves` -- Kaplan-Meier median steps-to-success against m, one line per
  width.

Each ``draw_*`` function draws one (n, k) problem into ``ax=`` (one axes per panel), ``fig=``
or a new figure and returns the Figure (the notebook API, :func:`figures.layout.panel_axes`);
:func:`success_heatmap`, :func:`success_curves` and :func:`steps_curves` are the file-writing
wrappers: one file pair (PNG + PDF) per (n, k), the written paths returned. The rows are those
of :mod:`verify.analysis` / :mod:`verify.predict` (plain dicts). Cells resting on fewer than
:data:`MIN_SEEDS_FOR_INTERVAL` runs are marked on the figure, never drawn as certain.

Training "online" (fresh samples every step) has no m: it is drawn as its own column or point
to the right of the largest m, past a break in the axis, and labelled "online"; the finite
sizes sit on a true log axis, so distances along m mean what they say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from parity_frontiers.figures.heatmap import draw_success_heatmap, theorem_applies
from parity_frontiers.figures.layout import log_axis, panel_axes, place_legend
from parity_frontiers.figures.style import MARKERS, PALETTE, root_figure, save_figure
from parity_frontiers.figures.sweep_cells import (
    MIN_SEEDS_FOR_INTERVAL,
    ONLINE_FACTOR,
    check_rows,
    m_axis,
    one_problem,
    panel_label,
    panel_title,
    panels_of,
    thin_caveat,
    title_text,
    x_of_m,
)
from parity_frontiers.verify.analysis.frontier import group_rows

__all__ = ["MIN_SEEDS_FOR_INTERVAL", "draw_success_heatmap", "draw_success_curves",
           "draw_steps_curves", "success_heatmap", "success_curves", "steps_curves",
           "panel_label", "theorem_applies"]


def _line_with_online(ax, x, y, yerr, color, marker, label, online) -> None:
    """Error bars over m joined by a line, except the online point (no m), drawn unjoined."""
    yerr = np.asarray(yerr, float)
    offline = ~np.asarray(online, bool)
    if offline.any():
        ax.errorbar(x[offline], y[offline], yerr=yerr[:, offline], color=color, marker=marker,
                    ms=3.5, capsize=2, lw=1.1, label=label)
    if (~offline).any():
        ax.errorbar(x[~offline], y[~offline], yerr=yerr[:, ~offline], color=color,
                    marker=marker, ms=3.5, capsize=2, ls="none",
                    label=None if offline.any() else label)


def _log_m_axis(ax, m_grid, online_x) -> None:
    ax.set_xlabel("training samples m (log scale)")
    if online_x is None:
        log_axis(ax.xaxis)
        return
    # The online point has no m: a dotted break before it, its own tick, no log ticks there.
    top = m_grid[-1] * 1.25 if m_grid else online_x / 2
    ax.axvline(online_x / math.sqrt(ONLINE_FACTOR), color="#888888", lw=0.6, ls=":")
    log_axis(ax.xaxis, within=(0, top), extra=[(online_x, "online")])


def _curves_figure(points, n, k, ax, fig, what, draw_line, finish_axis, legend):
    """One problem, one panel per init, one line per width: the shared frame of
    :func:`draw_success_curves` and :func:`draw_steps_curves`. ``draw_line(ax, line, x_of,
    color, marker, label)`` draws a width's cells (sorted by m) and returns the glyphs it
    used; ``finish_axis(ax)`` sets the y axis; ``legend(glyphs)`` the legend's title."""
    points = check_rows(points)
    (n, k), cells = one_problem(points, n, k)
    panels = panels_of(cells)
    m_grid, online_x = m_axis(cells)
    figure, axes, owned = panel_axes(len(panels), ax=ax, fig=fig, panel_size=(4.4, 3.6),
                                     sharey=True)
    glyphs = set()
    for axis, (init, s) in zip(axes, panels, strict=True):
        here = [c for c in cells if (c["init"], c["s"]) == (init, s)]
        lines = sorted(group_rows(here, ("width",)).items())
        for idx, (width, line) in enumerate(lines):
            # Widths are nudged apart on the log axis so equal values do not hide each other.
            dodge = 10 ** (0.012 * (idx - (len(lines) - 1) / 2))

            def x_of(cell, online_x=online_x, dodge=dodge):
                return x_of_m(cell["samples"], online_x) * dodge

            line.sort(key=x_of)
            glyphs |= draw_line(axis, line, x_of, PALETTE[idx % len(PALETTE)],
                                MARKERS[idx % len(MARKERS)], f"r = {width[0]}") or set()
        finish_axis(axis)
        _log_m_axis(axis, m_grid, online_x)
        panel_title(axis, owned, n, k, init, s)
        thin_caveat(axis, here)
    # Outside the panels, so that it never covers a point or a bar.
    widths = {c["width"] for c in cells}
    place_legend(figure, axes, owned, fontsize=7, ncols=min(len(widths), 6) if owned else 1,
                 title=legend(glyphs))
    if owned:
        figure.suptitle(title_text(n, k, cells, what), fontsize=10)
    return root_figure(figure)


def draw_success_curves(points: Sequence[dict], *, n: int | None = None, k: int | None = None,
                        ax=None, fig=None):
    """Success rate against m with Wilson 95% bars, one line per width; a panel per init.

    Online training (fresh samples) is drawn at the right end, past a dotted break after the
    largest m, and labelled "online"; the paper's Figure 2 (centre). ``ax`` takes one axes
    per init; returns the Figure.
    """
    def draw(ax, line, x_of, color, marker, label):
        x = np.array([x_of(c) for c in line], float)
        y = np.array([c["success_rate"] for c in line])
        err = np.array([y - [c["ci_low"] for c in line], [c["ci_high"] for c in line] - y])
        _line_with_online(ax, x, y, np.clip(err, 0, None), color, marker, label,
                          np.array([c["samples"] is None for c in line]))

    def finish(ax):
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("success rate (Wilson 95%)")

    return _curves_figure(points, n, k, ax, fig, "success against training samples", draw,
                          finish, lambda glyphs: None)


def draw_steps_curves(points: Sequence[dict], *, n: int | None = None, k: int | None = None,
                      ax=None, fig=None):
    """Kaplan-Meier median steps-to-success against m, one line per width; panels per init.

    Bars are the median's 95% interval (the Kaplan-Meier band inverted); a cell whose median
    is not reached within the budget T (fewer than half its runs succeeded) is drawn as an
    open triangle at T: the median is only known to exceed it. The paper's Figure 2 (right).
    The legend explains only the glyphs drawn. Returns the Figure.
    """
    def draw(ax, line, x_of, color, marker, label):
        glyphs = set()
        reached = [c for c in line if c["median_steps_to_success"] is not None]
        if reached:
            online = np.array([c["samples"] is None for c in reached])
            x = np.array([x_of(c) for c in reached], float)
            y = np.array([c["median_steps_to_success"] for c in reached], float)
            low = np.array([c["median_ci_low"] for c in reached], float)
            open_top = np.array([c["median_ci_high"] is None for c in reached])
            high = np.array([c["median_ci_high"] if c["median_ci_high"] is not None
                             else c["max_steps"] for c in reached], float)
            _line_with_online(ax, x, y, [y - low, np.where(open_top, 0.0, high - y)], color,
                              marker, label, online)
            for xi, yi, top in zip(x[open_top], y[open_top], high[open_top], strict=True):
                # Upper limit unknown (beyond the last success or T): a dotted arrow, no cap.
                ax.annotate("", xy=(xi, top), xytext=(xi, yi),
                            arrowprops={"arrowstyle": "->", "color": color, "ls": ":",
                                        "lw": 0.9})
                glyphs.add("arrow")
        censored = [c for c in line if c["median_steps_to_success"] is None]
        if censored:
            ax.plot([x_of(c) for c in censored], [c["max_steps"] for c in censored],
                    ls="none", marker="^", mfc="none", color=color, ms=5,
                    label=None if reached else label)
            glyphs.add("triangle")
        return glyphs

    def finish(ax):
        log_axis(ax.yaxis)
        ax.set_ylabel("median steps to success (KM, 95%)")

    def legend(glyphs):
        notes = (["open triangle: median > T"] if "triangle" in glyphs else []) + \
                (["dotted arrow: upper limit unknown"] if "arrow" in glyphs else [])
        return "; ".join(notes) or None

    return _curves_figure(points, n, k, ax, fig, "steps to success against training samples",
                          draw, finish, legend)


# --- the file-writing entry points -----------------------------------------------------------

def _per_problem(points, out_dir, stem, draw, **kwargs) -> list:
    points = check_rows(points)
    paths = []
    for n, k in group_rows(points, ("n", "k")):
        paths += save_figure(draw(points, n=n, k=k, **kwargs), out_dir, f"{stem}_n{n}_k{k}")
    return paths


def success_heatmap(points: Sequence[dict], out_dir, *, frontier: Sequence[dict] = (),
                    onestep: Sequence[dict] = (), theorem: Sequence[dict] = (),
                    stem: str = "success_heatmap") -> list:
    """:func:`figures.heatmap.draw_success_heatmap` for every (n, k) in ``points``, written
    to ``out_dir/STEM_nN_kK.png`` and ``.pdf``; returns the paths."""
    return _per_problem(points, out_dir, stem, draw_success_heatmap, frontier=frontier,
                        onestep=onestep, theorem=theorem)


def success_curves(points: Sequence[dict], out_dir, *, stem: str = "success_vs_m") -> list:
    """:func:`draw_success_curves` for every (n, k), written as ``STEM_nN_kK.png/.pdf``."""
    return _per_problem(points, out_dir, stem, draw_success_curves)


def steps_curves(points: Sequence[dict], out_dir, *, stem: str = "steps_vs_m") -> list:
    """:func:`draw_steps_curves` for every (n, k), written as ``STEM_nN_kK.png/.pdf``."""
    return _per_problem(points, out_dir, stem, draw_steps_curves)
