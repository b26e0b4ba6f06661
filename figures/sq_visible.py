"""Figure of the visible fraction (issue 8): estimated fraction of parities a gradient step can
see, and the Parseval bound min(1, r / (tau^2 C(n, k))), against tau and against width.

Takes the ``rows`` of :func:`simulate.sq.simulate_sq_visible` (or its whole result) and writes
``sq_visible.png`` and ``sq_visible.pdf``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["OKABE_ITO", "check_plot_dir", "plot_sq_visible"]

#: Colour-blind safe palette (Okabe & Ito 2008).
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000"]
_LINESTYLES = {"dense": "-", "sparse": "--"}
_MARKERS = {"dense": "o", "sparse": "s"}


def check_plot_dir(out_dir) -> Path:
    """The output directory as a Path, refusing an empty name or an existing non-directory."""
    if out_dir is None or str(out_dir) == "":
        raise ValueError("plot directory must not be empty")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"plot directory {out_dir} is a file")
    return out_dir


def _positive(xs, rows, key):
    """Points with a positive value (a log axis cannot show 0), with their error bars."""
    pts = [(x, r) for x, r in zip(xs, rows, strict=True) if r[key] > 0]
    return pts


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
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"] if isinstance(result, dict) else list(result)
    if not rows:
        raise ValueError("no rows to plot")
    if title is None and isinstance(result, dict):
        title = (f"Visible parities at initialisation, n = {result['n']}, k = {result['k']} "
                 f"({result['method']}, {result['trials']} nets per point)")
    out_dir = check_plot_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create plot directory {out_dir}: {exc.strerror}") from None

    inits = list(dict.fromkeys(r["init"] for r in rows))
    widths = sorted({r["width"] for r in rows})
    taus = sorted({r["tau"] for r in rows})
    colour = {w: OKABE_ITO[i % len(OKABE_ITO)] for i, w in enumerate(widths)}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)

    for init in inits:
        for width in widths:
            sel = sorted((r for r in rows if r["init"] == init and r["width"] == width),
                         key=lambda r: r["tau"])
            if not sel:
                continue
            pts = _positive([r["tau"] for r in sel], sel, "estimate")
            if pts:
                xs = [x for x, _ in pts]
                ys = [r["estimate"] for _, r in pts]
                err = [[r["estimate"] - r["ci_low"] for _, r in pts],
                       [r["ci_high"] - r["estimate"] for _, r in pts]]
                left.errorbar(xs, ys, yerr=err, color=colour[width], ls=_LINESTYLES[init],
                              marker=_MARKERS[init], ms=4, capsize=2,
                              label=f"{init}, width {width}")
            if init == inits[0]:
                left.plot([r["tau"] for r in sel], [r["bound"] for r in sel], color=colour[width],
                          ls=":", lw=1.2, label=f"bound, width {width}")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel(r"tolerance $\tau$ (gradient units)")
    left.set_ylabel(r"fraction of parities with $\|g_S\|_\infty > \tau$")
    left.legend(fontsize=7, ncol=2)

    tau_colour = {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(taus)}
    for tau in taus:
        for init in inits:
            sel = sorted((r for r in rows if r["init"] == init and r["tau"] == tau),
                         key=lambda r: r["width"])
            pts = _positive([r["width"] for r in sel], sel, "estimate")
            if pts:
                right.plot([x for x, _ in pts], [r["estimate"] for _, r in pts],
                           color=tau_colour[tau], ls=_LINESTYLES[init], marker=_MARKERS[init],
                           ms=4, label=f"{init}, tau {tau:g}")
        sel = sorted((r for r in rows if r["init"] == inits[0] and r["tau"] == tau),
                     key=lambda r: r["width"])
        right.plot([r["width"] for r in sel], [r["bound"] for r in sel], color=tau_colour[tau],
                   ls=":", lw=1.2, label=f"bound, tau {tau:g}")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("hidden width (neurons)")
    right.set_ylabel("visible fraction")
    right.legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title, fontsize=10)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    try:
        for path in paths:
            fig.savefig(path, dpi=150)
    except OSError as exc:
        raise ValueError(f"cannot write the figure into {out_dir}: {exc.strerror}") from None
    finally:
        plt.close(fig)
    return paths
