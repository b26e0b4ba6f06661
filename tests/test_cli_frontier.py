"""`parity-frontiers frontier`: the adaptive search from the command line, and its figure."""

from __future__ import annotations

import json
import math

import pytest
from test_cli_verify import run_error  # tests/ is on sys.path (rootdir)

from parity_frontiers.cli import main
from parity_frontiers.figures.search_plots import search_figure
from parity_frontiers.verify.experiments.frontier_search import (
    SearchSettings,
    curve_templates,
    search_frontiers,
)
from parity_frontiers.verify.experiments.oracles import LogisticOracle
from parity_frontiers.verify.experiments.store import ResultsStore

# (8, 2)-parity, widths 16 and 32, T = 1500: each curve's frontier lies in m = 10..1000.
SMALL = ["--n", "8", "--k", "2", "--width", "16", "32", "--m-min", "10", "--m-max", "1000",
         "--points-per-decade", "6", "--max-steps", "1500", "--eval-every", "100",
         "--test-size", "512", "--max-runs", "24", "--tol", "0.15", "--device", "cpu",
         "--threads", "1", "--no-progress"]
# --threads 1: a search trains many tiny ensembles, where torch's OpenMP barriers cost most of
# the time as soon as another process holds a core (190 s instead of 10 s, seen here).


def test_frontier_command_trains_stores_and_resumes(tmp_path, capsys):
    store = tmp_path / "runs.db"
    assert main(["frontier", *SMALL, "--store", str(store), "--out", str(tmp_path / "fig"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == "local (cpu)" and out["reused"] == 0
    assert [c["curve"]["width"] for c in out["curves"]] == [16, 32]
    assert out["settings"]["tol"] == 0.15 and out["settings"]["points_per_decade"] == 6
    with ResultsStore(store, readonly=True) as db:
        assert len(db) == out["trained"] == sum(c["runs"] for c in out["curves"])
    assert (tmp_path / "fig" / "frontier_search.png").stat().st_size > 0
    assert out["figures"][0].endswith("frontier_search.png")
    # The same command again: every run reused, none trained, the same answer.
    assert main(["frontier", *SMALL, "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert f"0 runs trained, {out['trained']} reused" in text
    assert "Fieller 95% interval" in text and "full grid of the same 13 sizes" in text


@pytest.mark.parametrize("argv,message", [
    (["--tol", "0"], "tol must be a finite number > 0"),
    (["--target", "1.5"], "target must be in (0, 1)"),
    (["--m-min", "1000", "--m-max", "100"], "--m-max must be larger than --m-min"),
    (["--k", "9"], "k"),
    (["--init", "sparse"], "sparse init needs --s ("),
    (["--scheduler", "tcp://127.0.0.1:1"], "scheduler address goes with --executor dask"),
    (["--executor", "dask"], "needs --scheduler"),
    (["--m-max", "1e30"], "--m-max must be at most"),
    (["--seed-start", "99999999999999999999"], "--seed-start"),
    # one run at the largest size cannot fit a 0.001 GiB cap: refused before the store exists
    (["--m-max", "1e8", "--memory-cap", "0.001"], "does not fit in the memory cap"),
])
def test_frontier_command_errors_are_one_line_and_store_nothing(tmp_path, capsys, argv,
                                                                 message):
    base = ["frontier", "--n", "8", "--k", "2", "--width", "16", "--store",
            str(tmp_path / "runs.db"), "--device", "cpu"]
    err = run_error(capsys, *base, *argv)
    assert message in err
    assert not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("width,out", [("--width", "--out"), ("--widths", "--plot")])
def test_frontier_command_refuses_a_file_as_plot_folder(tmp_path, capsys, width, out):
    # --widths and --plot: the former spellings, still accepted (hidden from --help)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = run_error(capsys, "frontier", "--n", "8", "--k", "2", width, "16", "--store",
                    str(tmp_path / "runs.db"), out, str(blocker))
    assert "--out" in err and "is a file" in err


def test_frontier_help_shows_only_the_canonical_spellings(capsys):
    with pytest.raises(SystemExit):
        main(["frontier", "--help"])
    text = capsys.readouterr().out
    assert "--width" in text and "--out" in text
    assert "--widths" not in text and "--plot" not in text
    err = run_error(capsys, "frontier", "--n", "8", "--k", "2", "--store", "x.db")
    assert "required: --width" in err


def test_search_figure_draws_every_ending(tmp_path):
    # Three curves of known truth: one inside the range, one below it, one with too few runs
    # to fit (budget), so the figure's markers for each case are exercised.
    truths = {16: (math.log10(300), 20.0), 32: (1.0, 6.0), 64: (math.log10(3000), 0.3)}
    oracle = LogisticOracle(lambda c: (-truths[c.width][1] * truths[c.width][0],
                                       truths[c.width][1]))
    found = search_frontiers(curve_templates(20, 3, [16, 32, 64], ["dense", "sparse"], s=2),
                             oracle, settings=SearchSettings(m_min=100, m_max=10**4,
                                                             max_runs=80, tol=0.1),
                             progress=False)
    assert {f.status for f in found} >= {"converged", "below_grid", "budget"}
    paths = search_figure(found, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="no search results"):
        search_figure([], tmp_path)
