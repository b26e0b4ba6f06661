r"""The lottery-ticket figure (the paper's Figure 5): test error vs SGD steps per retrained arm.

One line per arm of :mod:`verify.experiments.lottery_ticket` (rewound winners, random neurons of
the trained net rewound, fresh random neurons): the median over SGD seeds of the test error at
each evaluation step, with a band from the 25th to the 75th percentile over seeds (with few
seeds a band of quantiles, not a confidence interval: it shows the spread of runs). The dashed
line is the success threshold; the thin black line is the wide net's own curve over its first
``retrain_steps`` steps, for reference. Each arm's legend entry gives its success count and its
Kaplan-Meier median steps to success. A caveat box says when the wide net itself failed, and
that the bands are spreads over few seeds, not confidence intervals.

:func:`draw_lottery_ticket` draws into ``ax=`` and returns the Figure; :func:`plot_lottery_ticket`
writes it (PNG + PDF).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parity_frontiers.figures.layout import panel_axes, place_legend
from parity_frontiers.figures.style import (
    MIN_TRIALS_FOR_INTERVAL,
    PALETTE,
    add_caveat,
    root_figure,
    save_figure,
)

__all__ = ["BAND_QUANTILES", "arm_band", "draw_lottery_ticket", "plot_lottery_ticket"]

#: Quantiles over SGD seeds drawn as each arm's band.
BAND_QUANTILES = (0.25, 0.75)


def arm_band(curves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Median and :data:`BAND_QUANTILES` over seeds at each evaluation step.

    .. math:: \tilde e(t) = \mathrm{median}_i\, e_i(t), \quad
              [q_{0.25}(t), q_{0.75}(t)] \text{ over seeds } i

    (numpy's linear-interpolation quantiles).

    Parameters
    ----------
    curves : array_like (seeds, steps)
        Test error of each seed at each evaluation step.

    Returns
    -------
    (median, low, high), each float64 (steps,)

    Examples
    --------
    >>> med, lo, hi = arm_band([[0.5, 0.1], [0.3, 0.2], [0.1, 0.3]])
    >>> med.tolist(), lo.tolist(), hi.tolist()
    ([0.3, 0.2], [0.2, 0.15000000000000002], [0.4, 0.25])
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or not curves.size:
        raise ValueError(f"curves must be a non-empty (seeds, steps) array, got shape "
                         f"{curves.shape}")
    low, median, high = np.quantile(curves, [BAND_QUANTILES[0], 0.5, BAND_QUANTILES[1]], axis=0)
    return median, low, high


def _median_text(value, budget) -> str:
    return f"median > {budget:g} steps" if value is None else f"median {value:g} steps"


def draw_lottery_ticket(result, *, ax=None):
    """Draw the lottery-ticket curves into ``ax`` (or a new figure) and return the Figure.

    Parameters
    ----------
    result : LotteryTicketResult or dict
        :func:`verify.experiments.lottery_ticket.run_lottery_ticket`'s result, or its
        ``as_dict()`` (the CLI's JSON), so a saved run can be re-plotted.
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One line per arm (median over seeds) with its quantile band, the wide net's curve,
        the threshold; the legend below the axes lists exactly these; caveats wrap inside the
        axes, clear of the tick labels.
    """
    data = result.as_dict() if hasattr(result, "as_dict") else result
    try:
        config, wide, arms = data["config"], data["wide"], data["arms"]
    except (KeyError, TypeError):
        raise ValueError("result must be a LotteryTicketResult or its as_dict()") from None
    figure, (axis,), owned = panel_axes(1, ax=ax, figsize=(6.4, 5.0))
    horizon = 0
    fewest = None
    for colour, entry in zip(PALETTE, arms.values(), strict=False):
        steps = np.asarray(entry["curve_steps"], dtype=np.float64)
        median, low, high = arm_band(entry["curve_test_error"])
        runs = len(entry["curve_test_error"])
        fewest = runs if fewest is None else min(fewest, runs)
        label = (f"{entry['label']}: {entry['successes']}/{runs} succeed, "
                 f"{_median_text(entry['median_steps_to_success'], steps[-1])}")
        axis.fill_between(steps, low, high, color=colour, alpha=0.25, linewidth=0)
        axis.plot(steps, median, color=colour, linewidth=1.8, label=label)
        horizon = max(horizon, steps[-1])
    wide_steps = np.asarray(wide["curve_steps"], dtype=np.float64)
    shown = wide_steps <= horizon if horizon else np.ones(len(wide_steps), dtype=bool)
    if shown.any():
        axis.plot(wide_steps[shown], np.asarray(wide["curve_test_error"])[shown],
                  color=PALETTE[7], linewidth=0.9,
                  label=f"full width-{config['width']} net (the one pruned)")
    axis.axhline(config["success_error"], color=PALETTE[7], linestyle="--", linewidth=0.8,
                 label=f"success: test error <= {config['success_error']:g}")
    axis.set_xlabel("SGD steps (batches of fresh samples)")
    axis.set_ylabel("test error (fraction misclassified)")
    axis.set_ylim(0, 0.75)  # headroom for the caveat box above the chance level 0.5
    axis.set_xlim(0, horizon or None)
    axis.set_title(f"Lottery tickets: ({config['n']}, {config['k']})-parity, s = "
                   f"{config['s']}, K = {config['keep']} of {config['width']} neurons, seed "
                   f"{config['seed']}", fontsize=9)
    place_legend(figure, [axis], owned, fontsize=7, ncols=1)
    caveats = []
    if not wide.get("success", True):
        caveats.append("the wide net never reached the threshold: its top neurons are not a "
                       "trained solution's")
    if fewest is not None:
        # The bands are spread over seeds whatever their number; few seeds make them rough too.
        few = f"only {fewest} " if fewest < MIN_TRIALS_FOR_INTERVAL else f"{fewest} "
        caveats.append(f"{few}SGD seeds per arm: lines are medians, bands the "
                       f"{BAND_QUANTILES[0]:g}-{BAND_QUANTILES[1]:g} quantiles over seeds, "
                       "not confidence intervals")
    if caveats:
        add_caveat(axis, "\n".join(caveats))  # wraps inside the axes
        # Room for the caveat box above the chance level 0.5 (lines wrap: ~2 per caveat).
        axis.set_ylim(top=axis.get_ylim()[1] + 0.1 * len(caveats))
    axis.set_yticks([t for t in axis.get_yticks() if 0 <= t <= 0.6 + 1e-9])
    return root_figure(figure)


def plot_lottery_ticket(result, out_dir, stem: str = "lottery_ticket") -> list[Path]:
    """Draw the lottery-ticket curves and write ``STEM.png`` and ``STEM.pdf`` into ``out_dir``.

    A thin wrapper: :func:`draw_lottery_ticket`, then :func:`figures.style.save_figure`.

    Parameters
    ----------
    result : LotteryTicketResult or dict
        :func:`verify.experiments.lottery_ticket.run_lottery_ticket`'s result, or its
        ``as_dict()`` (the CLI's JSON), so a saved run can be re-plotted.
    out_dir : str or Path
        Created if needed.
    stem : str
        File name without extension.

    Returns
    -------
    list of Path
        The PNG and the PDF.

    Examples
    --------
    >>> import tempfile
    >>> arm = {"label": "a", "successes": 1, "runs": [{}, {}], "median_steps_to_success": None,
    ...        "curve_steps": [10, 20], "curve_test_error": [[0.5, 0.2], [0.5, 0.5]]}
    >>> res = {"config": {"n": 8, "k": 2, "width": 16, "s": 2, "keep": 3, "seed": 0,
    ...                   "success_error": 0.1},
    ...        "wide": {"curve_steps": [10, 20], "curve_test_error": [0.4, 0.05]},
    ...        "arms": {"winners": arm}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in plot_lottery_ticket(res, tmp)]
    ['lottery_ticket.png', 'lottery_ticket.pdf']
    """
    return save_figure(draw_lottery_ticket(result), out_dir, stem)
