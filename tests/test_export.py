"""Exports and data frames of a results store: the online and compute_seconds columns, run
filters (--where), and the tabular results a store written by `tabular run` holds."""

from __future__ import annotations

import csv
import json

import pytest

from parity_frontiers.cli import main
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.export import (
    export,
    load_dataframe,
    resolve_where,
    store_contents,
)
from parity_frontiers.verify.experiments.store import COLUMNS, ResultsStore
from parity_frontiers.verify.experiments.tabular.results import COLUMNS as TABULAR_COLUMNS
from parity_frontiers.verify.experiments.tabular.results import TabularStore
from parity_frontiers.verify.experiments.where import filter_results, parse_where

GRID = [dict(n=n, samples=m, lr=lr) for n in (6, 8) for m in (None, 300) for lr in (0.1, 0.05)]


def _result(seed, compute=None, **config) -> RunResult:
    return RunResult(RunConfig(k=2, width=8, seed=seed, **config), seed % 2 == 0, None, 0.4, 0.3,
                     "max_steps", 200, wall_seconds=3.0, compute_seconds=compute)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "runs.db"
    with ResultsStore(path) as s:
        for i, config in enumerate(GRID):
            s.add(_result(i, compute=None if i == 0 else 0.5 * i, **config))
    return path


def _tabular_row(trial: int, dataset="iris") -> dict:
    return {"key": f"{dataset}-{trial}", "dataset": dataset, "fraction": 0.5, "trial": trial,
            "model": "rf", "seed": trial, "n_train": 20, "n_test": 30, "n_features": 4,
            "n_classes": 3, "test_errors": trial + 1, "test_error": (trial + 1) / 30,
            "test_ci_low": 0.0, "test_ci_high": 0.3, "train_error": 0.0, "fit_seconds": 0.01,
            "config_json": json.dumps({"trial": trial}), "details_json": "{}"}


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_dataframe_has_online_and_compute_seconds(store):
    pytest.importorskip("pandas")
    frame = load_dataframe(store)
    assert list(frame.columns) == [*COLUMNS[:COLUMNS.index("samples") + 1], "online",
                                   *COLUMNS[COLUMNS.index("samples") + 1:]]
    assert frame["online"].dtype == bool
    assert frame["online"].tolist() == [c["samples"] is None for c in GRID]
    assert frame["samples"].isna().tolist() == frame["online"].tolist()
    assert frame["compute_seconds"].isna().tolist() == [True] + [False] * (len(GRID) - 1)
    assert frame["compute_seconds"].iloc[3] == 1.5 and frame["wall_seconds"].iloc[3] == 3.0


@pytest.mark.parametrize("texts", [["n=6"], ["samples=online,lr=0.1"], ["n=6", "n=8|9"],
                                   ["lr=0.05", "samples=300"], ["n=7"]])
def test_where_selects_what_filter_results_selects(store, tmp_path, texts):
    with ResultsStore(store, readonly=True) as s:
        want = [r.config.key() for r in filter_results(s.results(), parse_where(texts))]
    out = tmp_path / "some.csv"
    assert export(store, out, where=texts) == len(want)
    assert [row["key"] for row in _read_csv(out)] == want
    if want:
        pytest.importorskip("pandas")
        assert load_dataframe(store, where=texts)["key"].tolist() == want


def test_where_errors_name_the_field(store, tmp_path):
    for bad, said in ((["bogus=1"], "unknown field 'bogus'"), (["n=abc"], "n= must be"),
                      ({"wdith": [8]}, "unknown field")):
        with pytest.raises(ValueError, match=said):
            export(store, tmp_path / "x.csv", where=bad)
    assert resolve_where({"n": 6}) == {"n": frozenset({6})}
    assert not (tmp_path / "x.csv").exists()


def test_tabular_results_are_exported(tmp_path, capsys):
    path = tmp_path / "tab.db"
    with TabularStore(path) as tab:
        rows = [_tabular_row(t) for t in range(3)]
        for row in rows:
            tab.add(row)
    assert store_contents(path) == {"parity": 0, "tabular": 3}
    out = tmp_path / "tab.csv"
    assert export(path, out) == 3  # the kind the store holds
    read = _read_csv(out)
    assert list(read[0]) == list(TABULAR_COLUMNS)
    assert [r["key"] for r in read] == [r["key"] for r in rows]
    assert [float(r["test_error"]) for r in read] == [r["test_error"] for r in rows]
    assert export(path, out, kind="parity") == 0
    with pytest.raises(ValueError, match="--where selects parity runs"):
        export(path, out, kind="tabular", where=["n=6"])
    with pytest.raises(ValueError, match="--kind must be one of"):
        export(path, out, kind="forest")
    # the CLI: JSON keys, and the kind named
    assert main(["results", "export", "--store", str(path), "--out", str(out), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said == {"store": str(path), "out": str(out), "format": "csv", "kind": "tabular",
                    "runs": 3}


def test_a_store_with_both_kinds_exports_parity_by_default_and_says_so(store, tmp_path,
                                                                         capsys):
    with TabularStore(store) as tab:
        tab.add(_tabular_row(0))
    out = tmp_path / "both.csv"
    assert main(["results", "export", "--store", str(store), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"exported {len(GRID)} run(s)" in text and "1 tabular result(s): --kind tabular" in text
    assert list(_read_csv(out)[0]) == list(COLUMNS)
    assert main(["results", "export", "--store", str(store), "--out", str(out), "--kind",
                 "tabular", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 1
    assert _read_csv(out)[0]["dataset"] == "iris"


def test_cli_export_where(store, tmp_path, capsys):
    out = tmp_path / "w.csv"
    assert main(["results", "export", "--store", str(store), "--out", str(out), "--where",
                 "n=6", "--where", "samples=online"]) == 0
    assert "where n=6, samples=none" in capsys.readouterr().out
    assert {(r["n"], r["samples"]) for r in _read_csv(out)} == {("6", "")}
    code = main(["results", "export", "--store", str(store), "--out", str(out), "--where",
                 "depth=x"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--where depth= must be an integer" in err
