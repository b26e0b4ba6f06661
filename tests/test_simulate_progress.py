"""simulate.progress: a tqdm bar on a terminal, plain lines every ~10 s or 5% (whichever is
rarer) in a log, checked with a fake clock."""

from __future__ import annotations

import io
import re

import pytest

from parity_frontiers.simulate import progress
from parity_frontiers.simulate.progress import LogProgress, progress_bar


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _run(total, items, seconds_per_item, **kwargs):
    """Advance a LogProgress one item at a time, the fake clock by seconds_per_item each;
    the lines it wrote."""
    clock, out = FakeClock(), io.StringIO()
    with LogProgress(total, unit="run", desc="work", stream=out, clock=clock, **kwargs) as bar:
        for _ in range(items):
            clock.now += seconds_per_item
            bar.update(1)
    return out.getvalue().splitlines()


def _done(line):
    return int(re.search(r": (\d+)", line).group(1))


def test_time_is_the_rarer_limit_for_fast_work():
    # 100 runs at 1 s each: 5% = 5 s of work, so a line every 10 s (10 runs), then "done".
    lines = _run(100, 100, 1.0)
    assert [_done(line) for line in lines[:-1]] == list(range(10, 101, 10))
    assert lines[-1] == "work: done, 100/100 runs in 1.7 min"
    assert lines[0] == "work: 10/100 runs (10%), 10 s elapsed, about 1.5 min left"


def test_the_fraction_is_the_rarer_limit_for_slow_work():
    # 1000 runs at 1 s each: 10 s is 1%, so a line every 5% (50 runs): 20 lines, then "done".
    lines = _run(1000, 1000, 1.0)
    assert [_done(line) for line in lines[:-1]] == list(range(50, 1001, 50))
    assert "(5%)" in lines[0] and lines[-1].startswith("work: done, 1000/1000")


def test_short_work_prints_nothing():
    assert _run(100, 100, 0.05) == []  # 5 s in all: below the first 10 s


def test_open_ended_work_prints_every_ten_seconds():
    lines = _run(None, 30, 1.0)
    assert lines == ["work: 10 runs, 10 s elapsed", "work: 20 runs, 20 s elapsed",
                     "work: 30 runs, 30 s elapsed", "work: done, 30 runs in 30 s"]


def test_work_stopped_early_says_so():
    lines = _run(100, 40, 1.0)
    assert lines[-1] == "work: stopped, 40/100 runs in 40 s"


def test_postfix_is_appended_and_close_is_idempotent():
    clock, out = FakeClock(), io.StringIO()
    bar = LogProgress(10, unit="step", desc="train", stream=out, clock=clock)
    bar.set_postfix_str("round 3")
    clock.now = 11.0
    bar.update(5)
    bar.close()
    bar.close()
    assert out.getvalue().splitlines() == [
        "train: 5/10 steps (50%), 11 s elapsed, about 11 s left; round 3",
        "train: stopped, 5/10 steps in 11 s"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_is_a_bar_on_a_terminal_and_lines_off_it(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(progress_bar(10, unit="run", desc="x"), LogProgress)
    monkeypatch.setattr("sys.stderr", _Terminal())
    bar = progress_bar(10, unit="run", desc="x")
    assert not isinstance(bar, LogProgress) and hasattr(bar, "format_dict")  # tqdm
    bar.update(10)
    bar.close()


@pytest.mark.parametrize("terminal", [False, True])
def test_disabled_progress_writes_nothing(monkeypatch, terminal):
    stream = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with progress_bar(10, unit="run", desc="x", enabled=False) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_monte_carlo_off_a_terminal_reports_progress(monkeypatch, capsys):
    # The chunked Monte Carlo loop through the one helper: with the limits shortened, a log gets
    # progress lines and a last line; the numbers do not change.
    from parity_frontiers.simulate.lottery import simulate_lottery

    quiet = simulate_lottery(30, 3, 3, width=4, trials=20_000, seed=1, progress=False)
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.0)
    monkeypatch.setattr(progress, "LOG_FRACTION", 0.2)
    loud = simulate_lottery(30, 3, 3, width=4, trials=20_000, seed=1, progress=True)
    err = capsys.readouterr().err.splitlines()
    assert loud == quiet
    assert len(err) >= 2 and err[-1].startswith("lottery: done, 20000/20000 trials")
    assert all(line.startswith("lottery: ") for line in err)



def test_bar_never_loads_tqdm_auto(fresh_python):
    # tqdm.auto warned "IProgress not found" in every notebook without ipywidgets, even for a
    # disabled bar: the plain tqdm serves the terminal, LogProgress everything else
    code = ("import sys\n"
            "from parity_frontiers.simulate.progress import progress_bar\n"
            "with progress_bar(3, unit='run', desc='quiet', enabled=False) as bar:\n"
            "    bar.update(3)\n"
            "print('tqdm.auto' in sys.modules, 'tqdm' in sys.modules)")
    assert fresh_python(code) == ["False", "True"]
