"""Theory-vs-experiment figures of a sweep: the paper's Figure 1 (left) and Figure 2.

* :func:`success_heatmap` -- success rate over (m, width), dense and sparse side by side, with
  the measured frontier m*(r) and the predicted ones drawn on top;
* :func:`success_curves` -- success rate against m, one line per width, Wilson 95% bars;
* :func:`steps_curves` -- Kaplan-Meier median steps-to-success against m, one line per width.

Each takes the rows of :mod:`verify.analysis` / :mod:`verify.predict` (plain dicts), draws one
file pair (PNG + PDF) per input dimension n, and returns the written paths. Cells resting on
fewer than :data:`MIN_SEEDS_FOR_INTERVAL` runs are marked on the figure, never drawn as certain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from parity_frontiers.figures.style import MARKERS, PALETTE, add_caveat, save_figure, subplots
from parity_frontiers.verify.analysis.frontier import group_rows

__all__ = ["MIN_SEEDS_FOR_INTERVAL", "success_heatmap", "success_curves", "steps_curves",
           "panel_label"]

#: Fewer runs than this in a cell and its interval is too wide to mean much (at 4 runs the
#: Wilson 95% interval of 2/4 is 0.15 .. 0.85): such cells are flagged on every figure.
MIN_SEEDS_FOR_INTERVAL = 5
#: Where "online" (fresh samples each step) sits on a log m axis: past the largest m.
_ONLINE_FACTOR = 3.0


def panel_label(point: dict) -> str:
    """'dense' or 'sparse, s = 2' for a row's init."""
    return "dense" if point["init"] == "dense" else f"sparse, s = {point['s']}"


def _check_rows(points, what: str = "cells") -> list[dict]:
    points = list(points)
    if not points:
        raise ValueError(f"nothing to plot: no {what} (is the store empty?)")
    return points


def _panels(points: list[dict]) -> list[tuple]:
    """(init, s) pairs in a fixed order: dense first, then sparse by s."""
    keys = {(p["init"], p["s"]) for p in points}
    return sorted(keys, key=lambda key: (key[0] != "dense", key[1] or 0))


def _m_axis(points: list[dict]) -> tuple[list, float | None]:
    finite = sorted({p["samples"] for p in points if p["samples"] is not None})
    online = any(p["samples"] is None for p in points)
    return finite, (finite[-1] * _ONLINE_FACTOR if finite else 1.0) if online else None


def _x_of(m, online_x):
    return online_x if m is None else m


def _thin_caveat(ax, cells: Sequence[dict]) -> None:
    thin = [c for c in cells if c["runs"] < MIN_SEEDS_FOR_INTERVAL]
    if thin:
        add_caveat(ax, f"{len(thin)} cell(s) with < {MIN_SEEDS_FOR_INTERVAL} runs: "
                       "their intervals are too wide to read")


def _seeds_text(points: Sequence[dict]) -> str:
    runs = sorted({p["runs"] for p in points})
    return f"{runs[0]} runs per cell" if len(runs) == 1 else f"{runs[0]}-{runs[-1]} runs per cell"


def _title(fig, n: int, k: int, points: Sequence[dict], what: str) -> None:
    steps = sorted({p["max_steps"] for p in points})
    fig.suptitle(f"({n}, {k})-sparse parity: {what}  [{_seeds_text(points)}, T = "
                 f"{'/'.join(f'{s:g}' for s in steps)}]", fontsize=10)


def _index_position(m: float, m_grid: Sequence[int]) -> float | None:
    """Position of m on a categorical axis of the sorted grid m values (log interpolation)."""
    if m is None or not m_grid or not m_grid[0] <= m <= m_grid[-1]:
        return None
    return float(np.interp(math.log10(m), np.log10(m_grid), np.arange(len(m_grid))))


def success_heatmap(points: Sequence[dict], out_dir, *, frontier: Sequence[dict] = (),
                    onestep: Sequence[dict] = (), theorem: Sequence[dict] = (),
                    stem: str = "success_heatmap") -> list:
    """Success rate over (sample size m, width r), one panel per init, one file per n.

    Overlays, per width: the measured m* with its 95% interval (black, from
    :func:`verify.analysis.frontier_table`), the lottery x one-step prediction (vermillion
    crosses, ``onestep_predictions(...)["curves"]``) and the theorem frontier with its fitted
    constants (blue diamonds, ``theorem_frontier(...)["rows"]``). Each cell is labelled with
    successes/runs; grey cells have no runs; cells with fewer than
    :data:`MIN_SEEDS_FOR_INTERVAL` runs are hatched.
    """
    points = _check_rows(points)
    paths = []
    for (n, k), cells in group_rows(points, ("n", "k")).items():
        panels = _panels(cells)
        m_grid, online_x = _m_axis(cells)
        columns = m_grid + ([None] if online_x is not None else [])
        widths = sorted({c["width"] for c in cells})
        fig, axes = subplots(1, len(panels), figsize=(4.6 * len(panels) + 0.8, 4.4),
                             squeeze=False)
        image = None
        for ax, (init, s) in zip(axes[0], panels, strict=True):
            grid = np.full((len(widths), len(columns)), np.nan)
            here = [c for c in cells if (c["init"], c["s"]) == (init, s)]
            for c in here:
                i, j = widths.index(c["width"]), columns.index(c["samples"])
                grid[i, j] = c["success_rate"]
                thin = c["runs"] < MIN_SEEDS_FOR_INTERVAL
                ax.text(j, i, f"{c['successes']}/{c['runs']}", ha="center", va="center",
                        fontsize=5.5, color="white" if c["success_rate"] < 0.6 else "black")
                if thin:
                    ax.add_patch(_hatch(j, i))
            ax.set_facecolor("#BBBBBB")
            image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto",
                              cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
            _overlay(ax, frontier, init, s, n, k, widths, m_grid, "fitted", "m_star",
                     dict(color="black", marker="o", ms=4, lw=1.2, label="measured m* (95%)"),
                     interval=True)
            _overlay(ax, onestep, init, s, n, k, widths, m_grid, "inside", "m_star",
                     dict(color=PALETTE[1], marker="x", ms=6, lw=1.0, ls=":",
                          label="one-step prediction"))
            _edge_markers(ax, onestep, init, s, n, k, widths, len(columns))
            _overlay(ax, theorem, init, s, n, k, widths, m_grid, None, "predicted",
                     dict(color=PALETTE[5], marker="D", ms=3.5, lw=1.0, ls="--",
                          label="Thm 4/5, fitted"))
            ax.set_xticks(range(len(columns)),
                          [("online" if m is None else f"{m:g}") for m in columns],
                          rotation=60, ha="right", rotation_mode="anchor", fontsize=7)
            ax.set_yticks(range(len(widths)), [str(w) for w in widths], fontsize=7)
            ax.set_xlabel("training samples m")
            ax.set_ylabel("width r (neurons)")
            ax.set_title(panel_label({"init": init, "s": s}), fontsize=9)
            _thin_caveat(ax, here)
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                ax.legend(handles, labels, fontsize=6, loc="upper center", ncols=2,
                          bbox_to_anchor=(0.5, -0.3), frameon=False)
        fig.colorbar(image, ax=list(axes[0]), label="success rate (test error <= 10%)",
                     shrink=0.9)
        _title(fig, n, k, cells, "success over (m, width)")
        paths += save_figure(fig, out_dir, f"{stem}_n{n}_k{k}")
    return paths


def _edge_markers(ax, rows, init, s, n, k, widths, columns: int) -> None:
    """One-step predictions outside the grid: a '<' at the left edge (m* below the smallest
    m) or a '>' at the right edge (no m of the grid reaches the target)."""
    for status, x, marker, label in (("below_grid", -0.45, "<", "one-step: m* < grid"),
                                     ("above_grid", columns - 0.55, ">",
                                      "one-step: m* > grid")):
        ys = [widths.index(r["width"]) for r in rows
              if (r["init"], r["s"], r["n"], r["k"]) == (init, s, n, k)
              and r["width"] in widths and r.get("status") == status]
        if ys:
            ax.plot([x] * len(ys), ys, ls="none", marker=marker, ms=6, color=PALETTE[1],
                    mec="white", mew=0.6, label=label, clip_on=False)


def _hatch(j: int, i: int):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="white",
                     linewidth=0)


def _overlay(ax, rows, init, s, n, k, widths, m_grid, status, key, style, interval=False):
    ys, xs, ends = [], [], []
    for row in rows:
        if (row["init"], row["s"], row["n"], row["k"]) != (init, s, n, k):
            continue
        if row["width"] not in widths:
            continue
        if status is not None and row.get("status") != status:
            continue
        x = _index_position(row.get(key), m_grid)
        if x is None:
            continue
        ys.append(widths.index(row["width"]))
        xs.append(x)
        if interval:
            # An end beyond the grid is clipped to its edge and drawn as an open arrow, not
            # as a cap: the interval goes on past what the axis shows.
            ends.append([(_index_position(min(max(value, m_grid[0]), m_grid[-1]), m_grid),
                          not m_grid[0] <= value <= m_grid[-1])
                         for value in (row["ci_low"], row["ci_high"])])
    if not xs:
        return
    order = np.argsort(ys)
    ax.plot(np.asarray(xs)[order], np.asarray(ys)[order], **style)
    color = style.get("color", "black")
    for y, pair in zip(ys, ends, strict=False):
        (low, low_clipped), (high, high_clipped) = pair
        ax.hlines(y, low, high, color=color, lw=1.0)
        for end, clipped, arrow in ((low, low_clipped, "<"), (high, high_clipped, ">")):
            ax.plot([end], [y], marker=arrow if clipped else "|", color=color, ms=5 if clipped
                    else 6, ls="none")


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
    ax.set_xscale("log")
    ax.set_xlabel("training samples m (log scale)")
    if online_x is not None:
        ax.axvline(online_x / math.sqrt(_ONLINE_FACTOR), color="#888888", lw=0.6, ls=":")
        ticks = [t for t in ax.get_xticks() if m_grid and m_grid[0] <= t <= m_grid[-1]]
        ax.set_xticks(ticks + [online_x],
                      [f"{t:g}" for t in ticks] + ["online"])


def _curves_figure(points, out_dir, stem, what, draw_line, finish_axis, legend) -> list:
    """One file per (n, k), one panel per init, one line per width: the shared frame of
    :func:`success_curves` and :func:`steps_curves`. ``draw_line(ax, line, x_of, color,
    marker, label)`` draws a width's cells (sorted by m); ``finish_axis(ax)`` sets the y axis."""
    points = _check_rows(points)
    paths = []
    for (n, k), cells in group_rows(points, ("n", "k")).items():
        panels = _panels(cells)
        m_grid, online_x = _m_axis(cells)
        fig, axes = subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False,
                             sharey=True)
        for ax, (init, s) in zip(axes[0], panels, strict=True):
            here = [c for c in cells if (c["init"], c["s"]) == (init, s)]
            lines = sorted(group_rows(here, ("width",)).items())
            for idx, (width, line) in enumerate(lines):
                # Widths are nudged apart on the log axis so equal values do not hide each other.
                dodge = 10 ** (0.012 * (idx - (len(lines) - 1) / 2))

                def x_of(cell, online_x=online_x, dodge=dodge):
                    return _x_of(cell["samples"], online_x) * dodge

                line.sort(key=x_of)
                draw_line(ax, line, x_of,
                          PALETTE[idx % len(PALETTE)], MARKERS[idx % len(MARKERS)],
                          f"r = {width[0]}")
            _log_m_axis(ax, m_grid, online_x)
            finish_axis(ax)
            ax.set_title(panel_label({"init": init, "s": s}), fontsize=9)
            _thin_caveat(ax, here)
        axes[0][-1].legend(fontsize=7, **legend)
        _title(fig, n, k, cells, what)
        paths += save_figure(fig, out_dir, f"{stem}_n{n}_k{k}")
    return paths


def success_curves(points: Sequence[dict], out_dir, *, stem: str = "success_vs_m") -> list:
    """Success rate against m with Wilson 95% bars, one line per width; panels per init.

    Online training (fresh samples) is drawn at the right end, past the largest m, and
    labelled; the paper's Figure 2 (centre).
    """
    def draw(ax, line, x_of, color, marker, label):
        x = np.array([x_of(c) for c in line], float)
        y = np.array([c["success_rate"] for c in line])
        err = np.array([y - [c["ci_low"] for c in line], [c["ci_high"] for c in line] - y])
        _line_with_online(ax, x, y, err, color, marker, label,
                          np.array([c["samples"] is None for c in line]))

    def finish(ax):
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("success rate (Wilson 95%)")

    return _curves_figure(points, out_dir, stem, "success against training samples", draw,
                          finish, {"loc": "lower right"})


def steps_curves(points: Sequence[dict], out_dir, *, stem: str = "steps_vs_m") -> list:
    """Kaplan-Meier median steps-to-success against m, one line per width; panels per init.

    Bars are the median's 95% interval (the Kaplan-Meier band inverted); a cell whose median
    is not reached within the budget T (fewer than half its runs succeeded) is drawn as an
    open triangle at T: the median is only known to exceed it. The paper's Figure 2 (right).
    """
    def draw(ax, line, x_of, color, marker, label):
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
        censored = [c for c in line if c["median_steps_to_success"] is None]
        if censored:
            ax.plot([x_of(c) for c in censored], [c["max_steps"] for c in censored],
                    ls="none", marker="^", mfc="none", color=color, ms=5,
                    label=None if reached else label)

    def finish(ax):
        ax.set_yscale("log")
        ax.set_ylabel("median steps to success (KM, 95%)")

    return _curves_figure(points, out_dir, stem, "steps to success against training samples",
                          draw, finish, {"loc": "upper right",
                                         "title": "open triangle: median > T\n"
                                                  "dotted arrow: upper limit unknown",
                                         "title_fontsize": 6})
