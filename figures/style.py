"""Shared figure conventions: palette, headless figures, and saving as PNG + PDF.

Every figure module of :mod:`figures` uses this small API (docs/design.md, ``figures/``):

* :data:`PALETTE` -- the Okabe-Ito colour-blind-safe colours, in order of use; :data:`MARKERS`
  -- markers to pair with them, so series stay distinguishable in greyscale too.
* :func:`subplots` -- a figure and its axes on a private Agg canvas (no pyplot, no global
  state); the recommended way to make a figure.
* :func:`pyplot` -- ``matplotlib.pyplot`` with the Agg backend, imported lazily, for code that
  wants pyplot anyway.
* :func:`figure_path` / :func:`save_figure` -- where ``STEM.png`` / ``STEM.pdf`` go, and writing
  both (PNG at :data:`PNG_DPI` dpi), each atomically, then closing the figure.
* :data:`MIN_TRIALS_FOR_INTERVAL` and :func:`add_caveat` -- the project's rule that too few
  Monte Carlo trials for a readable interval is said on the figure, never drawn as certain;
  the caveat wraps to its axes' width, so it never runs over the tick labels.
* :func:`root_figure` -- the Figure a ``draw_*`` function returns (the notebook API of
  :mod:`figures.layout`: draw into ``ax=`` / ``fig=``, return the Figure, save separately
  with :func:`save_figure`).

matplotlib is imported inside the functions, so importing this module costs nothing and the
CLI stays light (tests/test_imports.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from parity_frontiers.verify.experiments.export import write_replacing

__all__ = [
    "PALETTE",
    "MARKERS",
    "PNG_DPI",
    "FORMATS",
    "MIN_TRIALS_FOR_INTERVAL",
    "pyplot",
    "subplots",
    "figure_path",
    "save_figure",
    "add_caveat",
    "root_figure",
]

#: Okabe & Ito (2008) colour-blind-safe palette: blue, vermillion, bluish green, reddish purple,
#: orange, sky blue, yellow, black. Use in this order; yellow is pale on white, so it comes late.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")

#: One marker per palette entry, so that series differ in shape as well as colour.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: Resolution of the PNG files (the PDF is vector).
PNG_DPI = 150

#: The files :func:`save_figure` writes, in order.
FORMATS = ("png", "pdf")

#: Below this many Bernoulli trials a 95% Wilson interval is at least ~0.3 wide at p = 1/2
#: (half-width 1.96 sqrt(p(1-p)/N) ~ 0.18 at N = 30) and reads as noise: figures must say so.
MIN_TRIALS_FOR_INTERVAL = 30


def pyplot():
    """Return ``matplotlib.pyplot``, selecting the headless Agg backend if pyplot is new.

    The backend is only chosen when pyplot has not been imported yet in this process; a
    session that already runs pyplot (a notebook, a GUI) keeps its backend, since PNG and PDF
    are written by their own canvases whatever the backend is. Prefer :func:`subplots`, which
    does not touch pyplot at all.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Examples
    --------
    >>> pyplot().__name__
    'matplotlib.pyplot'
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """A new figure with an Agg canvas and its axes, outside pyplot's global figure registry.

    The figure is a plain ``matplotlib.figure.Figure``: nothing to close, nothing left open in
    pyplot, safe in threads and in processes that use pyplot for something else. Every axes
    cycles through :data:`PALETTE`.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes, as in ``Figure.subplots``.
    figsize : (float, float), optional
        Inches; default 4.2 x 3.4 per panel.
    **kwargs
        Passed to ``Figure.subplots`` (``sharex``, ``squeeze``, ``gridspec_kw`` ...).

    Returns
    -------
    (Figure, Axes or ndarray of Axes)

    Examples
    --------
    >>> fig, ax = subplots()
    >>> ax.get_lines() == [] and fig.canvas.get_default_filetype() == "png"
    True
    """
    from cycler import cycler
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if figsize is None:
        figsize = (4.2 * ncols, 3.4 * nrows)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, **kwargs)
    for ax in fig.axes:
        ax.set_prop_cycle(cycler(color=PALETTE))
    return fig, axes


def _check_stem(stem) -> str:
    if not isinstance(stem, str) or not stem or stem in (".", ".."):
        raise ValueError(f"stem must be a non-empty file name, got {stem!r}")
    if os.sep in stem or (os.altsep and os.altsep in stem) or "/" in stem:
        raise ValueError(f"stem must be a file name without a directory, got {stem!r}")
    return stem


def figure_path(out_dir, stem: str, fmt: str = "png") -> Path:
    """Path of one figure file: ``out_dir / f"{stem}.{fmt}"``.

    Parameters
    ----------
    out_dir : str or Path
        Output folder.
    stem : str
        File name without extension or directory, e.g. ``"lottery"``.
    fmt : {"png", "pdf"}

    Examples
    --------
    >>> figure_path("out", "lottery", "pdf").as_posix()
    'out/lottery.pdf'
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return Path(out_dir) / f"{_check_stem(stem)}.{fmt}"


def save_figure(fig, out_dir, stem: str, *, close: bool = True) -> list[Path]:
    """Write ``STEM.png`` (:data:`PNG_DPI` dpi) and ``STEM.pdf`` into ``out_dir``; close ``fig``.

    ``out_dir`` is created if needed. Each file is written to a temporary name in the same
    folder and renamed into place, so a failure never leaves a half-written figure. The PDF
    carries no creation date, so regenerating an unchanged figure gives identical bytes.
    The figure is closed (released from pyplot, if pyplot made it) even when writing fails,
    unless ``close=False`` (a notebook that keeps showing the figure after saving it).
    The files get mode 0644. A folder that cannot be created or written raises one
    ``ValueError`` ("cannot write figures to OUT_DIR: REASON"), not an OSError traceback.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A SubFigure saves its whole root figure.
    out_dir : str or Path
    stem : str
        File name without extension or directory.
    close : bool, default True
        Release the figure after writing.

    Returns
    -------
    list of Path
        ``[STEM.png, STEM.pdf]``.

    Examples
    --------
    >>> import tempfile
    >>> fig, ax = subplots()
    >>> _ = ax.plot([1, 2], [3, 4])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in save_figure(fig, tmp, "demo")]
    ['demo.png', 'demo.pdf']
    """
    fig = root_figure(fig)
    try:
        paths = [figure_path(out_dir, stem, fmt) for fmt in FORMATS]
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for path in paths:
                fmt = path.suffix[1:]
                metadata = {"CreationDate": None} if fmt == "pdf" else None
                write_replacing(path, lambda tmp, fmt=fmt, metadata=metadata: fig.savefig(
                    tmp, format=fmt, dpi=PNG_DPI, metadata=metadata))
        except OSError as exc:  # a file in the way, no permission, disk full...
            raise ValueError(f"cannot write figures to {out_dir}: "
                             f"{exc.strerror or exc}") from None
        return paths
    finally:
        if close:
            _close(fig)


def _close(fig) -> None:
    # Only pyplot-made figures are registered anywhere; a plain Figure just needs clearing.
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and getattr(fig.canvas, "manager", None) is not None:
        plt.close(fig)
    else:
        fig.clear()


def add_caveat(ax, text: str, *, where: str = "top") -> None:
    """Write a caveat (e.g. too few trials for an interval) across the top of ``ax``.

    Boxed, in black on light grey, inside the axes so it is never cropped and never read as
    data. The text wraps to the width of the axes (not of the figure), so the box never runs
    over the tick labels or a neighbouring panel. Use it whenever a plotted estimate rests on
    fewer than :data:`MIN_TRIALS_FOR_INTERVAL` trials.

    Parameters
    ----------
    ax : Axes
    text : str
    where : {"top", "bottom"}
        Inside the top (default) or the bottom edge of the axes.

    Examples
    --------
    >>> fig, ax = subplots()
    >>> add_caveat(ax, "only 5 trials: intervals too wide to read")
    >>> ax.texts[0].get_text()
    'only 5 trials: intervals too wide to read'
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    if where not in ("top", "bottom"):
        raise ValueError(f"where must be 'top' or 'bottom', got {where!r}")
    y, va = (0.97, "top") if where == "top" else (0.03, "bottom")
    caveat = _wrapped_text_class()(
        0.5, y, text, transform=ax.transAxes, ha="center", va=va, fontsize=8,
        color="#000000", wrap=True, zorder=6,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "#EEEEEE", "edgecolor": "#000000",
              "linewidth": 0.6, "alpha": 0.95})
    ax.add_artist(caveat)
    caveat.set_clip_on(False)


_WRAPPED_TEXT = []


def _wrapped_text_class():
    """A Text that wraps to its axes' width (matplotlib's own wrap uses the figure's)."""
    if not _WRAPPED_TEXT:
        from matplotlib.text import Text

        class AxesWrappedText(Text):
            def _get_wrap_line_width(self):
                axes = self.axes
                if axes is None:  # pragma: no cover - only ever added to an axes
                    return super()._get_wrap_line_width()
                dpi = self.get_figure(root=True).dpi
                margin = 1.4 * self.get_fontsize() * dpi / 72  # the box's pad, and air
                return max(axes.bbox.width - 2 * margin, 1.0)

        _WRAPPED_TEXT.append(AxesWrappedText)
    return _WRAPPED_TEXT[0]


def root_figure(obj):
    """The top-level Figure of an Axes, a SubFigure or a Figure."""
    return obj.get_figure(root=True)

