"""--where on the commands that read a store (report, plot, model fit, model score), and report /
plot on a store whose runs mix training settings (one group per settings), on synthetic stores
built from RunResult (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parity_frontiers.cli import main
from parity_frontiers.verify.analysis.settings_groups import SETTING_FIELDS, split_by_settings
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.store import ResultsStore

SETTINGS = dict(k=2, max_steps=400, eval_every=50, test_size=200)
QUICK = ["--onestep-trials", "8", "--lottery-trials", "30", "--no-progress"]


def _configs(lr=0.1, activation="relu", n=8, seeds=range(3)):
    for width in (4, 32):
        for init in ("dense", "sparse"):
            for m in (20, 200, None):
                for seed in seeds:
                    yield RunConfig(n=n, width=width, samples=m, init=init,
                                    s=2 if init == "sparse" else None, seed=seed, lr=lr,
                                    activation=activation, **SETTINGS)


def _fill(path: Path, configs) -> Path:
    """Runs whose success rises with m (deterministic per config)."""
    with ResultsStore(path) as store:
        for c in configs:
            rng = np.random.default_rng(int(c.key()[:8], 16))
            p = 0.9 if c.samples is None else 0.1 if c.samples == 20 else 0.6
            win = bool(rng.random() < p)
            store.add(RunResult(c, win, 100 if win else None, 0.05 if win else 0.4, 0.0,
                                "success" if win else "max_steps", 100 if win else 400))
    return path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Two learning rates (36 runs each) and 36 runs with the abs activation at lr 0.1."""
    path = tmp_path_factory.mktemp("where") / "mixed.db"
    return _fill(path, [*_configs(lr=0.1), *_configs(lr=0.05),
                        *_configs(lr=0.1, activation="abs")])


def _json(capsys, argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _error(capsys, argv) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_split_by_settings_groups_and_orders():
    configs = list(_configs(lr=0.1)) + list(_configs(lr=0.05)) + list(
        _configs(lr=0.1, activation="abs"))
    groups = split_by_settings(configs, config=lambda c: c)
    assert [g.label for g in groups] == ["lr=0.05, activation=relu", "lr=0.1, activation=abs",
                                         "lr=0.1, activation=relu"]
    assert [g.suffix for g in groups] == ["lr0.05_relu", "lr0.1_abs", "lr0.1_relu"]
    assert all(len(g.items) == 36 for g in groups)
    assert set(groups[0].settings) == set(SETTING_FIELDS) and "width" not in SETTING_FIELDS
    (one,) = split_by_settings(configs[:36], config=lambda c: c)
    assert one.varying == {} and one.label == "" and one.suffix == ""
    assert split_by_settings([], config=lambda c: c) == []


def test_report_on_a_mixed_store_writes_a_section_per_group(mixed, tmp_path, capsys,
                                                            monkeypatch):
    out = tmp_path / "r"
    data = _json(capsys, ["report", "--store", str(mixed), "--out", str(out), *QUICK])
    assert [g["label"] for g in data["groups"]] == [
        "lr=0.05, activation=relu", "lr=0.1, activation=abs", "lr=0.1, activation=relu"]
    for group in data["groups"]:
        assert len(group["findings"]) == 6 and group["completeness"]["partial_cells"] == []
    report = (out / "report.md").read_text()
    assert "108 runs in 3 groups of training settings, which differ in activation, lr" in report
    for label in ("lr=0.05, activation=relu", "lr=0.1, activation=abs"):
        assert f"\n## Settings: {label}\n" in report
    assert report.count("\n### Findings") == 3 and "\n# Settings" not in report
    saved = json.loads((out / "report.json").read_text())
    assert saved["varying"] == ["activation", "lr"] and saved["runs"] == 108
    assert [len(g["cells"]) for g in saved["groups"]] == [12, 12, 12]
    assert {c["lr"] for c in saved["groups"][0]["cells"]} == {0.05}
    names = {Path(p).name for p in data["figures"]}
    assert "success_vs_m_lr0.05_relu_n8_k2.png" in names
    assert "sq_frontier_lr0.1_abs.pdf" in names
    for group in saved["groups"]:  # each section embeds its own figures only
        assert all(group["label"] not in name or name.endswith(".pdf")
                   or f"({name})" in report for name in group["figures"])
    import parity_frontiers.figures.report as report_module

    monkeypatch.setattr(report_module, "make_figures", lambda *a, **k: [])  # drawn above
    assert main(["report", "--store", str(mixed), "--out", str(tmp_path / "t"), *QUICK]) == 0
    text = capsys.readouterr().out
    assert "Settings: lr=0.05, activation=relu" in text
    assert "3 groups of training settings, analysed separately" in text


def test_where_selects_one_group_which_reports_as_before(mixed, tmp_path, capsys):
    single = _fill(tmp_path / "single.db", _configs(lr=0.05))
    plain = tmp_path / "plain"
    assert main(["report", "--store", str(single), "--out", str(plain), *QUICK]) == 0
    capsys.readouterr()
    filtered = tmp_path / "filtered"
    data = _json(capsys, ["report", "--store", str(mixed), "--out", str(filtered), "--where",
                          "lr=0.05", *QUICK])
    assert data["where"] == "lr=0.05" and "groups" not in data and len(data["findings"]) == 6
    a = json.loads((plain / "report.json").read_text())
    b = json.loads((filtered / "report.json").read_text())
    assert "where" not in a and b.pop("where") == "lr=0.05"
    assert a == b  # the same runs, the same analysis
    assert "Runs filtered by `--where lr=0.05`." in (filtered / "report.md").read_text()
    assert sorted(p.name for p in plain.iterdir()) == sorted(p.name for p in filtered.iterdir())


def test_where_on_plot(mixed, tmp_path, capsys):
    data = _json(capsys, ["plot", "steps", "--store", str(mixed), "--out", str(tmp_path),
                          "--where", "lr=0.1", "--where", "activation=abs", *QUICK])
    assert data["where"] == "activation=abs, lr=0.1"
    assert sorted(Path(p).name for p in data["figures"]) == ["steps_vs_m_n8_k2.pdf",
                                                             "steps_vs_m_n8_k2.png"]
    both = _json(capsys, ["plot", "steps", "--store", str(mixed), "--out", str(tmp_path),
                          "--where", "activation=relu", *QUICK])
    assert [g["label"] for g in both["groups"]] == ["lr=0.05", "lr=0.1"]
    assert main(["plot", "steps", "--store", str(mixed), "--out", str(tmp_path), "--where",
                 "lr=0.1", *QUICK]) == 0
    text = capsys.readouterr().out
    assert "runs filtered by --where lr=0.1" in text and "2 groups of training settings" in text


@pytest.mark.parametrize("command", [["report"], ["plot", "sq"]])
@pytest.mark.parametrize("where, message", [
    ("lr=0.3", "--where lr=0.3 matches none of the 108 runs of"),
    ("momentum=1", "--where: unknown field 'momentum'"),
    ("lr=fast", "--where lr= must be a number, got 'fast'"),
])
def test_where_errors(mixed, tmp_path, capsys, command, where, message):
    err = _error(capsys, [*command, "--store", str(mixed), "--out", str(tmp_path / "o"),
                          "--where", where, *QUICK])
    assert message in err and not (tmp_path / "o").exists()


def test_config_selects_the_grid_and_names_missing_groups(mixed, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\nn = 8\nk = 2\nwidth = [4, 32]\nsamples = [20, 200, "online"]\n'
                    'init = ["dense", "sparse"]\ns = 2\nseeds = 3\n'
                    "[train]\nlr = [0.05, 0.02]\nmax_steps = 400\neval_every = 50\n"
                    "test_size = 200\n")
    data = _json(capsys, ["report", "--store", str(mixed), "--out", str(tmp_path / "r"),
                          "--config", str(grid), *QUICK])
    assert data["completeness"]["missing_runs"] == 0 and "groups" not in data
    assert [g["lr"] for g in data["missing_groups"]] == [0.02]
    assert "no run of the grid's settings lr=0.02" in (tmp_path / "r" / "report.md").read_text()


# --- model fit / score --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("model_where")
    configs = [c for n in (8, 12) for lr in (0.1, 0.05)
               for c in _configs(lr=lr, n=n, seeds=range(6))]
    return _fill(root / "fit.db", configs), root


def test_model_fit_and_score_with_where(model_stores, capsys):
    store, root = model_stores
    model = root / "m.json"
    fit = _json(capsys, ["model", "fit", "--store", str(store), "--model", "phenomenological",
                         "--out", str(model), "--bootstrap", "2", "--where", "lr=0.1"])
    assert fit["where"] == "lr=0.1" and fit["runs"] == 144
    assert json.loads(model.read_text())["data"]["store"] == f"{store} --where lr=0.1"
    everything = _json(capsys, ["model", "fit", "--store", str(store), "--model",
                                "phenomenological", "--out", str(root / "all.json"),
                                "--bootstrap", "2"])
    assert everything["runs"] == 288 and "where" not in everything
    score = _json(capsys, ["model", "score", "--model", str(model), "--store", str(store),
                           "--where", "lr=0.05,n=12"])
    assert score["where"] == "lr=0.05, n=12" and score["runs"] == 72
    assert main(["model", "score", "--model", str(model), "--store", str(store), "--where",
                 "lr=0.05"]) == 0
    assert "--where lr=0.05: 144 runs" in capsys.readouterr().out
    err = _error(capsys, ["model", "score", "--model", str(model), "--store", str(store),
                          "--where", "n=99"])
    assert "--where n=99 matches none of the 288 runs" in err
