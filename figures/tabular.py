r"""Tabular proxy figure: test error against training fraction, one panel per dataset.

The analogue of the paper's Figure 3 (docs/theory.md §5.10): for each dataset, the mean
test error of every model (random forest, dense and sparse-init MLPs) over trials against the
training fraction (log axis, as in the paper, with the absolute training rows on the top
axis), with its 95% interval as error bars, the models dodged apart so that no interval
hides another: the union of Student's t over trials and the Wilson interval of the pooled test
errors (:func:`verify.experiments.tabular.results.summarize`). A model run with different
settings in one store is drawn as one line per setting, labelled by the settings that differ.

:func:`draw_tabular` draws into ``ax=`` / ``fig=`` and returns the Figure; :func:`plot_tabular`
writes it (PNG + PDF).
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.figures.layout import log_axis, panel_axes, place_legend
from parity_frontiers.figures.style import (
    MARKERS,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)

__all__ = ["draw_tabular", "plot_tabular", "MIN_TRIALS_FOR_BAND"]

#: Fewer trials than this per point and the figure says that its bands are rough: a t
#: interval over T trials has T - 1 degrees of freedom (t_{0.975} = 4.30 at T = 3, 2.78 at 5).
MIN_TRIALS_FOR_BAND = 5


def _rows(source) -> list[dict]:
    import os

    if isinstance(source, (str, os.PathLike)):
        from parity_frontiers.verify.experiments.tabular.benchmark import summarize

        return summarize(source)
    return list(source)


def draw_tabular(source, *, datasets=None, ncols: int | None = None, ax=None, fig=None):
    """Test error against training fraction, one panel per dataset; returns the Figure.

    Every model is a line of means with its 95% interval as error bars, the models dodged
    sideways (x 10^+-0.03 at most) so that overlapping intervals stay apart and keep their
    colours (bands over one another would blend into grey). The top axis of each panel gives
    the absolute number of training rows at each fraction drawn. The legend lists the models
    drawn, each once.

    Parameters
    ----------
    source : path or list of dict
        A results store holding a ``tabular_runs`` table, or :func:`summarize` rows.
    datasets : list of str, optional
        Only these datasets (default: all in ``source``, in order of appearance).
    ncols : int, optional
        Panels per row (default: a near-square grid, ceil(sqrt(datasets)), at most 4).
    ax : Axes or sequence of Axes, optional
        One axes per dataset.
    fig : Figure or SubFigure, optional
        An empty figure to fill.

    Raises
    ------
    ValueError
        No tabular results (or none of the datasets asked for).
    """
    rows = _rows(source)
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    if datasets is not None:
        missing = [d for d in datasets if d not in names]
        if missing:
            raise ValueError(f"no tabular results for dataset(s) {', '.join(missing)}")
        names = list(datasets)
    if not names:
        raise ValueError("no tabular results to plot (run `parity-frontiers tabular run` "
                         "first)")
    models = list(dict.fromkeys(r["model"] for r in rows if r["dataset"] in names))
    style = {m: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)])
             for i, m in enumerate(models)}
    if ncols is None:
        ncols = min(4, math.ceil(math.sqrt(len(names))))
    ncols = max(1, min(int(ncols), len(names)))
    nrows = math.ceil(len(names) / ncols)
    figure, axes, owned = panel_axes(len(names), ax=ax, fig=fig, ncols=ncols,
                                     figsize=(4.6 * ncols, 3.9 * nrows + 0.5))
    fewest = min(r["trials"] for r in rows if r["dataset"] in names)
    for axis, name in zip(axes, names, strict=True):
        here = [m for m in models if any(r["dataset"] == name and r["model"] == m
                                         for r in rows)]
        rows_at = {}
        for index, model in enumerate(here):
            points = sorted((r for r in rows if r["dataset"] == name and r["model"] == model),
                            key=lambda r: r["fraction"])
            colour, marker = style[model]
            dodge = 10 ** (0.03 * (index - (len(here) - 1) / 2) / max(1, (len(here) - 1) / 2))
            x = np.array([p["fraction"] for p in points]) * dodge
            y = np.array([p["test_error"] for p in points])
            err = np.array([y - [p["ci_low"] for p in points],
                            [p["ci_high"] for p in points] - y])
            axis.errorbar(x, y, yerr=np.clip(err, 0, None), color=colour, marker=marker,
                          markersize=4, linewidth=1.4, capsize=2.5, elinewidth=1.0,
                          label=model)
            for p in points:
                if p.get("n_train") is not None:
                    rows_at.setdefault(p["fraction"], set()).add(round(p["n_train"]))
        log_axis(axis.xaxis)
        axis.set_title(name, fontsize=10)
        axis.set_xlabel("training fraction of the pool (log scale)")
        axis.set_ylabel("test error (fraction misclassified)")
        axis.grid(True, which="major", alpha=0.3)
        _rows_axis(axis, rows_at)
    place_legend(figure, axes, owned, fontsize=8, ncols=min(len(models), 6))
    title = ("Tabular proxy: MLP (dense / sparse init) vs random forest\n"
             "mean test error over trials, bars: 95% interval (t over trials joined with the "
             "pooled Wilson)")
    if fewest < MIN_TRIALS_FOR_BAND:
        # The project's rule: too few trials for a readable interval is said on the figure.
        add_caveat(axes[0], f"{fewest} trial(s) per point: rough 95% intervals")
        title += f"; only {fewest} trial(s) per point"
    if owned:
        figure.suptitle(title, fontsize=10)
    return root_figure(figure)


def _rows_axis(axis, rows_at: dict) -> None:
    """A top axis giving the absolute training rows at each fraction drawn."""
    if not rows_at:
        return
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    top = axis.secondary_xaxis("top")
    fractions = sorted(rows_at)
    labels = ["/".join(str(v) for v in sorted(rows_at[f])) for f in fractions]
    top.xaxis.set_major_locator(FixedLocator(fractions))
    top.xaxis.set_major_formatter(FixedFormatter(labels))
    top.xaxis.set_minor_locator(NullLocator())
    top.tick_params(labelsize=8)
    top.set_xlabel("training rows", fontsize=8)


def plot_tabular(source, out_dir, stem: str = "tabular", datasets=None,
                 ncols: int | None = None):
    """Plot test error vs training fraction per dataset and save ``STEM.png`` / ``STEM.pdf``.

    A thin wrapper: :func:`draw_tabular`, then :func:`figures.style.save_figure`.

    Parameters
    ----------
    source : path or list of dict
        A results store holding a ``tabular_runs`` table, or :func:`summarize` rows.
    out_dir : path
        Output folder (created if needed).
    stem : str
        File name without extension.
    datasets : list of str, optional
        Only these datasets (default: all in ``source``, in order of appearance).
    ncols : int, optional
        Panels per row (default: a near-square grid, ceil(sqrt(datasets)), at most 4).

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Raises
    ------
    ValueError
        No tabular results (or none of the datasets asked for).

    Examples
    --------
    >>> import tempfile
    >>> rows = [dict(dataset="iris", model=m, fraction=f, trials=3, test_error=e,
    ...              ci_low=e - 0.02, ci_high=e + 0.02, n_train=100 * f)
    ...         for m, base in (("rf", 0.05), ("mlp 256 s=2", 0.04))
    ...         for f, e in ((0.1, base + 0.1), (1.0, base))]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in plot_tabular(rows, tmp)]
    ['tabular.png', 'tabular.pdf']
    """
    fig = draw_tabular(source, datasets=datasets, ncols=ncols)
    return save_figure(fig, out_dir, stem)
