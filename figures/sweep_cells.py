"""Rows of a sweep for the frontier figures: one problem, its panels, labels and caveats.

Shared by :mod:`figures.frontier_plots` (success and steps against m) and
:mod:`figures.heatmap` (success over m and width): which (n, k) to draw, one panel per init
(dense first, then sparse by s), the sample sizes with "online" set apart, titles, and the
project's rule that a cell resting on fewer than :data:`MIN_SEEDS_FOR_INTERVAL` runs is
flagged on the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

from parity_frontiers.figures.style import add_caveat
from parity_frontiers.verify.analysis.frontier import group_rows
from parity_frontiers.verify.analysis.inits import is_sparse

__all__ = ["MIN_SEEDS_FOR_INTERVAL", "ONLINE_FACTOR", "panel_label", "check_rows",
           "one_problem", "panels_of", "m_axis", "x_of_m", "thin_caveat", "title_text",
           "panel_title", "rows_of_panel"]

#: Fewer runs than this in a cell and its interval is too wide to mean much (at 4 runs the
#: Wilson 95% interval of 2/4 is 0.15 .. 0.85): such cells are flagged on every figure.
MIN_SEEDS_FOR_INTERVAL = 5
#: Where "online" (fresh samples each step) sits on the curves' log m axis: past the largest m.
ONLINE_FACTOR = 3.0


def panel_label(point: dict) -> str:
    """'dense', 'sparse, s = 2' or 'sparse-gaussian, s = 2' for a row's init.

    >>> panel_label({"init": "sparse-gaussian", "s": 2})
    'sparse-gaussian, s = 2'
    """
    return f"{point['init']}, s = {point['s']}" if is_sparse(point) else point["init"]


def check_rows(points, what: str = "cells") -> list[dict]:
    points = list(points)
    if not points:
        raise ValueError(f"nothing to plot: no {what} (is the store empty?)")
    return points


def one_problem(points: list[dict], n, k) -> tuple[tuple[int, int], list[dict]]:
    """The cells of one (n, k): the one given, or the only one in ``points``."""
    groups = group_rows(points, ("n", "k"))
    if n is None and k is None and len(groups) == 1:
        return next(iter(groups.items()))
    matching = [key for key in groups if (n is None or key[0] == n) and
                (k is None or key[1] == k)]
    if len(matching) != 1:
        raise ValueError(f"the cells hold (n, k) = {', '.join(map(str, sorted(groups)))}: "
                         "choose one with n= and k=")
    return matching[0], groups[matching[0]]


def panels_of(points: list[dict]) -> list[tuple]:
    """(init, s) pairs in a fixed order: dense laws first, then sparse ones by s, then name."""
    keys = {(p["init"], p["s"]) for p in points}
    return sorted(keys, key=lambda key: (is_sparse({"init": key[0], "s": key[1]}),
                                         key[1] or 0, key[0]))


def m_axis(points: list[dict]) -> tuple[list, float | None]:
    finite = sorted({p["samples"] for p in points if p["samples"] is not None})
    online = any(p["samples"] is None for p in points)
    return finite, (finite[-1] * ONLINE_FACTOR if finite else 1.0) if online else None


def x_of_m(m, online_x):
    return online_x if m is None else m


def thin_caveat(ax, cells: Sequence[dict], where: str = "top") -> None:
    thin = [c for c in cells if c["runs"] < MIN_SEEDS_FOR_INTERVAL]
    if thin:
        add_caveat(ax, f"{len(thin)} cell(s) with < {MIN_SEEDS_FOR_INTERVAL} runs: "
                       "their intervals are too wide to read", where=where)


def _seeds_text(points: Sequence[dict]) -> str:
    runs = sorted({p["runs"] for p in points})
    return f"{runs[0]} runs per cell" if len(runs) == 1 else f"{runs[0]}-{runs[-1]} runs per cell"


def title_text(n: int, k: int, points: Sequence[dict], what: str) -> str:
    steps = sorted({p["max_steps"] for p in points})
    return (f"({n}, {k})-sparse parity: {what}  [{_seeds_text(points)}, T = "
            f"{'/'.join(f'{s:g}' for s in steps)}]")


def panel_title(ax, owned: bool, n: int, k: int, init, s) -> None:
    label = panel_label({"init": init, "s": s})
    ax.set_title(label if owned else f"(n, k) = ({n}, {k}), {label}", fontsize=9)


def rows_of_panel(rows, init, s, n, k, widths) -> list[dict]:
    return [r for r in rows if (r["init"], r["s"], r["n"], r["k"]) == (init, s, n, k)
            and r["width"] in widths]
