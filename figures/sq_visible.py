"""Figure of the visible fraction: estimated fraction of parities a gradient step can
see, and the Parseval bound min(1, r / (tau^2 C(n, k))), against tau and against width.

Takes the ``rows`` of :func:`simulate.sq.simulate_sq_visible` (or its whole result):
:func:`draw_sq_visible` draws it into ``ax=`` / ``fig=`` and returns the Figure,
:func:`plot_sq_visible` writes ``sq_visible.png`` and ``sq_visible.pdf`` through
:mod:`figures.style`. A log axis cannot show
an estimate of 0: such points are drawn as downward arrows at their 95% upper limit
(``ci_high``), and a caveat on the panel says so.
"""

from __future__ import annotations

from pathlib import Path

from parity_frontiers.figures.layout import log_axis, panel_axes
from parity_frontiers.figures.style import (
    MIN_TRIALS_FOR_INTERVAL,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)

__all__ = ["check_plot_dir", "draw_sq_visible", "plot_sq_visible"]

_LINESTYLES = {"dense": "-", "sparse": "--"}
_MARKERS = {"dense": "o", "sparse": "s"}
#: Caveat written on a panel with at least one zero estimate.
ZERO_CAVEAT = "arrows: zero estimates, at their 95% upper limit"


def check_plot_dir(out_dir) -> Path:
    """The output directory as a Path, refusing an empty name or an existing non-directory.

    Examples
    --------
    >>> check_plot_dir("out").as_posix()
    'out'
    """
    if out_dir is None or str(out_dir) == "":
        raise ValueError("plot directory must not be empty")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"plot directory {out_dir} is a file")
    return out_dir


#: Decades between the zero-estimate arrows of neighbouring series: zero estimates over the
#: same number of nets share one upper limit, so undodged arrows hide each other.
ARROW_DODGE = 0.03


def _series(ax, xs, rows, colour, init, label, dodge=1.0):
    """Positive estimates with their intervals; zero estimates as arrows at ci_high, moved
    sideways by the factor ``dodge`` (log axes) so that series sharing an upper limit all show.

    Returns True when an arrow was drawn.
    """
    shown = [(x, r) for x, r in zip(xs, rows, strict=True) if r["estimate"] > 0]
    zeros = [(x, r) for x, r in zip(xs, rows, strict=True)
             if r["estimate"] <= 0 and r["ci_high"] > 0]
    style = {"color": colour, "marker": _MARKERS[init], "ms": 4, "capsize": 2}
    if shown:
        ax.errorbar([x for x, _ in shown], [r["estimate"] for _, r in shown],
                    yerr=[[r["estimate"] - r["ci_low"] for _, r in shown],
                          [r["ci_high"] - r["estimate"] for _, r in shown]],
                    ls=_LINESTYLES[init], label=label, **style)
    if zeros:
        # An upper limit: the marker sits at ci_high with an arrow pointing down.
        ys = [r["ci_high"] for _, r in zeros]
        ax.errorbar([x * dodge for x, _ in zeros], ys,
                    yerr=[[0.5 * y for y in ys], [0.0] * len(ys)],
                    uplims=True, ls="none", mfc="none",
                    label=None if shown else label, **style)
    return bool(zeros)


def _dodge(index: int, count: int) -> float:
    """The sideways factor of series ``index`` of ``count``: centred, :data:`ARROW_DODGE`
    decades apart."""
    return 10 ** (ARROW_DODGE * (index - (count - 1) / 2))


#: Most tolerances drawn against width (more make the panel unreadable).
MAX_WIDTH_PANEL_TAUS = 4


def _spread(taus, informative):
    """At most :data:`MAX_WIDTH_PANEL_TAUS` taus, evenly spread over those with a positive
    estimate (all taus if none has one)."""
    pool = informative or taus
    if len(pool) <= MAX_WIDTH_PANEL_TAUS:
        return pool
    picks = {round(i * (len(pool) - 1) / (MAX_WIDTH_PANEL_TAUS - 1))
             for i in range(MAX_WIDTH_PANEL_TAUS)}
    return [pool[i] for i in sorted(picks)]


def draw_sq_visible(result, title: str | None = None, *, ax=None, fig=None):
    """The figure of :func:`plot_sq_visible`, not yet saved (the notebook API).

    Parameters
    ----------
    result : dict or list of dict
        The result of :func:`simulate.sq.simulate_sq_visible` or its ``rows``.
    title : str, optional
        Figure title (default: n, k and method from ``result`` when given); with ``ax=``, the
        left axes' title.
    ax : pair of Axes, optional
        The two panels (against tau, against width) in a notebook's own layout.
    fig : Figure or SubFigure, optional
        An empty figure to fill.

    Returns
    -------
    matplotlib.figure.Figure
        Left panel: fraction against tau per (init, width); right: against width per
        (init, tau), for at most :data:`MAX_WIDTH_PANEL_TAUS` taus spread evenly over those
        with a positive estimate; dotted lines: the bound, once per width (left) or tau
        (right).

    Examples
    --------
    >>> rows = [{"init": "dense", "width": w, "tau": 0.1, "estimate": e, "ci_low": 0.0,
    ...          "ci_high": h, "bound": 0.5, "trials": 40} for w, e, h in [(2, 0.0, 0.6),
    ...                                                                 (8, 0.2, 0.4)]]
    >>> fig = draw_sq_visible(rows)
    >>> [t.get_text() for t in fig.axes[1].texts]
    ['arrows: zero estimates, at their 95% upper limit']
    """
    rows = result["rows"] if isinstance(result, dict) else list(result)
    if not rows:
        raise ValueError("no rows to plot")
    if title is None and isinstance(result, dict):
        title = (f"Visible parities at initialisation, n = {result['n']}, k = {result['k']} "
                 f"({result['method']}, {result['trials']} nets per point)")
    inits = list(dict.fromkeys(r["init"] for r in rows))
    widths = sorted({r["width"] for r in rows})
    taus = sorted({r["tau"] for r in rows})
    figure, (left, right), owned = panel_axes(2, ax=ax, fig=fig, figsize=(12, 4.8))

    width_colour = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(widths)}
    arrows = [False, False]
    for i, (init, width) in enumerate((i, w) for i in inits for w in widths):
        sel = sorted((r for r in rows if r["init"] == init and r["width"] == width),
                     key=lambda r: r["tau"])
        if sel:
            arrows[0] |= _series(left, [r["tau"] for r in sel], sel, width_colour[width], init,
                                 f"{init}, width {width}",
                                 _dodge(i, len(inits) * len(widths)))
    for width in widths:  # the bound depends on the width only: once per width, any init
        sel = {r["tau"]: r["bound"] for r in rows if r["width"] == width and r["bound"] > 0}
        if sel:
            left.plot(sorted(sel), [sel[t] for t in sorted(sel)], color=width_colour[width],
                      ls=":", lw=1.2, label=f"bound, width {width}")
    log_axis(left.xaxis)
    log_axis(left.yaxis, within=(0, 1))  # fractions: no tick in the caveat's headroom
    left.set_xlabel(r"tolerance $\tau$ (gradient units)")
    left.set_ylabel(r"fraction of parities with $\|g_S\|_\infty > \tau$")

    right_taus = _spread(taus, [t for t in taus
                                if any(r["estimate"] > 0 for r in rows if r["tau"] == t)])
    tau_colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(right_taus)}
    for t, tau in enumerate(right_taus):
        for j, init in enumerate(inits):
            sel = sorted((r for r in rows if r["init"] == init and r["tau"] == tau),
                         key=lambda r: r["width"])
            if sel:
                arrows[1] |= _series(right, [r["width"] for r in sel], sel, tau_colour[tau],
                                     init, f"{init}, tau {tau:g}",
                                     _dodge(t * len(inits) + j, len(right_taus) * len(inits)))
        sel = {r["width"]: r["bound"] for r in rows if r["tau"] == tau and r["bound"] > 0}
        if sel:
            right.plot(sorted(sel), [sel[w] for w in sorted(sel)], color=tau_colour[tau],
                       ls=":", lw=1.2, label=f"bound, tau {tau:g}")
    right.set_xscale("log", base=2)
    right.set_xticks(widths, [str(w) for w in widths], rotation=45 if len(widths) > 6 else 0)
    right.minorticks_off()
    log_axis(right.yaxis, within=(0, 1))
    right.set_xlabel("hidden width (neurons)")
    right.set_ylabel("visible fraction")

    nets = min(r.get("trials", MIN_TRIALS_FOR_INTERVAL) for r in rows)
    for ax, arrow in zip((left, right), arrows, strict=True):
        # Outside the axes, so it never covers data.
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        notes = [ZERO_CAVEAT] if arrow else []
        if nets < MIN_TRIALS_FOR_INTERVAL:
            notes.append(f"{nets} nets/point")
        if notes:
            add_caveat(ax, "; ".join(notes))
        # Fractions are at most 1: the headroom above keeps the caveat off the data.
        ax.set_ylim(top=4.0)
    if title and owned:
        figure.suptitle(title, fontsize=10)
    elif title:
        left.set_title(title, fontsize=9)
    return root_figure(figure)


def plot_sq_visible(result, out_dir, name: str = "sq_visible", title: str | None = None):
    """Plot visible fraction and bound against tau (left) and width (right), log-log.

    Parameters
    ----------
    result : dict or list of dict
        The result of :func:`simulate.sq.simulate_sq_visible` or its ``rows``.
    out_dir : str or Path
        Directory to write into (created if missing).
    name : str
        File stem.
    title : str, optional
        Figure title (default: n, k and method from ``result`` when given).

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Examples
    --------
    >>> import tempfile
    >>> rows = [{"init": "dense", "width": 4, "tau": t, "estimate": 0.1, "ci_low": 0.05,
    ...          "ci_high": 0.2, "bound": 0.5, "trials": 40} for t in (0.1, 0.2)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in plot_sq_visible(rows, tmp)]
    ['sq_visible.png', 'sq_visible.pdf']
    """
    out_dir = check_plot_dir(out_dir)
    fig = draw_sq_visible(result, title)
    return save_figure(fig, out_dir, name)  # an OSError there is already one ValueError
