"""verify.executors without Dask: the local executor, the once-per-key handoff, the factory."""

from __future__ import annotations

import pytest

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.experiments.executors import LocalExecutor, make_executor
from parity_frontiers.verify.experiments.grid import build_grid
from parity_frontiers.verify.experiments.handoff import ResultHandoff
from parity_frontiers.verify.experiments.oracles import LogisticOracle
from parity_frontiers.verify.experiments.store import ResultsStore
from parity_frontiers.verify.experiments.sweep import run_sweep


class Bar:
    def __init__(self):
        self.n = 0

    def update(self, count):
        self.n += count


def test_handoff_passes_each_key_once_and_counts_it():
    seen, bar = [], Bar()
    handoff = ResultHandoff(seen.append, bar)
    results = LogisticOracle(lambda c: (0.0, 0.0)).train(
        [RunConfig(n=6, k=2, width=4, samples=10, seed=s) for s in range(3)])
    assert [handoff(r) for r in results + results[:2]] == [True] * 3 + [False] * 2
    assert seen == results and bar.n == 3 and list(handoff.results) == [
        r.config.key() for r in results]


def test_run_sweep_through_an_executor_stores_what_it_returns(tmp_path):
    grid = build_grid(n=6, k=2, width=4, samples=[10, 100], seeds=3)
    oracle = LogisticOracle(lambda c: (-2.0, 2.0))  # m* = 10
    with ResultsStore(tmp_path / "runs.db") as store:
        summary = run_sweep(grid, store, progress=False, executor=oracle)
        assert summary.trained == len(store) == 6 and oracle.calls == 6
        again = run_sweep(grid, store, progress=False, executor=oracle)
    assert again.trained == 0 and again.skipped == 6 and oracle.calls == 6


def test_local_executor_trains_like_train_runs():
    configs = build_grid(n=6, k=2, width=8, samples=50, seeds=2, max_steps=100, eval_every=50,
                         test_size=64)
    with make_executor("local", device="cpu") as executor:
        assert isinstance(executor, LocalExecutor) and executor.describe() == "local (cpu)"
        results = executor.train(configs, progress=False)
    assert [r.config for r in results] == configs


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "spark"}, "executor must be one of"),
    ({"kind": "local", "scheduler": "tcp://x:1"}, "scheduler address goes with"),
    ({"kind": "local", "workers": 2}, "worker count goes with"),
    ({"kind": "local", "threads_per_worker": 2}, "Dask executors only"),
    ({"kind": "local", "max_ensemble": 0}, "max_ensemble"),
    ({"kind": "local", "device": "tpu"}, "device must be one of"),
])
def test_make_executor_refuses_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_executor(**kwargs)


def test_run_sweep_refuses_training_options_beside_an_executor(tmp_path):
    grid = build_grid(n=6, k=2, width=4, samples=10, seeds=1)
    with ResultsStore(tmp_path / "runs.db") as store:
        with pytest.raises(ValueError, match="give device, memory_cap_bytes and max_ensemble"):
            run_sweep(grid, store, device="cpu", executor=LogisticOracle(lambda c: (0, 0)))
        assert len(store) == 0
