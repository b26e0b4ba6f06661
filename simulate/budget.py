"""Time budgets: refuse work estimated to take longer than the caller allows, before doing it.

The console command's ``--max-seconds`` (default one hour) opens :func:`time_budget` around a
subcommand; library code asks :func:`check_seconds` about each estimate it can make:

* a priori, from calibrated costs (:data:`SECONDS_PER_DRAW`, :data:`SECONDS_PER_SAMPLE_WORD`,
  :data:`SECONDS_PER_ENUMERATED` and the one-step ones), measured on one core of this
  project's 2-core machine with the Numba kernels compiled (``tests/test_limits.py`` checks
  they stay within 3x of measured times on small cases);
* and while running, from the measured rate of the chunks done so far
  (:func:`simulate._config.run_in_chunks`), so a kernel without an a priori model is still
  stopped within a fraction of a second once its extrapolated total exceeds the budget.

An estimate over a minute is printed once on stderr. Outside a budget nothing is checked
(library calls run as asked).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys

__all__ = ["time_budget", "current_budget", "check_seconds", "format_seconds",
           "parallel_speedup", "SECONDS_PER_DRAW", "SECONDS_PER_SAMPLE_WORD",
           "SECONDS_PER_ENUMERATED", "SECONDS_PER_NEURON_VISIT", "SECONDS_PER_NEURON_EVALUATION",
           "SECONDS_PER_ACTIVATION_WORD", "SECONDS_PER_SCAN_WORD", "SECONDS_PER_VISIBLE_EXACT_OP",
           "SECONDS_PER_VISIBLE_SAMPLE_OP", "SECONDS_PER_NOISY_GD_OP", "SECONDS_PER_GUESS_OP",
           "ANNOUNCE_SECONDS"]

#: One support coordinate drawn by the lottery kernel (width x s per trial): 7e-9 to 1.2e-8 s
#: measured on one core.
SECONDS_PER_DRAW = 1.0e-8
#: One 64-sample word of one input coordinate in the gradient kernels (m x (n / 64 + 1) per
#: trial): 4e-9 to 6e-9 s measured.
SECONDS_PER_SAMPLE_WORD = 5.0e-9
#: One enumerated input pattern times its support size in the population-gradient enumeration
#: (2^s x s per trial, s <= 20): about 3e-9 s measured.
SECONDS_PER_ENUMERATED = 3.2e-9
#: One-step selection (:mod:`simulate.onestep`), per trial and sample size: each neuron visited
#: (:data:`SECONDS_PER_NEURON_VISIT`); each neuron evaluated (all for s >= k, the lucky ones for
#: s = k - 1) costs :data:`SECONDS_PER_NEURON_EVALUATION` plus, per 64-sample word,
#: :data:`SECONDS_PER_ACTIVATION_WORD` per support coordinate and
#: :data:`SECONDS_PER_SCAN_WORD` per coordinate compared (k + 2 typically, all n for a lucky
#: neuron). Fitted to 11 measured grids (one core): every estimate within 0.6x-2.3x.
SECONDS_PER_NEURON_VISIT = 1.5e-8
SECONDS_PER_NEURON_EVALUATION = 1.0e-7
SECONDS_PER_ACTIVATION_WORD = 4.0e-9
SECONDS_PER_SCAN_WORD = 1.2e-9
#: The SQ game (:mod:`simulate.sq`), per operation of its work counts: the exact visible
#: fraction (Walsh-Hadamard transforms of 2^n floats, this rate for n <= 14, 25% more per unit
#: of n above as the transforms leave the caches), the sampled one, noisy GD and the guess
#: game. Noisy GD's rate likewise grows 25% per unit of n above 10. Measured on one core:
#: 5.9e-10 to 7.5e-10 (n = 10..14), 1.0e-9 (n = 16), 1.7e-9 (n = 18); 1.6e-9 to 2.2e-9;
#: 8e-10 to 1.7e-9 (n = 8..10), 1.6e-9 to 4.9e-9 (n = 12), 2.8e-9 (n = 14); 1.5e-8 to 2.6e-8.
SECONDS_PER_VISIBLE_EXACT_OP = 7.0e-10
SECONDS_PER_VISIBLE_SAMPLE_OP = 2.0e-9
SECONDS_PER_NOISY_GD_OP = 1.2e-9
SECONDS_PER_GUESS_OP = 2.0e-8
#: Estimates above this are printed on stderr (once per budget).
ANNOUNCE_SECONDS = 60.0

_budget: contextvars.ContextVar = contextvars.ContextVar("parity_frontiers_time_budget",
                                                         default=None)


class _Budget:
    def __init__(self, seconds: float, option: str, stream):
        self.seconds = seconds
        self.option = option
        self.stream = stream
        self.announced = False


@contextlib.contextmanager
def time_budget(seconds: float | None, option: str = "--max-seconds", stream=None):
    """Within the block, :func:`check_seconds` refuses estimates above ``seconds``.

    ``None`` or ``inf`` checks nothing (but still announces long estimates). ``option`` names
    the setting in messages; announcements go to ``stream`` (default ``sys.stderr``).
    """
    if seconds is not None and (not isinstance(seconds, (int, float)) or math.isnan(seconds)
                                or seconds <= 0):
        raise ValueError(f"time budget must be a positive number of seconds, got {seconds!r}")
    token = _budget.set(_Budget(math.inf if seconds is None else float(seconds), option, stream))
    try:
        yield
    finally:
        _budget.reset(token)


def current_budget() -> float | None:
    """The budget in force (seconds), or None outside :func:`time_budget`."""
    budget = _budget.get()
    return None if budget is None else budget.seconds


def format_seconds(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``40 days``, ``1e+09 years``."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 90:
        return f"{seconds:.3g} s"
    if seconds < 5400:
        return f"{seconds / 60:.3g} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.3g} h"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.3g} days"
    return f"{seconds / (365.25 * 86400):.3g} years"


def parallel_speedup(threads: int, tasks: int) -> float:
    """Speed-up of ``tasks`` independent pieces of work on ``threads`` threads (80% scaling)."""
    used = max(1, min(int(threads), int(tasks)))
    return 1.0 + 0.8 * (used - 1)


def check_seconds(estimate: float, what: str, how: str = "estimated") -> None:
    """Refuse (ValueError) an estimate above the budget in force; announce one over a minute.

    ``what`` names the work ("lottery simulation of 1e+06 trials"); ``how`` says where the
    number comes from ("estimated", "extrapolated from the first 1000 trials").
    """
    budget = _budget.get()
    if budget is None:
        return
    if estimate > budget.seconds:
        raise ValueError(f"{what} would take about {format_seconds(estimate)} ({how}), over "
                         f"the time budget of {format_seconds(budget.seconds)} ({budget.option});"
                         f" ask for less, or raise {budget.option}")
    if estimate > ANNOUNCE_SECONDS and not budget.announced:
        budget.announced = True
        stream = budget.stream if budget.stream is not None else sys.stderr
        try:
            print(f"note: {what} will take about {format_seconds(estimate)} ({how})",
                  file=stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            pass
