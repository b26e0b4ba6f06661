"""No duplicate training under concurrency: sweeps claim their runs (verify.experiments.leases)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from parity_frontiers.verify.experiments.leases import Claims
from parity_frontiers.verify.experiments.store import ResultsStore


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "runs.db"
    ResultsStore(path).close()
    return path


def test_claims_are_exclusive_and_released(store_path):
    with Claims(store_path, lease_seconds=60) as a:
        with Claims(store_path, lease_seconds=60) as b:
            assert a.claim(["x", "y"]) == {"x", "y"}
            assert b.claim(["y", "z"]) == {"z"}
            assert b.held_by_others(["x", "y", "z"]) == {"x", "y"}
            a.release("x")
            assert b.claim(["x"]) == {"x"}
        # b closed: its claims are released at once
        with Claims(store_path, lease_seconds=60) as c:
            assert c.claim(["x", "z"]) == {"x", "z"}
            assert c.claim(["y"]) == set()


def test_a_lapsed_lease_can_be_claimed(store_path):
    a = Claims(store_path, lease_seconds=0.3)
    assert a.claim(["k"]) == {"k"}
    a._stop.set()  # a claimant that stops renewing (killed): no heartbeat, no release
    with Claims(store_path, lease_seconds=60) as b:
        assert b.claim(["k"]) == set()
        time.sleep(0.5)
        assert b.claim(["k"]) == {"k"}


def test_a_dead_local_claimant_frees_its_runs_at_once(store_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(child.stdout)
    a = Claims(store_path, lease_seconds=3600)
    a.owner = a.owner.rsplit(":", 2)[0] + f":{dead}:feedface"  # as if another process
    assert a.claim(["k"]) == {"k"}
    a._stop.set()
    with Claims(store_path, lease_seconds=60) as b:
        assert b.claim(["k"]) == {"k"}  # its process is gone: no need to wait an hour


def test_heartbeat_keeps_a_lease_alive(store_path):
    with Claims(store_path, lease_seconds=0.6) as a, Claims(store_path, lease_seconds=60) as b:
        assert a.claim(["k"]) == {"k"}
        time.sleep(1.5)  # more than two leases: renewed by a's heartbeat meanwhile
        assert b.claim(["k"]) == set()


def test_stored_runs_are_never_claimed(store_path):
    from parity_frontiers.verify.config import RunConfig, RunResult

    config = RunConfig(n=6, k=2, width=4, seed=0)
    with ResultsStore(store_path) as store:
        store.add(RunResult(config, True, 100, 0.0, 0.0, "success", 100))
    with Claims(store_path) as a:
        assert a.claim([config.key(), "other"]) == {"other"}


def test_old_store_needs_no_migration(store_path):
    con = sqlite3.connect(store_path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert "leases" not in tables  # created only when a sweep claims something
    with Claims(store_path) as a:
        a.claim(["k"])
    with ResultsStore(store_path, readonly=True) as store:  # still a valid store
        store.check()


# --- real sweeps in subprocesses ---------------------------------------------------------------

#: A hard problem ((30, 6)-parity) that no run solves early, so every run takes its budget.
GRID = ["--n", "30", "--k", "6", "--width", "32", "--max-steps", "1500", "--eval-every", "100",
        "--test-size", "500", "--max-ensemble", "1", "--threads", "1", "--no-progress"]


def _sweep(store, seed_start, seeds, env_extra=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "parity_frontiers", "sweep", "--store", str(store),
         "--seed-start", str(seed_start), "--seeds", str(seeds), "--json", *GRID],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc, timeout=300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-1000:]
    return json.loads(out)


def _count(path, table="runs") -> int:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_two_overlapping_sweeps_train_each_run_once(store_path):
    first = _sweep(store_path, 0, 8)
    second = _sweep(store_path, 4, 8)  # seeds 4..11: 4..7 shared with the first
    a, b = _finish(first), _finish(second)
    assert a["total"] == b["total"] == 8
    assert a["trained"] + b["trained"] == 12  # 12 distinct runs, each trained once
    assert _count(store_path) == 12
    assert _count(store_path, "leases") == 0  # every claim released


def test_a_killed_claimant_does_not_leave_runs_stuck(store_path):
    lease = {"PARITY_FRONTIERS_LEASE_SECONDS": "3"}
    victim = _sweep(store_path, 0, 8, lease)
    deadline = time.monotonic() + 120
    while _count(store_path, "leases") == 0 or _count(store_path) < 1:
        assert victim.poll() is None, victim.stderr.read()[-800:]
        assert time.monotonic() < deadline, "the first sweep never claimed and stored a run"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    kept = _count(store_path)
    assert _count(store_path, "leases") > 0  # its claims are still there
    started = time.monotonic()
    rescue = _finish(_sweep(store_path, 0, 8, lease))
    assert rescue["trained"] == 8 - kept
    assert _count(store_path) == 8
    assert time.monotonic() - started < 120
