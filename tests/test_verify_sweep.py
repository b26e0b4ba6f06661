"""Sweeps: grid rules, TOML files, resumable run_sweep (fake trainer), and one real tiny sweep."""

from __future__ import annotations

import math
import re
import types
from pathlib import Path

import pytest

import parity_frontiers.verify.experiments.grid as sweep_module
import parity_frontiers.verify.experiments.local as local_module
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.verify.analysis.summaries import median_steps_to_success, summarize
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.grid import (
    TRAIN_KEYS,
    build_grid,
    grid_from_toml,
    read_sweep_toml,
)
from parity_frontiers.verify.experiments.local import train_runs
from parity_frontiers.verify.experiments.store import ResultsStore
from parity_frontiers.verify.experiments.sweep import run_sweep
from parity_frontiers.verify.training.device import check_device

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "verify" / "examples" / "sweep_small.toml"
TINY = dict(max_steps=200, eval_every=50, test_size=500)


# --- a fake trainer with the real one's API -----------------------------------------------------

def fake_outcome(config: RunConfig) -> RunResult:
    """Deterministic per config: about two runs in three succeed."""
    h = int(config.key()[:8], 16)
    if h % 3:
        steps = (h % 4 + 1) * config.eval_every
        return RunResult(config, True, steps, 0.05, 0.0, "success", steps)
    return RunResult(config, False, None, 0.4, 0.2, "max_steps", config.max_steps)


class FakeTrainer(types.SimpleNamespace):
    def __init__(self, size=4, fail_after=None):
        super().__init__(size=size, calls=[], fail_after=fail_after, finished=0)

    def max_ensemble_size(self, config, memory_cap_bytes=None, device="cpu"):
        if memory_cap_bytes is not None:
            return memory_cap_bytes // 1000
        return self.size

    def estimate_ensemble_bytes(self, config, ensemble_size, device="auto"):
        return 1000 * ensemble_size

    def estimate_configs_bytes(self, configs, device="auto"):
        return 1000 * len(configs)

    def plan_chunks(self, configs, cap, device="auto", max_ensemble=None):
        # 1000 bytes a run; the default cap (GiBs) stands for `size` runs
        size = self.size if cap >= 2**30 else cap // 1000
        if max_ensemble is not None:
            size = min(size, max_ensemble)
        return [configs[i:i + size] for i in range(0, len(configs), size)]

    def train_ensemble(self, configs, device="auto", on_result=None, progress=None,
                       memory_cap_bytes=None):
        assert len({c.ensemble_key() for c in configs}) == 1, "one ensemble key per ensemble"
        self.calls.append(list(configs))
        results = []
        for config in configs:
            if progress is not None:
                progress(config.eval_every)
            if self.fail_after is not None and self.finished >= self.fail_after:
                raise KeyboardInterrupt
            result = fake_outcome(config)
            self.finished += 1
            if on_result is not None:
                on_result(result)
            results.append(result)
        return results


@pytest.fixture
def fake(monkeypatch):
    trainer = FakeTrainer()
    monkeypatch.setattr(local_module, "_trainer_module", lambda: trainer)
    for name in ("estimate_ensemble_bytes", "estimate_configs_bytes", "plan_chunks"):
        monkeypatch.setattr(local_module, name, getattr(trainer, name))
    return trainer


# --- grids -------------------------------------------------------------------------------------

def test_grid_product_and_order():
    grid = build_grid(n=[6, 8], k=[2, 3], width=[16, 32], samples=[100, "online"], seeds=3)
    assert len(grid) == 2 * 2 * 2 * 2 * 3
    assert len({c.key() for c in grid}) == len(grid)
    assert len({c.shape_key() for c in grid}) == 16
    # each point's seeds are consecutive
    assert [c.seed for c in grid[:6]] == [0, 1, 2, 0, 1, 2]
    assert grid[0].samples == 100 and grid[3].samples is None


def test_grid_s_applies_to_sparse_only():
    grid = build_grid(n=10, k=3, width=8, init=["dense", "sparse"], s=[2, 4], seeds=2)
    points = [(c.init, c.s) for c in grid if c.seed == 0]
    assert points == [("dense", None), ("sparse", 2), ("sparse", 4)]
    with pytest.raises(ValueError, match="sparse init needs s"):
        build_grid(n=10, k=3, width=8, init="sparse")
    with pytest.raises(ValueError, match="no sparse init"):
        build_grid(n=10, k=3, width=8, init="dense", s=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=[5, 10], k=6, width=8), r"invalid grid point \(n=5, k=6.*k must be <= n"),
    (dict(n=[10, 5], k=2, width=8, init="sparse", s=7), r"n=5.*s must be <= n"),
    (dict(n=10, k=2, width=0), "width must be >= 1"),
    (dict(n=10, k=2, width=8, seeds=0), "seeds must be >= 1"),
    (dict(n=10, k=2, width=8, seeds=[0, 1], seed_start=3), "seed_start goes with"),
    (dict(n=10, k=2, width=8, seeds=[-1]), "seeds must be >= 0"),
    (dict(n=10, k=2, width=8, samples="lots"), "samples must be an integer or 'online'"),
    (dict(n=10.5, k=2, width=8), "n must be an integer"),
    (dict(n=10, k=2, width=8, init="xavier"), "init must be one of"),
    (dict(n=10, k=2, width=8, momentum=0.9), "unknown training setting"),
    (dict(n=10, k=2, width=8, loss="l1"), "loss must be one of"),
    (dict(n=[], k=2, width=8), "n must have at least one value"),
])
def test_grid_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_grid(**kwargs)


def test_grid_normalises_values():
    a = build_grid(n=10.0, k=2, width=1e1, lr=1, samples=[1e3, 1000], seeds=[3, 3, 1])
    assert [(c.width, c.samples, c.seed) for c in a] == [(10, 1000, 3), (10, 1000, 1)]
    assert a[0].lr == 1.0 and isinstance(a[0].lr, float) and isinstance(a[0].n, int)
    # lr=1 and lr=1.0 are the same run, so the same store key
    assert a[0].key() == build_grid(n=10, k=2, width=10, lr=1.0, samples=1000, seeds=[3])[0].key()
    assert build_grid(n=10, k=2, width=8, seeds=2, seed_start=5)[1].seed == 6


# --- TOML --------------------------------------------------------------------------------------

def test_example_toml():
    grid = grid_from_toml(EXAMPLE)
    assert len(grid) == 2 * 2 * 3 * 2 * 4
    assert {c.init for c in grid} == {"dense", "sparse"}
    assert {c.s for c in grid if c.init == "sparse"} == {2}
    assert {c.s for c in grid if c.init == "dense"} == {None}
    assert {c.samples for c in grid} == {200, 2000, None}
    assert {c.max_steps for c in grid} == {5000}
    assert set(read_sweep_toml(EXAMPLE)) <= set(sweep_module.GRID_KEYS) | set(TRAIN_KEYS)


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_toml_full_settings(tmp_path):
    path = write(tmp_path, """
        [grid]
        n = 8
        k = [2]
        width = [16, 32]
        samples = ["online", 2e2]
        init = "sparse"
        s = 2
        seeds = [4, 7]
        [train]
        depth = 2
        max_steps = 1e3
        eval_every = 10
        batch_size = 8
        lr = 0.05
        weight_decay = 0
        loss = "square"
        test_size = 100
        success_error = 0.2
    """)
    grid = grid_from_toml(path)
    assert len(grid) == 8
    c = grid[-1]
    assert (c.n, c.k, c.width, c.samples, c.init, c.s, c.seed) == (8, 2, 32, 200, "sparse", 2, 7)
    assert (c.depth, c.max_steps, c.eval_every, c.batch_size, c.lr, c.weight_decay, c.loss,
            c.test_size, c.success_error) == (2, 1000, 10, 8, 0.05, 0.0, "square", 100, 0.2)


@pytest.mark.parametrize("text, match", [
    ("[grid\nn = 3", "not valid TOML"),
    ("n = [10]\nk = 2\nwidth = 8", "unknown table"),
    ("[train]\nlr = 0.1", "needs a \\[grid\\] table"),
    ("[grid]\nn = 10\nk = 2", "needs width"),
    ("[grid]\nn = 10\nk = 2\nwidth = 8\nwidths = 9", "unknown key.*widths"),
    ("[grid]\nn = 10\nk = 2\nwidth = 8\n[train]\nmomentum = 0.9", r"\[train\]: momentum"),
    ("[grid]\nn = 10\nk = 12\nwidth = 8", "k must be <= n"),
    ("[grid]\nn = 10\nk = 2\nwidth = 8\ninit = 'sparse'", "sparse init needs s"),
])
def test_bad_toml(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as info:
        grid_from_toml(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("line, match", [
    # a value of the wrong type names its key (these raised TypeError: unhashable type)
    ("samples = {a = 1}", "samples must be a value or a list of values, not a table"),
    ("n = [[10]]", "n: each value must be a single value, not a list"),
    ("width = [8, {r = 2}]", "width: each value must be a single value, not a table"),
    ("init = [['dense']]", "init: each value must be a single value"),
    ("seeds = [[1, 2]]", "seeds: each value must be a single value"),
    ("seeds = {a = 1}", "seeds must be a value or a list of values, not a table"),
    ("n = true", "n must be an integer, got True"),
    ("n = '10'", "n must be an integer, got '10'"),
    ("samples = true", "samples must be an integer or 'online', got True"),
    ("samples = '100'", "samples must be an integer or 'online'"),
    ("seeds = true", "seeds must be an integer, got True"),
    ("seed_start = [1]", "seed_start must be an integer, got \\[1\\]"),
    ("init = 1", "init must be one of"),
    ("n = 1979-05-27", "n must be an integer"),
])
def test_toml_wrong_types_name_the_key(tmp_path, line, match):
    grid = dict(n="10", k="2", width="8")
    key = line.split(" = ")[0]
    grid.pop(key, None)
    text = "[grid]\n" + "".join(f"{k} = {v}\n" for k, v in grid.items()) + line + "\n"
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as info:
        grid_from_toml(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("line, match", [
    ("lr = '0.1'", "lr must be a number, got '0.1'"),
    ("lr = [0.1, '0.2']", "lr must be a number, got '0.2'"),
    ("weight_decay = true", "weight_decay must be a number, got True"),
    ("max_steps = {a = 1}", "max_steps must be a value or a list of values, not a table"),
    ("depth = false", "depth must be an integer, got False"),
    ("loss = {a = 1}", "loss must be a value or a list of values, not a table"),
    ("loss = [['hinge']]", "loss: each value must be a single value, not a list"),
    ("loss = 1", "loss must be one of"),
])
def test_toml_train_wrong_types(tmp_path, line, match):
    path = write(tmp_path, f"[grid]\nn = 10\nk = 2\nwidth = 8\n[train]\n{line}\n")
    with pytest.raises(ValueError, match=match) as info:
        grid_from_toml(path)
    assert str(path) in str(info.value)


def test_grid_size_cap_before_building(monkeypatch):
    # --seeds 1e9 built the whole grid (minutes, then MemoryError); 1e30 overflowed.
    built = []
    real = sweep_module.RunConfig

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "RunConfig", counting)
    for seeds, count in ((1e9, "2,000,000,000"), (1e30, "2e+30"), (range(10**30), "2e+30")):
        with pytest.raises(ValueError, match=re.escape(f"the grid has {count} runs")) as info:
            build_grid(n=[6, 8], k=2, width=8, seeds=seeds)
        assert "MAX_GRID_RUNS = 1,000,000" in str(info.value)
    # the product of the list lengths: 2 x 2 x 3 points (s counted for sparse only) x seeds
    assert sweep_module.MAX_GRID_RUNS == 1_000_000
    with pytest.raises(ValueError, match=r"has 1,200,000 runs \(12 point\(s\) x 100,000 seed"):
        build_grid(n=[6, 8], k=2, width=[8, 16], init=["dense", "sparse"], s=[2, 3],
                   seeds=100_000)
    assert built == []
    small = dict(n=[6, 8], k=2, width=[8, 16], init=["dense", "sparse"], s=2, seeds=3)
    monkeypatch.setattr(sweep_module, "MAX_GRID_RUNS", 24)  # exactly at the cap: built
    assert len(build_grid(**small)) == 24 == len(built)
    monkeypatch.setattr(sweep_module, "MAX_GRID_RUNS", 23)
    with pytest.raises(ValueError, match=r"has 24 runs \(8 point\(s\) x 3 seed"):
        build_grid(**small)
    assert len(built) == 24


@pytest.mark.parametrize("kwargs, match", [
    (dict(seeds=10, seed_start=2**63 - 5), r"every seed must be < 2\*\*63.*largest here is "
                                           "9223372036854775812 \\(seed_start \\+ seeds"),
    (dict(seed_start=1e30), "seed_start must be < 2\\*\\*63"),
    (dict(seed_start=2**63), "seed_start must be < 2\\*\\*63"),
    (dict(seeds=[1, 2**63]), "every seed must be < 2\\*\\*63.*9223372036854775808$"),
    (dict(seeds=[1e30]), "every seed must be < 2\\*\\*63"),
])
def test_seeds_stay_below_2_63(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_grid(n=6, k=2, width=8, **kwargs)


def test_largest_seeds_allowed():
    grid = build_grid(n=6, k=2, width=8, seeds=3, seed_start=2**63 - 3)
    assert [c.seed for c in grid] == [2**63 - 3, 2**63 - 2, 2**63 - 1]
    assert [c.seed for c in build_grid(n=6, k=2, width=8, seeds=range(5, 2, -1))] == [5, 4, 3]


def test_toml_missing_or_binary(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        grid_from_toml(tmp_path / "nope.toml")
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not valid TOML"):
        grid_from_toml(path)


# --- run_sweep with the fake trainer ----------------------------------------------------------

def test_sweep_groups_chunks_and_stores(fake, tmp_path):
    grid = build_grid(n=[6, 8], k=2, width=16, seeds=10, **TINY)
    with ResultsStore(tmp_path / "runs.db") as store:
        summary = run_sweep(grid, store, progress=False, max_ensemble=3)
        assert store.count() == 20
        assert store.completed_keys() == {c.key() for c in grid}
        assert store.results(keys=[grid[0].key()])[0] == fake_outcome(grid[0])
    # 10 seeds per shape in ensembles of <= 3 -> 4 calls per shape
    assert [len(call) for call in fake.calls] == [3, 3, 3, 1] * 2
    assert summary.total == 20 and summary.skipped == 0 and summary.trained == 20
    assert summary.successes == sum(fake_outcome(c).success for c in grid)
    assert [p["n"] for p in summary.points] == [6, 8]
    assert sum(p["runs"] for p in summary.points) == 20


def test_rerun_trains_nothing_and_resumes(fake, tmp_path):
    grid = build_grid(n=6, k=2, width=16, samples=[100, None], seeds=5, **TINY)
    path = tmp_path / "runs.db"
    with ResultsStore(path) as store:
        run_sweep(grid[:4], store, progress=False)
    fake.calls.clear()
    with ResultsStore(path) as store:
        summary = run_sweep(grid, store, progress=False)
        assert store.count() == 10
    assert summary.skipped == 4 and summary.trained == 6
    assert sorted(c.seed for call in fake.calls for c in call) == [0, 1, 2, 3, 4, 4]
    fake.calls.clear()
    with ResultsStore(path) as store:
        summary = run_sweep(grid + grid, store, progress=False)  # duplicates count once
    assert fake.calls == []
    assert (summary.total, summary.skipped, summary.trained) == (10, 10, 0)


def test_interrupted_sweep_keeps_finished_runs(fake, tmp_path):
    grid = build_grid(n=6, k=2, width=16, seeds=8, **TINY)
    path = tmp_path / "runs.db"
    fake.fail_after = 5
    with ResultsStore(path) as store, pytest.raises(KeyboardInterrupt):
        run_sweep(grid, store, progress=False, max_ensemble=2)
    with ResultsStore(path) as store:
        assert store.completed_keys() == {c.key() for c in grid[:5]}
    fake.fail_after = None
    with ResultsStore(path) as store:
        summary = run_sweep(grid, store, progress=False)
        assert [r.config.seed for r in store.results()] == list(range(8))
    assert (summary.skipped, summary.trained) == (5, 3)


def test_damaged_store_found_before_training(fake, tmp_path):
    # The review's reproduction: 30 stored runs, the last 4096 bytes overwritten. The keys
    # still read (their index is intact), so only a check of the whole store finds the damage
    # -- it must, before anything is trained, not at the first store.add.
    import random

    path = tmp_path / "g.db"
    with ResultsStore(path) as store:
        run_sweep(build_grid(n=6, k=2, width=16, seeds=30, **TINY), store, progress=False)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size - 4096)
        handle.write(random.Random(0).randbytes(4096))
    fake.calls.clear()
    with ResultsStore(path) as store:
        assert len(store.completed_keys()) == 30  # the case the check is for
        with pytest.raises(ValueError, match="damaged results store") as info:
            run_sweep(build_grid(n=6, k=2, width=16, seeds=40, **TINY), store, progress=False)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert fake.calls == []


def test_memory_cap_sets_ensemble_size(fake, tmp_path):
    grid = build_grid(n=6, k=2, width=16, seeds=5, **TINY)
    train_runs(grid, progress=False, memory_cap_bytes=2500)  # fake: 1000 bytes per run
    assert [len(call) for call in fake.calls] == [2, 2, 1]
    with pytest.raises(ValueError, match="does not fit"):
        train_runs(grid, progress=False, memory_cap_bytes=999)
    with pytest.raises(ValueError, match="max_ensemble"):
        train_runs(grid, progress=False, max_ensemble=0)


def test_train_runs_returns_in_config_order(fake):
    grid = build_grid(n=[6, 7], k=2, width=16, seeds=3, **TINY)
    mixed = grid[::-1]
    results = train_runs(mixed, progress=False, max_ensemble=2)
    assert [r.config for r in results] == mixed
    assert train_runs([], progress=False) == []


def test_summarize_wilson():
    grid = build_grid(n=6, k=2, width=16, seeds=7, **TINY)
    results = [fake_outcome(c) for c in grid]
    (point,) = summarize(results)
    wins = sum(r.success for r in results)
    expected = proportion_estimate(wins, 7)
    assert point["successes"] == wins and point["runs"] == 7
    assert point["success_rate"] == expected.estimate
    assert (point["ci_low"], point["ci_high"]) == (expected.ci_low, expected.ci_high)
    assert point["median_steps_to_success"] == median_steps_to_success(results)
    assert "seed" not in point and point["n"] == 6


def _runs(steps, failures, max_steps=1000):
    """Results of one config: successes at ``steps``, then ``failures`` censored runs."""
    config = dict(n=6, k=2, width=8, max_steps=max_steps, eval_every=50)
    out = [RunResult(RunConfig(seed=i, **config), True, t, 0.05, 0.0, "success", t)
           for i, t in enumerate(steps)]
    out += [RunResult(RunConfig(seed=len(steps) + i, **config), False, None, 0.4, 0.3,
                      "diverged" if i % 2 else "max_steps", max_steps if i % 2 == 0 else 70)
            for i in range(failures)]
    return out


@pytest.mark.parametrize("steps, failures, median", [
    # failures count: the median of the successes alone (200, 150) flattered these points
    ([100, 200, 300], 3, 300),
    ([100, 200], 3, None),           # fewer than half succeeded: not reached within T
    ([100, 300], 2, 300),            # S = 1/2 from 300 to T: the median is 300
    ([100, 200, 300, 400], 0, 250),  # no failures: the ordinary median
    ([100, 200, 300], 0, 200),
    ([50], 0, 50),
    ([], 4, None),
    ([200, 100, 100, 400], 1, 200),
])
def test_median_steps_kaplan_meier(steps, failures, median):
    results = _runs(steps, failures)
    assert median_steps_to_success(results) == median
    (point,) = summarize(results)
    assert point["median_steps_to_success"] == median


def _scipy_km_median(steps, failures, max_steps):
    from scipy.stats import CensoredData, ecdf

    if not steps:
        return None
    sf = ecdf(CensoredData(uncensored=steps, right=[max_steps] * failures)).sf
    times, survival = list(sf.quantiles), list(sf.probabilities)
    for i, (t, s) in enumerate(zip(times, survival, strict=True)):
        if math.isclose(s, 0.5):  # flat at exactly 1/2 until the next event (a drop), if any
            drops = [u for u, v in zip(times[i + 1:], survival[i + 1:], strict=True)
                     if v < s and not math.isclose(v, s)]
            return (t + drops[0]) / 2 if drops else t
        if s < 0.5:
            return t
    return None


def test_median_matches_scipy_kaplan_meier():
    import random

    rng = random.Random(1)
    for _ in range(300):
        steps = [50 * rng.randint(1, 20) for _ in range(rng.randint(0, 9))]
        failures = rng.randint(0, 9)
        if not steps and not failures:
            continue
        got = median_steps_to_success(_runs(steps, failures))
        assert got == _scipy_km_median(steps, failures, 1000), (steps, failures)


def test_check_device():
    assert check_device("cpu") == "cpu" and check_device("auto") == "auto"
    with pytest.raises(ValueError, match="device must be one of"):
        check_device("tpu")
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda")


# --- the real trainer ---------------------------------------------------------------------------

def test_real_sweep_deterministic_and_resumable(tmp_path):
    grid = build_grid(n=6, k=2, width=16, samples=[200, None], seeds=3, **TINY)
    with ResultsStore(tmp_path / "a.db") as a:
        first = run_sweep(grid, a, device="cpu", progress=False)
        rows_a = {r["key"]: r for r in a.rows()}
    assert (first.total, first.trained) == (6, 6)
    # The same sweep split differently (resumed, ensembles of 1) gives the same outcomes.
    with ResultsStore(tmp_path / "b.db") as b:
        run_sweep(grid[:2], b, device="cpu", progress=False)
        second = run_sweep(grid, b, device="cpu", progress=False, max_ensemble=1)
        rows_b = {r["key"]: r for r in b.rows()}
    assert (second.skipped, second.trained) == (2, 4)
    assert rows_a.keys() == rows_b.keys()
    outcome = ("success", "steps_to_success", "test_error", "train_error", "end_reason",
               "steps_run")
    for key, row in rows_a.items():
        assert {f: row[f] for f in outcome} == {f: rows_b[key][f] for f in outcome}
        assert math.isfinite(row["test_error"])
