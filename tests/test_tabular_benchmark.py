"""Tabular proxy: datasets, splits, the forest, the benchmark runner and its store, the figure.

Only offline datasets (scikit-learn's bundled ones, synthetic tasks); OpenML is exercised
through its cache and a stand-in for fetch_openml, never the network. Statistical checks use
fixed seeds and 5 standard errors of tolerance (false alarm below 1e-6 per comparison).
"""

from __future__ import annotations

import json
import math
import sqlite3
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import parity_frontiers.verify.experiments.tabular as tabular_package

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

from scipy import stats  # noqa: E402

from parity_frontiers.verify.config import RunConfig, RunResult  # noqa: E402
from parity_frontiers.verify.experiments.store import ResultsStore  # noqa: E402
from parity_frontiers.verify.experiments.tabular import datasets as ds  # noqa: E402
from parity_frontiers.verify.experiments.tabular.benchmark import (  # noqa: E402
    TABLE,
    TabularStore,
    parse_model,
    run_benchmark,
    summarize,
)
from parity_frontiers.verify.experiments.tabular.forest import FOREST_GRID, fit_forest  # noqa: E402

TINY_MLP = {"max_epochs": 5, "min_steps": 0, "learning_rate": 1e-2, "batch_size": 32}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_lazy_exports_resolve():
    for name in tabular_package.__all__:
        assert getattr(tabular_package, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        tabular_package.no_such_name  # noqa: B018


# --- datasets ---------------------------------------------------------------------------------

def test_names_aliases_and_unknown_names():
    assert ds.resolve_names(["offline"]) == ["iris", "wine", "breast_cancer", "digits",
                                             "sparse_parity", "axis_rule"]
    grinsztajn = ds.resolve_names("grinsztajn")
    assert len(grinsztajn) == 16 and all(n.startswith("openml-") for n in grinsztajn)
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        ds.resolve_names(["iris", "nope"])
    with pytest.raises(ValueError, match="unknown dataset"):
        ds.load_dataset("nope")


@pytest.mark.parametrize("name, shape, classes", [
    ("iris", (150, 4), 3), ("wine", (178, 13), 3), ("breast_cancer", (569, 30), 2),
    ("digits", (1797, 64), 10), ("sparse_parity", (3000, 20), 2), ("axis_rule", (3000, 20), 2),
])
def test_offline_datasets_load(name, shape, classes):
    data = ds.load_dataset(name)
    assert data.X.shape == shape and data.X.dtype == np.float64
    assert len(data.class_counts) == classes and np.isfinite(data.X).all()


def test_synthetic_label_rates_match_their_derived_values():
    # sparse parity: P(y = 1) = 1/2; every single feature's sign is independent of y.
    X, y, support = ds.make_sparse_parity(40000, 10, 3, random_state=11)
    se = math.sqrt(0.25 / len(y))
    assert abs(y.mean() - 0.5) < 5 * se
    for j in range(10):
        agree = np.mean((X[:, j] > 0) == (y == 1))
        assert abs(agree - 0.5) < 5 * se, j
    # ... but the parity of the support's signs is y exactly (the hidden rule).
    assert np.all(y == (np.prod(np.sign(X[:, support]), axis=1) < 0))
    # axis rule: P(y = 1) = 1/4 + 3/4 (1 - Phi(1)).
    X, y, _ = ds.make_axis_rule(40000, 8, random_state=12)
    p = 0.25 + 0.75 * stats.norm.sf(1.0)
    assert abs(y.mean() - p) < 5 * math.sqrt(p * (1 - p) / len(y))


def test_split_and_training_counts_are_stratified_and_nested():
    y = np.array([0] * 400 + [1] * 100 + [2] * 60)
    rng = np.random.default_rng(0)
    test, pools = ds.stratified_split(y, rng, test_fraction=0.25)
    assert np.bincount(y[test]).tolist() == [100, 25, 15]
    assert [len(p) for p in pools] == [300, 75, 45]
    everything = np.concatenate([test] + pools)
    assert len(np.unique(everything)) == len(y)  # a partition
    for label, pool in enumerate(pools):
        assert (y[pool] == label).all()
    small = ds.train_counts([300, 75, 45], 0.1)
    big = ds.train_counts([300, 75, 45], 0.5)
    assert small.tolist() == [30, 8, 5] and big.tolist() == [150, 38, 23]
    assert ds.train_counts([300, 75, 45], 1.0).tolist() == [300, 75, 45]
    # Nested: the fraction's rows are a prefix of each class's permuted pool.
    rows_small = {int(r) for p, c in zip(pools, small, strict=True) for r in p[:c]}
    rows_big = {int(r) for p, c in zip(pools, big, strict=True) for r in p[:c]}
    assert rows_small < rows_big
    # max_test caps the test split.
    t, p = ds.split_counts([400, 100, 60], 0.25, max_test=56)
    assert t.tolist() == [40, 10, 6] and p.tolist() == [360, 90, 54]


def test_fraction_down_to_1e4_and_the_empty_class_error():
    assert ds.train_counts([200000, 30000], 1e-4).tolist() == [20, 3]
    with pytest.raises(ValueError, match="leaves class 1 with 0 training rows") as info:
        ds.train_counts([200000, 4000], 1e-4, min_per_class=1)
    # The advertised smallest fraction works, and slightly less does not.
    needed = float(str(info.value).rsplit(" ", 1)[1])
    assert ds.train_counts([200000, 4000], needed, min_per_class=1)[1] == 1
    with pytest.raises(ValueError):
        ds.train_counts([200000, 4000], needed * 0.99, min_per_class=1)
    for bad in (0.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="training fraction must be in"):
            ds.train_counts([10, 10], bad)


def test_suggested_smallest_fraction_always_works():
    # The advice is rounded UP at 3 significant digits: for every pool size of the smallest
    # class and min_per_class 1..3 the suggested fraction passes and a 1% smaller one fails
    # (exhaustive over pool sizes 2..5000, the regression case being breast_cancer's 159).
    for minimum in (1, 2, 3):
        for smallest in range(minimum, 5001):
            pool = [smallest + 1000, smallest]
            with pytest.raises(ValueError, match="smallest fraction that works is") as info:
                ds.train_counts(pool, 1e-6, min_per_class=minimum)
            needed = float(str(info.value).rsplit(" ", 1)[1])
            assert ds.train_counts(pool, needed, min_per_class=minimum).min() >= minimum, \
                (pool, needed)
            exact = (minimum - 0.5) / smallest
            assert exact <= needed <= exact * (1 + 1e-2), (pool, needed)


# --- OpenML through the cache (no network) ----------------------------------------------------

def _fake_bunch():
    from sklearn.utils import Bunch

    rng = np.random.default_rng(0)
    return Bunch(data=rng.standard_normal((40, 3)), target=np.array(["a", "b"] * 20),
                 details={"name": "fake-credit"})


def test_uncached_openml_without_download_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not cached .* downloading is off"):
        ds.load_dataset("openml-44089", cache_dir=tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_uncached_openml_with_no_network_is_one_clear_error(tmp_path, monkeypatch):
    import sklearn.datasets

    def offline(**kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(ValueError, match="could not be downloaded") as info:
        ds.load_dataset("openml-44089", cache_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "openml-44089.npz").exists()


def test_failed_download_is_silent_and_removes_only_what_it_created(tmp_path, monkeypatch):
    import warnings

    import sklearn.datasets

    def offline_like_sklearn(data_id, data_home, **kwargs):
        # What scikit-learn does without a network: folders under data_home, a warning,
        # retries, then the error.
        (Path(data_home) / "openml" / "openml.org" / "api" / "v1").mkdir(parents=True)
        (Path(data_home) / "openml" / "partial.gz").write_bytes(b"x")
        warnings.warn("A network error occurred while downloading ... Retrying...",
                      UserWarning, stacklevel=2)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline_like_sklearn)
    fresh = tmp_path / "new" / "cache"  # neither folder exists yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="could not be downloaded"):
            ds.load_dataset("openml-44089", cache_dir=fresh)
    assert caught == []
    assert list(tmp_path.iterdir()) == []
    # A cache folder already in use keeps everything it held before.
    used = tmp_path / "used"
    keep = used / "sklearn" / "openml" / "other.gz"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"keep")
    (used / "openml-1.npz").write_bytes(b"npz")
    with pytest.raises(ValueError, match="could not be downloaded"):
        ds.load_dataset("openml-44089", cache_dir=used)
    assert sorted(p.relative_to(used).as_posix() for p in used.rglob("*")) == [
        "openml-1.npz", "sklearn", "sklearn/openml", "sklearn/openml/other.gz"]


def test_openml_downloaded_once_then_loaded_offline(tmp_path, monkeypatch):
    import sklearn.datasets

    calls = []

    def fetch(**kwargs):
        calls.append(kwargs["data_id"])
        return _fake_bunch()

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    first = ds.load_dataset("openml-44120", cache_dir=tmp_path)
    assert calls == [44120] and ds.openml_cached("openml-44120", tmp_path)

    def no_network(**kwargs):
        raise AssertionError("a cached dataset must not be fetched again")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", no_network)
    second = ds.load_dataset("openml-44120", cache_dir=tmp_path, download=False)
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.y, second.y)
    assert "fake-credit" in second.description and second.source == "openml"


# --- forest -----------------------------------------------------------------------------------

def test_forest_tuned_by_out_of_bag_accuracy():
    data = ds.load_dataset("wine")
    model, details = fit_forest(data.X, data.y, random_state=0, n_estimators=30)
    points = [{"max_features": f, "min_samples_leaf": m}
              for f in FOREST_GRID["max_features"] for m in FOREST_GRID["min_samples_leaf"]]
    assert len(details["grid_oob"]) == len(points)
    best = int(np.argmax(details["grid_oob"]))  # first of the best, as documented
    assert details["best_params"] == points[best]
    assert details["oob_accuracy"] == details["grid_oob"][best] == model.oob_score_
    assert model.n_estimators == 30
    # Independent route: the chosen point refit alone gives the same forest.
    from sklearn.ensemble import RandomForestClassifier

    again = RandomForestClassifier(n_estimators=30, random_state=0, oob_score=True,
                                   **points[best]).fit(data.X, data.y)
    assert again.oob_score_ == model.oob_score_
    np.testing.assert_array_equal(again.predict_proba(data.X), model.predict_proba(data.X))
    # A handful of rows (one class with a single row) still gives a forest; leaves of 5 rows
    # are skipped there (larger than the rarest class).
    rows = [0, 1, 2, 60, 61, 130]
    model, details = fit_forest(data.X[rows], data.y[rows], n_estimators=5)
    assert model.predict(data.X[rows]).shape == (6,)
    assert details["best_params"]["min_samples_leaf"] == 1
    assert [s is None for s in details["grid_oob"]] == [False, True, False, True]


def test_parse_model():
    assert parse_model("rf").kind == "rf"
    spec = parse_model("mlp:64x32:s=4", {"max_epochs": 7})
    assert (spec.hidden, spec.s, spec.settings["max_epochs"]) == ((64, 32), 4, 7)
    assert parse_model("mlp:1e3").hidden == (1000,) and parse_model("mlp:8").s is None
    for bad in ("svm", "mlp", "mlp:0", "mlp:8:t=2", "mlp:8:s=x", "mlp:axb"):
        with pytest.raises(ValueError, match="model must be"):
            parse_model(bad)
    with pytest.raises(ValueError, match="unknown MLP settings"):
        parse_model("mlp:8", {"epochs": 3})


# --- runner and store -------------------------------------------------------------------------

def _wilson(errors: int, n: int, z: float = stats.norm.ppf(0.975)):
    # Written out from the formula (not through scipy.binomtest) as an independent route.
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _run(path, **kwargs):
    base = dict(datasets=["iris", "wine"], fractions=[0.3, 1.0], trials=2,
                models=["rf", "mlp:16", "mlp:16:s=2"], forest_trees=8, mlp_settings=TINY_MLP,
                progress=False, device="cpu")
    return run_benchmark(path, **{**base, **kwargs})


def test_benchmark_rows_intervals_resume_and_shared_store(tmp_path):
    path = tmp_path / "results.db"
    out = _run(path)
    assert out["trained"] == out["tasks"] == 2 * 2 * 2 * 3 and out["skipped"] == 0
    with TabularStore(path, readonly=True) as store:
        rows = store.rows()
    assert len(rows) == 24 and len({r["key"] for r in rows}) == 24
    for r in rows:
        assert r["test_error"] == r["test_errors"] / r["n_test"]
        low, high = _wilson(r["test_errors"], r["n_test"])
        assert r["test_ci_low"] == pytest.approx(low, abs=1e-9)
        assert r["test_ci_high"] == pytest.approx(high, abs=1e-9)
        config = json.loads(r["config_json"])
        assert (config["dataset"], config["trial"]) == (r["dataset"], r["trial"])
    # One test split per (dataset, trial), shared by every model and fraction.
    for name in ("iris", "wine"):
        assert len({r["n_test"] for r in rows if r["dataset"] == name}) == 1
    small = {r["n_train"] for r in rows if r["dataset"] == "iris" and r["fraction"] == 0.3}
    assert small == {33}  # 3 classes x floor(0.3 * 38 + 0.5) = 3 x 11
    # Resume: nothing retrained, nothing duplicated.
    again = _run(path)
    assert (again["trained"], again["skipped"]) == (0, 24)
    assert again["cells"] == out["cells"]
    # The file is still a results store: ResultsStore opens it, and its runs table works.
    with ResultsStore(path) as store:
        assert store.count() == 0
        assert store.add(RunResult(RunConfig(n=6, k=2, width=8, seed=3), True, 400, 0.05, 0.0,
                                   "success", 400))
    with ResultsStore(path, readonly=True) as store:
        store.check()
        assert store.count() == 1
    with TabularStore(path) as store:
        assert store.count() == 24


def test_summary_means_and_t_intervals_match_scipy(tmp_path):
    path = tmp_path / "results.db"
    _run(path, datasets=["wine"], fractions=[0.5], trials=3, models=["rf"])
    with TabularStore(path, readonly=True) as store:
        errors = [r["test_error"] for r in store.rows()]
        wrong, tested = (sum(r[k] for r in store.rows()) for k in ("test_errors", "n_test"))
    (row,) = summarize(path)
    assert row["trials"] == 3 and row["interval"] == "t+wilson"
    assert row["test_error"] == pytest.approx(np.mean(errors))
    # The union of scipy's t interval and the pooled Wilson (score) interval from statsmodels'
    # formula, written out here: an independent route for both halves.
    low, high = stats.t.interval(0.95, 2, loc=np.mean(errors), scale=stats.sem(errors))
    z, p = stats.norm.ppf(0.975), wrong / tested
    centre = (p + z**2 / (2 * tested)) / (1 + z**2 / tested)
    half = z * math.sqrt(p * (1 - p) / tested + z**2 / (4 * tested**2)) / (1 + z**2 / tested)
    assert row["ci_low"] == pytest.approx(min(max(0.0, low), centre - half))
    assert row["ci_high"] == pytest.approx(max(min(1.0, high), centre + half))


def _row(trial, errors, n_test=30, config=None, model="rf", fraction=0.5):
    config = {"seed": 0, "test_fraction": 0.25, "max_test": 5000, "min_per_class": 2,
              "model": {"kind": "rf", "settings": {"n_estimators": 100}}, **(config or {}),
              "dataset": "iris", "fraction": fraction, "trial": trial}
    return dict(dataset="iris", model=model, fraction=fraction, trial=trial,
                test_errors=errors, n_test=n_test, test_error=errors / n_test, n_train=20,
                config_json=json.dumps(config))


def test_summary_never_pools_results_with_different_settings():
    trees50 = {"model": {"kind": "rf", "settings": {"n_estimators": 50}}}
    rows = [_row(0, 3), _row(1, 5), _row(0, 4, n_test=40, config={"test_fraction": 0.33}),
            _row(0, 2, config=trees50), _row(1, 2, config=trees50)]
    summary = {r["model"]: r for r in summarize(rows)}
    # Three settings of one model: three rows, labelled by the settings that differ.
    assert set(summary) == {"rf [n_estimators=100, test_fraction=0.25]",
                            "rf [n_estimators=100, test_fraction=0.33]",
                            "rf [n_estimators=50, test_fraction=0.25]"}
    assert [summary[m]["trials"] for m in sorted(summary)] == [2, 1, 2]
    assert summary["rf [n_estimators=100, test_fraction=0.25]"]["test_error"] == \
        pytest.approx((3 / 30 + 5 / 30) / 2)
    # One setting only (the usual case): the plain model label, trials pooled.
    (single,) = summarize(rows[:2])
    assert single["model"] == "rf" and single["variant"] == "" and single["trials"] == 2


def test_summary_interval_keeps_width_when_all_trials_agree():
    # Identical errors make the t interval [e, e]; the pooled Wilson interval stays.
    for errors, n_test in ((0, 30), (10, 30), (30, 30)):
        (row,) = summarize([_row(t, errors, n_test) for t in range(3)])
        wilson = stats.binomtest(3 * errors, 3 * n_test).proportion_ci(method="wilson")
        assert row["ci_low"] == pytest.approx(wilson.low)
        assert row["ci_high"] == pytest.approx(wilson.high)
        assert row["ci_high"] - row["ci_low"] >= 0.04  # z^2 / (n + z^2) at 0 of 90


def test_interrupted_benchmark_resumes_without_loss(tmp_path):
    path = tmp_path / "results.db"
    seen = []

    def stop_after_two(row):
        seen.append(row["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(path, datasets=["iris"], models=["rf"], on_result=stop_after_two)
    with TabularStore(path, readonly=True) as store:
        assert store.keys() == set(seen)
    out = _run(path, datasets=["iris"], models=["rf"])
    assert (out["trained"], out["skipped"]) == (2, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(datasets=["iris", "nope"]), "unknown dataset 'nope'"),
    (dict(datasets=["wine"], fractions=[0.5, 0.01]), "leaves class"),
    (dict(datasets=["openml-44089"], download=False), "not cached"),
    (dict(fractions=[0.0]), "training fraction must be in"),
    (dict(models=["rf", "rf"]), "listed twice"),
    (dict(models=["mlp:8:s=0"]), "s must be >= 1"),
    (dict(mlp_settings={"learning_rate": -1.0}), "learning_rate must be in"),
    (dict(trials=0), "trials must be >= 1"),
    pytest.param(dict(device="cuda"), "CUDA is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
])
def test_bad_input_writes_nothing(tmp_path, kwargs, message):
    path = tmp_path / "results.db"
    with pytest.raises(ValueError, match=message):
        _run(path, cache_dir=tmp_path / "cache", **kwargs)
    assert not path.exists()
    # An existing store is left as it was.
    _run(path, datasets=["iris"], fractions=[1.0], trials=1, models=["rf"])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        _run(path, cache_dir=tmp_path / "cache", **kwargs)
    with TabularStore(path, readonly=True) as store:
        assert store.count() == 1
    assert path.read_bytes() == before


def test_tabular_store_refuses_non_stores_and_foreign_tables(tmp_path):
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all")
    with pytest.raises(ValueError, match="not a parity-frontiers results store"):
        TabularStore(other)
    assert other.read_bytes() == b"not a database at all"
    path = tmp_path / "results.db"
    ResultsStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE {TABLE} (key TEXT PRIMARY KEY, something TEXT)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="another schema"):
        TabularStore(path)


# --- figure -----------------------------------------------------------------------------------

def test_figure_from_store(tmp_path):
    from parity_frontiers.figures.tabular import plot_tabular

    path = tmp_path / "results.db"
    _run(path, datasets=["iris", "wine", "breast_cancer"], fractions=[0.2, 1.0],
         trials=1, models=["rf"])
    files = plot_tabular(path, tmp_path / "fig", ncols=2)  # 2 x 2 panels, one hidden
    assert [f.name for f in files] == ["tabular.png", "tabular.pdf"]
    assert all(f.stat().st_size > 1000 for f in files)
    with pytest.raises(ValueError, match="no tabular results for dataset"):
        plot_tabular(path, tmp_path / "fig", datasets=["digits"])
    empty = tmp_path / "empty.db"
    ResultsStore(empty).close()
    with pytest.raises(ValueError, match="no tabular results to plot"):
        plot_tabular(empty, tmp_path / "fig2")


def test_figure_legend_covers_every_panel_and_every_setting(tmp_path, monkeypatch):
    import parity_frontiers.figures.tabular as fig_module

    captured = []
    monkeypatch.setattr(fig_module, "save_figure",
                        lambda fig, out_dir, stem: captured.append(fig) or [])
    trees50 = {"model": {"kind": "rf", "settings": {"n_estimators": 50}}}
    rows = [_row(0, 3), _row(1, 4), _row(0, 2, config=trees50), _row(1, 2, config=trees50)]
    # A model present only in the second panel still gets its legend entry.
    rows += [dict(_row(t, 5), dataset="wine", model="mlp 16") for t in range(2)]
    fig_module.plot_tabular(summarize(rows), tmp_path)
    (legend,) = captured[0].legends
    assert sorted(t.get_text() for t in legend.get_texts()) == [
        "mlp 16", "rf [n_estimators=100]", "rf [n_estimators=50]"]


def test_default_mlp_settings_take_the_minimum_step_budget(tmp_path):
    # 24 training rows = 1 Adam step an epoch: 200 epochs would be 200 steps; the default
    # budget makes it at least 2000 (no early stop before), as documented.
    out = run_benchmark(tmp_path / "r.db", ["iris"], [0.2], trials=1, models=["mlp:8"],
                        progress=False, device="cpu")
    assert out["trained"] == 1
    with TabularStore(tmp_path / "r.db", readonly=True) as store:
        (row,) = store.rows()
    details = json.loads(row["details_json"])
    assert details["steps"] >= 2000 and details["epochs"] == details["steps"]
    assert json.loads(row["config_json"])["model"]["settings"]["min_steps"] == 2000
