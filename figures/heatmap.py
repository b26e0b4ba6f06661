"""The success heatmap of a sweep (the paper's Figure 1, left) on true log axes.

:func:`draw_success_heatmap` draws success over (m, width) of one (n, k), one panel per init,
with the measured frontier m*(r) and the predicted ones on top, into ``ax=`` / ``fig=`` or a
new figure, and returns the Figure; :func:`success_heatmap` writes one file pair per (n, k)
(also reachable as :func:`figures.frontier_plots.success_heatmap`).

The finite sample sizes sit on a true log axis: the cell of a grid value m spans from the
geometric midpoint with its left neighbour to the one with its right neighbour, so an m*
marker sits where its value is and distances mean what they say. Training "online" (fresh
samples every step) has no m: it is its own column right of a break in the axis, labelled
"online". Theorems 4 / 5 are drawn in colour only where their conditions hold
(:func:`theorem_applies`), else grey and dashed, "shape only".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from parity_frontiers.figures.layout import log_axis, log_edges, panel_axes, place_legend
from parity_frontiers.figures.style import PALETTE, root_figure
from parity_frontiers.figures.sweep_cells import (
    MIN_SEEDS_FOR_INTERVAL,
    check_rows,
    m_axis,
    one_problem,
    panel_title,
    panels_of,
    rows_of_panel,
    title_text,
)
from parity_frontiers.verify.analysis.inits import support_size

__all__ = ["draw_success_heatmap", "theorem_applies"]

#: Colour of a prediction drawn for its shape only (its theorem's conditions do not hold).
_SHAPE_ONLY = "#777777"


def theorem_applies(row: dict) -> tuple[bool, str]:
    """Whether Theorems 4 / 5 cover a curve, and if not, why ("k odd", "s odd", "k, s odd").

    The theorems assume k and the support s even (s = n for dense init, docs/theory.md §3);
    elsewhere their m* can only be drawn for its shape.

    Examples
    --------
    >>> theorem_applies({"n": 30, "k": 3, "init": "dense", "s": None})
    (False, 'k odd')
    >>> theorem_applies({"n": 30, "k": 4, "init": "sparse", "s": 2})
    (True, '')
    >>> theorem_applies({"n": 30, "k": 4, "init": "sparse-gaussian", "s": 3})
    (False, 's odd')
    """
    support = support_size(row)
    odd = [name for name, value in (("k", row["k"]), ("s", support))
           if value is not None and value % 2]
    return (not odd, f"{', '.join(odd)} odd" if odd else "")


class _HeatmapGeometry:
    """Where cells, labels and the online column go on the log-log axes of the heatmap."""

    def __init__(self, m_grid: list, online: bool, widths: list):
        self.m_grid = m_grid
        self.online = online
        self.widths = widths
        if m_grid:
            self.x_edges = log_edges(m_grid)
            logs = np.diff(np.log10(self.x_edges))
            cell = float(np.median(logs))
        else:  # online only: one column of a decade
            self.x_edges = np.array([1.0, 10.0])
            cell = 1.0
        self.lo, self.hi = float(self.x_edges[0]), float(self.x_edges[-1])
        if online:
            gap = max(0.5 * cell, 0.12)  # decades of blank axis between finite m and online
            self.online_edges = (self.hi * 10 ** gap, self.hi * 10 ** (gap + cell))
            self.gap = (self.hi, self.online_edges[0])
            self.online_x = math.sqrt(self.online_edges[0] * self.online_edges[1])
            self.right = self.online_edges[1]
        else:
            self.online_edges = self.gap = self.online_x = None
            self.right = self.hi
        self.y_edges = log_edges(widths)

    def column(self, m) -> tuple[float, float]:
        if m is None:
            return self.online_edges
        j = self.m_grid.index(m)
        return float(self.x_edges[j]), float(self.x_edges[j + 1])

    def row(self, width) -> tuple[float, float]:
        i = self.widths.index(width)
        return float(self.y_edges[i]), float(self.y_edges[i + 1])

    def label_y(self, width) -> float:
        """Cell labels sit in the upper part of their row, well clear of the overlays, which
        are drawn at the width itself (the caps of the m* intervals included)."""
        low, high = self.row(width)
        top = math.log10(high)
        return 10 ** (top - 0.32 * (top - math.log10(width)))


def _label_fontsize(ax, geometry: _HeatmapGeometry, labels) -> float | None:
    """Font size for the 'successes/runs' labels that fits the narrowest cell (None: none fits
    and the labels are left out, said on the axes)."""
    fig = root_figure(ax)
    width_pt = ax.get_position().width * fig.get_figwidth() * 72 * 0.9  # less the margins
    span = math.log10(geometry.right) - math.log10(geometry.lo)
    narrowest = float(np.min(np.diff(np.log10(geometry.x_edges))))
    if geometry.online_edges is not None:
        narrowest = min(narrowest, math.log10(geometry.online_edges[1] /
                                              geometry.online_edges[0]))
    # DejaVu Sans: digits 0.64 em, "/" 0.34 em; a point of air either side.
    ems = max((0.64 * sum(ch.isdigit() for ch in text) + 0.34 * text.count("/")
               for text in labels), default=1.0)
    size = min(6.0, (width_pt * narrowest / span - 2.0) / ems)
    return size if size >= 4.2 else None


def _draw_cells(ax, here, geometry: _HeatmapGeometry):
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    grid = np.full((len(geometry.widths), len(geometry.m_grid)), np.nan)
    online = np.full((len(geometry.widths), 1), np.nan)
    have = set()
    for c in here:
        i = geometry.widths.index(c["width"])
        if c["samples"] is None:
            online[i, 0] = c["success_rate"]
        else:
            grid[i, geometry.m_grid.index(c["samples"])] = c["success_rate"]
        have.add((c["width"], c["samples"]))
    style = {"cmap": "viridis", "vmin": 0, "vmax": 1, "shading": "flat"}
    mesh = None
    if geometry.m_grid:
        mesh = ax.pcolormesh(geometry.x_edges, geometry.y_edges, np.ma.masked_invalid(grid),
                             **style)
    if geometry.online_edges is not None:
        mesh = ax.pcolormesh(np.array(geometry.online_edges), geometry.y_edges,
                             np.ma.masked_invalid(online), **style)
    columns = list(geometry.m_grid) + ([None] if geometry.online else [])
    missing = False
    for width in geometry.widths:
        for m in columns:
            if (width, m) in have:
                continue
            (x0, x1), (y0, y1) = geometry.column(m), geometry.row(width)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="#BBBBBB",
                                   edgecolor="none", label="_" if missing else "no runs"))
            missing = True
    cmap = mpl.colormaps[style["cmap"]]
    size = _label_fontsize(ax, geometry, [f"{c['successes']}/{c['runs']}" for c in here])
    thin_drawn = False
    for c in here:
        (x0, x1), (y0, y1) = geometry.column(c["samples"]), geometry.row(c["width"])
        if c["runs"] < MIN_SEEDS_FOR_INTERVAL:
            # White hatching on a faint shade: visible on the cells and in the legend.
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=(0, 0, 0, 0.18),
                                   hatch="///", hatchcolor="white", edgecolor="none",
                                   linewidth=0,
                                   label="_" if thin_drawn else
                                   f"hatched: < {MIN_SEEDS_FOR_INTERVAL} runs, interval too "
                                   "wide to read"))
            thin_drawn = True
        if size is not None:
            # Above the overlays' lines, on a patch of the cell's own colour: a frontier line
            # passing through the row never runs over the label.
            ax.text(math.sqrt(x0 * x1), geometry.label_y(c["width"]),
                    f"{c['successes']}/{c['runs']}", ha="center", va="center", fontsize=size,
                    color="white" if c["success_rate"] < 0.6 else "black", zorder=4,
                    bbox={"boxstyle": "square,pad=0.12", "linewidth": 0,
                          "facecolor": cmap(c["success_rate"])})
    return mesh, size is not None


def _axis_break(ax, geometry: _HeatmapGeometry) -> None:
    """White out the spines across the gap before 'online' and mark the break with '//'."""
    from matplotlib.transforms import blended_transform_factory

    if geometry.gap is None:
        return
    where = blended_transform_factory(ax.transData, ax.transAxes)
    x0, x1 = geometry.gap
    for y in (0.0, 1.0):
        ax.plot([x0, x1], [y, y], color="white", lw=2.5, transform=where, clip_on=False,
                zorder=4, solid_capstyle="butt")
        for x in (x0, x1):
            ax.plot([x], [y], transform=where, marker=[(-1, -1.6), (1, 1.6)], ms=7, mew=0.9,
                    color="black", clip_on=False, zorder=5, ls="none")


def draw_success_heatmap(points: Sequence[dict], *, n: int | None = None,
                         k: int | None = None, frontier: Sequence[dict] = (),
                         onestep: Sequence[dict] = (), theorem: Sequence[dict] = (),
                         ax=None, fig=None, colorbar: bool = True):
    """Success rate over (sample size m, width r) of one (n, k), one panel per init.

    Both axes are logarithmic and true: the cell of a grid value m spans from the geometric
    midpoint with its left neighbour to the one with its right neighbour (likewise for the
    widths), so the overlays sit where their m* is. "Online" training is a separate column
    right of a break in the axis, labelled "online". Each cell is labelled successes/runs in
    the upper part of its row, clear of the overlays drawn at the row's width; grey cells have
    no runs; cells with fewer than :data:`MIN_SEEDS_FOR_INTERVAL` runs are hatched, and the
    legend says why (no caveat box over the cells).

    Overlays, per width: the measured m* with its 95% interval (black, from
    :func:`verify.analysis.frontier_table`), the lottery x one-step prediction (vermillion
    crosses, ``onestep_predictions(...)["curves"]``), and the m* of Theorems 4 / 5 with
    constants fitted to measured m* (``theorem_frontier(...)["rows"]``): sky blue where the
    theorem's conditions hold, grey and dashed ("shape only, k odd") where they do not
    (:func:`theorem_applies`); its label says which m* the constant was fitted to ("fitted to
    these m*" when those are the panel's own). Legends list only what was drawn.

    Parameters
    ----------
    points : sequence of dict
        :func:`verify.analysis.success_points` rows.
    n, k : int, optional
        The problem to draw, when ``points`` hold several.
    frontier, onestep, theorem : sequence of dict
        The overlays' rows (any of them may be empty).
    ax : Axes or sequence of Axes, optional
        One axes per panel (init), e.g. ``ax=[ax_dense, ax_sparse]``.
    fig : Figure or SubFigure, optional
        An empty figure to fill.
    colorbar : bool
        Add the success-rate colour bar.

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = check_rows(points)
    (n, k), cells = one_problem(points, n, k)
    panels = panels_of(cells)
    m_grid, online_x = m_axis(cells)
    widths = sorted({c["width"] for c in cells})
    geometry = _HeatmapGeometry(m_grid, online_x is not None, widths)
    figure, axes, owned = panel_axes(len(panels), ax=ax, fig=fig, panel_size=(6.2, 4.2),
                                     figsize=(6.2 * len(panels) + 1.0, 4.9))
    mesh = None
    for axis, (init, s) in zip(axes, panels, strict=True):
        here = [c for c in cells if (c["init"], c["s"]) == (init, s)]
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlim(geometry.lo, geometry.right)
        axis.set_ylim(geometry.y_edges[0], geometry.y_edges[-1])
        mesh, labelled = _draw_cells(axis, here, geometry)
        _draw_measured(axis, rows_of_panel(frontier, init, s, n, k, widths), geometry)
        _draw_onestep(axis, rows_of_panel(onestep, init, s, n, k, widths), geometry)
        _draw_theorem(axis, rows_of_panel(theorem, init, s, n, k, widths), geometry,
                      [r for r in frontier if (r["init"], r["s"]) == (init, s)], n, k)
        _axis_break(axis, geometry)
        extra = [(geometry.online_x, "online")] if geometry.online else []
        log_axis(axis.xaxis, candidates=m_grid, within=(geometry.lo, geometry.hi),
                 extra=extra)
        log_axis(axis.yaxis, candidates=widths)
        axis.tick_params(labelsize=8)
        axis.set_xlabel("training samples m (log scale)")
        axis.set_ylabel("width r (neurons, log scale)")
        panel_title(axis, owned, n, k, init, s)
        # Notes go in the title, not over the cells (a heatmap has no empty corner): the
        # thin cells are hatched, with their caveat in the legend.
        if not labelled:
            axis.set_title(axis.get_title() + "\n(cells too narrow for their successes/runs "
                           "labels)", fontsize=9)
    if colorbar and mesh is not None:
        figure.colorbar(mesh, ax=axes, label="success rate (test error <= 10%)", shrink=0.9)
    place_legend(figure, axes, owned, fontsize=7, ncols=2)
    if owned:
        figure.suptitle(title_text(n, k, cells, "success over (m, width)"), fontsize=10)
    return root_figure(figure)


def _clip(value: float, geometry: _HeatmapGeometry) -> tuple[float, bool]:
    return min(max(value, geometry.lo), geometry.hi), not geometry.lo <= value <= geometry.hi


def _draw_measured(ax, rows, geometry) -> None:
    """The measured m* per width with its 95% interval: caps at the ends, open arrows where
    the interval goes on past the finite grid."""
    rows = sorted((r for r in rows if r.get("status") == "fitted" and r.get("m_star")),
                  key=lambda r: r["width"])
    rows = [r for r in rows if geometry.lo <= r["m_star"] <= geometry.hi]
    if not rows:
        return
    style = {"color": "black", "lw": 1.0}
    ax.plot([r["m_star"] for r in rows], [r["width"] for r in rows], marker="o", ms=4,
            lw=1.2, color="black", label="measured m* (95% interval)", zorder=3)
    for r in rows:
        (low, low_out), (high, high_out) = (_clip(r["ci_low"], geometry),
                                            _clip(r["ci_high"], geometry))
        ax.hlines(r["width"], low, high, zorder=3, **style)
        for end, out, arrow in ((low, low_out, "<"), (high, high_out, ">")):
            ax.plot([end], [r["width"]], marker=arrow if out else "|", ms=5 if out else 6,
                    ls="none", zorder=3, **style)


def _draw_onestep(ax, rows, geometry) -> None:
    inside = sorted((r for r in rows if r.get("status") == "inside" and r.get("m_star")
                     and geometry.lo <= r["m_star"] <= geometry.hi), key=lambda r: r["width"])
    if inside:
        ax.plot([r["m_star"] for r in inside], [r["width"] for r in inside], color=PALETTE[1],
                marker="x", ms=6, lw=1.0, ls=":", label="one-step prediction", zorder=3)
    # Outside the grid: '<' just inside its left edge (m* below the smallest m), '>' just
    # inside its right edge (no m of the grid reaches the target); inside, so that they never
    # cover a tick label.
    from matplotlib.transforms import offset_copy

    for status, x, shift, marker, label in (
            ("below_grid", geometry.lo, 4, "<", "one-step: m* < grid"),
            ("above_grid", geometry.hi, -4, ">", "one-step: m* > grid")):
        ys = [r["width"] for r in rows if r.get("status") == status]
        if ys:
            ax.plot([x] * len(ys), ys, ls="none", marker=marker, ms=6, color=PALETTE[1],
                    mec="white", mew=0.6, label=label, zorder=5,
                    transform=offset_copy(ax.transData, fig=root_figure(ax), x=shift,
                                          units="points"))


def _fit_source(frontier_rows, n: int, k: int) -> str:
    """Which measured m* the theorem's constant was fitted to, for the legend."""
    fitted = sorted({(r["n"], r["k"]) for r in frontier_rows if r.get("status") == "fitted"})
    if not fitted or fitted == [(n, k)]:
        return "fitted to these m*"
    if len({kk for _, kk in fitted}) == 1:
        return "fitted to the m* of n = " + ", ".join(str(nn) for nn, _ in fitted)
    return "fitted to the m* of (n, k) = " + ", ".join(map(str, fitted))


def _draw_theorem(ax, rows, geometry, frontier_rows, n, k) -> None:
    rows = sorted((r for r in rows if r.get("predicted") is not None
                   and geometry.lo <= r["predicted"] <= geometry.hi), key=lambda r: r["width"])
    if not rows:
        return
    names = "/".join(sorted({r.get("theorem", "Thm 4/5").replace("Thm ", "") for r in rows}))
    name = f"Thm {names}"
    applies, why = theorem_applies(rows[0])
    source = _fit_source(frontier_rows, n, k)
    if applies:
        style = {"color": PALETTE[5], "ls": "--", "marker": "D", "ms": 3.5,
                 "label": f"{name}, constant {source}"}
    else:
        style = {"color": _SHAPE_ONLY, "ls": (0, (4, 2)), "marker": "D", "ms": 3.5,
                 "mfc": "white", "label": f"{name}: shape only, {why} (constant {source})"}
    ax.plot([r["predicted"] for r in rows], [r["width"] for r in rows], lw=1.0, zorder=3,
            **style)
