"""``parity-frontiers tabular``: datasets, run (resumable), summary, plot; one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

from parity_frontiers.cli import main  # noqa: E402

FAST = ["--models", "rf", "mlp:8:s=2", "--forest-trees", "5", "--max-epochs", "3",
        "--min-steps", "0",
        "--no-progress", "--threads", "1"]


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _one_error_line(capsys, prefix: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(prefix), err
    return err


def test_datasets_lists_offline_and_openml(tmp_path, capsys):
    assert main(["tabular", "datasets", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sparse_parity" in out and "openml-44089" in out and "not cached" in out
    assert main(["tabular", "datasets", "--cache-dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    available = {d["name"]: d["available"] for d in data["datasets"]}
    assert available["iris"] == "offline" and available["openml-45028"] == "not cached"


def test_run_resume_summary_and_plot(tmp_path, capsys):
    store = str(tmp_path / "results.db")
    args = ["tabular", "run", "--store", store, "--datasets", "iris", "wine", "--fractions",
            "0.3", "1", "--trials", "2", *FAST]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["trained"], out["skipped"], out["tasks"]) == (16, 0, 16)
    assert {(r["dataset"], r["model"]) for r in out["cells"]} == {
        (d, m) for d in ("iris", "wine") for m in ("rf", "mlp 8 s=2")}
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "0 fits trained, 16 already stored" in table
    assert "n train" in table and "test error [ci low, ci high] (95%)" in table
    assert main(["tabular", "summary", "--store", store, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["cells"]
    assert summary == out["cells"]
    assert main(["tabular", "plot", "--store", store, "--out", str(tmp_path / "fig")]) == 0
    files = capsys.readouterr().out.split()
    assert [f.rsplit("/", 1)[1] for f in files] == ["tabular.png", "tabular.pdf"]
    assert main(["tabular", "plot", "--store", store, "--out", str(tmp_path / "fig"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["figures"] == files


@pytest.mark.parametrize("extra, message", [
    (["--datasets", "nope"], "unknown dataset 'nope'"),
    (["--datasets", "wine", "--fractions", "0.01"],
     "--fractions: training fraction 0.01 of dataset wine leaves class"),
    (["--datasets", "openml-44089", "--no-download"], "is not cached"),
    (["--models", "mlp:0"], "--models must be"),
])
def test_run_errors_are_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    store = tmp_path / "results.db"
    args = ["tabular", "run", "--store", str(store), "--cache-dir", str(tmp_path / "cache"),
            *FAST, *extra]
    assert main(args) == 2
    err = _one_error_line(capsys, "parity-frontiers tabular run: error: ")
    assert message in err
    assert not store.exists()


def test_summary_and_plot_errors_are_one_line(tmp_path, capsys):
    missing = str(tmp_path / "missing.db")
    assert main(["tabular", "summary", "--store", missing]) == 2
    _one_error_line(capsys, "parity-frontiers tabular summary: error: results store")
    empty = tmp_path / "empty.db"
    from parity_frontiers.verify.experiments.store import ResultsStore

    ResultsStore(empty).close()
    assert main(["tabular", "summary", "--store", str(empty)]) == 0
    assert "no tabular results" in capsys.readouterr().out
    assert main(["tabular", "plot", "--store", str(empty), "--out", str(tmp_path)]) == 2
    err = _one_error_line(capsys, "parity-frontiers tabular plot: error: ")
    assert "no tabular results to plot" in err
    assert not (tmp_path / "tabular.png").exists()


def test_argument_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["tabular", "run", "--store", str(tmp_path / "x.db"), "--fractions", "0"])
    assert info.value.code == 2
    assert "must be in (0, 1]" in capsys.readouterr().err


def test_without_sklearn_run_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    assert main(["tabular", "run", "--store", str(tmp_path / "x.db")]) == 2
    err = _one_error_line(capsys, "parity-frontiers tabular run: error: ")
    assert "pip install parity-frontiers[tabular]" in err
    assert not (tmp_path / "x.db").exists()


def test_cli_import_loads_neither_sklearn_nor_torch():
    code = ("import sys, parity_frontiers.cli; "
            "print(sorted(m for m in ('sklearn', 'torch', "
            "'parity_frontiers.verify.experiments.tabular.estimator') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_help_states_the_library_defaults(capsys):
    from parity_frontiers.verify.experiments.tabular.benchmark import DEFAULT_MLP_SETTINGS

    with pytest.raises(SystemExit):
        main(["tabular", "run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    s = DEFAULT_MLP_SETTINGS
    assert (f"lr {s['learning_rate']:g}, batch {s['batch_size']}, {s['max_epochs']} epochs, "
            f"patience {s['patience']}") in text


@pytest.mark.parametrize("flags", [["--lr", "0"], ["--weight-decay", "-1"],
                                   ["--device", "cuda"], ["--patience", "5", "--lr", "0.1"]])
def test_mlp_options_without_an_mlp_are_refused(tmp_path, capsys, flags):
    store = tmp_path / "x.db"
    assert main(["tabular", "run", "--store", str(store), "--models", "rf", *flags]) == 2
    err = _one_error_line(capsys, "parity-frontiers tabular run: error: ")
    assert f"{flags[0]}" in err and "only apply to MLPs" in err
    assert not store.exists()


def test_default_trials_give_readable_bands():
    import argparse

    from parity_frontiers.cli_tabular import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["tabular", "run", "--store", "x.db"])
    assert args.trials == 5 and args.device is None


def test_plot_into_an_unwritable_folder_is_one_error_line(tmp_path, capsys):
    store = tmp_path / "k.db"
    assert main(["tabular", "run", "--store", str(store), "--datasets", "iris",
                 "--fractions", "1", "--trials", "1", "--models", "rf", "--forest-trees", "5",
                 "--no-progress"]) == 0
    capsys.readouterr()
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    # Refused when the arguments are parsed (args.path_arg), before the store is read.
    with pytest.raises(SystemExit) as info:
        main(["tabular", "plot", "--store", str(store), "--out", str(blocker / "sub")])
    assert info.value.code == 2
    err = _one_error_line(capsys, "parity-frontiers tabular plot: error: ")
    assert "afile' is a file, not a directory" in err
    # Written figures are readable by others (mkstemp alone would leave 0600).
    assert main(["tabular", "plot", "--store", str(store), "--out", str(tmp_path / "f")]) == 0
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "f").iterdir()} == {"0o644"}
