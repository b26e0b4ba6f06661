r"""Learning curves: test error against SGD step, per cell, over seeds.

A *cell* is every :class:`~parity_frontiers.verify.config.RunConfig` field but the seed; its
runs are the seeds. For each cell the figure draws the median test error over its runs at each
evaluation step, with the interquartile band (25th to 75th percentile), and the success
threshold (``success_error``) as a dashed black line. Panels are split by problem (n, k) so
that the error scales and step budgets of one panel belong together; inside a panel cells
differ by colour (and, past eight cells, by line style), and the legend names, for each cell
drawn, only the fields that differ between the cells of the figure.

What the band is over
---------------------
A run stops at its first success (early stopping) or on divergence, and has no points after
that. Averaging only over the runs still training would make a cell's curve *rise* as its
successful runs leave (the survivors are the slow ones), which misreads as forgetting. Instead
each run keeps its last measured test error after it stops -- the error of the network it
trained, which no longer changes -- so at every step the median and quartiles are over *all*
runs of the cell that had reached their first evaluation (derived here; the error is that of
docs/theory.md eq. (5.4) at each evaluation point).
:func:`carried_quantiles` computes them.

The step axis is logarithmic when the steps drawn span more than :data:`LOG_SPAN` (a plateau
then a drop is readable on both scales; a budget from 100 to 10^5 steps is not on a linear
one), with plain-number labels (:func:`figures.layout.log_axis`).

:func:`curves_figure` draws (into ``ax=`` / ``fig=``, or a new figure) and returns the Figure;
:func:`plot_curves` reads a store and writes the file(s).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np

from parity_frontiers.figures.layout import log_axis, panel_axes, place_legend
from parity_frontiers.figures.style import (
    FORMATS,
    PALETTE,
    figure_path,
    root_figure,
    save_figure,
)
from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.experiments.export import write_replacing

__all__ = ["curves_figure", "plot_curves", "carried_quantiles", "LOG_SPAN"]

#: Steps drawn spanning more than this ratio (last / first) get a log axis.
LOG_SPAN = 30.0
_CELL_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name != "seed")
_NEEDED = ("key", *_CELL_FIELDS, "step", "test_error")
_STYLES = ("-", "--", ":", "-.")


def carried_quantiles(runs: list[tuple[np.ndarray, np.ndarray]], qs=(25, 50, 75)):
    """Quantiles over runs of a step function that holds each run's last value.

    Parameters
    ----------
    runs : list of (steps, values)
        Each run's evaluation steps (increasing) and values there.
    qs : percentiles

    Returns
    -------
    (grid, quantiles, active)
        ``grid``: every step of any run, sorted; ``quantiles``: array (len(qs), len(grid)),
        each run counted at a step with its value at its last evaluation at or before it (so a
        run that stopped keeps its final value; a run not yet evaluated is left out);
        ``active``: how many runs had an evaluation at or after each step (still training).

    Examples
    --------
    >>> grid, q, active = carried_quantiles([(np.array([1, 2, 3]), np.array([.5, .4, .0])),
    ...                                      (np.array([1]), np.array([.1]))], qs=(50,))
    >>> grid.tolist(), q[0].tolist(), active.tolist()
    ([1, 2, 3], [0.3, 0.25, 0.05], [2, 1, 1])
    """
    grid = np.unique(np.concatenate([np.asarray(s) for s, _ in runs])) if runs else np.empty(0)
    table = np.full((len(runs), len(grid)), np.nan)
    active = np.zeros(len(grid), dtype=np.int64)
    for row, (steps, values) in enumerate(runs):
        steps, values = np.asarray(steps), np.asarray(values, dtype=float)
        if len(steps) == 0:
            continue
        at = np.searchsorted(steps, grid, side="right") - 1  # last evaluation <= step
        seen = at >= 0
        table[row, seen] = values[at[seen]]
        active += grid <= steps[-1]
    if not runs:
        return grid, np.empty((len(qs), 0)), active
    with warnings.catch_warnings():  # an all-NaN column (nobody evaluated yet) gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        quantiles = np.nanpercentile(table, qs, axis=0)
    return grid, np.atleast_2d(quantiles), active


def _plain(value):
    """None for a missing value (None, NaN, pandas' NA), else a plain Python value."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:  # pandas.NA refuses comparison
        return None
    return value.item() if isinstance(value, np.generic) else value


def _cells(curves) -> dict[tuple, list[tuple[np.ndarray, np.ndarray]]]:
    """``{cell: [(steps, errors) of each run]}``, cells and runs in first-seen order."""
    if isinstance(curves, (str, os.PathLike)):
        from parity_frontiers.verify.experiments.export import load_curves

        curves = load_curves(curves)
    try:
        keys = np.asarray(curves["key"], dtype=object)
        steps = np.asarray(curves["step"], dtype=np.int64)
        errors = np.asarray(curves["test_error"], dtype=np.float64)
        config = {name: np.asarray(curves[name], dtype=object) for name in _CELL_FIELDS}
    except (KeyError, TypeError, ValueError):
        raise ValueError("curves must be a store path or a load_curves DataFrame (columns "
                         f"{', '.join(_NEEDED)})") from None
    if len({len(keys), len(steps), len(errors), *map(len, config.values())}) != 1:
        raise ValueError("curves' columns differ in length")
    if not len(keys):
        return {}
    # One pass: rows grouped by run (stable, so each run's rows keep their order), the
    # cell read from each run's first row (a run's fields are the same on all its rows).
    _, first, inverse = np.unique(keys.astype(str), return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    cells: dict[tuple, list] = {}
    groups = np.split(order, bounds)
    for run in np.argsort(first, kind="stable"):  # runs in first-seen order
        rows = groups[run]
        at = rows[np.argsort(steps[rows], kind="stable")]
        cell = tuple(_plain(config[name][first[run]]) for name in _CELL_FIELDS)
        cells.setdefault(cell, []).append((steps[at], errors[at]))
    return cells


def _label(cell: tuple, varying: list[str]) -> str:
    values = dict(zip(_CELL_FIELDS, cell, strict=True))
    parts = []
    for name in varying:
        value = values[name]
        if name == "samples":
            parts.append("online" if value is None else f"m={value}")
        elif name == "s" and value is None:
            continue
        else:
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    return ", ".join(parts)


def _shared(cell: tuple, varying: list[str]) -> str:
    """The settings every cell shares, where they differ from RunConfig's defaults."""
    values = dict(zip(_CELL_FIELDS, cell, strict=True))
    return _label(cell, [f.name for f in fields(RunConfig) if f.name in values
                         and f.name not in ("n", "k", *varying) and values[f.name] != f.default])


def curves_figure(curves, *, where=None, log_x: bool | None = None, ncols: int | None = None,
                  ax=None, fig=None):
    """Test error against step, median and interquartile band over seeds, one line per cell.

    Parameters
    ----------
    curves : path or DataFrame
        A results store, or :func:`~parity_frontiers.verify.experiments.export.load_curves`'s
        frame (any mapping of those columns).
    where : str or list of str, optional
        Only runs passing this filter (``--where`` syntax); with a store path only.
    log_x : bool, optional
        Log step axis; default: when the steps drawn span more than :data:`LOG_SPAN`.
    ncols : int, optional
        Panels per row (default: up to 3).
    ax, fig
        The notebook API (:func:`figures.layout.panel_axes`): one Axes per (n, k) panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        No curves (no run with a stored trace passes the filter), or a malformed ``curves``.
    """
    if where is not None:
        if not isinstance(curves, (str, os.PathLike)):
            raise ValueError("where= filters a store path; filter a DataFrame yourself")
        from parity_frontiers.verify.experiments.export import load_curves

        curves = load_curves(curves, where=where)
    cells = _cells(curves)
    if not cells:
        raise ValueError("no learning curves to plot: no stored run (passing the filter) has "
                         "a trace")
    varying = [name for i, name in enumerate(_CELL_FIELDS) if name not in ("n", "k")
               and len({cell[i] for cell in cells}) > 1]
    panels = list(dict.fromkeys((cell[0], cell[1]) for cell in cells))
    ncols = min(3, len(panels)) if ncols is None else max(1, min(int(ncols), len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    figure, axes, owned = panel_axes(len(panels), ax=ax, fig=fig, ncols=ncols,
                                     figsize=(max(4.8 * ncols, 6.4), 3.6 * nrows + 1.1))
    if log_x is None:
        steps = np.concatenate([s for runs in cells.values() for s, _ in runs])
        steps = steps[steps > 0]
        log_x = bool(len(steps)) and steps.max() / steps.min() > LOG_SPAN
    # One colour per setting (the label): the same setting keeps its colour in every panel.
    labels = {cell: _label(cell, varying) or "all runs" for cell in cells}
    style = {label: (PALETTE[i % len(PALETTE)], _STYLES[(i // len(PALETTE)) % len(_STYLES)])
             for i, label in enumerate(dict.fromkeys(labels.values()))}
    fewest = math.inf
    for axis, (n, k) in zip(axes, panels, strict=True):
        here = [cell for cell in cells if (cell[0], cell[1]) == (n, k)]
        for cell in here:
            runs = cells[cell]
            grid, (q25, q50, q75), _ = carried_quantiles(runs)
            colour, line = style[labels[cell]]
            label = labels[cell] + f" ({len(runs)} seed{'s' if len(runs) != 1 else ''})"
            fewest = min(fewest, len(runs))
            axis.plot(grid, q50, color=colour, linestyle=line, linewidth=1.5, label=label)
            if len(runs) > 1:
                axis.fill_between(grid, q25, q75, color=colour, alpha=0.18, linewidth=0)
        for threshold in sorted({dict(zip(_CELL_FIELDS, c, strict=True))["success_error"]
                                 for c in here}):
            axis.axhline(threshold, color="#000000", linestyle=(0, (4, 3)), linewidth=0.9,
                         label=f"success: test error <= {threshold:g}")
        if log_x:
            log_axis(axis.xaxis)
            axis.set_xlabel("SGD step (log scale)")
        else:
            axis.set_xlabel("SGD step")
        axis.set_ylabel("test error")
        axis.set_ylim(bottom=0)
        axis.grid(True, which="major", alpha=0.3)
        axis.set_title(f"n={n}, k={k}", fontsize=10)
    place_legend(figure, axes, owned, fontsize=7, ncols=min(3, len(cells) + 1))
    if owned:
        band = ("line: median over seeds, band: interquartile range" if fewest > 1
                else "one seed per setting")
        shared = _shared(next(iter(cells)), varying)
        head = "Test error during training" + (f" (all runs: {shared})" if shared else "")
        figure.suptitle(f"{head}\n{band}\n(a run that stopped keeps its final error)",
                        fontsize=10)
    return root_figure(figure)


def plot_curves(store_path, out_dir, where=None, fmt: str | None = "png",
                stem: str = "curves") -> list[str]:
    """Draw the learning curves of the store at ``store_path`` (:func:`curves_figure`) and
    write ``out_dir/STEM.FMT``; ``fmt=None`` writes PNG and PDF
    (:func:`figures.style.save_figure`). Each file is replaced whole once complete. Returns
    the paths written."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)} (or None for both), got "
                         f"{fmt!r}")
    figure = curves_figure(store_path, where=where)
    if fmt is None:
        return [str(p) for p in save_figure(figure, out_dir, stem)]
    from parity_frontiers.figures.style import PNG_DPI

    path = figure_path(out_dir, stem, fmt)
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        write_replacing(path, lambda tmp: figure.savefig(tmp, format=fmt, dpi=PNG_DPI,
                                                         metadata=metadata))
    except OSError as exc:
        raise ValueError(f"cannot write figures to {out_dir}: {exc.strerror or exc}") from None
    finally:
        figure.clear()
    return [str(path)]
