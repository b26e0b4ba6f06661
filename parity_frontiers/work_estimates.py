"""Time estimates of the Monte Carlo a report or plot draws, checked before its analysis.

``report`` and ``plot lottery`` run :func:`simulate.lottery.simulate_lottery` once per (s,
width) point of the lottery figure with ``--lottery-trials`` trials each, after an analysis
that can take half a minute. :func:`check_lottery_figure` estimates that Monte Carlo from the
store's runs (the same points :func:`figures.report.make_figures` will draw) and refuses it
against ``--max-seconds`` before the analysis starts (:func:`simulate.budget.check_seconds`).
:func:`check_onestep_predictions` does the same for the analysis' one-step predictions
(:func:`verify.analysis.predictions.onestep_predictions`, ``--onestep-trials``).
"""

from __future__ import annotations

from parity_frontiers.simulate.budget import SECONDS_PER_DRAW, check_seconds

__all__ = ["lottery_figure_points", "lottery_figure_seconds", "check_lottery_figure",
           "onestep_predictions_seconds", "check_onestep_predictions"]


def lottery_figure_points(results) -> list[tuple[int, int, int, int]]:
    """(n, k, s, width) of every Monte Carlo point of the report's lottery figure."""
    configs = [r.config for r in results]
    if not configs:
        return []
    n, k = min((c.n, c.k) for c in configs)
    s_values = sorted({c.s for c in configs if c.s is not None} | {1, k, k + 1})
    widths = sorted({c.width for c in configs})
    return [(n, k, s, w) for s in s_values if s <= n for w in widths]


def lottery_figure_seconds(results, trials: int) -> float:
    """Estimated seconds of the lottery figure's Monte Carlo (one core)."""
    return sum(trials * SECONDS_PER_DRAW * (w * s + 1)
               for _n, _k, s, w in lottery_figure_points(results))


def check_lottery_figure(results, trials: int) -> None:
    """Refuse (ValueError) a lottery figure whose Monte Carlo exceeds the time budget."""
    points = lottery_figure_points(results)
    if points:
        check_seconds(lottery_figure_seconds(results, trials),
                      f"the lottery figure's Monte Carlo ({len(points)} points x {trials:,} "
                      "trials, --lottery-trials)")


def onestep_predictions_seconds(results, trials: int) -> float:
    """Estimated seconds (one core) of the one-step predictions of these runs: per (n, k,
    init, s) group of offline runs, the trials :func:`onestep_predictions` will give it (its
    per-group work cap included) times :func:`simulate.onestep.onestep_seconds_per_trial`."""
    from parity_frontiers.simulate.onestep import onestep_seconds_per_trial
    from parity_frontiers.verify.analysis.predictions import (
        MAX_ONESTEP_WORK,
        MIN_ONESTEP_TRIALS,
        mechanism_support,
    )

    groups: dict[tuple, list] = {}
    for config in (r.config for r in results):
        if config.samples is not None:
            groups.setdefault((config.n, config.k, config.init, config.s), []).append(config)
    seconds = 0.0
    for (n, k, init, s), configs in groups.items():
        support = mechanism_support({"n": n, "k": k, "init": init, "s": s})
        widths = sorted({c.width for c in configs})
        samples = sorted({c.samples for c in configs})
        per_trial = widths[-1] * support * (samples[-1] / 64 + 1)
        group_trials = min(trials, int(MAX_ONESTEP_WORK // per_trial))
        if support >= k - 1 and group_trials >= MIN_ONESTEP_TRIALS:
            seconds += group_trials * onestep_seconds_per_trial(n, k, support, widths, samples)
    return seconds


def check_onestep_predictions(results, trials: int) -> None:
    """Refuse (ValueError) one-step predictions whose Monte Carlo exceeds the time budget."""
    check_seconds(onestep_predictions_seconds(results, trials),
                  f"the one-step predictions' Monte Carlo ({trials:,} trials per group, "
                  "--onestep-trials)")
