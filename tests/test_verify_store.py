"""The results store: round trip, no duplicates, WAL, crash safety, foreign files untouched, and
stores of schema 1 read unchanged and upgraded only by a write."""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from parity_frontiers.verify.config import RunConfig, RunResult, RunTrace
from parity_frontiers.verify.experiments.export import export, export_format, load_dataframe
from parity_frontiers.verify.experiments.store import (
    APPLICATION_ID,
    COLUMNS,
    CONFIG_COLUMNS,
    SCHEMA_VERSION,
    ResultsStore,
)
from parity_frontiers.verify.experiments.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]


def make_result(seed=0, success=True, **config) -> RunResult:
    config = {"n": 6, "k": 2, "width": 16, **config}
    return RunResult(RunConfig(seed=seed, **config), success,
                     150 if success else None, 0.05 if success else 0.45,
                     0.0 if success else 0.3, "success" if success else "max_steps",
                     150 if success else 200, wall_seconds=0.25, extra={"note": seed})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_rejected_untouched(path: Path, match: str) -> None:
    """Opening ``path`` raises a ValueError naming it, and leaves the folder as it was."""
    before = {p.name: sha256(p) for p in path.parent.iterdir()}
    with pytest.raises(ValueError, match=match) as info:
        ResultsStore(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    after = {p.name: sha256(p) for p in path.parent.iterdir()}
    assert after == before  # same bytes, and no -wal / -shm / -journal side files


# --- round trip --------------------------------------------------------------------------------

def test_columns_are_every_config_field():
    assert set(CONFIG_COLUMNS) == {f.name for f in fields(RunConfig)}
    assert COLUMNS[0] == "key" and len(set(COLUMNS)) == len(COLUMNS)


def test_round_trip_and_persistence(tmp_path):
    path = tmp_path / "runs.db"
    results = [make_result(0), make_result(1, success=False),
               make_result(2, samples=300, init="sparse", s=2, lr=0.05)]
    with ResultsStore(path) as store:
        assert store.count() == 0
        assert [store.add(r) for r in results] == [True, True, True]
        assert store.results() == results
    with ResultsStore(path) as store:  # reopened: everything persisted
        assert store.results() == results
        assert store.completed_keys() == {r.config.key() for r in results}
        assert len(store) == 3 and results[1].config.key() in store
        row = store.rows(seed=2)[0]
        assert row["samples"] == 300 and row["s"] == 2 and row["init"] == "sparse"
        assert row["success"] is True and row["steps_to_success"] == 150
        assert row["shape_key"] == results[2].config.shape_key()
        assert row["version"] and row["finished_at"]
        assert store.get(results[1].config.key()) == results[1]
        assert store.get("0" * 64) is None


def test_filters(tmp_path):
    with ResultsStore(tmp_path / "runs.db") as store:
        for seed in range(3):
            store.add(make_result(seed))
        store.add(make_result(0, samples=100))
        assert store.count(samples=None) == 3
        assert store.count(samples=100) == 1
        assert store.count(samples=[None, 100]) == 4
        assert store.count(seed=[1, 2], samples=None) == 2
        assert store.count(seed=[]) == 0
        keys = [make_result(1).config.key()]
        assert [r.config.seed for r in store.results(keys=keys)] == [1]
        # more keys than one statement may bind, in any order: rows come in insertion order
        many = [f"{i:064x}" for i in range(1200)] + [make_result(s).config.key() for s in (2, 0)]
        assert [r["seed"] for r in store.rows(keys=many[::-1], samples=None)] == [0, 2]
        assert store.rows(keys=[]) == []
        with pytest.raises(ValueError, match="unknown results column"):
            store.rows(colour="red")


def test_insert_or_ignore_never_duplicates(tmp_path):
    with ResultsStore(tmp_path / "runs.db") as store:
        first = make_result(5)
        assert store.add(first) is True
        # Same config and seed with another outcome: the first stored row wins, no new row.
        again = RunResult(first.config, False, None, 0.5, 0.5, "max_steps", 200)
        assert store.add(again) is False
        assert store.count() == 1
        assert store.results() == [first]


def test_wal_mode_and_application_id(tmp_path):
    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        assert store.journal_mode == "wal"
        store.add(make_result())
    header = path.read_bytes()[:100]
    assert header[18] == header[19] == 2  # WAL, recorded in the file header
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    meta = dict(con.execute("SELECT key, value FROM meta"))
    con.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    # No temporary creation file left behind (a read-only reader may leave -wal / -shm).
    assert {p.name for p in tmp_path.iterdir()} <= {"runs.db", "runs.db-wal", "runs.db-shm"}


def test_readonly(tmp_path):
    path = tmp_path / "runs.db"
    with pytest.raises(ValueError, match="does not exist"):
        ResultsStore(path, readonly=True)
    assert not path.exists()
    with ResultsStore(path) as store:
        store.add(make_result())
    with ResultsStore(path, readonly=True) as store:
        assert store.count() == 1 and store.results() == [make_result()]
        with pytest.raises(ValueError, match="read-only"):
            store.add(make_result(1))


def test_closed_store_refuses(tmp_path):
    store = ResultsStore(tmp_path / "runs.db")
    store.close()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.count()


def test_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "runs.db"
    path.touch()
    with ResultsStore(path) as store:
        store.add(make_result())
    with ResultsStore(path) as store:
        assert store.count() == 1


def damage_tail(path: Path, start: int) -> None:
    """Overwrite the bytes of ``path`` from offset ``start`` on with fixed random bytes."""
    import random

    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(random.Random(0).randbytes(size - start))


def test_damaged_pages_after_open_give_one_line_errors(tmp_path):
    # Pages 1-3 (schema, meta) intact: the store passes the open-time check. Every page of
    # `runs` and its indexes is damaged: every operation must say so in one line, not raise
    # sqlite3.DatabaseError.
    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        for seed in range(30):
            store.add(make_result(seed, success=seed % 3 > 0))
    damage_tail(path, 3 * 4096)
    for readonly in (False, True):
        with ResultsStore(path, readonly=readonly) as store:
            operations = [store.completed_keys, store.count, lambda: store.count(n=6),
                          store.rows, store.results, lambda: "0" * 64 in store,
                          lambda: store.get("0" * 64), store.check]
            if not readonly:
                operations.append(lambda: store.add(make_result(99)))
            for operation in operations:
                with pytest.raises(ValueError) as info:
                    operation()
                message = str(info.value)
                assert str(path) in message and "\n" not in message
                assert "damaged" in message
    with pytest.raises(ValueError, match="damaged"):
        export(path, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_check_passes_on_a_healthy_store(tmp_path):
    with ResultsStore(tmp_path / "runs.db") as store:
        store.add(make_result())
        store.check()
    with ResultsStore(tmp_path / "runs.db", readonly=True) as store:
        store.check()


# --- read-only storage -----------------------------------------------------------------------
#
# Reading a WAL database needs its -shm index, which SQLite cannot create on read-only storage:
# a healthy store there was reported "damaged (unable to open database file)". The first test
# is real (a read-only directory, or as root a read-only bind mount in a private mount
# namespace) and skips where neither can be made; the next two simulate SQLite's failure by
# monkeypatching, so they run everywhere but only cover the store's handling of that error.

READ_ONLY_SCRIPT = textwrap.dedent("""
    import sys
    from parity_frontiers.verify.experiments.store import ResultsStore
    from parity_frontiers.verify.experiments.export import export
    store, out = sys.argv[1], sys.argv[2]
    print("exported", export(store, out))
    with ResultsStore(store, readonly=True) as s:
        s.check()
        print("count", s.count())
    for target in (store, store.replace("runs.db", "new.db")):
        try:
            ResultsStore(target)
        except ValueError as exc:
            print("write:", exc)
""")


def test_read_only_storage_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "runs.db"
    with ResultsStore(path) as store:
        store.add(make_result(0))
        store.add(make_result(1, success=False))
    assert sorted(p.name for p in folder.iterdir()) == ["runs.db"]  # closed: no -wal / -shm
    out = tmp_path / "out.csv"
    script = [sys.executable, "-c", READ_ONLY_SCRIPT]
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            done = subprocess.run([*script, str(path), str(out)], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120)
        finally:
            folder.chmod(0o755)
    else:  # root writes through permission bits: mount the folder read-only instead
        probe = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$1" "$1" && '
                                'mount -o remount,ro,bind "$1" "$1" && ! touch "$1/x"', "sh",
                                str(folder)], capture_output=True, timeout=60)
        if probe.returncode != 0:
            pytest.skip("running as root without permission for a read-only bind mount")
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,ro,bind '
             '"$1" "$1" && shift && exec "$@"', "sh", str(folder), *script, str(path),
             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["exported 2", "count 2"], done.stdout
    assert lines[2].startswith(f"write: cannot write to results store {path}: its directory")
    assert "not writable" in lines[2] and "damaged" not in lines[2]
    assert lines[3] == (f"write: cannot create results store {folder / 'new.db'}: its "
                        f"directory {folder} is not writable")
    with open(out, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["runs.db"]


def _without_shm(monkeypatch):
    """Make SQLite fail as on read-only storage: a read-only open that is not immutable, and a
    writable open, raise "unable to open database file"; the folder reads as not writable."""
    real_connect = sqlite3.connect

    def connect(database, *args, **kwargs):
        if (kwargs.get("uri") and "immutable=1" not in str(database)) or not kwargs.get("uri"):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    import parity_frontiers.verify.experiments.store as store_module
    real_access = os.access
    monkeypatch.setattr(store_module.sqlite3, "connect", connect)
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode: False if mode == os.W_OK else real_access(p, mode))


def test_read_only_storage_simulated(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        store.add(make_result(0))
    _without_shm(monkeypatch)
    assert export(path, tmp_path / "out.csv") == 1
    with ResultsStore(path, readonly=True) as store:
        assert store.results() == [make_result(0)]
    with pytest.raises(ValueError) as info:
        ResultsStore(path)
    message = str(info.value)
    assert message.startswith(f"cannot write to results store {path}: its directory")
    assert "not writable" in message and "damaged" not in message
    with pytest.raises(ValueError, match="cannot create results store .* not writable$"):
        ResultsStore(tmp_path / "new.db")


def test_read_only_storage_refuses_unmerged_wal(tmp_path, monkeypatch):
    # A store copied with a -wal log that still holds commits (its writer never closed it):
    # the immutable fallback would not see them, so it must refuse rather than miss runs.
    import shutil

    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        store.add(make_result(0))
        copy = tmp_path / "copy"
        copy.mkdir()
        shutil.copy(path, copy / "runs.db")
        store.add(make_result(1))  # in runs.db-wal until the last connection closes
        shutil.copy(f"{path}-wal", copy / "runs.db-wal")
    assert (copy / "runs.db-wal").stat().st_size > 0
    with ResultsStore(copy / "runs.db", readonly=True) as store:  # normal storage: all of it
        assert store.count() == 2
    (copy / "runs.db-shm").unlink(missing_ok=True)
    _without_shm(monkeypatch)
    with pytest.raises(ValueError, match="runs.db-wal holds runs not yet in the main file"):
        export(copy / "runs.db", tmp_path / "out.csv")


def test_killed_writer_keeps_committed_runs(tmp_path):
    # A process SIGKILLed right after add() returns, without close(): the run is in the -wal
    # log only, and the next open must see it.
    path = tmp_path / "runs.db"
    script = textwrap.dedent(f"""
        import os, signal
        from parity_frontiers.verify.config import RunConfig, RunResult
        from parity_frontiers.verify.experiments.store import ResultsStore
        store = ResultsStore({str(path)!r})
        for seed in range(3):
            store.add(RunResult(RunConfig(n=6, k=2, width=16, seed=seed), True, 100, 0.0, 0.0,
                                "success", 100))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr
    with ResultsStore(path) as store:
        assert store.count() == 3


# --- foreign and damaged files ----------------------------------------------------------------

def test_random_bytes_rejected_untouched(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(os.urandom(5000))
    assert_rejected_untouched(path, "not a parity-frontiers results store")


def test_truncated_sqlite_header_rejected_untouched(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x10\x00")
    assert_rejected_untouched(path, "not a parity-frontiers results store")


@pytest.mark.parametrize("wal", [False, True])
def test_foreign_sqlite_rejected_untouched(tmp_path, wal):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('Ada')")
    con.commit()
    con.close()
    assert_rejected_untouched(path, "another program")


def test_foreign_application_id_rejected_untouched(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 1234")
    con.execute("CREATE TABLE runs (key TEXT)")  # even with a table of the same name
    con.commit()
    con.close()
    assert_rejected_untouched(path, "another program")


def test_our_id_without_our_tables_rejected_untouched(tmp_path):
    path = tmp_path / "fake.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    assert_rejected_untouched(path, "lacks its tables")


def test_newer_schema_rejected(tmp_path):
    path = tmp_path / "runs.db"
    ResultsStore(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="newer"):
        ResultsStore(path)


def test_directory_and_missing_parent(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        ResultsStore(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        ResultsStore(tmp_path / "nowhere" / "runs.db")


# --- export ------------------------------------------------------------------------------------

@pytest.fixture
def filled_store(tmp_path):
    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        store.add(make_result(0))
        store.add(make_result(1, success=False, samples=1000))
        store.add(make_result(2, init="sparse", s=3))
        rows = store.rows()
    return path, rows


def test_export_csv_round_trip(filled_store, tmp_path):
    path, rows = filled_store
    out = tmp_path / "runs.csv"
    assert export(path, out) == 3
    with open(out, newline="") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == list(COLUMNS)
    for got, want in zip(read, rows, strict=True):
        assert got == {k: "" if v is None else str(v) for k, v in want.items()}


def test_export_parquet_round_trip(filled_store, tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path, rows = filled_store
    out = tmp_path / "runs.parquet"
    assert export(path, out) == 3
    frame = pandas.read_parquet(out)
    pandas.testing.assert_frame_equal(frame, load_dataframe(path).drop(columns="online"))
    assert list(frame["seed"]) == [0, 1, 2]
    assert frame["samples"].isna().tolist() == [True, False, True]
    assert frame["success"].tolist() == [True, False, True]


def test_export_format_and_errors(filled_store, tmp_path):
    path, _ = filled_store
    assert export_format("a.CSV") == "csv" and export_format("a.pq") == "parquet"
    assert export_format("a.txt", "csv") == "csv"
    with pytest.raises(ValueError, match="infer"):
        export(path, tmp_path / "runs.txt")
    with pytest.raises(ValueError, match="format must be"):
        export(path, tmp_path / "runs.txt", "xlsx")
    with pytest.raises(ValueError, match="refusing"):
        export(path, path, "csv")
    with pytest.raises(ValueError, match="does not exist"):
        export(tmp_path / "missing.db", tmp_path / "x.csv")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_failed_export_leaves_existing_output(filled_store, tmp_path, monkeypatch, fmt):
    # The export was written in place: a failure half-way (disk full...) truncated the old
    # file. Now it goes to a temporary file that replaces the output only when complete.
    path, _ = filled_store
    out = tmp_path / f"runs.{fmt}"
    out.write_bytes(b"the previous export\n")

    def fail_after_part(target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"part")
        raise OSError(28, "No space left on device")

    if fmt == "csv":
        monkeypatch.setattr(csv.DictWriter, "writerows",
                            lambda self, rows: fail_after_part(self.writer_target))
        real_init = csv.DictWriter.__init__

        def init(self, handle, *args, **kwargs):
            real_init(self, handle, *args, **kwargs)
            self.writer_target = handle.name
        monkeypatch.setattr(csv.DictWriter, "__init__", init)
    else:
        pandas = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        monkeypatch.setattr(pandas.DataFrame, "to_parquet",
                            lambda self, target, **kwargs: fail_after_part(target))
    with pytest.raises(ValueError, match=f"cannot write {out}: No space left on device"):
        export(path, out)
    assert out.read_bytes() == b"the previous export\n"
    # no temporary file left (a read-only reader may leave the store's -wal / -shm)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("runs.db")] == [
        out.name]


def test_export_replaces_keeping_mode_and_symlink(filled_store, tmp_path):
    path, _ = filled_store
    out = tmp_path / "runs.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    assert export(path, out) == 3
    assert out.read_text().startswith("key,") and (out.stat().st_mode & 0o777) == 0o640
    fresh = tmp_path / "fresh.csv"
    umask = os.umask(0o022)
    try:
        export(path, fresh)
    finally:
        os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o644  # as a plain open would make it
    link = tmp_path / "link.csv"
    link.symlink_to(out)
    out.write_text("old\n")
    export(path, link)  # written through the link, as before
    assert link.is_symlink() and out.read_text().startswith("key,")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("runs.db")) == [
        "fresh.csv", "link.csv", "runs.csv"]


def test_export_output_paths_refused(filled_store, tmp_path):
    path, _ = filled_store
    with pytest.raises(ValueError, match="is a directory"):
        export(path, tmp_path, "csv")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ValueError, match="folder.csv: it is a directory"):
        export(path, folder)
    with pytest.raises(ValueError, match="output path is empty"):
        export(path, "", "csv")
    with pytest.raises(ValueError, match="store path is empty"):
        export("", tmp_path / "x.csv")


# --- schema 2: the activation column, and stores of schema 1 ------------------------------------

V1_REFERENCE = ROOT / "figures" / "reference" / "cpu" / "runs.db"  # written by schema 1


def _v1_copy(tmp_path) -> Path:
    path = tmp_path / "v1.db"
    path.write_bytes(V1_REFERENCE.read_bytes())
    return path


def _meta(path: Path) -> dict:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta"))
    finally:
        con.close()


def test_activation_and_sparse_gaussian_round_trip(tmp_path):
    path = tmp_path / "runs.db"
    results = [make_result(0), make_result(1, activation="abs"),
               make_result(2, init="sparse-gaussian", s=2, activation="abs")]
    with ResultsStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert [store.add(r) for r in results] == [True, True, True]
    with ResultsStore(path, readonly=True) as store:
        assert store.results() == results
        assert store.count(activation="abs") == 2 and store.count(activation="relu") == 1
        row = store.rows(init="sparse-gaussian")[0]
        assert (row["activation"], row["s"]) == ("abs", 2)
        assert store.results(activation=["relu"]) == results[:1]
    assert _meta(path)["schema_version"] == "3"


def test_a_schema_1_store_is_read_as_relu_without_a_byte_changing(tmp_path):
    path = _v1_copy(tmp_path)
    before = sha256(path)
    assert _meta(path)["schema_version"] == "1"
    with ResultsStore(path, readonly=True) as store:
        assert store.schema_version == 1
        total = store.count()
        assert total == 2560 and store.count(activation="relu") == total
        assert store.count(activation="abs") == 0 and store.count(activation=["abs"]) == 0
        assert store.count(activation=["abs", "relu"], init="sparse") == store.count(init="sparse")
        assert {row["activation"] for row in store.rows()} == {"relu"}
        results = store.results(activation="relu")
        assert len(results) == total and {r.config.activation for r in results} == {"relu"}
        # its keys are still its configs' keys: a sweep over the same grid skips every run
        assert store.completed_keys() == {r.config.key() for r in results}
    out = tmp_path / "v1.csv"
    assert export(path, out) == total
    with open(out, newline="") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == list(COLUMNS) and {r["activation"] for r in read} == {"relu"}
    assert sha256(path) == before
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_committed_reference_stores_stay_byte_identical_when_reported_on():
    from parity_frontiers.figures.report import load_results

    stores = [V1_REFERENCE, *sorted((ROOT / "figures" / "reference" / "frontier_search")
                                    .rglob("*.db"))]
    before = {p: sha256(p) for p in stores}
    for path in stores:
        results = load_results(path)  # what `report` and `plot` read, read-only
        assert results and {r.config.activation for r in results} == {"relu"}
    assert {p: sha256(p) for p in stores} == before


def test_resuming_a_finished_sweep_leaves_a_schema_1_store_untouched(tmp_path):
    path = _v1_copy(tmp_path)
    before = sha256(path)
    with ResultsStore(path) as store:  # opened for writing, as a sweep does
        configs = [r.config for r in store.results()]
        summary = run_sweep(configs, store, device="cpu", progress=False)
        assert (summary.total, summary.skipped, summary.trained) == (2560, 2560, 0)
        store.check()
    assert sha256(path) == before and _meta(path)["schema_version"] == "1"


def test_the_first_write_upgrades_a_schema_1_store_in_place(tmp_path):
    path = _v1_copy(tmp_path)
    with ResultsStore(path, readonly=True) as store:
        old = store.results()
    first, second = ResultsStore(path), ResultsStore(path)  # e.g. two sweeps at once
    try:
        assert first.schema_version == second.schema_version == 1
        assert first.add(make_result(0, activation="abs"))
        assert first.schema_version == 3
        meta = _meta(path)
        assert (meta["schema_version"], meta["upgraded_from"]) == ("3", "1")
        assert meta["upgraded_at"] and meta["upgraded_by"].startswith("parity-frontiers")
        # the other connection still thinks schema 1: it sees the new column and row, and its
        # own upgrade finds the work done
        assert second.count(activation="abs") == 1
        assert second.add(make_result(1, init="sparse-gaussian", s=2))
        assert second.schema_version == 3
    finally:
        first.close()
        second.close()
    with ResultsStore(path, readonly=True) as store:
        assert store.schema_version == 3
        assert store.results(keys=[r.config.key() for r in old]) == old
        assert store.count(activation="relu") == len(old) + 1
        assert [r.config.activation for r in store.results(activation="abs")] == ["abs"]
    con = sqlite3.connect(path)
    try:
        columns = {row[1]: row for row in con.execute("PRAGMA table_info(runs)")}
    finally:
        con.close()
    assert columns["activation"][3] == 1 and columns["activation"][4] == "'relu'"  # NOT NULL


def test_a_store_lacking_columns_of_its_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "runs.db"
    ResultsStore(path).close()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE runs DROP COLUMN activation")  # schema 2 says it must be there
    con.commit()
    con.close()
    before = sha256(path)
    for readonly in (True, False):
        with pytest.raises(ValueError, match="schema 3 that lacks the columns activation"):
            ResultsStore(path, readonly=readonly)
    assert sha256(path) == before


# --- schema 3: learning curves and compute time ------------------------------------------------

def make_trace(points=40, test_size=10_000, plateau=20, seed=0) -> RunTrace:
    """A grokking-like curve: errors are counts over the samples counted (early give-up on
    some evaluations), train error measured on every other evaluation only."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, points + 1, dtype=np.int64) * 100
    samples = np.where(rng.random(points) < 0.3, rng.integers(500, test_size, points), test_size)
    rate = np.where(np.arange(points) < plateau, 0.5, 0.02)
    counts = rng.binomial(samples, rate)
    train = np.where(np.arange(points) % 2 == 0, rng.binomial(1000, rate) / 1000, np.nan)
    return RunTrace(steps, counts / samples, samples, train)


def assert_same_trace(got: RunTrace, want: RunTrace) -> None:
    for name in ("steps", "test_error", "test_samples", "train_error"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name  # bit for bit, NaN included


def test_traces_and_compute_seconds_round_trip_exactly(tmp_path):
    path = tmp_path / "runs.db"
    odd = RunTrace([3, 7, 2**53], [1 / 3, np.pi, 1e-300], [1, 2, 3], [np.nan, 0.1, np.inf])
    cases = [(make_result(0), make_trace(seed=0), 1.25),
             (make_result(1, success=False), make_trace(seed=1, plateau=99), 0.1 + 0.2),
             (make_result(2), odd, None),  # float64 errors that are not counts: kept exactly
             (make_result(3), RunTrace([], [], [], []), 0.0),
             (make_result(4), None, None)]
    for result, trace, compute in cases:
        result.trace, result.compute_seconds = trace, compute
    with ResultsStore(path) as store:
        assert [store.add(r) for r, _, _ in cases] == [True] * len(cases)
    with ResultsStore(path, readonly=True) as store:
        got = store.results()
        assert [r.config for r in got] == [r.config for r, _, _ in cases]
        for read, (_, trace, compute) in zip(got, cases, strict=True):
            assert read.compute_seconds == compute
            assert (read.trace is None) == (trace is None)
            if trace is not None:
                assert_same_trace(read.trace, trace)
        assert [r.trace for r in store.results(traces=False)] == [None] * len(cases)
        assert_same_trace(store.get(cases[1][0].config.key()).trace, cases[1][1])
        assert store.rows(seed=0)[0]["compute_seconds"] == 1.25
        assert store.count(compute_seconds=None) == 2
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT COUNT(*) FROM traces").fetchone()[0] == 4
    finally:
        con.close()


def test_trace_codecs_are_compact():
    from parity_frontiers.verify.experiments.store_traces import decode_trace, encode_trace

    trace = make_trace(points=200)
    row = encode_trace(trace)
    assert {name: row[name][:1] for name in ("steps", "test_error", "test_samples",
                                             "train_error")} == \
        {"steps": b"D", "test_error": b"C", "test_samples": b"D", "train_error": b"F"}
    assert len(row["steps"]) < 40  # 200 equal differences
    assert len(row["test_error"]) < 200 * 8 / 2  # counts, not float64s
    assert_same_trace(decode_trace(row), trace)
    floats = RunTrace([1], [0.5], [0], [0.25])  # no samples counted: not stored as counts
    assert encode_trace(floats)["test_error"][:1] == b"f"
    assert_same_trace(decode_trace(encode_trace(floats)), floats)


def test_a_trace_is_written_with_its_run_or_not_at_all(tmp_path):
    path = tmp_path / "runs.db"
    result = make_result(0)
    result.trace = make_trace()
    with ResultsStore(path) as store:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("INSERT INTO traces VALUES (?, 0, x'00', x'00', x'00', x'00')",
                    (result.config.key(),))  # the trace insert will hit its primary key
        con.close()
        with pytest.raises(ValueError, match=str(path)):
            store.add(result)
        assert store.count() == 0  # the run row was rolled back with its trace
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("DELETE FROM traces")
        con.close()
        assert store.add(result)
        again = make_result(0)
        again.trace = make_trace(seed=9)
        assert not store.add(again)  # a duplicate keeps the stored run and trace
        assert_same_trace(store.results()[0].trace, result.trace)


def test_a_damaged_trace_is_named_and_loses_nothing(tmp_path):
    path = tmp_path / "runs.db"
    results = [make_result(0), make_result(1)]
    for r in results:
        r.trace = make_trace(seed=r.config.seed)
    with ResultsStore(path) as store:
        for r in results:
            store.add(r)
    bad = results[1].config.key()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("UPDATE traces SET test_error = x'43deadbeef' WHERE key = ?", (bad,))
    con.close()
    before = sha256(path)
    with ResultsStore(path, readonly=True) as store:
        with pytest.raises(ValueError) as info:
            store.results()
        message = str(info.value)
        assert str(path) in message and bad in message and "test_error" in message
        assert "\n" not in message
        assert [r.config for r in store.results(traces=False)] == [r.config for r in results]
        assert list(store.traces([results[0].config.key()])) == [results[0].config.key()]
    assert sha256(path) == before
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("UPDATE traces SET points = 41 WHERE key = ?", (bad,))  # too few values
    con.execute("UPDATE traces SET test_error = steps WHERE key = ?", (bad,))
    con.close()
    with ResultsStore(path, readonly=True) as store, pytest.raises(ValueError, match="points"):
        store.results()


def _v2_copy(tmp_path) -> Path:
    """A schema-2 store (no compute_seconds, no traces table) with two runs, made the way
    schema 2 laid it out."""
    path = tmp_path / "v2.db"
    with ResultsStore(path) as store:
        store.add(make_result(0))
        store.add(make_result(1, activation="abs"))
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TABLE traces")
    con.execute("ALTER TABLE runs DROP COLUMN compute_seconds")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def test_a_schema_2_store_reads_unchanged_and_upgrades_on_first_write(tmp_path):
    path = _v2_copy(tmp_path)
    before = sha256(path)
    with ResultsStore(path, readonly=True) as store:
        assert store.schema_version == 2
        old = store.results()
        assert [(r.compute_seconds, r.trace) for r in old] == [(None, None)] * 2
        assert store.count(compute_seconds=None) == 2 and store.count(compute_seconds=1.0) == 0
        assert store.traces(store.completed_keys()) == {}
    with ResultsStore(path) as store:  # opened for writing: unchanged until a run is added
        assert store.schema_version == 2 and store.results() == old
    assert sha256(path) == before
    new = make_result(2)
    new.trace, new.compute_seconds = make_trace(), 2.5
    with ResultsStore(path) as store:
        assert store.add(new) and store.schema_version == 3
    meta = _meta(path)
    assert (meta["schema_version"], meta["upgraded_from"]) == ("3", "2")
    with ResultsStore(path, readonly=True) as store:
        got = store.results()
        assert [r.config for r in got] == [r.config for r in [*old, new]]
        assert [r.compute_seconds for r in got] == [None, None, 2.5]
        assert got[0].trace is None and got[1].trace is None
        assert_same_trace(got[2].trace, new.trace)


def test_a_schema_3_store_without_its_traces_table_is_refused_untouched(tmp_path):
    path = tmp_path / "runs.db"
    ResultsStore(path).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE traces")
    con.commit()
    con.close()
    before = sha256(path)
    for readonly in (True, False):
        with pytest.raises(ValueError, match="lacks its traces table"):
            ResultsStore(path, readonly=readonly)
    assert sha256(path) == before
