"""One progress bar for every long piece of work (Monte Carlo, training, searches, benchmarks).

A tqdm bar on stderr that turns itself off when stderr is not a terminal (CI logs, pipes), so
tables and JSON on stdout stay clean.
"""

from __future__ import annotations

import sys


def progress_bar(total: int | None, *, unit: str, desc: str, enabled: bool = True,
                 initial: int = 0, smoothing: float = 0.0, leave: bool = True):
    """A tqdm bar of ``total`` items (None: open-ended), shown only when ``enabled`` and stderr
    is a terminal.

    ``smoothing = 0`` makes the ETA use the average rate: results arrive in bursts (an ensemble
    or a Monte Carlo chunk at a time), where a moving average swings.

    Examples
    --------
    >>> with progress_bar(3, unit="run", desc="demo", enabled=False) as bar:
    ...     _ = bar.update(3)
    """
    from tqdm.auto import tqdm  # tqdm.auto pulls in ipywidgets detection: only when a bar runs

    # disable=None: tqdm decides from whether stderr is a terminal.
    return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr,
                disable=None if enabled else True, smoothing=smoothing, dynamic_ncols=True,
                leave=leave)
