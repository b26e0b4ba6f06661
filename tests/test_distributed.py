"""The Dask executor (verify.distributed): same outcomes as the local executor, a worker killed
mid-task loses and duplicates nothing, failures are one ValueError, and the CLI options."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import socket
import sqlite3
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (a dependency of distributed)

import parity_frontiers.verify.experiments.distributed as dist_module  # noqa: E402
from parity_frontiers.cli import main  # noqa: E402
from parity_frontiers.verify.experiments.executors import make_executor  # noqa: E402
from parity_frontiers.verify.experiments.grid import build_grid  # noqa: E402
from parity_frontiers.verify.experiments.store import ResultsStore  # noqa: E402
from parity_frontiers.verify.experiments.sweep import run_sweep  # noqa: E402

# The worker processes cannot import this test module: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

OUTCOME = ("success", "steps_to_success", "end_reason", "steps_run")
# Tiny runs that learn (n 6..8, k 2): seconds for the whole grid.
TINY = dict(n=[6, 8], k=2, width=[8, 16], max_steps=300, eval_every=50, test_size=500)
# Runs that cannot learn (lr 1e-4) so each runs its whole budget: about 1.5 s a task here,
# long enough for a kill to land mid-task.
LONG = dict(n=8, k=2, width=16, max_steps=8000, eval_every=500, test_size=500, lr=1e-4)


@pytest.fixture(scope="module")
def executor():
    """One LocalCluster of 2 worker processes (nannies) on loopback for the module."""
    with make_executor("dask-local", workers=2, device="cpu", max_ensemble=2) as ex:
        yield ex


def stored(path) -> dict:
    """key -> outcome of every row in the store, after checking each key has one row."""
    with sqlite3.connect(path) as con:
        counts = con.execute("SELECT key, COUNT(*) FROM runs GROUP BY key").fetchall()
        assert all(count == 1 for _, count in counts), counts
        rows = con.execute(f"SELECT key, {', '.join(OUTCOME)}, test_error FROM runs").fetchall()
    return {row[0]: row[1:] for row in rows}


def assert_same_outcomes(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert got[key][:-1] == want[key][:-1], key
        assert got[key][-1] == pytest.approx(want[key][-1], abs=1e-6), key


def local_store(tmp_path, configs, name="local.db") -> dict:
    path = tmp_path / name
    with ResultsStore(path) as store:
        run_sweep(configs, store, device="cpu", progress=False)
    return stored(path)


# --- outcomes --------------------------------------------------------------------------------

def test_dask_local_sweep_matches_local_executor(executor, tmp_path):
    configs = build_grid(**TINY, seeds=3)
    path = tmp_path / "dask.db"
    calls = []
    with ResultsStore(path) as store:
        def add(result):
            calls.append(result.config.key())
            store.add(result)

        results = executor.train(configs, on_result=add, progress=False)
        again = run_sweep(configs, store, progress=False, executor=executor)
    assert [r.config.key() for r in results] == [c.key() for c in configs]
    assert sorted(calls) == sorted(c.key() for c in configs)  # once per key, in the driver
    assert again.trained == 0 and again.skipped == len(configs)  # resumed: nothing retrained
    got = stored(path)
    assert len(got) == len(configs) == 12
    assert_same_outcomes(got, local_store(tmp_path, configs))
    assert executor.describe().startswith("dask-local: local cluster, 2 worker(s)")


def test_same_ensemble_gets_the_same_task_key():
    configs = build_grid(**TINY, seeds=3)
    keys = {dist_module.ensemble_task_key(configs[i:i + 2]) for i in range(0, 12, 2)}
    assert len(keys) == 6
    assert dist_module.ensemble_task_key(configs[:2]) == dist_module.ensemble_task_key(
        list(configs[:2]))


# --- a worker killed mid-task ----------------------------------------------------------------

def _executing(dask_worker):
    return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]


def test_killed_worker_loses_and_duplicates_nothing(executor, tmp_path):
    configs = build_grid(**LONG, seeds=4, seed_start=1000)
    client = executor.client
    pids_before = set(pid for pid, _ in client.run(_executing).values())
    killed = []
    calls = []

    def kill_a_busy_worker():
        # Wait until a worker is actually executing one of our tasks, then SIGKILL it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for pid, keys in client.run(_executing, on_error="ignore").values():
                if any(k.startswith("parity-frontiers-ensemble-") for k in keys):
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, keys))
                    return
            time.sleep(0.05)

    path = tmp_path / "killed.db"
    with ResultsStore(path) as store:
        add_to_store = store.add

        def add(result):  # run_sweep's on_result, in the driver thread
            calls.append(result.config.key())
            add_to_store(result)
            if not killed:  # the first result: other tasks are queued or running
                kill_a_busy_worker()

        store.add = add

        executor.max_ensemble, saved = 1, executor.max_ensemble
        try:
            summary = run_sweep(configs, store, progress=False, executor=executor)
        finally:
            executor.max_ensemble = saved
    assert killed, "no worker was seen executing a task"
    assert killed[0][0] in pids_before
    assert summary.trained == len(configs) == 4
    assert sorted(calls) == sorted(c.key() for c in configs)  # every run once, none twice
    got = stored(path)
    assert all(row[2] == "max_steps" for row in got.values())  # the runs went their whole way
    assert_same_outcomes(got, local_store(tmp_path, configs))
    # the nanny restarted the killed worker: the cluster is whole again for the next test
    executor.client.wait_for_workers(2, timeout=60)
    pids_after = set(pid for pid, _ in client.run(_executing).values())
    assert killed[0][0] not in pids_after and len(pids_after - pids_before) == 1


# --- a task that raises ----------------------------------------------------------------------

def _fail_after_flag(configs, *args, flag, bad_width):
    if configs[0].n == 8 and configs[0].width == bad_width:
        deadline = time.monotonic() + 60
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        raise ValueError(f"boom on width {bad_width}")
    return dist_module._train_ensemble_task(configs, *args)


def test_failing_task_is_one_value_error_and_keeps_stored_runs(executor, tmp_path):
    configs = build_grid(**TINY, seeds=2, seed_start=500)
    flag = tmp_path / "first-result"
    executor._task = functools.partial(_fail_after_flag, flag=str(flag), bad_width=16)
    path = tmp_path / "failing.db"
    try:
        with ResultsStore(path) as store:
            def add(result):
                store.add(result)
                flag.touch()  # a run is stored: now let the bad task fail

            with pytest.raises(ValueError) as info:
                executor.train(configs, on_result=add, progress=False)
    finally:
        executor._task = dist_module._train_ensemble_task
    message = str(info.value)
    assert "\n" not in message
    assert "failed on the Dask cluster: boom on width 16" in message
    assert message.startswith("ensemble of 2 run(s) (n=8, k=2, width 16, m online, dense, "
                              "T 300, seeds 500..501)")
    got = stored(path)
    assert 2 <= len(got) <= 6  # one good ensemble before the flag, at most all three good ones
    assert set(got) <= {c.key() for c in configs if (c.n, c.width) != (8, 16)}


def test_version_mismatch_is_refused(executor):
    executor.driver_version, saved = "0.0.0-other", executor.driver_version
    try:
        with pytest.raises(ValueError, match=r"runs parity-frontiers .*this driver 0\.0\.0"):
            executor._check_workers()
    finally:
        executor.driver_version = saved


@pytest.mark.parametrize("answer, message", [
    (ModuleNotFoundError("No module named 'verify'"),
     "worker tcp://w:1 cannot run verify (ModuleNotFoundError: No module named 'verify'); "
     "install parity-frontiers there"),
    ({"version": "same", "pid": 1, "error": "CUDA requested but not available"},
     "worker tcp://w:1: CUDA requested but not available"),
])
def test_unfit_worker_is_refused(executor, monkeypatch, answer, message):
    # What client.run(..., on_error="return") hands back for such a worker.
    monkeypatch.setattr(executor, "driver_version", "same")
    monkeypatch.setattr(executor.client, "run", lambda *a, **k: {"tcp://w:1": answer})
    with pytest.raises(ValueError) as info:
        executor._check_workers()
    assert str(info.value) == message


def test_killed_worker_failure_text():
    exc = distributed.KilledWorker("parity-frontiers-ensemble-x", None, 3)
    text = dist_module._failure_text(exc)
    assert "allowed-failures = 3 (KilledWorker)" in text and "\n" not in text


def test_memory_cap_too_small_is_refused_before_submitting(executor):
    executor.memory_cap_bytes, saved = 1024, executor.memory_cap_bytes
    try:
        with pytest.raises(ValueError, match="does not fit in the memory cap"):
            executor.train(build_grid(**TINY), progress=False)
    finally:
        executor.memory_cap_bytes = saved


# --- make_executor and CLI errors ------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("kind, options, match", [
    ("spark", {}, "executor must be one of local, dask, dask-local"),
    ("local", {"scheduler": "tcp://127.0.0.1:8786"}, "scheduler address goes with"),
    ("dask-local", {"scheduler": "tcp://127.0.0.1:8786"}, "scheduler address goes with"),
    ("dask", {}, "needs --scheduler ADDRESS"),
    ("dask", {"scheduler": "tcp://127.0.0.1:8786", "workers": 2}, "worker count goes with"),
    ("local", {"threads_per_worker": 2}, "threads per worker go with"),
    ("dask-local", {"workers": 0}, "workers"),
    ("dask-local", {"device": "tpu"}, "device must be one of"),
])
def test_make_executor_errors(kind, options, match):
    with pytest.raises(ValueError, match=match):
        make_executor(kind, **options)


def test_unreachable_scheduler_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(dist_module, "DEFAULT_CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(ValueError) as info:
        make_executor("dask", scheduler=address)
    assert time.monotonic() - start < 20
    assert str(info.value).startswith(f"cannot reach the Dask scheduler at {address} within 1 s")
    assert "\n" not in str(info.value)


def test_dask_missing_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(ValueError, match=r'pip install "parity-frontiers\[distributed\]"'):
        make_executor("dask-local", workers=1)


def cli_error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("parity-frontiers sweep: error: "), err
    return err


def test_cli_bad_executor_combinations_exit_2_without_a_store(capsys, tmp_path, monkeypatch):
    store = tmp_path / "s.db"
    base = ["sweep", "--store", str(store), "--n", "6", "--k", "2", "--width", "8"]
    assert "--executor dask only" in cli_error(capsys, *base, "--scheduler", "tcp://h:1")
    assert "needs --scheduler" in cli_error(capsys, *base, "--executor", "dask")
    assert "dask-local only" in cli_error(capsys, *base, "--workers", "2")
    monkeypatch.setattr(dist_module, "DEFAULT_CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{closed_port()}"
    assert f"cannot reach the Dask scheduler at {address}" in cli_error(
        capsys, *base, "--executor", "dask", "--scheduler", address)
    assert not store.exists()  # nothing created for a command that fails on its options


@pytest.mark.parametrize("command", [
    ["sweep", "--n", "30", "--k", "3", "--width", "16", "--samples", "1000"],
    ["frontier", "--n", "30", "--k", "3", "--widths", "16"],
])
def test_cli_run_that_cannot_fit_writes_no_store_on_dask(capsys, tmp_path, command):
    store = tmp_path / "s.db"
    assert main([*command, "--store", str(store), "--executor", "dask-local", "--workers", "1",
                 "--device", "cpu", "--memory-cap", "0.00001"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"parity-frontiers {command[0]}: error: ") and err.count("\n") == 1
    assert "does not fit in the memory cap" in err
    assert not store.exists()


def test_cli_sweep_on_dask_local_end_to_end(capsys, tmp_path):
    grid = ["--n", "6", "8", "--k", "2", "--width", "8", "--seeds", "2", "--max-steps", "300",
            "--eval-every", "50", "--test-size", "500", "--device", "cpu", "--no-progress"]
    dask_db, local_db = tmp_path / "dask.db", tmp_path / "local.db"
    assert main(["sweep", "--store", str(dask_db), *grid, "--executor", "dask-local",
                 "--workers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"].startswith("dask-local: local cluster, 2 worker(s) x 1 thread(s)")
    assert (out["total"], out["trained"], out["skipped"]) == (4, 4, 0)
    assert sum(p["runs"] for p in out["cells"]) == 4
    assert main(["sweep", "--store", str(local_db), *grid]) == 0
    table = capsys.readouterr().out
    assert "4 trained now" in table and "executor local (cpu)" in table
    assert_same_outcomes(stored(dask_db), stored(local_db))
    assert out["successes"] == sum(row[0] for row in stored(local_db).values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lost_scheduler_is_one_value_error_and_keeps_stored_runs(tmp_path):
    """A real scheduler process killed while its worker trains: one ValueError saying so."""
    import subprocess

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", "127.0.0.1:0"], **quiet)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the scheduler to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "scheduler did not start"
                time.sleep(0.2)
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                   "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                  **quiet)
        executor = make_executor("dask", scheduler=address, device="cpu", max_ensemble=1)
        executor.client.wait_for_workers(1, timeout=60)
        configs = build_grid(**LONG, seeds=4)
        stored_keys = []

        def store_then_kill(result):
            stored_keys.append(result.config.key())
            if len(stored_keys) == 1:
                scheduler.kill()

        with pytest.raises(ValueError, match="lost the Dask scheduler .* run the same command "
                                             "again to resume"):
            executor.train(configs, on_result=store_then_kill, progress=False)
        assert len(stored_keys) >= 1
        try:
            executor.close()
        except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
            pass
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.kill()
                process.wait()


def test_frontier_search_on_dask_equals_the_local_search(executor, tmp_path):
    """The adaptive search through the Dask executor makes the same decisions as locally."""
    from parity_frontiers.verify.experiments.executors import LocalExecutor
    from parity_frontiers.verify.experiments.frontier_search import (
        SearchSettings,
        curve_templates,
        search_frontiers,
    )

    templates = curve_templates(8, 2, [16, 32], max_steps=600, eval_every=100, test_size=256)
    settings = SearchSettings(m_min=10, m_max=1000, points_per_decade=6, max_runs=16, tol=0.2)
    found = {}
    for name, ex in (("local", LocalExecutor("cpu")), ("dask", executor)):
        with ResultsStore(tmp_path / f"{name}.db") as store:
            found[name] = search_frontiers(templates, ex, store=store, settings=settings,
                                           progress=False)
        stored(tmp_path / f"{name}.db")  # every key once
    assert [f.cells for f in found["dask"]] == [f.cells for f in found["local"]]
    assert [f.status for f in found["dask"]] == [f.status for f in found["local"]]
    assert all(f.trained == f.runs > 0 for f in found["dask"])


def test_an_error_of_on_result_is_not_taken_for_a_lost_scheduler(executor):
    configs = build_grid(**TINY, seeds=1)

    def full_disk(result):
        raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space left"):
        executor.train(configs, on_result=full_disk, progress=False)
