r"""Tabular proxy figure: test error against training fraction, one panel per dataset.

The analogue of the paper's Figure 3 (docs/theory.md §5.10): for each dataset, the mean
test error of every model (random forest, dense and sparse-init MLPs) over trials against the
training fraction (log axis, as in the paper), with its 95% band: the union of Student's t over
trials and the Wilson interval of the pooled test errors (:func:`verify.tabular.benchmark
.summarize`). A model run with different settings in one store is drawn as one line per
setting, labelled by the settings that differ.
"""

from __future__ import annotations

import math

from parity_frontiers.figures.style import MARKERS, PALETTE, add_caveat, save_figure, subplots

__all__ = ["plot_tabular", "MIN_TRIALS_FOR_BAND"]

#: Fewer trials than this per point and the figure says that its bands are rough: a t
#: interval over T trials has T - 1 degrees of freedom (t_{0.975} = 4.30 at T = 3, 2.78 at 5).
MIN_TRIALS_FOR_BAND = 5


def plot_tabular(source, out_dir, stem: str = "tabular", datasets=None,
                 ncols: int | None = None):
    """Plot test error vs training fraction per dataset and save ``STEM.png`` / ``STEM.pdf``.

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
    import os

    if isinstance(source, (str, os.PathLike)):
        from parity_frontiers.verify.experiments.tabular.benchmark import summarize

        rows = summarize(source)
    else:
        rows = list(source)
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
    fig, axes = subplots(nrows, ncols, squeeze=False)
    fewest = min(r["trials"] for r in rows if r["dataset"] in names)
    for index, ax in enumerate(axes.flat):
        if index >= len(names):
            ax.set_visible(False)
            continue
        name = names[index]
        for model in models:
            points = sorted((r for r in rows if r["dataset"] == name and r["model"] == model),
                            key=lambda r: r["fraction"])
            if not points:
                continue
            colour, marker = style[model]
            x = [p["fraction"] for p in points]
            ax.plot(x, [p["test_error"] for p in points], color=colour, marker=marker,
                    markersize=4, linewidth=1.4, label=model)
            ax.fill_between(x, [p["ci_low"] for p in points], [p["ci_high"] for p in points],
                            color=colour, alpha=0.18, linewidth=0)
        ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("training fraction of the pool (log scale)")
        ax.set_ylabel("test error (fraction misclassified)")
        ax.grid(True, which="major", alpha=0.3)
    # Collected over every panel: a model may be missing from the first dataset's panel.
    legend = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6),
               fontsize=8, frameon=False)
    title = "Tabular proxy: MLP (dense / sparse init) vs random forest"
    if fewest < MIN_TRIALS_FOR_BAND:
        # The project's rule: too few trials for a readable interval is said on the figure.
        add_caveat(axes.flat[0], f"{fewest} trial(s) per point: rough 95% bands")
        title += (f"\nbands: 95% t intervals over only {fewest} trial(s) per point "
                  "joined with the pooled Wilson interval)")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_dir, stem)
