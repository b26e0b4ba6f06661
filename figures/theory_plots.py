r"""Theory figures: the SQ frontier of Proposition 3 and lottery-ticket curves.

* :func:`sq_frontier_figure` -- for each (n, k), the boundary of Prop. 3 on log-log axes of
  sample size m against hidden width, for several step budgets T, with the region the bound
  rules out shaded and (optionally) a sweep's grid cells scattered on top, coloured by their
  success rate. :func:`sq_boundary_curve` returns the plotted curve as numbers.
* :func:`lottery_figure` -- P(at least one lucky neuron among r) of s-sparse initialisation
  against r: theory's exact line and Monte Carlo points with Wilson 95% intervals.

Everything numeric is done in log-space by :mod:`theory`, so C(1000, 8) ~ 2.4e19 (or far
larger) never overflows. Figures follow :mod:`figures.style` (Okabe-Ito colours, PNG + PDF).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from parity_frontiers.figures.style import (
    MARKERS,
    MIN_TRIALS_FOR_INTERVAL,
    PALETTE,
    add_caveat,
    save_figure,
    subplots,
)
from parity_frontiers.theory.binomial import log10_comb
from parity_frontiers.theory.checks import check_int, check_positive, check_real, check_size
from parity_frontiers.theory.lottery import p_at_least_one_lucky
from parity_frontiers.theory.sq_bound import (
    sq_log10_cost,
    sq_log10_threshold,
    two_layer_param_count,
)

__all__ = ["sq_boundary_curve", "sq_frontier_figure", "lottery_figure", "CELL_FIELDS"]

#: Fields of one experiment grid cell for :func:`sq_frontier_figure`, in tuple order.
CELL_FIELDS = ("n", "k", "width", "samples", "steps", "success_rate")

# Line style per success level delta of the boundary: delta = 1 solid, 1/2 dashed, others dotted.
_DELTA_STYLES = {1.0: "-", 0.5: "--"}
# Points on the densified width grid of each boundary curve and lottery line.
_CURVE_POINTS = 120
_SHADE_COLOUR = "#BBBBBB"
# Sequential map designed for colour-vision deficiency (Nunez et al. 2018).
_RATE_CMAP = "cividis"


def _pretty(count) -> str:
    """A count for a label: powers of ten as mathtext 10^e, others as %g."""
    exponent = math.log10(count)
    if count >= 100 and exponent == round(exponent):
        return f"$10^{{{round(exponent)}}}$"
    return f"{count:g}"


def _check_unit(name: str, value, allow_zero: bool = False) -> np.ndarray:
    """Reals in (0, 1] (success levels), or in [0, 1] with ``allow_zero`` (success rates)."""
    arr = check_real(name, value)
    bad = (arr < 0) | (arr > 1) | ((arr == 0) & (not allow_zero))
    if bad.any():
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {arr[bad].flat[0]:g}")
    return arr


def _check_problem(n, k, where: str = "") -> tuple[int, int]:
    n = check_int("n", n)
    k = check_int("k", k)
    if k > n:
        raise ValueError(f"k must be <= n{where}, got k = {k} > n = {n}")
    return n, k


def _check_problems(problems) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(p) for p in problems]
    except TypeError:
        raise ValueError(f"problems must be a list of (n, k) pairs, got {problems!r}") from None
    if not pairs:
        raise ValueError("problems must list at least one (n, k) pair")
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"problems must be a list of (n, k) pairs, got {problems!r}")
    checked = [_check_problem(n, k, f" in problems entry {(n, k)}") for n, k in pairs]
    if len(set(checked)) != len(checked):
        raise ValueError(f"problems lists an (n, k) pair twice: {checked}")
    return checked


def _sizes(name: str, values) -> np.ndarray:
    """A non-empty 1-d array of positive integers (float64), sorted and without repeats."""
    arr = check_size(name, values)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a flat list of numbers")
    return np.unique(arr.ravel())


def _log_grid(values: np.ndarray) -> np.ndarray:
    """Integers log-spaced over [min, max] of ``values``, plus the values themselves."""
    lo, hi = float(values.min()), float(values.max())
    dense = np.round(np.geomspace(lo, hi, _CURVE_POINTS)) if hi > lo else np.array([lo])
    return np.unique(np.concatenate([dense, values]))


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
    n, k = _check_problem(n, k)
    steps = check_int("steps", steps)
    delta = float(_check_unit("delta", delta))
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
        n, k = _check_problem(values[0], values[1], f" in cells[{index}]")
        if (n, k) not in problems:
            raise ValueError(f"cells[{index}] has (n, k) = ({n}, {k}), which is not in "
                             f"problems {problems}")
        row = {"n": n, "k": k,
               "width": check_int("width", values[2]),
               "samples": float(check_size("samples", values[3])),
               "steps": check_int("steps", values[4]),
               "success_rate": float(_check_unit("success_rate", values[5], allow_zero=True))}
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
    r"""Plot Prop. 3's frontier in the (sample size, width) plane, one panel per (n, k).

    Each panel has log-log axes: sample size m (x) against hidden width w (y). For every step
    budget T it draws the boundary :func:`sq_boundary_curve`,

    .. math:: 2\, r(w)\, T\, m = \delta \binom{n}{k}, \qquad r(w) = w(n + 2) + 1,

    solid for delta = 1 (below it the bound forbids certain success) and dashed for
    delta = 1/2 (below it, success in half the runs). The region where success probability
    ``min(deltas)`` is ruled out even at the largest T shown is shaded. Source: the paper's
    Proposition 3 with tau = 1/sqrt(m) (docs/theory.md §2). A boundary that misses the
    axes is named in a note on the panel (left: the bound is vacuous over the range shown).

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
    out_dir : str or Path
        Output folder; ``STEM.png`` and ``STEM.pdf`` are written there.
    stem : str, default "sq_frontier"
    cells : sequence, optional
        Experiment grid cells, each a mapping with keys :data:`CELL_FIELDS` (n, k, width,
        samples, steps, success_rate) or a tuple in that order. Drawn on the panel of their
        (n, k), coloured by success rate (cividis, 0 to 1) and shaped by their T, whose
        boundary is added if it is not among ``steps``.
    deltas : sequence of float, default (1, 0.5)
        Success levels in (0, 1] whose boundaries are drawn.

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
    problems = _check_problems(problems)
    width_arr = _sizes("widths", widths)
    step_arr = _sizes("steps", steps)
    x_lo, x_hi = _check_range("samples_range", samples_range)
    delta_arr = _check_unit("deltas", deltas)
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
    grid = _log_grid(np.array([max(1.0, math.floor(y_lo)), math.ceil(y_hi)]))

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, axes = subplots(1, len(problems), squeeze=False,
                         figsize=(4.4 * len(problems), 4.0 if cell_rows else 3.7))
    scatter = None
    for ax, (n, k) in zip(axes[0], problems, strict=True):
        left, right = [], []
        for t_index, t in enumerate(all_steps):
            for delta in delta_arr:
                curve = sq_boundary_curve(n, k, grid, t, delta)
                m_star = 10.0 ** curve["log10_samples"]
                ax.plot(m_star, grid, color=PALETTE[t_index],
                        linestyle=_DELTA_STYLES.get(float(delta), ":"), linewidth=1.6)
                if m_star.max() < x_lo and t not in left:
                    left.append(t)
                elif m_star.min() > x_hi and t not in right:
                    right.append(t)
        notes = []
        if left:
            notes.append("bound vacuous here (boundary left of the axes) for T = "
                         + ", ".join(_pretty(t) for t in left))
        if right:
            notes.append("whole panel ruled out (boundary right of the axes) for T = "
                         + ", ".join(_pretty(t) for t in right))
        shade = sq_boundary_curve(n, k, grid, all_steps[-1], float(delta_arr.min()))
        ax.fill_betweenx(grid, x_lo, np.clip(10.0 ** shade["log10_samples"], x_lo, x_hi),
                         color=_SHADE_COLOUR, alpha=0.45, linewidth=0, zorder=0)
        mine = [c for c in cell_rows if (c["n"], c["k"]) == (n, k)]
        for t_index, t in enumerate(all_steps):
            group = [c for c in mine if c["steps"] == t]
            if group:
                scatter = ax.scatter([c["samples"] for c in group], [c["width"] for c in group],
                                     c=[c["success_rate"] for c in group], cmap=_RATE_CMAP,
                                     vmin=0.0, vmax=1.0, marker=MARKERS[t_index], s=36,
                                     edgecolors="#000000", linewidths=0.6, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
        ax.set_xlabel("sample size m (examples)")
        ax.set_ylabel("width w (hidden neurons)")
        ax.set_title(f"n = {n}, k = {k}: C(n, k) \u2248 $10^{{{log10_comb(n, k):.1f}}}$",
                     fontsize=10)
        if notes:
            add_caveat(ax, "\n".join(notes))

    handles = [Line2D([], [], color=PALETTE[i], linewidth=1.6,
                      marker=MARKERS[i] if cell_rows else None, markerfacecolor="none",
                      label=f"T = {_pretty(t)} steps") for i, t in enumerate(all_steps)]
    handles += [Line2D([], [], color="#000000", linestyle=_DELTA_STYLES.get(float(d), ":"),
                       label=f"2 r T m = {d:g} C(n, k)") for d in delta_arr]
    handles.append(Patch(facecolor=_SHADE_COLOUR, alpha=0.45,
                         label=f"success \u2265 {float(delta_arr.min()):g} ruled out "
                               f"(T = {_pretty(all_steps[-1])})"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)),
               fontsize=8, frameon=False)
    fig.suptitle("SQ lower bound (Prop. 3), r = w(n+2)+1 parameters, \u03c4 = 1/\u221am",
                 fontsize=10)
    if scatter is not None:
        fig.colorbar(scatter, ax=list(axes[0]), label="success rate (fraction of seeds)",
                     shrink=0.9)
    return save_figure(fig, out_dir, stem)


def lottery_figure(n, k, s_values, widths, trials, seed, out_dir, stem="lottery", *,
                   threads=None) -> dict:
    r"""Plot P(at least one lucky neuron among r) against width r, exact and Monte Carlo.

    A neuron with a uniform s-subset support is lucky when its overlap with the parity set is
    min(s, k) (docs/theory.md §3: S inside U for s >= k, Theorem 4; U inside S for s < k,
    Theorem 5), with probability p; for r independent neurons

    .. math:: P(\text{at least one lucky among } r) = 1 - (1 - p)^r .

    Lines: :func:`theory.lottery.p_at_least_one_lucky` on a log-spaced width grid over the
    range of ``widths``. Points: :func:`simulate.lottery.simulate_lottery` at each width in
    ``widths`` with ``trials`` trials, drawn with their Wilson 95% intervals. With fewer than
    :data:`figures.style.MIN_TRIALS_FOR_INTERVAL` trials the figure says the intervals are too
    wide to read.

    Parameters
    ----------
    n, k : int
        The (n, k)-sparse parity, 1 <= k <= n.
    s_values : sequence of int
        Support sizes s, 1 <= s <= n, one colour each (at most 8).
    widths : sequence of int
        Widths r >= 1 at which Monte Carlo points are drawn; the lines span their range.
    trials : int
        Monte Carlo trials per point, >= 1.
    seed : int
        Point i (in the order of ``mc`` rows) uses seed ``seed + i``, so points are
        independent and the figure is reproducible.
    out_dir : str or Path
    stem : str, default "lottery"
    threads : int, optional
        Numba threads for the simulation (default: all).

    Returns
    -------
    dict
        ``paths`` (PNG, PDF); ``exact``: rows ``{s, width, p_exact}`` of the lines;
        ``mc``: rows ``{s, width, seed, trials, estimate, stderr, ci_low, ci_high, exact}``;
        ``too_few_trials``: whether the figure carries the too-few-trials note.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = lottery_figure(10, 2, [3], [1, 10], trials=200, seed=0, out_dir=tmp)
    >>> round(out["mc"][0]["exact"], 6)  # C(3, 2) / C(10, 2) = 3/45
    0.066667
    """
    n, k = _check_problem(n, k)
    s_arr = _sizes("s_values", s_values)
    if s_arr.max() > n:
        raise ValueError(f"s_values must be <= n = {n}, got s = {s_arr.max():g}")
    if len(s_arr) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} s values fit the palette, got {len(s_arr)}")
    width_arr = _sizes("widths", widths)
    trials = check_int("trials", trials, strict=True)
    seed = check_int("seed", seed, minimum=0, strict=True)
    points = len(s_arr) * len(width_arr)
    if seed + points - 1 >= 2**63:
        raise ValueError(f"seed must be < 2**63 - {points - 1} (one seed per point), got {seed}")

    from parity_frontiers.simulate.lottery import simulate_lottery

    grid = _log_grid(width_arr)
    if len(grid) == 1:  # one width: show a decade either side of it
        grid = _log_grid(np.array([max(1.0, grid[0] / 10), grid[0] * 10]))
    exact_rows, mc_rows = [], []
    for s in s_arr.astype(int):
        p = np.atleast_1d(p_at_least_one_lucky(n, k, int(s), grid))
        exact_rows += [{"s": int(s), "width": int(w), "p_exact": float(v)}
                       for w, v in zip(grid, p, strict=True)]
        for w in width_arr.astype(int):
            point_seed = seed + len(mc_rows)
            out = simulate_lottery(n, k, int(s), width=int(w), trials=trials, seed=point_seed,
                                   threads=threads)
            mc_rows.append({"s": int(s), "width": int(w), "seed": point_seed, "trials": trials,
                            **{key: float(out[key]) for key in
                               ("estimate", "stderr", "ci_low", "ci_high", "exact")}})

    fig, ax = subplots(figsize=(7.4, 4.0))
    for index, s in enumerate(s_arr.astype(int)):
        colour = PALETTE[index]
        regime = "S \u2286 U" if s >= k else "U \u2286 S"
        line = [r for r in exact_rows if r["s"] == s]
        ax.plot([r["width"] for r in line], [r["p_exact"] for r in line], color=colour,
                linewidth=1.6, label=f"s = {s} ({regime})")
        dots = [r for r in mc_rows if r["s"] == s]
        estimate = np.array([r["estimate"] for r in dots])
        yerr = np.array([estimate - [r["ci_low"] for r in dots],
                         np.array([r["ci_high"] for r in dots]) - estimate])
        # Dodge the points of each s sideways (x 10^+-0.04) so equal widths do not hide each
        # other's intervals; the returned rows keep the true widths.
        dodge = 10.0 ** (0.08 * (index - (len(s_arr) - 1) / 2) / max(1, len(s_arr) - 1))
        ax.errorbar([r["width"] * dodge for r in dots], estimate, yerr=np.clip(yerr, 0.0, None),
                    fmt=MARKERS[index], color=colour, markersize=5, capsize=2.5,
                    linestyle="none", markeredgecolor="#000000", markeredgewidth=0.5)
    ax.errorbar([], [], yerr=[], fmt="o", color="#000000", capsize=2.5,
                label=f"Monte Carlo, {trials} trials, Wilson 95%")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("width r (hidden neurons)")
    ax.set_ylabel("P(at least one lucky neuron)")
    ax.set_title(f"Lottery tickets of s-sparse init, n = {n}, k = {k}: $1 - (1 - p)^r$",
                 fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    too_few = trials < MIN_TRIALS_FOR_INTERVAL
    if too_few:
        add_caveat(ax, f"only {trials} trials per point (< {MIN_TRIALS_FOR_INTERVAL}): "
                       "95% intervals too wide to read")
    paths = save_figure(fig, out_dir, stem)
    return {"paths": paths, "exact": exact_rows, "mc": mc_rows, "too_few_trials": too_few}
