"""figures.report / reproduce / frontier_plots and their CLI, on a tiny scale (the findings'
rules are tested on synthetic runs in tests/test_findings.py).

The tiny scale (tests/data/tiny_scale.toml) stands in for figures/scales/*.toml so that the
whole pipeline -- sweep, analysis, predictions, every figure, report -- runs in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import parity_frontiers.figures.reproduce as reproduce_module
from parity_frontiers.cli import main
from parity_frontiers.figures import frontier_plots
from parity_frontiers.figures.report import completeness, load_results
from parity_frontiers.verify.experiments.grid import grid_from_toml

TINY = Path(__file__).parent / "data" / "tiny_scale.toml"
BASE = dict(k=3, depth=1, activation="relu", max_steps=1000, eval_every=100, batch_size=32,
            lr=0.1, weight_decay=0.01, loss="hinge", test_size=1000, success_error=0.1)


@pytest.fixture
def tiny_scale(monkeypatch):
    real = reproduce_module.scale_path

    def fake(scale):
        real(scale)  # still validates the name
        return TINY

    monkeypatch.setattr(reproduce_module, "scale_path", fake)
    monkeypatch.setitem(reproduce_module.REPORT_SETTINGS, "smoke",
                        {"onestep_trials": 16, "lottery_trials": 40})


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """The tiny grid trained once for the module's read-only tests."""
    from parity_frontiers.verify.experiments.store import ResultsStore
    from parity_frontiers.verify.experiments.sweep import run_sweep

    path = tmp_path_factory.mktemp("store") / "runs.db"
    with ResultsStore(path) as store:
        run_sweep(grid_from_toml(TINY), store, device="cpu", progress=False)
    return path


def test_reproduce_writes_report_and_resumes(tiny_scale, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["reproduce", "--scale", "smoke", "--out", str(out), "--no-progress",
                 "--json", "--device", "cpu"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["sweep"]["trained"] == 36 and first["sweep"]["skipped"] == 0
    report = (out / "report.md").read_text()
    # Six findings and three predictions, each with an overall verdict in bold.
    assert "## Findings" in report and report.count("| **") == 9
    assert "## Predictions against the data" in report and "limited by luck" not in report
    names = {Path(p).name for p in first["figures"]}
    assert {"success_heatmap_n8_k2.png", "success_vs_m_n8_k2.pdf", "steps_vs_m_n8_k2.png",
            "sq_frontier.png", "lottery.png"} <= names
    for name in names:
        assert (out / name).stat().st_size > 1000
    data = json.loads((out / "report.json").read_text())
    assert len(data["cells"]) == 12 and len(data["findings"]) == 6
    assert set(data["predictions"]) == {"sq", "onestep", "n_scaling"}
    # Three seeds per cell: no paired test can reach 0.05, and one n gives no n-scaling.
    assert {f["verdict"] for f in data["findings"]} == {"not testable here"}
    assert data["predictions"]["n_scaling"]["verdict"] == "not testable here"
    assert data["completeness"]["missing_runs"] == 0
    # The store holds the whole grid now: a resumed sweep trains nothing.
    assert main(["sweep", "--config", str(TINY), "--store", str(out / "runs.db"),
                 "--no-progress", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["trained"] == 0 and again["skipped"] == 36


def test_demo_trains_and_names_its_figure(tiny_scale, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    figure = tmp_path / "demo" / "success_heatmap_n8_k2.png"
    assert f"frontier figure: {figure}" in text and figure.exists()
    assert "SQ lower bound" in text and "verdict" in text


@pytest.mark.parametrize("kind,stems", [("heatmap", ["success_heatmap_n8_k2"]),
                                        ("steps", ["steps_vs_m_n8_k2"]),
                                        ("sq", ["sq_frontier"])])
def test_plot_kinds(tiny_store, tmp_path, capsys, kind, stems):
    assert main(["plot", kind, "--store", str(tiny_store), "--out", str(tmp_path),
                 "--onestep-trials", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(Path(p).name for p in out["figures"]) == sorted(
        f"{s}.{ext}" for s in stems for ext in ("pdf", "png"))


def test_report_against_a_bigger_grid_says_what_is_missing(tiny_store, tmp_path, capsys):
    bigger = tmp_path / "bigger.toml"
    bigger.write_text(TINY.read_text().replace("seeds = 3", "seeds = 5"))
    assert main(["report", "--store", str(tiny_store), "--out", str(tmp_path / "r"),
                 "--config", str(bigger), "--onestep-trials", "8",
                 "--lottery-trials", "30"]) == 0
    text = capsys.readouterr().out
    assert "lacks 24 of 60 runs" in text and "12 partial" in text
    assert "**Incomplete:** 24 of 60 runs" in (tmp_path / "r" / "report.md").read_text()


def test_completeness_counts_missing_cells(tiny_store):
    results = load_results(tiny_store)
    expected = grid_from_toml(TINY)
    assert completeness(results, expected)["missing_runs"] == 0
    gone = [r for r in results if r.config.width != 4]
    comp = completeness(gone, expected)
    assert comp["missing_runs"] == 18 and len(comp["missing_cells"]) == 6
    uneven = completeness(results[:-1])
    assert len(uneven["partial_cells"]) == 1 and uneven["partial_cells"][0]["runs"] == 2


@pytest.mark.parametrize("argv,message", [
    (["report", "--store", "{tmp}/none.db", "--out", "{tmp}/o"], "no results store"),
    (["plot", "heatmap", "--store", "{tmp}/empty.db", "--out", "{tmp}/o"], "holds no runs"),
    (["reproduce", "--scale", "huge"], "invalid choice"),
    (["report", "--store", "{tmp}/empty.db", "--out", "{tmp}/empty.db"], "is a file"),
    (["plot", "sq", "--store", "{tmp}/empty.db", "--out", "{tmp}/empty.db/sub"],
     "is a file, not a directory"),  # refused by the parser (args.path_arg)
    (["report", "--store", "{tmp}/empty.db", "--out", "{tmp}/o", "--onestep-trials", "0"],
     "onestep-trials"),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, argv, message):
    from parity_frontiers.verify.experiments.store import ResultsStore

    ResultsStore(tmp_path / "empty.db").close()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    parser_error = message in ("invalid choice", "is a file, not a directory")
    with pytest.raises(SystemExit) if parser_error or "trials" in message else _no_raise():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) <= 2
    assert not (tmp_path / "o").exists() or message.startswith(("is a file", "cannot"))


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- figures on hand-made cells ---------------------------------------------------------------

def _cell(width, samples, wins, runs=16, init="dense", s=None, median=None, n=30):
    rate = wins / runs
    return {**BASE, "n": n, "width": width, "samples": samples, "init": init, "s": s,
            "runs": runs, "successes": wins, "success_rate": rate,
            "ci_low": max(0.0, rate - 0.2), "ci_high": min(1.0, rate + 0.2),
            "median_steps_to_success": median, "median_ci_low": median and median / 2,
            "median_ci_high": median and median * 2}


def test_thin_cells_are_marked_on_the_figure(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(frontier_plots, "save_figure",
                        lambda fig, out, stem: seen.append(fig) or [])
    cells = [_cell(8, 100, 1, runs=2, median=500), _cell(8, 1000, 2, runs=2, median=300)]
    frontier_plots.success_curves(cells, tmp_path)
    texts = [t.get_text() for ax in seen[0].axes for t in ax.texts]
    assert any("< 5 runs" in t for t in texts)
    with pytest.raises(ValueError, match="nothing to plot"):
        frontier_plots.success_heatmap([], tmp_path)


@pytest.mark.parametrize("scale,runs,n_values", [("smoke", 120, {20}), ("cpu", 2560, {30, 50}),
                                                 ("paper", 129600, {50, 100, 150, 200, 250,
                                                                    300})])
def test_shipped_scales_parse_to_the_documented_grids(scale, runs, n_values):
    grid = reproduce_module.scale_grid(scale)
    assert len(grid) == runs and {c.n for c in grid} == n_values
    assert {c.init for c in grid} == {"dense", "sparse"} and {c.s for c in grid} == {None, 2}
    with pytest.raises(ValueError, match="unknown scale"):
        reproduce_module.scale_path("huge")


def test_a_store_mixing_sweeps_is_analysed_per_settings_group(tiny_store, tmp_path, capsys,
                                                               monkeypatch):
    from parity_frontiers.verify.config import RunResult
    from parity_frontiers.verify.experiments.grid import build_grid
    from parity_frontiers.verify.experiments.store import ResultsStore

    mixed = tmp_path / "mixed.db"
    mixed.write_bytes(Path(tiny_store).read_bytes())
    with ResultsStore(mixed) as store:  # a second sweep at another learning rate (no training)
        for c in build_grid(n=8, k=2, width=4, samples=20, seeds=2, max_steps=400,
                            eval_every=50, test_size=200, lr=0.05):
            store.add(RunResult(c, c.seed == 0, 50 if c.seed == 0 else None, 0.3, 0.0,
                                "success" if c.seed == 0 else "max_steps", 400))
    import parity_frontiers.figures.report as report_module

    monkeypatch.setattr(report_module, "make_figures", lambda *a, **k: [])  # tables only
    out = tmp_path / "r"
    assert main(["report", "--store", str(mixed), "--out", str(out), "--onestep-trials", "8",
                 "--no-progress", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [g["label"] for g in data["groups"]] == ["lr=0.05", "lr=0.1"]
    saved = json.loads((out / "report.json").read_text())
    assert [g["runs"] for g in saved["groups"]] == [2, 36] and saved["varying"] == ["lr"]
    # One sweep's runs, selected by its file, are one group: the output of before.
    monkeypatch.undo()
    assert main(["plot", "steps", "--store", str(mixed), "--out", str(tmp_path / "p"),
                 "--config", str(TINY), "--onestep-trials", "8", "--json"]) == 0
    plot = json.loads(capsys.readouterr().out)
    assert "groups" not in plot and len(plot["figures"]) == 2


def test_cli_constants_match_the_library():
    """The CLI keeps its own copies so that parsing does not import the figures layer."""
    from parity_frontiers import cli_figures
    from parity_frontiers.figures.report import PLOT_KINDS

    assert cli_figures.PLOT_KINDS == PLOT_KINDS
    assert cli_figures.SCALES == reproduce_module.SCALES


REFERENCE = Path(__file__).parent.parent / "figures" / "reference" / "cpu"


def test_reference_report_has_the_per_problem_verdicts():
    """figures/reference/cpu/report.json, regenerated from its store: the verdicts it states."""
    data = json.loads((REFERENCE / "report.json").read_text())
    verdicts = {str(f["id"]): {(p["n"], p["k"]): p["verdict"] for p in f["problems"]}
                for f in data["findings"]}
    assert verdicts["1a"] == {(30, 3): "reproduced", (50, 3): "not testable here"}
    for fid in ("1b", "2", "3", "4a"):
        assert set(verdicts[fid].values()) == {"reproduced"}
    assert set(verdicts["4b"].values()) == {"not reproduced"}
    sparse = {p["n"]: p for p in data["findings"][3]["problems"]}
    # Paired over seeds: 13 of 16 seeds favour sparse at n = 30 (2^-13), 15 at n = 50.
    assert sparse[30]["p_sparse_better"] == 2.0 ** -13
    assert sparse[50]["p_sparse_better"] == 2.0 ** -15
    pred = data["predictions"]
    assert pred["sq"]["verdict"] == "not testable here"
    assert min(p["smallest_ratio"] for p in pred["sq"]["problems"]) == pytest.approx(1.7e5)
    assert pred["onestep"]["verdict"] == "refuted" and pred["n_scaling"]["verdict"] == "refuted"
    report = (REFERENCE / "report.md").read_text()
    assert "limited by luck" not in report and "not testable here" in report


def test_render_markdown_states_each_verdict_and_rule():
    from parity_frontiers.figures.report import render_markdown

    data = json.loads((REFERENCE / "report.json").read_text())
    analysis = {**data, "points": data["cells"]}
    text = render_markdown(analysis, [], title="t")
    for finding in data["findings"]:
        assert f"| {finding['id']} | {finding['claim']} | all | **{finding['verdict']}** |" \
            in text
        assert finding["rule"] in text
    for item in data["predictions"].values():
        assert item["rule"] in text
    assert "| | (50, 3) | not testable here | no grid m exceeds n^k/10" in text
