"""The notebook API of :mod:`figures` and readable log axes.

* :func:`panel_axes` -- every ``draw_*`` function of :mod:`figures` draws into ``ax=`` (one
  Axes, or a sequence with one per panel), or ``fig=`` (an empty Figure or SubFigure to fill),
  or a new figure, and returns the Figure (:func:`figures.style.root_figure`); writing files
  is the separate step :func:`figures.style.save_figure`. The old file-writing entry points
  (``success_heatmap(points, out_dir)`` ...) are thin wrappers: draw, then save.
* :func:`place_legend` -- one legend of the labelled artists actually drawn, each label once:
  no entry for something that is not on the figure.
* :func:`log_axis` with :class:`ReadableLogLocator` / :class:`ReadableLogFormatter` -- log axes
  labelled with plain numbers (20, 50, 100, 200 ...; ``10^k`` far from 1), as many as fit the
  axis without touching (worked out when drawn, from the final layout) and at least two across
  the data range where the range allows; :func:`log_ticks` picks them, :func:`format_number`
  writes them.
* :func:`log_edges` -- cell edges at geometric midpoints, for heatmaps on a true log axis.

matplotlib is imported at module level here: only the figure modules import this one, when
they draw (the CLI imports them lazily).
"""

from __future__ import annotations

import math
import re

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import (
    FixedLocator,
    Formatter,
    Locator,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

from parity_frontiers.figures.style import PALETTE, subplots

__all__ = ["panel_axes", "place_legend", "log_edges", "log_ticks", "format_number",
           "ReadableLogLocator", "ReadableLogFormatter", "log_axis"]


def _flat_axes(ax) -> list:
    if isinstance(ax, Axes):
        return [ax]
    try:
        axes = list(np.asarray(ax, dtype=object).ravel())
    except TypeError:
        axes = []
    if not axes or not all(isinstance(a, Axes) for a in axes):
        raise ValueError(f"ax must be a matplotlib Axes or a sequence of them, got {ax!r}")
    return axes


def panel_axes(count: int, *, ax=None, fig=None, ncols: int | None = None,
               panel_size=(4.2, 3.4), figsize=None, **kwargs):
    """The axes a figure of ``count`` panels draws into: given, new in ``fig``, or new.

    This is how every ``draw_*`` function of :mod:`figures` takes ``ax=`` / ``fig=``.

    Parameters
    ----------
    count : int
        Panels needed.
    ax : Axes or sequence of Axes, optional
        Exactly ``count`` axes to draw into (a notebook's own layout). The drawing then adds
        no figure-level title or legend of its own: titles go on the axes.
    fig : Figure or SubFigure, optional
        An empty (sub)figure to fill with ``count`` panels.
    ncols : int, optional
        Panels per row (default: all in one row).
    panel_size : (float, float)
        Inches per panel of a new figure, when ``figsize`` is not given.
    **kwargs
        Passed to ``subplots`` (``sharey`` ...).

    Returns
    -------
    (Figure or SubFigure, list of Axes, bool)
        The (sub)figure to draw on, the axes, and whether the drawing owns the figure (may
        set its title and legend).

    Examples
    --------
    >>> fig, axes, owned = panel_axes(3, ncols=2)
    >>> len(axes), len(fig.axes), owned
    (3, 3, True)
    >>> fig2, axes2, owned2 = panel_axes(1, ax=axes[0])
    >>> fig2 is fig, owned2
    (True, False)
    """
    if ax is not None and fig is not None:
        raise ValueError("give ax= or fig=, not both")
    if ax is not None:
        axes = _flat_axes(ax)
        if len(axes) != count:
            raise ValueError(f"this figure has {count} panel(s): pass {count} axes as ax=, "
                             f"got {len(axes)}")
        return axes[0].get_figure(root=False), axes, False
    ncols = count if ncols is None else max(1, min(int(ncols), count))
    nrows = math.ceil(count / ncols)
    if fig is None:
        size = figsize or (panel_size[0] * ncols, panel_size[1] * nrows)
        fig, grid = subplots(nrows, ncols, figsize=size, squeeze=False, **kwargs)
    else:
        if fig.axes:
            raise ValueError("fig= must be an empty figure; to draw into existing axes pass "
                             "them as ax=")
        grid = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
        for a in grid.flat:
            a.set_prop_cycle(cycler(color=PALETTE))
    axes = list(grid.flat)
    for extra in axes[count:]:
        extra.remove()
    return fig, axes[:count], True


def place_legend(fig, axes, owned: bool, *, fontsize: float = 7, ncols: int | None = None,
                 title: str | None = None, **kwargs):
    """One legend of what ``axes`` actually drew (labelled artists, each label once).

    Below the panels, outside them, when the drawing owns the figure; otherwise inside the
    last axes ("best" place). Returns the Legend, or None when nothing is labelled.
    """
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if not labels:
        return None
    options = {"fontsize": fontsize, "frameon": False, "title": title,
               "title_fontsize": fontsize} | kwargs
    if owned:
        return fig.legend([handles[label] for label in labels], labels,
                          loc="outside lower center",
                          ncols=ncols or min(len(labels), 3), **options)
    # In a notebook's own layout: inside the last axes, where it covers least (move it with
    # ax.legend(...) if needed); outside, it would squeeze axes the drawing does not own.
    options["frameon"] = True
    return axes[-1].legend([handles[label] for label in labels], labels, loc="best",
                           ncols=ncols or 1, framealpha=0.85, **options)


# --- readable log axes -------------------------------------------------------------------------

#: Mantissas of the labelled ticks of a log axis, densest first; the densest set whose labels
#: fit the axis without touching is used, so every axis gets as many readable labels as fit.
_MANTISSAS = ((1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9),
              (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8),
              (1, 1.5, 2, 3, 5, 7),
              (1, 2, 3, 5),
              (1, 2, 5),
              (1, 3),
              (1,))
#: Then every n-th decade, for axes spanning many decades.
_DECADE_STRIDES = (2, 3, 4, 5, 10, 20, 50, 100)


def log_edges(values, halfwidth: float = 0.25):
    """Edges of cells centred on ``values`` on a log axis: the geometric midpoints between
    neighbours, and the outer edges mirrored (a lone value gets ``halfwidth`` decades).

    Examples
    --------
    >>> [round(float(e), 3) for e in log_edges([100, 400, 1600])]
    [50.0, 200.0, 800.0, 3200.0]
    """
    v = np.log10(np.unique(np.asarray(values, dtype=float)))
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError("log_edges needs positive values")
    if v.size == 1:
        return 10.0 ** np.array([v[0] - halfwidth, v[0] + halfwidth])
    mids = (v[1:] + v[:-1]) / 2
    return 10.0 ** np.concatenate([[2 * v[0] - mids[0]], mids, [2 * v[-1] - mids[-1]]])


def format_number(value: float) -> str:
    r"""A tick label: plain (20, 0.002, 20000) from 1e-3 to 1e5, else ``10^k`` / ``a x 10^k``.

    Examples
    --------
    >>> [format_number(v) for v in (20, 0.002, 20000, 1e6, 3e7, 1.5)]
    ['20', '0.002', '20000', '$10^{6}$', '$3\\times10^{7}$', '1.5']
    """
    if value == 0:
        return "0"
    size = abs(value)
    if 1e-3 <= size < 1e5:
        return f"{value:.6g}"
    exponent = math.floor(math.log10(size) + 1e-12)
    mantissa = round(value / 10.0 ** exponent, 2)
    if mantissa == 1:
        return f"$10^{{{exponent}}}$"
    return f"${mantissa:g}\\times10^{{{exponent}}}$"


def _label_chars(label: str) -> float:
    """Width of a label in characters, superscripts counting 0.7."""
    if "$" not in label:
        return float(len(label))
    text = label.replace("$", "").replace("\\times", "x")
    supers = re.findall(r"\^\{([^}]*)\}", text)
    base = re.sub(r"\^\{[^}]*\}", "", text)
    return len(base) + 0.7 * sum(len(s) for s in supers)


def log_ticks(lo: float, hi: float, *, candidates=None, fits=None, max_ticks: int = 9):
    """Labelled tick values in [lo, hi] of a log axis: the densest readable choice.

    Without ``candidates``: mantissa sets from dense (1, 1.2, 1.4 ...) to sparse (decades,
    then every n-th decade); the densest with at most ``max_ticks`` values for which
    ``fits(values)`` holds, preferring two or more. With ``candidates`` (e.g. a heatmap's
    cell centres): a greedy left-to-right choice among them that keeps ``fits`` true. A range
    too narrow for two log ticks gets plain linear ones.

    Examples
    --------
    >>> log_ticks(100, 10000)
    [100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0, 3000.0, 5000.0, 10000.0]
    >>> log_ticks(100, 10000, max_ticks=7)
    [100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]
    >>> log_ticks(500, 2300, max_ticks=6)
    [500.0, 700.0, 1000.0, 1500.0, 2000.0]
    >>> log_ticks(1, 1e12)
    [1.0, 100.0, 10000.0, 1000000.0, 100000000.0, 10000000000.0, 1000000000000.0]
    """
    lo, hi = sorted((float(lo), float(hi)))
    if not (lo > 0 and math.isfinite(hi)):
        return []
    tol = 1e-9
    fits = fits or (lambda values: True)

    def inside(values):
        return [float(v) for v in values if lo * (1 - tol) <= v <= hi * (1 + tol)]

    if candidates is not None:
        chosen = []
        for value in sorted(inside(candidates)):
            if len(chosen) < max_ticks and fits(chosen + [value]):
                chosen.append(value)
        return chosen
    first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    options = []
    for mantissas in _MANTISSAS:
        options.append(inside(float(f"{m * 10.0 ** e:.6g}") for e in range(first, last + 1)
                              for m in mantissas))
    for stride in _DECADE_STRIDES:
        start = math.ceil(math.log10(lo) - tol)
        options.append(inside(10.0 ** e for e in range(start - start % stride, last + 1,
                                                        stride)))
    readable = [o for o in options if 2 <= len(o) <= max_ticks and fits(o)]
    if readable:
        return readable[0]
    few = [o for o in options if len(o) == 1 and fits(o)]
    if not any(len(o) >= 2 for o in options):  # under a factor ~1.2: linear ticks
        linear = inside(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi))
        linear = [v for v in linear if v > 0]
        for keep in (linear, linear[::2], linear[:1]):
            if keep and fits(keep):
                return keep
    if few:
        return few[0]
    return min((o for o in options if o), key=len, default=[])


def _axis_fits(axis, vmin: float, vmax: float, extra, fontsize=None):
    """A test for :func:`log_ticks`: do these ticks' labels fit ``axis`` without touching?"""
    axes = axis.axes
    vertical = axis.axis_name == "y"
    try:
        dpi = axes.get_figure(root=True).dpi
        length = (axes.bbox.height if vertical else axes.bbox.width) * 72.0 / dpi
    except AttributeError:  # pragma: no cover - an axis not yet in a figure
        return None
    if not length > 0:
        return None
    if fontsize is None:
        size = axis.get_tick_params(which="major").get("labelsize")
        if size is None:
            size = mpl.rcParams[f"{axis.axis_name}tick.labelsize"]
        fontsize = FontProperties(size=size).get_size_in_points()
    span = math.log10(vmax) - math.log10(vmin)
    extra = dict(extra)

    def extent(value):
        label = extra.get(value, format_number(value))
        if vertical:
            return fontsize * (1.5 if "^" in label else 1.2)
        return 0.62 * fontsize * _label_chars(label)

    def fits(values):
        values = sorted(set(values) | set(extra))
        pos = [(math.log10(v) - math.log10(vmin)) / span * length for v in values]
        return all(b - a >= (extent(u) + extent(w)) / 2 + 0.8 * fontsize
                   for a, b, u, w in zip(pos, pos[1:], values, values[1:], strict=False))

    return fits


class ReadableLogLocator(LogLocator):
    """Major ticks of a log axis at readable values that fit (see :func:`log_ticks`).

    Parameters
    ----------
    candidates : sequence of float, optional
        Choose among these (a heatmap's cell centres) instead of round values.
    within : (float, float), optional
        Only ticks inside this range (the finite part of an axis that also shows "online").
    extra : sequence of (float, str)
        Ticks always shown with their own label, e.g. ``[(3e4, "online")]``.
    max_ticks : int
        At most this many round-valued ticks.
    fontsize : float, optional
        Label size in points (default: the axis' tick label size).
    """

    def __init__(self, candidates=None, within=None, extra=(), max_ticks=9, fontsize=None):
        super().__init__(base=10.0)
        self.candidates = None if candidates is None else sorted(candidates)
        self.within = within
        self.extra = [(float(v), str(label)) for v, label in extra]
        self.max_ticks = max_ticks
        self.fontsize = fontsize

    def __call__(self):
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin, vmax):
        vmin, vmax = sorted((vmin, vmax))
        if vmin <= 0:
            vmin = vmax / 1e3 if vmax > 0 else 1.0
        lo, hi = vmin, vmax
        if self.within is not None:
            lo, hi = max(lo, self.within[0]), min(hi, self.within[1])
        extra = [(v, label) for v, label in self.extra if vmin <= v <= vmax]
        fits = None
        if getattr(self, "axis", None) is not None:
            fits = _axis_fits(self.axis, vmin, vmax, extra, self.fontsize)
        ticks = log_ticks(lo, hi, candidates=self.candidates, fits=fits,
                          max_ticks=self.max_ticks) if lo < hi else []
        return np.array(sorted(set(ticks) | {v for v, _ in extra}))


class ReadableLogFormatter(Formatter):
    """Labels of :class:`ReadableLogLocator`: :func:`format_number`, or an ``extra`` label;
    on an axis of more than five decades, powers of ten throughout (not 10000 next to 10^6)."""

    def __init__(self, extra=()):
        self.extra = [(float(v), str(label)) for v, label in extra]

    def __call__(self, x, pos=None):
        for value, label in self.extra:
            if abs(x - value) <= 1e-9 * abs(value):
                return label
        if self._many_decades() and x > 0:
            exponent = math.log10(x)
            if abs(exponent - round(exponent)) < 1e-9:
                return f"$10^{{{round(exponent)}}}$"
        return format_number(x)

    def _many_decades(self) -> bool:
        axis = getattr(self, "axis", None)
        if axis is None:
            return False
        low, high = sorted(axis.get_view_interval())
        return low > 0 and math.log10(high / low) > 5


class _MinorWithin(Locator):
    """Unlabelled minor ticks at 2..9 x 10^k, only inside ``within``."""

    def __init__(self, within):
        self.within = within
        self.base = LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=60)

    def __call__(self):
        vmin, vmax = sorted(self.axis.get_view_interval())
        lo, hi = max(vmin, self.within[0]), min(vmax, self.within[1])
        if not 0 < lo < hi:
            return np.array([])
        ticks = self.base.tick_values(lo, hi)
        return ticks[(ticks >= lo) & (ticks <= hi)]


def log_axis(axis, *, candidates=None, within=None, extra=(), minor: bool = True,
             max_ticks: int = 9, fontsize=None) -> None:
    """Make ``axis`` (``ax.xaxis`` / ``ax.yaxis``) a log axis with readable labels.

    Major ticks from :class:`ReadableLogLocator` (as many plain-number labels as fit, never
    touching, computed when drawn so they follow the final layout), minor ticks unlabelled
    (at the ``candidates`` if given, else at 2..9 x 10^k), both limited to ``within``.

    Examples
    --------
    >>> fig, ax = subplots()
    >>> _ = ax.plot([30, 2000], [1, 2])
    >>> log_axis(ax.xaxis)
    >>> fig.canvas.draw()
    >>> [t.get_text() for t in ax.get_xticklabels() if 30 <= t.get_position()[0] <= 2000]
    ['50', '100', '200', '500', '1000', '2000']
    """
    axes = axis.axes
    getattr(axes, f"set_{axis.axis_name}scale")("log")
    axis.set_major_locator(ReadableLogLocator(candidates=candidates, within=within,
                                              extra=extra, max_ticks=max_ticks,
                                              fontsize=fontsize))
    axis.set_major_formatter(ReadableLogFormatter(extra=extra))
    if not minor:
        axis.set_minor_locator(NullLocator())
    elif candidates is not None:
        axis.set_minor_locator(FixedLocator(sorted(candidates)))
    elif within is None:
        axis.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=60))
    else:
        axis.set_minor_locator(_MinorWithin(within))
    axis.set_minor_formatter(NullFormatter())
