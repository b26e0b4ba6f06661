"""Ctrl-C is honoured within 2 s in every phase, keeps finished runs, and says how to resume.

Each test starts the real console command in a subprocess, waits until it is in the phase under
test (planning a large sweep, training with runs already stored, a Monte Carlo whose single
trial takes seconds, a report's analysis), sends SIGINT, and checks: it exits within 2 s with
status 130, its stderr has at most 3 lines and no traceback, the last says how to resume, and
what was stored before stays stored (and readable).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

LIMIT = 2.0
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(argv, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "parity_frontiers", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _interrupt(proc) -> tuple[float, str]:
    """SIGINT now; seconds until the process exited, and its stderr."""
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"no exit within 30 s of SIGINT; stderr: {err[-500:]}")
    return time.perf_counter() - sent, err


def _check(proc, seconds, err, resume_word="resume"):
    assert "Traceback" not in err, err
    assert proc.returncode in (130, 2), (proc.returncode, err)
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, err
    assert resume_word in lines[-1], err
    assert seconds <= LIMIT, f"exited {seconds:.2f} s after SIGINT"


def _wait_for(predicate, timeout, proc, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}) before {what}: {proc.stderr.read()[-800:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"never reached {what} within {timeout} s")


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_interrupt_while_planning_a_huge_sweep(tmp_path):
    store = tmp_path / "runs.db"
    proc = _start(["sweep", "--store", str(store), "--n", "20", "--k", "3", "--width", "8",
                   "--seeds", "1000000", "--no-progress"], tmp_path)
    time.sleep(6)  # imports take ~2 s; planning a million runs takes well over 10 s
    assert proc.poll() is None, proc.stderr.read()
    seconds, err = _interrupt(proc)
    _check(proc, seconds, err)
    assert not store.exists()  # nothing trained: the store is made only after planning


def test_interrupt_while_training_keeps_finished_runs(tmp_path):
    store = tmp_path / "runs.db"
    proc = _start(["sweep", "--store", str(store), "--n", "30", "--k", "3", "--width", "64",
                   "--seeds", "200", "--max-ensemble", "2", "--max-steps", "3000",
                   "--threads", "1", "--no-progress"], tmp_path)
    _wait_for(lambda: _stored(store) >= 2, 120, proc, "two stored runs")
    seconds, err = _interrupt(proc)
    _check(proc, seconds, err)
    kept = _stored(store)
    assert 2 <= kept < 200
    # The store is whole: the same command resumes from it (checked read-only here).
    from parity_frontiers.verify.experiments.store import ResultsStore

    with ResultsStore(store, readonly=True) as opened:
        opened.check()
        assert len(opened) == kept


def test_interrupt_inside_a_long_monte_carlo_trial(tmp_path):
    # One trial is several seconds of one kernel call (m = 3e7 samples); the estimate, printed
    # on stderr because it is over a minute, marks the start of the chunks.
    proc = _start(["simulate", "onestep", "--n", "100", "--k", "3", "--s", "3", "--width",
                   "1000", "--samples", "3e7", "--trials", "20", "--threads", "1",
                   "--memory-cap", "10", "--max-seconds", "inf"], tmp_path)
    seen = []

    def reader():
        for line in proc.stderr:
            seen.append(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    _wait_for(lambda: seen, 120, proc, "the Monte Carlo")
    time.sleep(1.0)  # well inside the first multi-second trial
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("no exit within 30 s of SIGINT")
    seconds = time.perf_counter() - sent
    thread.join(5)
    err = "".join(seen)
    _check(proc, seconds, err, resume_word="again")


def test_interrupt_during_report_analysis(tmp_path):
    from parity_frontiers.verify.config import RunConfig, RunResult
    from parity_frontiers.verify.experiments.store import ResultsStore

    store = tmp_path / "runs.db"
    with ResultsStore(store) as opened:
        for width in (8, 64):
            for m in (100, 1000, 10_000):
                for seed in range(4):
                    config = RunConfig(n=30, k=3, width=width, samples=m, seed=seed,
                                       max_steps=1000, test_size=1000)
                    ok = m >= 1000
                    opened.add(RunResult(config, ok, 500 if ok else None,
                                         0.05 if ok else 0.5, 0.0,
                                         "success" if ok else "max_steps", 1000))
    proc = _start(["report", "--store", str(store), "--out", str(tmp_path / "report"),
                   "--onestep-trials", "100000", "--max-seconds", "inf"], tmp_path)
    time.sleep(5)
    if proc.poll() is not None:
        pytest.skip(f"the report finished (or failed) within 5 s: {proc.stderr.read()[-300:]}")
    seconds, err = _interrupt(proc)
    _check(proc, seconds, err, resume_word="again")
