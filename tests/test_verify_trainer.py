"""verify.training (data, model, memory, step, evaluation, ensemble, trainer): learning, exactness
against a plain PyTorch loop, independence of ensemble companions, divergence isolation,
determinism, init law, memory plan, bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training import data as vdata
from parity_frontiers.verify.training import device as vdevice
from parity_frontiers.verify.training import ensemble as vensemble
from parity_frontiers.verify.training import evaluation as vevaluation
from parity_frontiers.verify.training import memory as vmemory
from parity_frontiers.verify.training import model as vmodel
from parity_frontiers.verify.training import trainer as vtrainer
from parity_frontiers.verify.training.data import (
    BatchStream,
    hidden_set,
    make_run_data,
    pack_pm1,
    unpack_pm1,
)
from parity_frontiers.verify.training.memory import (
    estimate_ensemble_bytes,
    eval_steps,
    max_ensemble_size,
)
from parity_frontiers.verify.training.model import (
    ensemble_forward,
    init_params,
    param_count,
    stack_params,
    to_sequential,
)
from parity_frontiers.verify.training.registry import get_activation
from parity_frontiers.verify.training.trainer import train_ensemble

CORE_FIELDS = ("success", "steps_to_success", "test_error", "train_error", "end_reason",
               "steps_run")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def core(result):
    return tuple(getattr(result, name) for name in CORE_FIELDS)


def seeds_of(base: RunConfig, seeds):
    return [dataclasses.replace(base, seed=s) for s in seeds]


# ---------------------------------------------------------------------------------------------
# (1) It learns.


@pytest.mark.parametrize("init", [{}, {"init": "sparse", "s": 2},
                                  {"init": "sparse-gaussian", "s": 2, "activation": "abs"}])
def test_small_parity_is_learned_by_every_seed(init):
    base = RunConfig(n=20, k=3, width=256, samples=None, max_steps=3000, eval_every=100,
                     test_size=2000, **init)
    seen = []
    results = train_ensemble(seeds_of(base, range(4)), device="cpu", on_result=seen.append)
    assert [r.config.seed for r in results] == [0, 1, 2, 3]
    for r in results:
        assert r.success and r.end_reason == "success"
        assert r.test_error <= 0.1 and r.steps_to_success == r.steps_run < 3000
        assert r.steps_run % 100 == 0
    assert sorted(id(r) for r in seen) == sorted(id(r) for r in results)


def test_offline_small_parity_is_learned():
    base = RunConfig(n=12, k=3, width=128, samples=1000, max_steps=3000, eval_every=100,
                     test_size=2000)
    results = train_ensemble(seeds_of(base, range(4)), device="cpu")
    assert all(r.success for r in results)
    assert all(r.extra["train_error_samples"] == 1000 for r in results)


def test_without_early_stop_runs_go_to_max_steps():
    base = RunConfig(n=10, k=2, width=64, samples=500, max_steps=300, eval_every=100,
                     test_size=500)
    results = train_ensemble(seeds_of(base, range(3)), device="cpu", early_stop=False)
    for r in results:
        assert r.steps_run == 300 and r.end_reason == "success" and r.success
        assert r.steps_to_success is not None and r.steps_to_success < 300
        assert r.wall_seconds > 0 and r.extra["ensemble_size"] == 3
    stopped = train_ensemble(seeds_of(base, range(3)), device="cpu")
    assert [r.steps_to_success for r in stopped] == [r.steps_to_success for r in results]
    assert all(r.steps_run == r.steps_to_success for r in stopped)


# ---------------------------------------------------------------------------------------------
# (2) Exactly the trajectory of nn.Sequential + torch.optim.SGD on the same batches.


def _reference_losses(loss, f, y):
    if loss == "hinge":
        return torch.relu(1 - y * f).mean()
    if loss == "square":
        return ((f - y) ** 2 / 2).mean()
    return F.softplus(-y * f).mean()


def _reference_run(config: RunConfig, steps: int) -> torch.nn.Sequential:
    """One run trained alone by nn.Sequential + torch.optim.SGD on the run's own batches."""
    data = make_run_data(config)
    init = stack_params([init_params(config)])
    model = to_sequential(init, 0, config.activation)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    stream = BatchStream(config)
    s = torch.from_numpy(data.parity_set)
    if config.samples is not None:
        x_train = unpack_pm1(torch.from_numpy(data.train_packed), config.n)
        y_train = torch.from_numpy(data.train_y).float()
    done = 0
    for stop in eval_steps(config):
        if done >= steps:
            break
        window = stream.next(stop - done)
        for t in range(min(stop, steps) - done):
            if config.samples is None:
                x = unpack_pm1(torch.from_numpy(window[t]), config.n)
                y = x[:, s].prod(1)
            else:
                idx = torch.from_numpy(window[t])
                x, y = x_train[idx], y_train[idx]
            opt.zero_grad()
            _reference_losses(config.loss, model(x)[:, 0], y).backward()
            opt.step()
        done = stop
    return model


def _ensemble_params_after(configs, steps, monkeypatch):
    """Train for exactly ``steps`` steps (early stop off) and capture the final parameters."""
    captured = {}
    original = vtrainer.Ensemble.remove

    def spy(self, local):
        captured["params"] = [p.clone() for p in self.params()]
        captured["active"] = list(self.active)
        original(self, local)

    monkeypatch.setattr(vtrainer.Ensemble, "remove", spy)
    configs = [dataclasses.replace(c, max_steps=steps) for c in configs]
    train_ensemble(configs, device="cpu", early_stop=False)
    assert captured["active"] == list(range(len(configs)))
    return captured["params"]


@pytest.mark.parametrize("kwargs", [
    dict(samples=300, loss="hinge"),
    dict(samples=None, loss="square", depth=2),
    dict(samples=50, loss="logistic", init="sparse", s=2, n=13),
    dict(samples=300, loss="hinge", activation="abs"),
    dict(samples=None, loss="logistic", depth=2, activation="abs", init="sparse-gaussian", s=3),
])
def test_matches_per_run_pytorch_loop(monkeypatch, kwargs):
    base = RunConfig(**{"n": 16, "k": 3, "width": 64, "eval_every": 20, "test_size": 100,
                        **kwargs})
    configs = seeds_of(base, [5, 6, 7])
    steps = 50
    params = _ensemble_params_after(configs, steps, monkeypatch)
    for i, cfg in enumerate(configs):
        ref = [p.detach() for p in _reference_run(cfg, steps).parameters()]
        ours = [p[i].reshape(r.shape) for p, r in zip(params, ref, strict=True)]
        init = [torch.from_numpy(np.asarray(a)).reshape(r.shape)
                for a, r in zip(init_params(cfg), ref, strict=True)]
        for o, r, p0 in zip(ours, ref, init, strict=True):
            # The runs moved well away from their init, and we follow them to float32 rounding.
            assert (r - p0).abs().max() > 1e-3
            torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-6)


def test_trainer_state_holds_the_model_init():
    configs = seeds_of(RunConfig(n=9, k=2, width=5, depth=3), [0, 4])
    state = vtrainer.init_state(configs, torch.device("cpu"))
    expected = stack_params([init_params(c) for c in configs])
    for got, want in zip(vtrainer.from_state(state), expected, strict=True):
        assert torch.equal(got, want)


@pytest.mark.parametrize("activation", ["relu", "abs"])
def test_ensemble_forward_matches_sequential(activation):
    cfg = RunConfig(n=11, k=2, width=9, depth=3, seed=3)
    params = stack_params([init_params(dataclasses.replace(cfg, seed=s)) for s in range(3)])
    x = torch.from_numpy(np.random.default_rng(0).choice([-1.0, 1.0], size=(3, 7, 11))).float()
    f = ensemble_forward(params, x, activation)
    for i in range(3):
        torch.testing.assert_close(f[i], to_sequential(params, i, activation)(x[i])[:, 0])
    assert sum(p.numel() for p in to_sequential(params, 0).parameters()) == param_count(cfg)
    # the trainer's own forward (its state layout, reused buffers) computes the same outputs
    state = vtrainer.init_state([dataclasses.replace(cfg, seed=s, activation=activation)
                                  for s in range(3)], torch.device("cpu"))
    inputs = torch.cat([x, torch.ones((3, 7, 1))], 2)  # the bias column of the trainer's layout
    bufs = vevaluation.Buffers(torch.device("cpu"))
    torch.testing.assert_close(
        vevaluation.forward_into(state, inputs, bufs, get_activation(activation)), f)


# ---------------------------------------------------------------------------------------------
# (3) A run does not depend on its companions.


def test_result_independent_of_ensemble_companions():
    base = RunConfig(n=16, k=3, width=128, samples=400, max_steps=2000, eval_every=100,
                     test_size=1000)
    together = train_ensemble(seeds_of(base, [0, 1, 2, 3]), device="cpu")
    alone = train_ensemble(seeds_of(base, [2]), device="cpu")
    assert core(together[2]) == core(alone[0])
    # the runs do differ from each other, so the comparison above has teeth
    assert len({core(r) for r in together}) > 1 or len({r.train_error for r in together}) > 1


# ---------------------------------------------------------------------------------------------
# (4) Divergence is isolated.


def test_nan_in_one_run_does_not_touch_the_others(monkeypatch):
    base = RunConfig(n=16, k=3, width=128, samples=None, max_steps=1500, eval_every=100,
                     test_size=1000)
    clean = train_ensemble(seeds_of(base, [0, 1, 2]), device="cpu")

    original = vensemble._init_run_params

    def poisoned(config):
        params = original(config)
        if config.seed == 1:
            params[0][3, 5] = np.nan
        return params

    monkeypatch.setattr(vensemble, "_init_run_params", poisoned)
    results = train_ensemble(seeds_of(base, [0, 1, 2]), device="cpu")
    bad = results[1]
    assert bad.end_reason == "diverged" and not bad.success and bad.steps_to_success is None
    assert bad.steps_run == 100 and bad.test_error == 1.0
    assert core(results[0]) == core(clean[0]) and core(results[2]) == core(clean[2])
    assert results[0].success and results[2].success


def test_huge_learning_rate_diverges():
    base = RunConfig(n=10, k=2, width=32, samples=100, loss="square", lr=1e4, max_steps=500,
                     eval_every=50, test_size=100)
    results = train_ensemble(seeds_of(base, [0, 1]), device="cpu")
    for r in results:
        assert r.end_reason == "diverged" and r.steps_run <= 500 and not r.success


# ---------------------------------------------------------------------------------------------
# (5) Data determinism and law.


def test_data_is_a_function_of_the_seed():
    cfg = RunConfig(n=29, k=4, width=8, samples=300, test_size=200, seed=11)
    a, b = make_run_data(cfg), make_run_data(cfg)
    for name in ("parity_set", "train_packed", "train_y", "test_packed", "test_y"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    other = make_run_data(dataclasses.replace(cfg, seed=12))
    assert not np.array_equal(a.train_packed, other.train_packed)
    assert not np.array_equal(a.test_packed, other.test_packed)
    # S is drawn from its own stream: the same for another m or width
    assert np.array_equal(hidden_set(dataclasses.replace(cfg, samples=50, width=99)),
                          a.parity_set)
    sets = {tuple(hidden_set(dataclasses.replace(cfg, seed=s))) for s in range(20)}
    assert len(sets) > 10
    # the labels are the parity of S, padding bits are zero
    x = unpack_pm1(torch.from_numpy(a.train_packed), cfg.n)
    assert torch.equal(x[:, a.parity_set].prod(1), torch.from_numpy(a.train_y).float())
    assert (a.train_packed[:, -1] >> (29 % 8) == 0).all()
    np.testing.assert_array_equal(pack_pm1(x.numpy()), a.train_packed)


def test_inputs_are_uniform_and_batches_with_replacement():
    cfg = RunConfig(n=40, k=3, width=8, samples=20_000, test_size=10, seed=0)
    data = make_run_data(cfg)
    x = unpack_pm1(torch.from_numpy(data.train_packed), cfg.n).numpy()
    # mean of 20,000 +-1 per coordinate: sd 0.007; 6 sd bound over 40 coordinates
    assert np.abs(x.mean(0)).max() < 0.045
    assert set(np.unique(x)) == {-1.0, 1.0}
    small = dataclasses.replace(cfg, samples=10, batch_size=32)
    idx = BatchStream(small).next(200)
    assert idx.shape == (200, 32) and idx.min() == 0 and idx.max() == 9
    counts = np.bincount(idx.ravel(), minlength=10)
    assert np.abs(counts / idx.size - 0.1).max() < 0.01
    # with replacement: a batch of 32 from 10 samples must repeat indices
    assert all(len(set(row)) < 32 for row in idx)


def test_batch_stream_does_not_depend_on_window_cuts():
    for samples in (1000, None):
        cfg = RunConfig(n=70, k=3, width=8, samples=samples, seed=4)
        whole = BatchStream(cfg).next(30)
        stream = BatchStream(cfg)
        parts = np.concatenate([stream.next(7), stream.next(1), stream.next(22)])
        np.testing.assert_array_equal(whole, parts)
        assert not np.array_equal(whole, BatchStream(dataclasses.replace(cfg, seed=5)).next(30))


def test_trajectory_does_not_depend_on_eval_every():
    base = RunConfig(n=16, k=3, width=64, samples=None, max_steps=600, eval_every=100,
                     test_size=500, seed=3)
    a = train_ensemble([base], device="cpu", early_stop=False)[0]
    b = train_ensemble([dataclasses.replace(base, eval_every=300)], device="cpu",
                       early_stop=False)[0]
    assert (a.test_error, a.steps_run) == (b.test_error, b.steps_run)


# ---------------------------------------------------------------------------------------------
# (6) Init laws.


def test_sparse_init_law():
    n, r, s = 50, 2000, 3
    cfg = RunConfig(n=n, k=3, width=r, init="sparse", s=s, seed=9)
    w1, b1, a, c = init_params(cfg)
    assert w1.dtype == np.float32
    assert ((w1 != 0).sum(axis=1) == s).all()
    bound = 1 / math.sqrt(s)
    nonzero = w1[w1 != 0]
    assert np.abs(nonzero).max() <= bound and np.abs(b1).max() <= bound
    # U(-B, B): variance B^2 / 3 (6000 values: relative sd of the estimate ~ 2%)
    assert abs(nonzero.var() / (bound**2 / 3) - 1) < 0.08
    assert abs(b1.var() / (bound**2 / 3) - 1) < 0.15
    # supports uniform over the inputs: each input is hit r s / n = 120 times on average
    hits = (w1 != 0).sum(axis=0)
    assert hits.min() > 60 and hits.max() < 190
    # the other layers keep the dense law, bound 1/sqrt(r)
    assert np.abs(a).max() <= 1 / math.sqrt(r) and abs(float(c)) <= 1 / math.sqrt(r)
    # s = n is the dense support
    full = init_params(dataclasses.replace(cfg, s=n, width=5))[0]
    assert (full != 0).all()


@pytest.mark.parametrize("n, s", [(5, 2), (4, 3)])  # rejection and sorting routes
def test_sparse_supports_are_uniform_subsets(n, s):
    width = 20_000
    w1 = init_params(RunConfig(n=n, k=1, width=width, init="sparse", s=s, seed=2))[0]
    counts = {}
    for row in (w1 != 0):
        key = tuple(np.flatnonzero(row))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == math.comb(n, s) and all(len(key) == s for key in counts)
    expected = width / math.comb(n, s)
    sd = math.sqrt(expected)
    assert all(abs(c - expected) < 6 * sd for c in counts.values())


def test_dense_init_law_is_pytorch_default():
    cfg = RunConfig(n=300, k=3, width=500, depth=2, seed=1)
    w1, b1, w2, b2, a, c = init_params(cfg)
    for value, fan_in in ((w1, 300), (b1, 300), (w2, 500), (b2, 500), (a, 500)):
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(value).max() <= bound
        assert np.abs(value).max() > 0.95 * bound
    ref = torch.nn.Linear(300, 500).weight.detach().numpy()
    assert abs(w1.var() / ref.var() - 1) < 0.02
    assert not np.array_equal(w1, init_params(dataclasses.replace(cfg, seed=2))[0])
    np.testing.assert_array_equal(w1, init_params(cfg)[0])


# ---------------------------------------------------------------------------------------------
# (7) Bad input.


def test_mixed_shapes_are_refused():
    a = RunConfig(n=10, k=2, width=8, seed=0)
    with pytest.raises(ValueError, match="ensemble_key.*width"):
        train_ensemble([a, dataclasses.replace(a, seed=1, width=16)], device="cpu")
    with pytest.raises(ValueError, match="RunConfig"):
        train_ensemble([a, {"n": 10}], device="cpu")
    assert train_ensemble([], device="cpu") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(ValueError, match="CUDA requested but not available"):
        train_ensemble([RunConfig(n=10, k=2, width=8)], device="cuda")


def test_bad_device_is_refused():
    with pytest.raises(ValueError, match="device"):
        train_ensemble([RunConfig(n=10, k=2, width=8)], device="tpu")


def test_memory_cap_is_enforced_before_allocating(monkeypatch):
    cfg = RunConfig(n=300, k=3, width=10_000, samples=1_000_000)
    # device="cpu" as in the training call below: the evaluation chunk (part of the
    # estimate) depends on the device, so "auto" would estimate for a GPU where one exists.
    estimate = estimate_ensemble_bytes(cfg, 64, device="cpu")
    assert estimate > 64 * 1_000_000 * 38  # at least the packed training sets

    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated before checking the cap")

    monkeypatch.setattr(vtrainer, "Ensemble", no_allocation)
    with pytest.raises(ValueError, match=f"{estimate} bytes.*cap"):
        train_ensemble(seeds_of(cfg, range(64)), device="cpu", memory_cap_bytes=2**30)


def test_max_ensemble_size_is_the_largest_under_the_cap():
    cfg = RunConfig(n=100, k=3, width=1000, samples=10_000)
    cap = 2**30
    size = max_ensemble_size(cfg, cap)
    assert size >= 1
    assert estimate_ensemble_bytes(cfg, size) <= cap < estimate_ensemble_bytes(cfg, size + 1)
    assert max_ensemble_size(cfg, 1000) == 0
    # The default cap is the device's: 4 GiB on the CPU, a fraction of the GPU's memory on
    # CUDA (the default device "auto" is CUDA where there is one; seen on an H200).
    assert max_ensemble_size(cfg, device="cpu") == max_ensemble_size(
        cfg, vdevice.DEFAULT_CPU_MEMORY_CAP_BYTES, device="cpu")
    with pytest.raises(ValueError, match="ensemble_size"):
        estimate_ensemble_bytes(cfg, 0)


def test_progress_counts_every_step():
    base = RunConfig(n=10, k=2, width=16, samples=50, max_steps=250, eval_every=100,
                     test_size=50)
    steps = []
    train_ensemble(seeds_of(base, [0, 1]), device="cpu", progress=steps.append,
                   early_stop=False)
    assert steps == [100, 100, 50] and list(eval_steps(base)) == [100, 200, 250]


def test_helpers_reject_bad_packing():
    with pytest.raises(ValueError, match="ceil"):
        unpack_pm1(torch.zeros((3, 2), dtype=torch.uint8), 20)
    assert vdata.packed_width(8) == 1 and vdata.packed_width(9) == 2
    with pytest.raises(ValueError, match="at least one run"):
        vmodel.stack_params([])


# ---------------------------------------------------------------------------------------------
# (8) CUDA agrees with the CPU.


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_default_cap_on_cuda_is_the_gpu_fraction():
    cfg = RunConfig(n=100, k=3, width=1000, samples=10_000)
    cap = vdevice.default_memory_cap("cuda")
    assert cap == int(vdevice.DEFAULT_CUDA_MEMORY_FRACTION
                      * torch.cuda.get_device_properties(0).total_memory)
    assert max_ensemble_size(cfg, device="cuda") == max_ensemble_size(cfg, cap, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("samples", [2000, None])
def test_cuda_matches_cpu(samples):
    base = RunConfig(n=20, k=3, width=256, samples=samples, max_steps=3000, eval_every=100,
                     test_size=2000)
    configs = seeds_of(base, range(4))
    # Same data and init on both devices (drawn on the host): after 20 steps the parameters
    # agree to float32 rounding of different kernels.
    states = []
    for device in ("cpu", "cuda"):
        ens = vtrainer.Ensemble(configs, torch.device(device))
        ens.train_window(20)
        states.append([p.cpu() for p in ens.params()])
    for c, g in zip(*states, strict=True):
        torch.testing.assert_close(g, c, rtol=1e-4, atol=1e-5)
    cpu = train_ensemble(configs, device="cpu")
    gpu = train_ensemble(configs, device="cuda")
    for c, g in zip(cpu, gpu, strict=True):
        assert g.extra["device"].startswith("cuda")
        assert g.end_reason == c.end_reason == "success"
        # later the trajectories may drift apart by rounding; the outcome stays close
        assert abs(g.steps_run - c.steps_run) <= 300
        assert abs(g.test_error - c.test_error) <= 0.1


def test_giving_up_on_chance_level_runs_changes_nothing(monkeypatch):
    base = RunConfig(n=16, k=3, width=128, samples=400, max_steps=1000, eval_every=100,
                     test_size=2000)
    configs = seeds_of(base, range(3))
    calls = []
    original = vensemble.count_errors

    def counting(*args, **kwargs):
        wrong, counted = original(*args, **kwargs)
        calls.append(bool((counted == args[1].shape[1]).all()))
        return wrong, counted

    monkeypatch.setattr(vensemble, "count_errors", counting)
    # chunks of a few hundred samples, so that the test set is read in several
    monkeypatch.setattr(vmemory, "EVAL_CHUNK_BYTES", {"cpu": 2**18, "cuda": 2**18})
    quick = train_ensemble(configs, device="cpu")
    assert False in calls  # some evaluations were cut short

    def full(state, packed, labels, rows, n, chunk, bufs, activation, *args):
        return original(state, packed, labels, rows, n, chunk, bufs, activation)

    monkeypatch.setattr(vensemble, "count_errors", full)
    slow = train_ensemble(configs, device="cpu")
    assert [core(r) for r in quick] == [core(r) for r in slow]


def test_windows_drawn_in_blocks_train_identically(monkeypatch):
    # An evaluation window longer than DRAW_BYTES_PER_RUN is drawn in blocks: the trajectory
    # must not change (the batch stream does not depend on its cut), and an online run's
    # result, train-error sample included, must not depend on its ensemble companions.
    offline = RunConfig(n=10, k=2, width=32, samples=300, max_steps=400, eval_every=200,
                        test_size=500)
    online = RunConfig(n=10, k=2, width=32, max_steps=400, eval_every=200, test_size=500)
    whole = [train_ensemble(seeds_of(c, range(3)), device="cpu") for c in (offline, online)]
    monkeypatch.setattr(vmemory, "DRAW_BYTES_PER_RUN", 3000)  # blocks of a few steps
    assert vmemory.draw_steps(offline) < offline.eval_every
    assert vmemory.draw_steps(online) < online.eval_every
    blocks = [train_ensemble(seeds_of(c, range(3)), device="cpu") for c in (offline, online)]
    for a, b in zip(whole[0], blocks[0], strict=True):
        assert core(a) == core(b)
    for a, b in zip(whole[1], blocks[1], strict=True):
        assert (a.success, a.steps_to_success, a.test_error, a.steps_run) == \
            (b.success, b.steps_to_success, b.test_error, b.steps_run)
    alone = train_ensemble(seeds_of(online, [1]), device="cpu")[0]
    assert core(alone) == core(blocks[1][1])
    assert alone.extra["train_error_samples"] == blocks[1][1].extra["train_error_samples"]


# ---------------------------------------------------------------------------------------------
# (9) The memory plan: torch-free, and it counts what the activation keeps.


def test_memory_plan_does_not_import_torch(fresh_python):
    code = ("import sys\n"
            "from parity_frontiers.verify.config import RunConfig\n"
            "from parity_frontiers.verify.training.memory import max_ensemble_size\n"
            "size = max_ensemble_size(RunConfig(n=50, k=3, width=1000, samples=10_000), "
            "device='cpu')\n"
            "print(size > 0, 'torch' in sys.modules)")
    assert fresh_python(code) == ["True", "False"]


def test_memory_estimate_counts_pre_activations():
    relu = RunConfig(n=50, k=3, width=1000, depth=2, batch_size=64)
    absolute = dataclasses.replace(relu, activation="abs")
    extra = estimate_ensemble_bytes(absolute, 8, "cpu") - estimate_ensemble_bytes(relu, 8, "cpu")
    # one more float32 [E, B, r] buffer per hidden layer (plus the 15% slack)
    assert abs(extra - 1.15 * 4 * 8 * 64 * 2 * 1000) <= 1
