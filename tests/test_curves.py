"""Learning curves: load_curves / export_curves against the stored traces, `results curves`
through the CLI, and the curves figure (band over seeds, layout checks)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_figure_layout import check_layout, check_notebook_api

from parity_frontiers.cli import main
from parity_frontiers.figures.curves import carried_quantiles, curves_figure, plot_curves
from parity_frontiers.verify.config import RunConfig, RunResult, RunTrace
from parity_frontiers.verify.experiments.export import CURVE_COLUMNS, export_curves, load_curves
from parity_frontiers.verify.experiments.store import CONFIG_COLUMNS, ResultsStore
from parity_frontiers.verify.experiments.where import filter_results, parse_where


def _trace(rng, jump: int, max_steps: int, eval_every: int = 100) -> RunTrace:
    """A plateau at 1/2, then a drop; stops at the first error <= 0.1 (early stopping)."""
    steps, errors = [], []
    for step in range(eval_every, max_steps + 1, eval_every):
        rate = 0.5 if step < jump else max(0.02, 0.5 * np.exp(-(step - jump) / 300))
        steps.append(step)
        errors.append(rng.binomial(2000, rate) / 2000)
        if errors[-1] <= 0.1:
            break
    points = len(steps)
    train = np.where(np.arange(points) % 3 == 0, 0.25, np.nan)
    return RunTrace(steps, errors, np.full(points, 2000), train)


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "curves.db"
    with ResultsStore(path) as s:
        for n in (10, 14):
            for width, samples in ((16, None), (64, 500)):
                for seed in range(4):
                    config = RunConfig(n=n, k=3, width=width, samples=samples, seed=seed,
                                       max_steps=4000, test_size=2000)
                    trace = _trace(rng, int(300 * n / 10 * (2 if width == 16 else 1)
                                            * rng.lognormal(0, 0.3)), config.max_steps)
                    ok = bool(trace.test_error[-1] <= 0.1)
                    s.add(RunResult(config, ok, int(trace.steps[-1]) if ok else None,
                                    float(trace.test_error[-1]), 0.25,
                                    "success" if ok else "max_steps", int(trace.steps[-1]),
                                    trace=trace, compute_seconds=0.01))
        s.add(RunResult(RunConfig(n=10, k=3, width=8, seed=99), False, None, 0.5, 0.5,
                        "max_steps", 20_000))  # no trace: no curve rows
    return path


def _expected(path, where=None) -> list[tuple]:
    """The curve rows built from store.results() (RunResult traces), filtered in Python."""
    with ResultsStore(path, readonly=True) as s:
        results = filter_results(s.results(), parse_where(where))
    rows = []
    for r in results:
        if r.trace is None:
            continue
        config = r.config.as_dict()
        for i in range(len(r.trace)):
            rows.append((r.config.key(), *(config[name] for name in CONFIG_COLUMNS),
                         int(r.trace.steps[i]), float(r.trace.test_error[i]),
                         int(r.trace.test_samples[i]), float(r.trace.train_error[i])))
    return rows


def _same(got, want) -> bool:
    return len(got) == len(want) and all(
        a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))
        for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True))


# --- the band -----------------------------------------------------------------------------------

def test_carried_quantiles_match_a_step_by_step_count():
    rng = np.random.default_rng(3)
    runs = []
    for _ in range(7):
        stop = int(rng.integers(1, 12))
        steps = np.sort(rng.choice(np.arange(1, 40), stop, replace=False))
        runs.append((steps, rng.random(stop)))
    grid, quantiles, active = carried_quantiles(runs, qs=(25, 50, 75))
    assert grid.tolist() == sorted({int(s) for steps, _ in runs for s in steps})
    for j, step in enumerate(grid):
        held = [values[steps <= step][-1] for steps, values in runs if steps[0] <= step]
        assert np.allclose(quantiles[:, j], np.percentile(held, (25, 50, 75)))
        assert active[j] == sum(steps[-1] >= step for steps, _ in runs)


# --- frames and files ---------------------------------------------------------------------------

@pytest.mark.parametrize("where", [None, ["n=10"], ["samples=online", "width=16|64"]])
def test_load_curves_is_the_stored_traces(store, where):
    pandas = pytest.importorskip("pandas")
    frame = load_curves(store, where=where)
    assert tuple(frame.columns) == CURVE_COLUMNS
    got = [tuple(None if v is pandas.NA else v.item() if isinstance(v, np.generic) else v
                 for v in row) for row in frame.astype(object).itertuples(index=False)]
    assert _same(got, _expected(store, where))
    assert frame["samples"].dtype.name == "Int64" and frame["step"].dtype == np.int64


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_curves_round_trip(store, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
        pandas = pytest.importorskip("pandas")
    out = tmp_path / f"curves.{fmt}"
    want = _expected(store, ["n=14"])
    assert export_curves(store, out, where="n=14") == (8, len(want))
    if fmt == "csv":
        with open(out, newline="") as handle:
            read = list(csv.reader(handle))
        assert tuple(read[0]) == CURVE_COLUMNS
        as_text = [tuple("" if v is None else "nan" if v != v else str(v) for v in row)
                   for row in want]
        assert [tuple(r) for r in read[1:]] == [tuple("" if v == "nan" else v for v in row)
                                                for row in as_text]
    elif fmt == "json":
        records = json.loads(out.read_text())
        assert [tuple(r) for r in records] == [CURVE_COLUMNS] * len(want)
        assert _same([tuple(np.nan if v is None and name == "train_error" else v
                            for name, v in r.items()) for r in records], want)
    else:
        frame = pandas.read_parquet(out)
        pandas.testing.assert_frame_equal(frame, load_curves(store, where="n=14"))


def test_export_curves_errors_leave_the_output(store, tmp_path):
    out = tmp_path / "curves.csv"
    out.write_text("before\n")
    for kwargs, said in (({"where": "bogus=1"}, "unknown field"),
                         ({"format": "xlsx"}, "format must be")):
        with pytest.raises(ValueError, match=said):
            export_curves(store, out, **kwargs)
    with pytest.raises(ValueError, match=r"\.csv or \.parquet or \.json"):
        export_curves(store, tmp_path / "curves.txt")
    assert out.read_text() == "before\n"


# --- the CLI ------------------------------------------------------------------------------------

def test_results_curves_cli(store, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["results", "curves", "--store", str(store), "--out", str(out), "--where",
                 "n=10", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    rows = len(_expected(store, ["n=10"]))
    assert said == {"store": str(store), "out": str(out), "format": "json", "runs": 8,
                    "rows": rows}
    assert len(json.loads(out.read_text())) == rows
    assert main(["results", "curves", "--store", str(store), "--out", str(tmp_path / "c.txt"),
                 "--format", "csv"]) == 0
    assert "of 16 run(s)" in capsys.readouterr().out
    for argv, said in ((["--where", "width=wide"], "--where width= must be an integer"),
                       (["--out", str(tmp_path / "c.xlsx")], "cannot infer the export format")):
        full = ["results", "curves", "--store", str(store), "--out", str(out), *argv]
        code = main(full)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and said in err, err


def test_results_curves_on_a_store_without_traces(tmp_path, capsys):
    path = tmp_path / "old.db"
    with ResultsStore(path) as s:
        s.add(RunResult(RunConfig(n=6, k=2, width=8), True, 100, 0.05, 0.0, "success", 100))
    out = tmp_path / "c.csv"
    assert main(["results", "curves", "--store", str(path), "--out", str(out)]) == 0
    assert "no stored run has a learning curve" in capsys.readouterr().out
    assert out.read_text().strip() == ",".join(CURVE_COLUMNS)


# --- the figure ---------------------------------------------------------------------------------

def test_curves_figure_layout_and_band(store):
    pytest.importorskip("pandas")
    fig = curves_figure(store)
    check_layout(fig)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["n=10, k=3", "n=14, k=3"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["width=16, online (4 seeds)", "width=64, m=500 (4 seeds)",
                      "success: test error <= 0.1"]  # the trace-less width=8 run is not drawn
    # the median line is the median over seeds, carrying each stopped run's final error
    frame = load_curves(store, where=["n=10", "width=16"])
    runs = [(g["step"].to_numpy(), g["test_error"].to_numpy()) for _, g in frame.groupby("key")]
    last = max(int(steps[-1]) for steps, _ in runs)
    held = [values[-1] for _, values in runs]
    line = next(a for a in axes[0].lines if a.get_label().startswith("width=16"))
    x, y = line.get_data()
    assert x[-1] == last and y[-1] == pytest.approx(np.median(held))


def test_curves_figure_notebook_api_linear_axis_and_errors(store, tmp_path):
    pytest.importorskip("pandas")
    frame = load_curves(store)
    fig = check_notebook_api(curves_figure, 2, frame)
    check_layout(fig)
    assert {a.get_xscale() for a in fig.axes} == {"linear"}  # 100..~2000: not 30x
    assert {a.get_xscale() for a in curves_figure(frame, log_x=True).axes} == {"log"}
    with pytest.raises(ValueError, match="no learning curves"):
        curves_figure(store, where="n=99")
    with pytest.raises(ValueError, match="load_curves DataFrame"):
        curves_figure({"step": [1]})
    title = curves_figure(store, where=["width=64"])._suptitle.get_text()
    assert "(all runs: width=64, m=500, max_steps=4000, test_size=2000)" in title
    written = plot_curves(store, tmp_path / "figs", where=["width=64"])
    assert written == [str(tmp_path / "figs" / "curves.png")]
    assert (tmp_path / "figs" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.rsplit(".", 1)[1] for p in plot_curves(store, tmp_path, fmt=None)] == ["png",
                                                                                    "pdf"]
    with pytest.raises(ValueError, match="fmt must be"):
        plot_curves(store, tmp_path, fmt="svg")


def test_plot_curves_cli(store, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", "curves", "--store", str(store), "--out", str(out), "--where", "n=10",
                 "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)["figures"]
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["pdf", "png"]
    assert all((out / p.rsplit("/", 1)[1]).stat().st_size > 0 for p in paths)
    code = main(["plot", "curves", "--store", str(store), "--out", str(out), "--where",
                 "n=999"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
