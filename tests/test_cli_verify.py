"""The train / sweep / results export subcommands: JSON keys, one-line errors, kill and resume."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_verify_sweep import FakeTrainer, fake_outcome  # tests/ is on sys.path (rootdir)

import parity_frontiers.verify.experiments.local as local_module
from parity_frontiers.cli import main
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.store import COLUMNS, ResultsStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "verify" / "examples" / "sweep_small.toml"
TINY = ["--max-steps", "200", "--eval-every", "50", "--test-size", "500"]
RUN_KEYS = {"seed", "success", "steps_to_success", "test_error", "train_error", "end_reason"}
OUTCOME = ("success", "steps_to_success", "test_error", "train_error", "end_reason", "steps_run")


@pytest.fixture
def fake(monkeypatch):
    trainer = FakeTrainer()
    monkeypatch.setattr(local_module, "_trainer_module", lambda: trainer)
    return trainer


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_error(capsys, *argv) -> str:
    """Run a failing command: status 2 and exactly one line on stderr, returned."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.endswith("\n") and err.count("\n") == 1, err
    command = " ".join(argv[:2]) if argv[0] == "results" else argv[0]
    assert err.startswith(f"parity-frontiers {command}: error: "), err
    assert "Traceback" not in err
    return err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- train -------------------------------------------------------------------------------------

def test_train_json_keys_and_wilson(fake, capsys):
    out = run_json(capsys, "train", "--n", "6", "--k", "2", "--width", "16", "--samples", "200",
                   "--seeds", "7", *TINY)
    assert set(out) == {"runs", "success_rate", "ci_low", "ci_high", "config"}
    assert [r["seed"] for r in out["runs"]] == list(range(7))
    for run in out["runs"]:
        assert set(run) == RUN_KEYS
        assert run["success"] is (run["steps_to_success"] is not None)
    wins = sum(r["success"] for r in out["runs"])
    expected = proportion_estimate(wins, 7)
    assert out["success_rate"] == pytest.approx(expected.estimate, abs=0)
    assert out["ci_low"] == pytest.approx(expected.ci_low, rel=1e-12)
    assert out["ci_high"] == pytest.approx(expected.ci_high, rel=1e-12)
    config = out["config"]
    assert "seed" not in config
    assert (config["n"], config["k"], config["width"], config["samples"]) == (6, 2, 16, 200)
    assert (config["max_steps"], config["eval_every"], config["test_size"]) == (200, 50, 500)
    assert config["lr"] == 0.1 and config["loss"] == "hinge"  # the paper's defaults


def test_train_online_sparse_and_table(fake, capsys):
    out = run_json(capsys, "train", "--n", "8", "--k", "3", "--width", "16", "--online",
                   "--init", "sparse", "--s", "2", "--seeds", "3", "--seed-start", "10", *TINY)
    assert out["config"]["samples"] is None and out["config"]["s"] == 2
    assert [r["seed"] for r in out["runs"]] == [10, 11, 12]
    assert main(["train", "--n", "8", "--k", "3", "--width", "16", "--seeds", "2", *TINY]) == 0
    text = capsys.readouterr().out
    assert "steps to success" in text and "success rate" in text and "Wilson 95% CI" in text
    assert "m online" in text


def test_train_store_saves_and_reuses(fake, capsys, tmp_path):
    store = str(tmp_path / "runs.db")
    argv = ["train", "--n", "6", "--k", "2", "--width", "16", "--seeds", "4", "--store", store,
            *TINY]
    first = run_json(capsys, *argv)
    assert sum(len(call) for call in fake.calls) == 4
    fake.calls.clear()
    second = run_json(capsys, *argv)
    assert fake.calls == [] and second == first
    with ResultsStore(store) as s:
        assert s.count() == 4


@pytest.mark.parametrize("argv, match", [
    (["--n", "5", "--k", "6", "--width", "8"], "k must be <= n"),
    (["--n", "5", "--k", "2", "--width", "8", "--init", "sparse", "--s", "9"], "s must be <= n"),
    (["--n", "5", "--k", "2", "--width", "8", "--init", "sparse"], "needs --s"),
    (["--n", "5", "--k", "2", "--width", "8", "--s", "2"], "only meaningful with init='sparse'"),
    (["--n", "5", "--k", "2", "--width", "8", "--seed-start", "-1"], "seed must be >= 0"),
    (["--n", "5", "--k", "2", "--width", "8", "--seeds", "0"], "--seeds: must be >= 1"),
    (["--n", "5", "--k", "2", "--width", "-3"], "width must be >= 1"),
    (["--n", "5", "--k", "2", "--width", "8", "--samples", "many"], "integer or 'online'"),
    (["--n", "5", "--k", "2", "--width", "8", "--samples", "10", "--online"], "not allowed"),
    (["--n", "5", "--k", "2", "--width", "8", "--lr", "0"], "lr must be > 0"),
    (["--n", "5", "--k", "2", "--width", "8", "--loss", "l1"], "invalid choice"),
    (["--n", "5", "--k", "2", "--width", "8", "--max-ensemble", "0"], "must be >= 1"),
])
def test_train_bad_input(fake, capsys, argv, match):
    err = run_error(capsys, "train", *argv)
    assert match in err
    assert fake.calls == []


def test_cuda_without_gpu(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    err = run_error(capsys, "train", "--n", "5", "--k", "2", "--width", "8", "--device", "cuda")
    assert "CUDA is not available" in err


@pytest.mark.parametrize("command", ["train", "sweep", "export"])
def test_corrupt_or_foreign_store(fake, capsys, tmp_path, command):
    for name, make in (("junk.db", lambda p: p.write_bytes(b"\x00\x01not sqlite" * 300)),
                       ("other.db", _foreign_db)):
        path = tmp_path / name
        make(path)
        before = sha256(path)
        argv = {"train": ["train", "--n", "6", "--k", "2", "--width", "8", "--store", str(path)],
                "sweep": ["sweep", "--n", "6", "--k", "2", "--width", "8", "--store", str(path)],
                "export": ["results", "export", "--store", str(path), "--out",
                           str(tmp_path / "out.csv")]}[command]
        err = run_error(capsys, *argv)
        assert str(path) in err and "untouched" in err
        assert sha256(path) == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name)) == [name]
    assert fake.calls == []


def test_store_damaged_after_open_check(fake, capsys, tmp_path):
    # The review's reproduction: a sweep store of 30 runs whose last 4096 bytes are overwritten
    # passes the open-time check; rerunning with more seeds trained the new runs and then died
    # with a traceback in store.add, and export died in rows().
    import random

    store = tmp_path / "g.db"
    grid = ["sweep", "--n", "6", "--k", "2", "--width", "8", *TINY, "--store", str(store)]
    run_json(capsys, *grid, "--seeds", "30")
    size = store.stat().st_size
    with open(store, "r+b") as handle:
        handle.seek(size - 4096)
        handle.write(random.Random(0).randbytes(4096))
    fake.calls.clear()
    err = run_error(capsys, *grid, "--seeds", "40")
    assert f"{store} is a damaged results store" in err
    assert fake.calls == []  # found before training
    out = tmp_path / "out.csv"
    err = run_error(capsys, "results", "export", "--store", str(store), "--out", str(out))
    assert f"{store} is a damaged results store" in err
    assert not out.exists()


def test_store_on_read_only_storage_simulated(fake, capsys, tmp_path, monkeypatch):
    # SQLite's failure to create -shm is simulated (tests/test_verify_store.py has the real
    # read-only mount): export reads the store, train and sweep name the real cause.
    from test_verify_store import _without_shm

    store = _filled_store(capsys, tmp_path)
    _without_shm(monkeypatch)
    out = run_json(capsys, "results", "export", "--store", str(store), "--out",
                   str(tmp_path / "out.csv"))
    assert out["runs"] == 6
    for command in ("sweep", "train"):
        err = run_error(capsys, command, "--n", "6", "--k", "2", "--width", "16", "--seeds", "4",
                        *TINY, "--store", str(store))
        assert f"cannot write to results store {store}: its directory" in err
        assert "damaged" not in err


def _foreign_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()


# --- sweep -------------------------------------------------------------------------------------

def test_sweep_json_and_rerun(fake, capsys, tmp_path):
    store = str(tmp_path / "runs.db")
    argv = ["sweep", "--n", "6", "8", "--k", "2", "--width", "16", "32", "--samples", "100",
            "online", "--init", "dense", "sparse", "--s", "2", "--seeds", "3", "--store", store,
            *TINY]
    out = run_json(capsys, *argv)
    points = 2 * 2 * 2 * 2
    assert (out["total"], out["skipped"], out["trained"]) == (points * 3, 0, points * 3)
    assert len(out["cells"]) == points
    assert {(p["init"], p["s"]) for p in out["cells"]} == {("dense", None), ("sparse", 2)}
    fake.calls.clear()
    again = run_json(capsys, *argv)
    assert fake.calls == []
    assert (again["skipped"], again["trained"]) == (points * 3, 0)
    assert again["successes"] == out["successes"] and again["cells"] == out["cells"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "48 already stored, 0 trained now" in text and "success rate [Wilson 95%]" in text


def test_sweep_median_counts_failed_runs(fake, capsys, tmp_path, monkeypatch):
    # Two of three runs fail: the median of the one success (100 steps) is not the point's
    # median time to success, which is beyond T = 200. The table says "> 200", JSON None.
    import test_verify_sweep

    def outcome(config):
        if config.seed == 0:
            return RunResult(config, True, 100, 0.05, 0.0, "success", 100)
        return RunResult(config, False, None, 0.4, 0.2, "max_steps", config.max_steps)

    monkeypatch.setattr(test_verify_sweep, "fake_outcome", outcome)
    argv = ["sweep", "--n", "6", "--k", "2", "--width", "8", "--seeds", "3", *TINY, "--store",
            str(tmp_path / "runs.db")]
    (point,) = run_json(capsys, *argv)["cells"]
    assert point["successes"] == 1 and point["median_steps_to_success"] is None
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "median steps to success (KM)" in text and "> 200" in text
    assert "Kaplan-Meier median over all runs" in text and "censored at max_steps" in text


def test_sweep_from_toml(fake, capsys, tmp_path):
    out = run_json(capsys, "sweep", "--config", str(EXAMPLE), "--store",
                   str(tmp_path / "runs.db"))
    assert out["total"] == 96 and len(out["cells"]) == 24


@pytest.mark.parametrize("argv, match", [
    (["--config", "EXAMPLE", "--n", "10"], "--config sets the whole grid; drop --n"),
    (["--config", "EXAMPLE", "--lr", "0.5"], "drop --lr"),
    (["--k", "2", "--width", "8"], "give --n"),
    (["--n", "6", "8", "--k", "7", "--width", "8"], "invalid grid point (n=6, k=7"),
    (["--config", "MISSING"], "does not exist"),
    (["--config", "BAD"], "is not valid TOML"),
    (["--n", "6", "--k", "2", "--width", "8", "--seeds", "0"], "must be >= 1"),
    (["--n", "6", "--k", "2", "--width", "8", "--seeds", "1e9"],
     "the grid has 1,000,000,000 runs (1 point(s) x 1,000,000,000 seed(s)), more than"),
    (["--n", "6", "--k", "2", "--width", "8", "--seeds", "1e30"], "the grid has 1e+30 runs"),
    (["--n", "6", "--k", "2", "--width", "8", "--seeds", "2", "--seed-start",
      "9223372036854775807"], "every seed must be < 2**63"),
    (["--n", "6", "--k", "2", "--width", "8", "--seed-start", "1e30"],
     "--seed-start must be < 2**63"),
])
def test_sweep_bad_input(fake, capsys, tmp_path, argv, match):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nn = [6,\n")
    paths = {"EXAMPLE": str(EXAMPLE), "MISSING": str(tmp_path / "none.toml"), "BAD": str(bad)}
    argv = [paths.get(a, a) for a in argv]
    err = run_error(capsys, "sweep", *argv, "--store", str(tmp_path / "runs.db"))
    assert match in err
    assert fake.calls == []


def test_sweep_requires_store(capsys):
    err = run_error(capsys, "sweep", "--n", "6", "--k", "2", "--width", "8")
    assert "--store" in err


# --- results export ----------------------------------------------------------------------------

def _filled_store(capsys, tmp_path) -> Path:
    store = tmp_path / "runs.db"
    run_json(capsys, "sweep", "--n", "6", "--k", "2", "--width", "16", "--samples", "100",
             "online", "--seeds", "3", "--store", str(store), *TINY)
    return store


def test_export_csv_round_trip(fake, capsys, tmp_path):
    store = _filled_store(capsys, tmp_path)
    out_path = tmp_path / "runs.csv"
    out = run_json(capsys, "results", "export", "--store", str(store), "--out", str(out_path))
    assert out == {"store": str(store), "out": str(out_path), "format": "csv", "kind": "parity",
                   "runs": 6}
    with open(out_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    with ResultsStore(store) as s:
        stored = s.rows()
    for row, want in zip(rows, stored, strict=True):
        assert row == {k: "" if v is None else str(v) for k, v in want.items()}
        outcome = fake_outcome(RunConfig.from_dict(json.loads(row["config_json"])))
        assert row["success"] == str(outcome.success)
    # explicit format with another extension, and the table output
    assert main(["results", "export", "--store", str(store), "--out",
                 str(tmp_path / "runs.txt"), "--format", "csv"]) == 0
    assert "exported 6 run(s)" in capsys.readouterr().out


def test_export_parquet(fake, capsys, tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    store = _filled_store(capsys, tmp_path)
    out_path = tmp_path / "runs.parquet"
    out = run_json(capsys, "results", "export", "--store", str(store), "--out", str(out_path))
    assert out["format"] == "parquet" and out["runs"] == 6
    frame = pandas.read_parquet(out_path)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 6
    assert frame["samples"].isna().sum() == 3


def test_export_errors(fake, capsys, tmp_path):
    store = _filled_store(capsys, tmp_path)
    err = run_error(capsys, "results", "export", "--store", str(store), "--out",
                    str(tmp_path / "runs.txt"))
    assert "infer the export format" in err
    err = run_error(capsys, "results", "export", "--store", str(tmp_path / "no.db"), "--out",
                    str(tmp_path / "x.csv"))
    assert "does not exist" in err
    assert not (tmp_path / "no.db").exists()


# --- option values ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["train", "sweep"])
def test_memory_cap_in_gib(fake, capsys, tmp_path, command, monkeypatch):
    import parity_frontiers.verify.experiments.executors as executors_module

    caps = []
    real = local_module.plan_ensembles

    def spy(configs, device="auto", memory_cap_bytes=None, max_ensemble=None):
        caps.append(memory_cap_bytes)
        return real(configs, device, memory_cap_bytes, max_ensemble)

    # planned where the runs are trained, and (sweep) where the executor checks they fit
    monkeypatch.setattr(local_module, "plan_ensembles", spy)
    monkeypatch.setattr(executors_module, "plan_ensembles", spy)
    argv = [command, "--n", "6", "--k", "2", "--width", "8", "--seeds", "2", *TINY,
            "--memory-cap", "0.5"]
    if command == "sweep":
        argv += ["--store", str(tmp_path / "runs.db")]
    run_json(capsys, *argv)
    # 0.5 GiB in bytes, as simulate --memory-cap takes it (sweep also checks the plan before
    # it opens the store)
    assert caps == [2**29] * (1 if command == "train" else 2)


def test_sweep_that_cannot_fit_writes_no_store(capsys, tmp_path):
    err = run_error(capsys, "sweep", "--n", "30", "--k", "3", "--width", "16", "--samples",
                    "1000", "--store", str(tmp_path / "runs.db"), "--memory-cap", "0.00001")
    assert "does not fit in the memory cap" in err
    assert not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("value, match", [
    ("0", "must be a positive number of GiB"),
    ("-1", "must be a positive number of GiB"),
    ("1e-12", "'1e-12' GiB rounds to 0 bytes"),
    ("inf", "must be finite"),
    ("nan", "must be finite"),
    ("1e300", "must be at most 1048576 GiB"),
    ("2e9", "the cap is in GiB"),  # a byte count, as the option used to take
    ("lots", "must be a number"),
])
def test_memory_cap_bad_values(fake, capsys, tmp_path, value, match):
    for command in ("train", "sweep"):
        err = run_error(capsys, command, "--n", "6", "--k", "2", "--width", "8",
                        "--store", str(tmp_path / "runs.db"), "--memory-cap", value)
        assert "--memory-cap" in err and match in err
    assert fake.calls == [] and not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("value, match", [("1e30", "must be at most 1024"),
                                          ("1025", "must be at most 1024"),
                                          ("0", "must be >= 1")])
def test_threads_bad_values(fake, capsys, tmp_path, value, match):
    # --threads 1e30 reached torch: "Overflow when unpacking long long"
    for command in ("train", "sweep"):
        err = run_error(capsys, command, "--n", "6", "--k", "2", "--width", "8",
                        "--store", str(tmp_path / "runs.db"), "--threads", value)
        assert "--threads" in err and match in err
    assert fake.calls == []


def test_empty_store_path_refused(fake, capsys, tmp_path):
    # --store "" was taken as "no store": rc 0 and nothing stored.
    grid = ["--n", "6", "--k", "2", "--width", "8"]
    for argv in (["train", *grid, "--store", ""], ["sweep", *grid, "--store", ""],
                 ["results", "export", "--store", "", "--out", str(tmp_path / "x.csv")],
                 ["results", "export", "--store", str(tmp_path / "x.db"), "--out", ""]):
        err = run_error(capsys, *argv)
        assert "must not be empty" in err
    assert fake.calls == [] and list(tmp_path.iterdir()) == []


def test_directory_store_path_refused(fake, capsys, tmp_path):
    folder = tmp_path / "folder.db"
    folder.mkdir()
    grid = ["--n", "6", "--k", "2", "--width", "8"]
    for argv in (["train", *grid, "--store", str(folder)],
                 ["sweep", *grid, "--store", str(folder)],
                 ["results", "export", "--store", str(folder), "--out",
                  str(tmp_path / "x.csv")]):
        err = run_error(capsys, *argv)
        assert f"{folder} is a directory, not a results store" in err
    store = _filled_store(capsys, tmp_path)
    err = run_error(capsys, "results", "export", "--store", str(store), "--out", str(folder),
                    "--format", "csv")
    assert f"cannot write {folder}: it is a directory" in err
    assert list(folder.iterdir()) == []


# --- real training -----------------------------------------------------------------------------

def test_train_real_json(capsys):
    out = run_json(capsys, "train", "--n", "6", "--k", "2", "--width", "16", "--samples",
                   "200", "--seeds", "2", "--device", "cpu", *TINY)
    assert set(out) == {"runs", "success_rate", "ci_low", "ci_high", "config"}
    for run in out["runs"]:
        assert set(run) == RUN_KEYS
        assert 0 <= run["test_error"] <= 1 and 0 <= run["train_error"] <= 1
        if run["success"]:
            assert run["steps_to_success"] <= 200 and run["test_error"] <= 0.1
        else:
            assert run["steps_to_success"] is None


def test_threads_option_sets_torch_threads(capsys):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run_json(capsys, "train", "--n", "6", "--k", "2", "--width", "8", "--samples", "50",
                 "--device", "cpu", "--threads", "1", *TINY)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    run_error(capsys, "train", "--n", "6", "--k", "2", "--width", "8", "--threads", "0")


# --- kill -9 mid-sweep, resume, compare with an uninterrupted sweep -----------------------------

def _count(path: Path) -> int:
    """Stored runs, read without writing (0 while the store does not exist yet)."""
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _rows(path: Path) -> dict:
    with ResultsStore(path) as store:
        rows = store.rows()
    assert len({r["key"] for r in rows}) == len(rows)
    return {r["key"]: {f: r[f] for f in OUTCOME} for r in rows}


def test_kill_mid_sweep_then_resume(tmp_path, capsys):
    command = [sys.executable, "-m", "parity_frontiers"]
    # One torch thread: on a busy 2-core machine the tiny runs are faster without contention.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # 2 shapes x 6 seeds, one run per ensemble: each run is stored on its own, so a kill lands
    # between the first stored run and the last.
    sweep = ["sweep", "--n", "6", "7", "--k", "2", "--width", "16", "--samples", "200",
             "--seeds", "6", "--max-ensemble", "1", "--device", "cpu", *TINY]
    total = 12
    killed = tmp_path / "killed.db"
    proc = subprocess.Popen([*command, *sweep, "--json", "--store", str(killed)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _count(killed) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    stored = _count(killed)
    assert 1 <= stored < total, f"kill landed at {stored} of {total} stored runs"

    resumed = subprocess.run([*command, *sweep, "--json", "--store", str(killed)], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["total"], summary["skipped"], summary["trained"]) == (
        total, stored, total - stored)

    # The uninterrupted sweep (in this process: the same code, without another torch start).
    reference = tmp_path / "reference.db"
    straight = run_json(capsys, *sweep, "--store", str(reference))
    assert straight["cells"] == summary["cells"]
    assert _rows(killed) == _rows(reference)
    assert len(_rows(killed)) == total
