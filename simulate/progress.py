"""One progress display for every long piece of work (Monte Carlo, training, searches, benchmarks).

On a terminal: a tqdm bar on stderr. Off a terminal (CI logs, ``nohup``, pipes): plain lines on
stderr, one every :data:`LOG_SECONDS` seconds or every :data:`LOG_FRACTION` of the work,
whichever is rarer, and a last one when the work ends, so a log shows that long work is moving
without filling up; work too short for a first line prints nothing. Tables and JSON go to stdout
either way.
"""

from __future__ import annotations

import sys
import time

__all__ = ["progress_bar", "LogProgress", "LOG_SECONDS", "LOG_FRACTION"]

#: Least time between two progress lines off a terminal.
LOG_SECONDS = 10.0
#: Least share of the work between two progress lines off a terminal (for a known total).
LOG_FRACTION = 0.05


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class LogProgress:
    """Progress as plain lines for a log: the part of tqdm's interface the project uses
    (``update``, ``set_postfix_str``, ``set_description``, ``close``, a context manager).

    A line is written when at least ``seconds`` (default :data:`LOG_SECONDS`) have passed since
    the last one *and*, for a known total, at least ``fraction`` (default :data:`LOG_FRACTION`)
    of the total has been done since; ``close`` writes a last line if any was written before.
    ``clock`` (default ``time.monotonic``) is injectable for tests.

    Examples
    --------
    >>> import io
    >>> ticks = iter([0.0, 4.0, 11.0, 12.0, 30.0, 30.0])
    >>> out = io.StringIO()
    >>> with LogProgress(100, unit="run", desc="sweep", stream=out,
    ...                  clock=lambda: next(ticks)) as bar:
    ...     bar.update(1)   # t = 4 s: too early
    ...     bar.update(9)   # t = 11 s, 10% done: a line
    ...     bar.update(1)   # t = 12 s: too early
    ...     bar.update(89)  # t = 30 s: a line (100%)
    >>> print(out.getvalue(), end="")
    sweep: 10/100 runs (10%), 11 s elapsed, about 1.6 min left
    sweep: 100/100 runs (100%), 30 s elapsed, about 0 s left
    sweep: done, 100/100 runs in 30 s
    """

    def __init__(self, total: int | None, *, unit: str, desc: str, initial: int = 0,
                 stream=None, clock=None, seconds: float | None = None,
                 fraction: float | None = None):
        self.total = total
        self.n = initial
        self.unit = unit
        self.desc = desc
        self.stream = stream
        self.clock = clock if clock is not None else time.monotonic
        # Looked up at call time, so that a test can shorten them for the whole module.
        self.seconds = LOG_SECONDS if seconds is None else seconds
        self.fraction = LOG_FRACTION if fraction is None else fraction
        self.postfix = ""
        self.lines = 0
        self._initial = initial
        self._start = self._last_time = self.clock()
        self._last_n = initial
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _units(self) -> str:
        return self.unit if self.unit.endswith("s") else self.unit + "s"

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            print(text, file=stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            pass
        self.lines += 1

    def _line(self, now: float) -> str:
        elapsed = now - self._start
        if not self.total:
            text = f"{self.desc}: {self.n} {self._units()}, {_duration(elapsed)} elapsed"
        else:
            done = self.n - self._initial
            left = self.total - self.n
            eta = f", about {_duration(elapsed * left / done)} left" if done > 0 else ""
            text = (f"{self.desc}: {self.n}/{self.total} {self._units()} "
                    f"({100 * self.n / self.total:.0f}%), {_duration(elapsed)} elapsed{eta}")
        return text + (f"; {self.postfix}" if self.postfix else "")

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self._last_time < self.seconds:
            return
        if self.total and self.n - self._last_n < self.fraction * self.total:
            return
        self._write(self._line(now))
        self._last_time, self._last_n = now, self.n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:  # noqa: ARG002
        self.postfix = s

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:  # noqa: ARG002
        self.desc = desc or ""

    def refresh(self) -> None:
        """Nothing to redraw in a log (tqdm interface)."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.lines:  # short work stays silent; long work says it ended, and how
            count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
            ended = "stopped" if self.total and self.n < self.total else "done"
            self._write(f"{self.desc}: {ended}, {count} {self._units()} in "
                        f"{_duration(self.clock() - self._start)}")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def progress_bar(total: int | None, *, unit: str, desc: str, enabled: bool = True,
                 initial: int = 0, smoothing: float = 0.0, leave: bool = True):
    """Progress of ``total`` items (None: open-ended) on stderr, when ``enabled``: a tqdm bar
    on a terminal, :class:`LogProgress` lines otherwise (module docstring).

    ``smoothing = 0`` makes the bar's ETA use the average rate: results arrive in bursts (an
    ensemble or a Monte Carlo chunk at a time), where a moving average swings.

    Examples
    --------
    >>> with progress_bar(3, unit="run", desc="demo", enabled=False) as bar:
    ...     _ = bar.update(3)
    """
    if enabled and not _is_terminal(sys.stderr):
        return LogProgress(total, unit=unit, desc=desc, initial=initial)
    # the plain terminal bar: a notebook's stderr is no terminal (LogProgress above), and
    # tqdm.auto would warn there about missing ipywidgets even for a disabled bar
    from tqdm.std import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr,
                disable=not enabled, smoothing=smoothing, dynamic_ncols=True, leave=leave)
