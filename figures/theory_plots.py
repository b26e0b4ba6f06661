r"""Theory figures: the SQ frontier of Proposition 3 and lottery-ticket curves.

* :func:`draw_sq_frontier` -- for each (n, k), the boundary of Prop. 3 on log-log axes of
  sample size m against hidden width, for several step budgets T, with the region the bound
  rules out shaded and (optionally) a sweep's grid cells scattered on top, coloured by their
  success rate. :func:`sq_boundary_curve` returns the plotted curve as numbers.
* :func:`draw_lottery` -- P(at least one lucky neuron among r) of s-sparse initialisation
  against r: theory's exact line and Monte Carlo points with Wilson 95% intervals, from the
  numbers of :func:`lottery_curves` (defined in :mod:`figures.lottery_plots`, re-exported).

The ``draw_*`` functions take ``ax=`` (or ``fig=``) and return the Figure (the notebook API);
:func:`sq_frontier_figure` and :func:`lottery_figure` are the file-writing wrappers
(``STEM.png`` + ``STEM.pdf`` through :func:`figures.style.save_figure`).

Everything numeric is done in log-space by :mod:`theory`, so C(1000, 8) ~ 2.4e19 (or far
larger) never overflows. Figures follow :mod:`figures.style` (Okabe-Ito colours, PNG + PDF).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from parity_frontiers.figures.inputs import (
    check_problem,
    check_problems,
    check_sizes,
    check_unit,
    log_int_grid,
    pretty_count,
)
from parity_frontiers.figures.layout import log_axis, panel_axes, place_legend
from parity_frontiers.figures.lottery_plots import draw_lottery, lottery_curves, lottery_figure
from parity_frontiers.figures.style import (
    MARKERS,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)
from parity_frontiers.theory.binomial import log10_comb
from parity_frontiers.theory.checks import check_int, check_positive, check_size
from parity_frontiers.theory.sq_bound import (
    sq_log10_cost,
    sq_log10_threshold,
    two_layer_param_count,
)

__all__ = ["sq_boundary_curve", "draw_sq_frontier", "sq_frontier_figure", "lottery_curves",
           "draw_lottery", "lottery_figure", "CELL_FIELDS", "MIN_RULED_OUT_AREA"]

#: Fields of one experiment grid cell for :func:`sq_frontier_figure`, in tuple order.
CELL_FIELDS = ("n", "k", "width", "samples", "steps", "success_rate")

# Line style per success level delta of the boundary: delta = 1 solid, 1/2 dashed, others dotted.
_DELTA_STYLES = {1.0: "-", 0.5: "--"}
_SHADE_COLOUR = "#BBBBBB"
# Sequential map designed for colour-vision deficiency (Nunez et al. 2018).
_RATE_CMAP = "cividis"


def sq_boundary_curve(n, k, widths, steps, delta=1.0) -> dict:
    r"""Sample size on the boundary of Proposition 3 for each hidden width, in log10.

    With r = w(n + 2) + 1 parameters for width w (:func:`theory.sq_bound.two_layer_param_count`)
    and tau = 1/sqrt(m) (docs/theory.md §2), the bound allows success probability at most
    delta exactly at

    .. math:: m^*(w) = \frac{\delta \binom{n}{k}}{2\, r(w)\, T},
              \qquad\text{i.e.}\quad 2\, r\, T\, m^* = \delta \binom{n}{k};

    for m < m*(w) success probability delta or more is ruled out. Computed in log-space (no
    overflow) from theory's threshold C(n, k)/2 and cost r T m at m = 1 (the log-cost identity of
    :func:`theory.sq_bound.sq_log10_cost`), which unlike
    :func:`theory.sq_bound.sq_log10_min_resource` also admits delta = 1:

    .. math:: \log_{10} m^* = \log_{10}\delta + \log_{10}\tfrac{1}{2}\binom{n}{k}
              - \log_{10}(r\,T).

    Parameters
    ----------
    n, k : int
        The (n, k)-sparse parity, 1 <= k <= n.
    widths : array_like of int
        Hidden widths w >= 1.
    steps : int
        SGD steps T >= 1.
    delta : float, default 1
        Success level in (0, 1].

    Returns
    -------
    dict
        ``n``, ``k``, ``steps``, ``delta``; arrays ``widths``, ``params`` (r) and
        ``log10_samples`` (log10 m*), one entry per width in the order given.

    Examples
    --------
    >>> curve = sq_boundary_curve(50, 3, [10], steps=1)  # C(50, 3) / (2 * 521) = 18.81...
    >>> round(10 ** float(curve["log10_samples"][0]), 6)
    18.809981
    """
    n, k = check_problem(n, k)
    steps = check_int("steps", steps)
    delta = float(check_unit("delta", delta))
    width_arr = check_size("widths", widths)
    if width_arr.ndim > 1:
        raise ValueError("widths must be a flat list of numbers")
    width_arr = np.atleast_1d(width_arr)
    params = np.asarray(two_layer_param_count(n, width_arr), dtype=np.float64)
    log10_m = (math.log10(delta) + sq_log10_threshold(n, k)
               - np.asarray(sq_log10_cost(params, steps, samples=1), dtype=np.float64))
    return {"n": n, "k": k, "steps": steps, "delta": delta, "widths": width_arr,
            "params": params, "log10_samples": log10_m}


def _check_cells(cells, problems) -> list[dict]:
    if cells is None:
        return []
    out = []
    for index, cell in enumerate(cells):
        if isinstance(cell, Mapping):
            missing = [f for f in CELL_FIELDS if f not in cell]
            if missing:
                raise ValueError(f"cells[{index}] lacks {', '.join(missing)} (a cell needs "
                                 f"{', '.join(CELL_FIELDS)})")
            values = [cell[f] for f in CELL_FIELDS]
        else:
            values = list(cell)
            if len(values) != len(CELL_FIELDS):
                raise ValueError(f"cells[{index}] must be a mapping or a tuple "
                                 f"({', '.join(CELL_FIELDS)}), got {cell!r}")
        n, k = check_problem(values[0], values[1], f" in cells[{index}]")
        if (n, k) not in problems:
            raise ValueError(f"cells[{index}] has (n, k) = ({n}, {k}), which is not in "
                             f"problems {problems}")
        row = {"n": n, "k": k,
               "width": check_int("width", values[2]),
               "samples": float(check_size("samples", values[3])),
               "steps": check_int("steps", values[4]),
               "success_rate": float(check_unit("success_rate", values[5], allow_zero=True))}
        out.append(row)
    return out


def _check_range(name: str, value) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}") from None
    lo, hi = float(check_positive(name, lo)), float(check_positive(name, hi))
    if not lo < hi:
        raise ValueError(f"{name} must have low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def sq_frontier_figure(problems, widths, steps, samples_range, out_dir, stem="sq_frontier", *,
                       cells=None, deltas=(1.0, 0.5)) -> list[Path]:
    r"""Write :func:`draw_sq_frontier` to ``out_dir/STEM.png`` and ``.pdf``.

    Every bad value is refused (``ValueError``) before anything is written.

    Returns
    -------
    list of Path
        The PNG and the PDF.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = sq_frontier_figure([(50, 3)], [10, 1000], [1, 100], (1, 1e4), tmp)
    ...     [p.name for p in paths]
    ['sq_frontier.png', 'sq_frontier.pdf']
    """
    fig = draw_sq_frontier(problems, widths, steps, samples_range, cells=cells, deltas=deltas)
    return save_figure(fig, out_dir, stem)


#: A panel whose boundaries rule out less than this fraction of its (log m, log w) area, and
#: that has no cells, shows nothing: it is left out and named in the title instead.
MIN_RULED_OUT_AREA = 0.01


def _ruled_out_area(log_m, log_w, x_lo, x_hi, y_lo, y_hi) -> float:
    """Fraction of the log-log panel where m < m*(w) (the boundary's left side)."""
    ys = np.linspace(math.log10(y_lo), math.log10(y_hi), 200)
    xs = np.interp(ys, log_w, log_m)  # log_w ascending; constant beyond the ends
    left, right = math.log10(x_lo), math.log10(x_hi)
    return float(np.mean((np.clip(xs, left, right) - left) / (right - left)))


def draw_sq_frontier(problems, widths, steps, samples_range, *, cells=None, deltas=(1.0, 0.5),
                     ax=None, fig=None):
    r"""Prop. 3's frontier in the (sample size, width) plane, one panel per (n, k).

    Each panel has log-log axes: sample size m (x) against hidden width w (y). For every step
    budget T it draws the boundary :func:`sq_boundary_curve`,

    .. math:: 2\, r(w)\, T\, m = \delta \binom{n}{k}, \qquad r(w) = w(n + 2) + 1,

    solid for delta = 1 (below it the bound forbids certain success) and dashed for
    delta = 1/2 (below it, success in half the runs). The region where success probability
    ``min(deltas)`` is ruled out even at the largest T shown is shaded. Source: the paper's
    Proposition 3 with tau = 1/sqrt(m) (docs/theory.md §2).

    No panel is drawn empty: a problem without cells whose boundaries rule out less than
    :data:`MIN_RULED_OUT_AREA` of the panel (the bound is vacuous over the range shown) is
    left out and named, with the largest m it rules out, in the figure title (with ``ax=``,
    its axes are turned off and carry that note). A boundary that misses a drawn panel is
    named in a note inside the panel, wrapped to the panel's width. The legend lists only the
    lines, shading and cells that some panel shows.

    This layout keeps the two resources a sweep varies on the axes, so a sweep's cells can be
    placed on it directly; T is a line family because sweeps vary it least.

    Parameters
    ----------
    problems : sequence of (int, int)
        The (n, k) pairs, one panel each, e.g. ``[(50, 3), (300, 4), (1000, 8)]``.
    widths : sequence of int
        Widths w spanned by the y axis (the curves use a log-spaced grid over their range).
    steps : sequence of int
        Step budgets T, one colour each (at most 8, with the cells' T).
    samples_range : (float, float)
        The x axis, m from low to high (widened to show every cell).
    cells : sequence, optional
        Experiment grid cells, each a mapping with keys :data:`CELL_FIELDS` (n, k, width,
        samples, steps, success_rate) or a tuple in that order. Drawn on the panel of their
        (n, k), coloured by success rate (cividis, 0 to 1) and shaped by their T, whose
        boundary is added if it is not among ``steps``.
    deltas : sequence of float, default (1, 0.5)
        Success levels in (0, 1] whose boundaries are drawn.
    ax : Axes or sequence of Axes, optional
        One axes per problem.
    fig : Figure or SubFigure, optional
        An empty figure to fill.

    Returns
    -------
    matplotlib.figure.Figure
    """
    problems = check_problems(problems)
    width_arr = check_sizes("widths", widths)
    step_arr = check_sizes("steps", steps)
    x_lo, x_hi = _check_range("samples_range", samples_range)
    delta_arr = check_unit("deltas", deltas)
    if delta_arr.ndim > 1:
        raise ValueError("deltas must be a flat list of success levels")
    delta_arr = np.unique(delta_arr)[::-1]
    cell_rows = _check_cells(cells, problems)
    all_steps = sorted({int(t) for t in step_arr} | {c["steps"] for c in cell_rows})
    if len(all_steps) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} distinct T (steps and cells together) fit "
                         f"the palette, got {len(all_steps)}")
    if cell_rows:
        x_lo = min(x_lo, min(c["samples"] for c in cell_rows) / 2)
        x_hi = max(x_hi, max(c["samples"] for c in cell_rows) * 2)
    y_lo, y_hi = float(width_arr.min()), float(width_arr.max())
    if cell_rows:
        y_lo = min(y_lo, min(c["width"] for c in cell_rows) / 1.5)
        y_hi = max(y_hi, max(c["width"] for c in cell_rows) * 1.5)
    if y_lo == y_hi:
        y_lo, y_hi = y_lo / 2, y_hi * 2
    grid = log_int_grid(np.array([max(1.0, math.floor(y_lo)), math.ceil(y_hi)]))

    # Which panels show something: cells, or a boundary that rules out a visible region.
    curves, shown, left_out = {}, [], []
    for n, k in problems:
        for t in all_steps:
            for delta in delta_arr:
                curves[n, k, t, float(delta)] = sq_boundary_curve(n, k, grid, t, delta)
        area = max(_ruled_out_area(c["log10_samples"], np.log10(grid), x_lo, x_hi, y_lo, y_hi)
                   for key, c in curves.items() if key[:2] == (n, k))
        if area >= MIN_RULED_OUT_AREA or any((c["n"], c["k"]) == (n, k) for c in cell_rows):
            shown.append((n, k))
        else:
            widest = max(10.0 ** float(np.max(c["log10_samples"]))
                         for key, c in curves.items() if key[:2] == (n, k))
            left_out.append(((n, k), f"n = {n}, k = {k} not drawn: Prop. 3 rules out only "
                                     f"m < {_pretty_float(widest)} there"
                                     + (" (under one sample: vacuous)" if widest < 1 else "")))
    if not shown:  # nothing anywhere: draw the panels anyway, each saying so
        shown, left_out = list(problems), []

    from matplotlib.lines import Line2D  # noqa: F401  (matplotlib is needed from here on)

    wanted = len(problems) if ax is not None else len(shown)
    figure, axes, owned = panel_axes(wanted, ax=ax, fig=fig, panel_size=(4.4, 3.8),
                                     figsize=(4.4 * len(shown) + 1.0,
                                              4.3 if cell_rows else 4.0))
    if ax is not None:
        by_problem = dict(zip(problems, axes, strict=True))
        for problem, note in left_out:
            off = by_problem[problem]
            off.set_axis_off()
            off.text(0.5, 0.5, note, transform=off.transAxes, ha="center", va="center",
                     fontsize=8, wrap=True)
        axes = [by_problem[p] for p in shown]
    scatter = None
    for axis, (n, k) in zip(axes, shown, strict=True):
        scatter = _draw_sq_panel(axis, n, k, curves, all_steps, delta_arr, grid,
                                 (x_lo, x_hi, y_lo, y_hi),
                                 [c for c in cell_rows if (c["n"], c["k"]) == (n, k)]) or scatter
        if not owned:
            axis.set_title(axis.get_title() + "\nSQ bound (Prop. 3)", fontsize=9)
    place_legend(figure, axes, owned, fontsize=8, ncols=4 if owned else 1)
    if owned:
        title = "SQ lower bound (Prop. 3), r = w(n+2)+1 parameters, \u03c4 = 1/\u221am"
        if left_out:
            title += "\n" + "; ".join(note for _, note in left_out)
        figure.suptitle(title, fontsize=10)
    if scatter is not None:
        figure.colorbar(scatter, ax=axes, label="success rate (fraction of seeds)", shrink=0.9)
    return root_figure(figure)


def _pretty_float(value: float) -> str:
    return f"{value:.2g}" if value < 1e5 else f"{value:.1e}"


def _in_view(xs, ys, box) -> bool:
    x_lo, x_hi, y_lo, y_hi = box
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    return bool(np.any((xs >= x_lo) & (xs <= x_hi) & (ys >= y_lo) & (ys <= y_hi)))


def _draw_sq_panel(ax, n, k, curves, all_steps, delta_arr, grid, box, mine):
    """One (n, k) panel of :func:`draw_sq_frontier`; returns its cell scatter (or None)."""
    x_lo, x_hi, y_lo, y_hi = box
    left, right = [], []
    for t_index, t in enumerate(all_steps):
        for delta in delta_arr:
            m_star = 10.0 ** curves[n, k, t, float(delta)]["log10_samples"]
            visible = _in_view(m_star, grid, box)
            ax.plot(m_star, grid, color=PALETTE[t_index],
                    linestyle=_DELTA_STYLES.get(float(delta), ":"), linewidth=1.6,
                    label=(f"T = {pretty_count(t)}: 2 r T m = {float(delta):g} C(n, k)"
                           if visible else "_"))
            if m_star.max() < x_lo and t not in left:
                left.append(t)
            elif m_star.min() > x_hi and t not in right:
                right.append(t)
    notes = []
    if left:
        notes.append("bound vacuous in view (boundary left of the axes) for T = "
                     + ", ".join(pretty_count(t) for t in left))
    if right:
        notes.append("whole panel ruled out (boundary right of the axes) for T = "
                     + ", ".join(pretty_count(t) for t in right))
    shade = curves[n, k, all_steps[-1], float(delta_arr.min())]
    edge = np.clip(10.0 ** shade["log10_samples"], x_lo, x_hi)
    if np.any(edge > x_lo):
        ax.fill_betweenx(grid, x_lo, edge, color=_SHADE_COLOUR, alpha=0.45, linewidth=0,
                         zorder=0, label=f"success \u2265 {float(delta_arr.min()):g} ruled out "
                                         f"(T = {pretty_count(all_steps[-1])})")
    scatter = None
    for t_index, t in enumerate(all_steps):
        group = [c for c in mine if c["steps"] == t]
        if group:
            scatter = ax.scatter([c["samples"] for c in group], [c["width"] for c in group],
                                 c=[c["success_rate"] for c in group], cmap=_RATE_CMAP,
                                 vmin=0.0, vmax=1.0, marker=MARKERS[t_index], s=36,
                                 edgecolors="#000000", linewidths=0.6, zorder=3,
                                 label=f"cells trained with T = {pretty_count(t)} "
                                       "(colour: success rate)")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    log_axis(ax.xaxis)
    log_axis(ax.yaxis)
    ax.set_xlabel("sample size m (examples)")
    ax.set_ylabel("width w (hidden neurons)")
    ax.set_title(f"n = {n}, k = {k}: C(n, k) \u2248 $10^{{{log10_comb(n, k):.1f}}}$",
                 fontsize=10)
    if notes:
        # On the side of the panel with more room above or below the cells.
        room_top = math.log10(y_hi / max((c["width"] for c in mine), default=y_lo))
        room_bottom = math.log10(min((c["width"] for c in mine), default=y_hi) / y_lo)
        add_caveat(ax, "\n".join(notes), where="top" if room_top >= room_bottom else "bottom")
    return scatter
