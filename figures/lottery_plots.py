r"""The lottery figure: P(at least one lucky neuron among r) of s-sparse init against r.

:func:`lottery_curves` computes the numbers (theory's exact line, Monte Carlo points with
Wilson 95% intervals), :func:`draw_lottery` draws them into ``ax=`` (or a new figure) and
returns the Figure, :func:`lottery_figure` does both and writes ``STEM.png`` + ``STEM.pdf``
(also reachable as :func:`figures.theory_plots.lottery_figure`). The width axis is logarithmic
with plain-number labels that never run together (30, 40, 50, not 3x10^1 4x10^1).
"""

from __future__ import annotations

import numpy as np

from parity_frontiers.figures.inputs import check_problem, check_sizes, log_int_grid
from parity_frontiers.figures.layout import log_axis, panel_axes
from parity_frontiers.figures.style import (
    MARKERS,
    MIN_TRIALS_FOR_INTERVAL,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)
from parity_frontiers.theory.checks import check_int
from parity_frontiers.theory.lottery import p_at_least_one_lucky

__all__ = ["lottery_curves", "draw_lottery", "lottery_figure"]


def lottery_curves(n, k, s_values, widths, trials, seed, *, threads=None) -> dict:
    r"""The numbers of the lottery figure: exact lines and Monte Carlo points.

    See :func:`lottery_figure` for the parameters and the maths. Every value is checked
    before anything is simulated.

    Returns
    -------
    dict
        ``n``, ``k``, ``trials``, ``s_values``; ``exact``: rows ``{s, width, p_exact}`` on a
        log-spaced width grid; ``mc``: rows ``{s, width, seed, trials, estimate, stderr,
        ci_low, ci_high, exact}``; ``too_few_trials``.

    Examples
    --------
    >>> out = lottery_curves(10, 2, [3], [1, 10], trials=200, seed=0)
    >>> round(out["mc"][0]["exact"], 6)  # C(3, 2) / C(10, 2) = 3/45
    0.066667
    """
    n, k = check_problem(n, k)
    s_arr = check_sizes("s_values", s_values)
    if s_arr.max() > n:
        raise ValueError(f"s_values must be <= n = {n}, got s = {s_arr.max():g}")
    if len(s_arr) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} s values fit the palette, got {len(s_arr)}")
    width_arr = check_sizes("widths", widths)
    trials = check_int("trials", trials, strict=True)
    seed = check_int("seed", seed, minimum=0, strict=True)
    points = len(s_arr) * len(width_arr)
    if seed + points - 1 >= 2**63:
        raise ValueError(f"seed must be < 2**63 - {points - 1} (one seed per point), got {seed}")

    from parity_frontiers.simulate.lottery import simulate_lottery

    grid = log_int_grid(width_arr)
    if len(grid) == 1:  # one width: show a decade either side of it
        grid = log_int_grid(np.array([max(1.0, np.floor(grid[0] / 10)), grid[0] * 10]))
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
    return {"n": n, "k": k, "trials": trials, "s_values": [int(s) for s in s_arr],
            "exact": exact_rows, "mc": mc_rows,
            "too_few_trials": trials < MIN_TRIALS_FOR_INTERVAL}


def draw_lottery(curves: dict, *, ax=None):
    r"""Draw :func:`lottery_curves`'s numbers: P(at least one lucky neuron) against width r.

    One colour per s: the exact line and the Monte Carlo points with their Wilson 95%
    intervals (dodged sideways, so that equal widths do not hide each other); the legend
    has one entry per s and says in its title what lines and points are. The width axis is
    logarithmic with plain-number labels that never touch. Returns the Figure.
    """
    figure, (axis,), owned = panel_axes(1, ax=ax, figsize=(7.4, 4.0))
    n, k, trials = curves["n"], curves["k"], curves["trials"]
    s_values = curves["s_values"]
    entries = []  # one legend entry per s: its line and its points together
    for index, s in enumerate(s_values):
        colour = PALETTE[index]
        regime = "S \u2286 U" if s >= k else "U \u2286 S"
        line = [r for r in curves["exact"] if r["s"] == s]
        (line_artist,) = axis.plot([r["width"] for r in line], [r["p_exact"] for r in line],
                                   color=colour, linewidth=1.6, label=f"s = {s} ({regime})")
        dots = [r for r in curves["mc"] if r["s"] == s]
        if not dots:
            entries.append((line_artist, f"s = {s} ({regime})"))
            continue
        estimate = np.array([r["estimate"] for r in dots])
        yerr = np.array([estimate - [r["ci_low"] for r in dots],
                         np.array([r["ci_high"] for r in dots]) - estimate])
        # Dodge the points of each s sideways (x 10^+-0.04) so equal widths do not hide each
        # other's intervals; the returned rows keep the true widths.
        dodge = 10.0 ** (0.08 * (index - (len(s_values) - 1) / 2) / max(1, len(s_values) - 1))
        points = axis.errorbar([r["width"] * dodge for r in dots], estimate,
                               yerr=np.clip(yerr, 0.0, None), fmt=MARKERS[index],
                               color=colour, markersize=5, capsize=2.5, linestyle="none",
                               markeredgecolor="#000000", markeredgewidth=0.5)
        entries.append(((line_artist, points), f"s = {s} ({regime})"))
    log_axis(axis.xaxis)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("width r (hidden neurons)")
    axis.set_ylabel("P(at least one lucky neuron)")
    axis.set_title(f"Lottery tickets of s-sparse init, n = {n}, k = {k}: $1 - (1 - p)^r$",
                   fontsize=10)
    from matplotlib.legend_handler import HandlerTuple

    axis.legend([h for h, _ in entries], [label for _, label in entries],
                handler_map={tuple: HandlerTuple(ndivide=None)}, handlelength=3.2,
                fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False,
                title=f"lines: exact\npoints: Monte Carlo,\n{trials} trials, Wilson 95%",
                title_fontsize=8)
    if curves["too_few_trials"]:
        add_caveat(axis, f"only {trials} trials per point (< {MIN_TRIALS_FOR_INTERVAL}): "
                         "95% intervals too wide to read")
    return root_figure(figure)


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
    curves = lottery_curves(n, k, s_values, widths, trials, seed, threads=threads)
    paths = save_figure(draw_lottery(curves), out_dir, stem)
    return {"paths": paths, "exact": curves["exact"], "mc": curves["mc"],
            "too_few_trials": curves["too_few_trials"]}
