"""Ensembles across cells (runs of different k, m, init and s trained together), per-run settled
evaluation counts, learning-curve traces, per-run compute shares, checkpoints and the
ensemble-key planner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.experiments.checkpoints import (
    CheckpointWriter,
    list_checkpoints,
    load_checkpoint,
    load_checkpoint_config,
)
from parity_frontiers.verify.experiments.grid import build_grid
from parity_frontiers.verify.experiments.local import plan_ensembles, train_runs
from parity_frontiers.verify.training import ensemble as vensemble
from parity_frontiers.verify.training import memory as vmemory
from parity_frontiers.verify.training.data import BatchStream, make_run_data, unpack_pm1
from parity_frontiers.verify.training.ensemble import Ensemble, init_state
from parity_frontiers.verify.training.evaluation import Buffers, count_errors, forward_into
from parity_frontiers.verify.training.memory import (
    estimate_configs_bytes,
    estimate_ensemble_bytes,
    eval_steps,
    plan_chunks,
)
from parity_frontiers.verify.training.model import ensemble_forward
from parity_frontiers.verify.training.registry import get_activation
from parity_frontiers.verify.training.trainer import train_ensemble

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def outcome(result):
    """Everything a run's result says about the run (not the timings)."""
    t = result.trace
    return (result.success, result.steps_to_success, result.test_error, result.train_error,
            result.end_reason, result.steps_run, result.extra["train_error_samples"],
            tuple(t.steps), tuple(t.test_error), tuple(t.test_samples), tuple(t.train_error))


def mixed_companions(target: RunConfig) -> list[RunConfig]:
    """Runs of other cells sharing the target's ensemble key: other k, m, init, s and seed."""
    online = target.samples is None
    cells = [dict(k=2, samples=None if online else 60, init="dense", s=None, seed=0),
             dict(k=4, samples=None if online else 900, init="sparse-gaussian", s=3, seed=5),
             dict(k=target.k, samples=target.samples, init="dense", s=None, seed=2),
             dict(k=1, samples=None if online else 7, init="sparse", s=1, seed=9)]
    return [dataclasses.replace(target, **cell) for cell in cells]


@pytest.mark.parametrize("samples", [300, None])
def test_a_run_is_the_same_alone_in_its_cell_and_in_a_mixed_ensemble(monkeypatch, samples):
    # Counts stop early at checks every 100 samples, and evaluation chunks depend on the
    # ensemble size: the stops must not.
    monkeypatch.setattr(vensemble, "MIN_CHECK_SAMPLES", 100)
    monkeypatch.setattr(vmemory, "EVAL_CHUNK_BYTES", {"cpu": 2**15, "cuda": 2**15})
    target = RunConfig(n=12, k=3, width=48, samples=samples, init="sparse", s=2, seed=1,
                       max_steps=900, eval_every=50, test_size=800)
    alone = train_ensemble([target], device="cpu")[0]
    cell = train_ensemble([dataclasses.replace(target, seed=s) for s in (3, 1, 4)],
                          device="cpu")[1]
    others = mixed_companions(target)
    mixed = train_ensemble([others[0], others[1], target, others[2], others[3]], device="cpu")
    assert outcome(alone) == outcome(cell) == outcome(mixed[2])
    assert mixed[2].extra["ensemble_size"] == 5
    # each companion is itself what it is alone
    for config, result in zip(others, mixed[:2] + mixed[3:], strict=True):
        assert outcome(train_ensemble([config], device="cpu")[0]) == outcome(result)
    # teeth: counts did stop early, runs differ, and some run ended before another
    assert any((r.trace.test_samples < target.test_size).any() for r in mixed)
    assert len({outcome(r) for r in mixed}) == len(mixed)
    assert len({r.steps_run for r in mixed}) > 1


def test_online_and_offline_runs_do_not_share_an_ensemble_key():
    offline = RunConfig(n=10, k=2, width=8, samples=100)
    assert dataclasses.replace(offline, k=3, samples=7, init="sparse", s=2,
                               seed=4).ensemble_key() == offline.ensemble_key()
    assert dataclasses.replace(offline, samples=None).ensemble_key() != offline.ensemble_key()
    for change in (dict(width=9), dict(lr=0.2), dict(test_size=99), dict(activation="abs")):
        assert dataclasses.replace(offline, **change).ensemble_key() != offline.ensemble_key()
    with pytest.raises(ValueError, match="ensemble_key.*online vs offline"):
        train_ensemble([offline, dataclasses.replace(offline, samples=None)], device="cpu")


def _labelled_state(e=12, n=10, width=16, total=500, seed=0):
    """Random nets and test sets whose labels are each net's own signs with a per-run
    fraction flipped (0 to 40%): error rates spread around a success threshold of 0.1."""
    configs = [RunConfig(n=n, k=2, width=width, seed=seed + i, test_size=total)
               for i in range(e)]
    state = init_state(configs, torch.device("cpu"))
    rng = np.random.default_rng(seed)
    packed = torch.from_numpy(rng.integers(0, 256, (e, total, 2), dtype=np.uint8))
    packed[..., 1] &= 3  # n = 10: padding bits zero
    x = torch.cat([unpack_pm1(packed, n), torch.ones((e, total, 1))], 2)
    bufs, act = Buffers(torch.device("cpu")), get_activation("relu")
    f = forward_into(state, x, bufs, act).clone()
    flips = rng.random((e, total)) < np.linspace(0, 0.4, e)[:, None]
    labels = torch.where(f > 0, 1, -1).to(torch.int8)
    labels[torch.from_numpy(flips)] *= -1
    return state, packed, labels, bufs, act


@pytest.mark.parametrize("drop_success", [False, True])
def test_settled_counts_give_the_full_count_decisions(drop_success):
    total, se = 500, 0.1
    for seed in range(3):
        state, packed, labels, bufs, act = _labelled_state(total=total, seed=seed)
        e = packed.shape[0]
        full, counted_full = count_errors(state, packed, labels, None, 10, 64, bufs, act)
        assert (counted_full == total).all()
        exact = np.zeros(e, dtype=bool)
        exact[[3, 7]] = True
        rows = torch.arange(e - 1, -1, -1)  # runs read through a row map, reversed
        got, counted = count_errors([p.flip(0) for p in state], packed, labels, rows, 10, 37,
                                    bufs, act, se, 100, exact[::-1], drop_success)
        got, counted = got[::-1], counted[::-1]
        assert ((got / total <= se) == (full / total <= se)).all()
        assert (got[counted == total] == full[counted == total]).all()
        assert (counted[exact] == total).all()
        for j in np.flatnonzero(counted < total):
            prefix, _ = count_errors([p[j:j + 1] for p in state], packed[j:j + 1, :counted[j]],
                                     labels[j:j + 1, :counted[j]], None, 10, 64, bufs, act)
            assert got[j] == prefix[0] and counted[j] % 100 == 0
        settled = counted < total
        assert settled.any()  # teeth
        if not drop_success:
            assert (full[settled] / total > se).all()


def test_trace_train_error_is_the_last_steps_minibatch_error(monkeypatch):
    monkeypatch.setattr(vensemble, "TRACE_TRAIN_STEPS", 3)
    cfg = RunConfig(n=10, k=2, width=32, samples=200, max_steps=40, eval_every=40,
                    test_size=300, seed=3, init="sparse", s=3)
    (result,) = train_ensemble([cfg], device="cpu", early_stop=False)
    assert list(result.trace.steps) == list(eval_steps(cfg)) == [40]
    assert result.trace.test_error[-1] == result.test_error
    assert result.trace.test_samples[-1] == cfg.test_size
    # independent route: parameters before each of the last 3 steps, the reference forward
    # pass on those steps' minibatches (drawn again from the run's own stream)
    batches = BatchStream(cfg).next(40)
    data = make_run_data(cfg)
    ens = Ensemble([cfg], torch.device("cpu"))
    ens.train_window(37)
    wrong = 0
    for step in range(37, 40):
        idx = batches[step]
        x = unpack_pm1(torch.from_numpy(data.train_packed[idx]), cfg.n)[None]
        y = torch.from_numpy(data.train_y[idx]).float()
        f = ensemble_forward([p.clone() for p in ens.params()], x)[0]
        wrong += int((f * y <= 0).sum())
        ens.train_window(1)
    assert result.trace.train_error[0] == pytest.approx(wrong / (3 * cfg.batch_size), abs=1e-12)


def test_compute_shares_add_up_to_the_wall_time():
    base = RunConfig(n=10, k=2, width=32, samples=200, max_steps=600, eval_every=50,
                     test_size=300)
    configs = [dataclasses.replace(base, seed=s, k=1 + s % 3) for s in range(4)]
    results = train_ensemble(configs, device="cpu")
    assert all(r.compute_seconds > 0 for r in results)
    assert sum(r.compute_seconds for r in results) == pytest.approx(
        max(r.wall_seconds for r in results), rel=1e-9)
    assert all(r.compute_seconds <= r.wall_seconds for r in results)


def test_checkpoints_hold_the_parameters_at_their_steps(tmp_path):
    cfg = RunConfig(n=10, k=2, width=16, samples=100, max_steps=250, eval_every=50,
                    test_size=100, seed=2)
    calls = []
    writer = CheckpointWriter(tmp_path)

    def record(config, step, params):
        calls.append((config.seed, step))
        writer(config, step, params)

    configs = [cfg, dataclasses.replace(cfg, seed=5, k=3)]
    train_ensemble(configs, device="cpu", early_stop=False, checkpoint_every=100,
                   on_checkpoint=record)
    assert calls == [(2, 100), (5, 100), (2, 200), (5, 200)]
    assert list_checkpoints(tmp_path, cfg) == [100, 200] == list_checkpoints(tmp_path, cfg.key())
    (at_200,) = train_ensemble([dataclasses.replace(cfg, max_steps=200)], device="cpu",
                               early_stop=False, return_params=True)
    for got, want in zip(load_checkpoint(tmp_path, cfg, 200), at_200.extra["final_params"],
                         strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, want)
    assert load_checkpoint_config(tmp_path, cfg, 100) == cfg
    size = sum(p.nbytes for p in load_checkpoint(tmp_path, cfg, 100))
    assert size == 4 * (16 * 11 + 16 + 1)
    with pytest.raises(ValueError, match="no checkpoint at step 150"):
        load_checkpoint(tmp_path, cfg, 150)
    with pytest.raises(ValueError, match="together"):
        train_ensemble([cfg], device="cpu", checkpoint_every=10)
    assert not list(tmp_path.glob("*/.step_*"))  # no temporary left behind


def test_train_runs_writes_checkpoints_and_checks_the_options(tmp_path):
    grid = build_grid(n=8, k=[2, 3], width=8, samples=[50, 80], seeds=1, max_steps=100,
                      eval_every=50, test_size=50)
    train_runs(grid, device="cpu", progress=False, checkpoint_every=50,
               checkpoint_dir=tmp_path)
    assert all(list_checkpoints(tmp_path, c) for c in grid)
    with pytest.raises(ValueError, match="checkpoint-every"):
        train_runs(grid, device="cpu", progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="checkpoint-every"):
        train_runs(grid, device="cpu", progress=False, checkpoint_every=0,
                   checkpoint_dir=tmp_path)


def test_mixed_memory_estimate_counts_each_runs_data():
    a = RunConfig(n=50, k=3, width=64, samples=1000)
    b = dataclasses.replace(a, k=5, samples=100_000, init="sparse", s=2)
    assert estimate_configs_bytes([a] * 3, "cpu") == estimate_ensemble_bytes(a, 3, "cpu")
    extra = estimate_configs_bytes([a, b], "cpu") - estimate_configs_bytes([a, a], "cpu")
    assert abs(extra - 1.15 * (99_000 * (7 + 1) + 8 * 2)) <= 1
    configs = [a, b, a, a, b, b, a] * 3
    cap = estimate_configs_bytes([a, b, a], "cpu")
    chunks = plan_chunks(configs, cap, "cpu")
    assert [c for chunk in chunks for c in chunk] == configs
    for i, chunk in enumerate(chunks):
        assert estimate_configs_bytes(chunk, "cpu") <= cap
        if i + 1 < len(chunks):  # greedy: the next run would not have fitted
            assert estimate_configs_bytes(chunk + chunks[i + 1][:1], "cpu") > cap
    assert max(map(len, plan_chunks(configs, 2**40, "cpu", max_ensemble=4))) == 4
    with pytest.raises(ValueError, match="over the memory cap"):
        plan_chunks([b], estimate_configs_bytes([a], "cpu"), "cpu")


def test_plan_ensembles_groups_across_cells_without_torch(fresh_python):
    code = ("import sys\n"
            "from parity_frontiers.verify.experiments.grid import build_grid\n"
            "from parity_frontiers.verify.experiments.local import plan_ensembles\n"
            "grid = build_grid(n=10, k=[2, 3], width=8, samples=[100, 200, 'online'], "
            "init=['dense', 'sparse'], s=[2], seeds=2)\n"
            "plan = plan_ensembles(grid, 'cpu')\n"
            "print(len(grid), sorted(len(p) for p in plan), 'torch' in sys.modules)")
    assert fresh_python(code) == ["24", "[8,", "16]", "False"]
    grid = build_grid(n=10, k=[2, 3], width=8, samples=[100, 200], seeds=3)
    assert [len(p) for p in plan_ensembles(grid, "cpu", max_ensemble=5)] == [5, 5, 2]


def test_checkpoint_options_go_to_the_local_executor_only(tmp_path):
    from parity_frontiers.verify.experiments.executors import LocalExecutor, make_executor
    from parity_frontiers.verify.experiments.store import ResultsStore
    from parity_frontiers.verify.experiments.sweep import run_sweep

    grid = build_grid(n=8, k=2, width=8, samples=50, seeds=2, max_steps=100, eval_every=50,
                      test_size=50)
    with ResultsStore(tmp_path / "runs.db") as store:
        run_sweep(grid, store, device="cpu", progress=False, checkpoint_every=100,
                  checkpoint_dir=tmp_path / "ckpt")
        assert [list_checkpoints(tmp_path / "ckpt", c) for c in grid] == [[100], [100]]
        with pytest.raises(ValueError, match="checkpoint-every"):
            run_sweep(grid, store, executor=LocalExecutor("cpu"), progress=False,
                      checkpoint_every=100, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="checkpoint-every goes with --executor local"):
        make_executor("dask-local", checkpoint_every=10, checkpoint_dir=tmp_path)
    executor = make_executor("local", device="cpu", checkpoint_every=10, checkpoint_dir=tmp_path)
    assert executor.checkpoint_every == 10
