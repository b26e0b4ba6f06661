"""The extension points (verify/training/registry.py): every registered activation, init law and
loss keeps its contract, the Numba twin of the init law agrees with the registry in law, a new
entry works end to end, and the new entries (abs, sparse-gaussian) reach the grid, the CLI, the
store and the tabular estimator."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats

from parity_frontiers.cli import main
from parity_frontiers.verify.config import ACTIVATIONS, INITS, LOSSES, SPARSE_INITS, RunConfig
from parity_frontiers.verify.experiments.grid import build_grid, describe_point, grid_from_toml
from parity_frontiers.verify.experiments.store import ResultsStore
from parity_frontiers.verify.training import registry
from parity_frontiers.verify.training.data import BatchStream, make_run_data, unpack_pm1
from parity_frontiers.verify.training.memory import eval_steps
from parity_frontiers.verify.training.model import (
    init_params,
    init_supports,
    stack_params,
    to_sequential,
)
from parity_frontiers.verify.training.registry import (
    ACTIVATION_REGISTRY,
    INIT_REGISTRY,
    LOSS_REGISTRY,
    Activation,
    get_activation,
    get_init,
    get_loss,
    register_activation,
    register_init,
)
from parity_frontiers.verify.training.trainer import train_ensemble

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the registries themselves -------------------------------------------------------------------

def test_names_are_the_registries_keys():
    assert INITS == tuple(INIT_REGISTRY) == ("dense", "sparse", "sparse-gaussian")
    assert SPARSE_INITS == ("sparse", "sparse-gaussian")
    assert ACTIVATIONS == tuple(ACTIVATION_REGISTRY) == ("relu", "abs")
    assert LOSSES == tuple(LOSS_REGISTRY) == ("hinge", "square", "logistic")
    for reg in (ACTIVATION_REGISTRY, INIT_REGISTRY, LOSS_REGISTRY):
        assert all(entry.name == name and entry.formula for name, entry in reg.items())


def test_lookups_and_registration_are_checked():
    with pytest.raises(ValueError, match=r"activation must be one of \('relu', 'abs'"):
        get_activation("tanh")
    with pytest.raises(ValueError, match="init must be one of"):
        get_init(None)
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("l1")
    with pytest.raises(ValueError, match="already registered"):
        register_activation(registry.ReLU())
    with pytest.raises(ValueError, match="instance of InitLaw"):
        register_init(registry.ReLU())
    with pytest.raises(ValueError, match="without spaces"):
        register_activation(type("Bad", (registry.Abs,), {"name": "my abs"})())
    with pytest.raises(ValueError, match="takes no support size"):
        get_init("dense").draw_layer(np.random.default_rng(0), 2, 3, s=1)
    with pytest.raises(ValueError, match="needs a support size"):
        get_init("sparse-gaussian").draw_layer(np.random.default_rng(0), 2, 3)


def test_registry_imports_no_torch():
    import subprocess
    import sys
    code = ("import sys; from parity_frontiers.verify.config import RunConfig; "
            "RunConfig(n=5, k=2, width=3, activation='abs', init='sparse-gaussian', s=2); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- activations and losses: the hand derivative is autograd's ---------------------------------

@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_is_the_autograd_derivative(name):
    phi = get_activation(name)
    z = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0))
    z[0, 0, :3] = 0.0  # the kink: ReLU and abs take derivative 0 there, as autograd
    grad = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(1))
    leaf = z.clone().requires_grad_(True)
    phi(leaf).backward(grad)
    h = phi.forward(z.clone(), out=torch.empty_like(z))
    assert torch.equal(h, phi(z))
    in_place = z.clone()
    assert torch.equal(phi.forward(in_place, out=in_place), h)
    saved = h if phi.grad_from_output else z
    out = phi.backward(grad.clone(), saved, out=torch.empty_like(z))
    torch.testing.assert_close(out, leaf.grad, rtol=0, atol=0)
    same = grad.clone()
    assert torch.equal(phi.backward(same, saved, out=same), out)  # in place, as the step does


@pytest.mark.parametrize("name", LOSSES)
def test_loss_grad_is_the_autograd_gradient_of_the_mean(name):
    loss = get_loss(name)
    gen = torch.Generator().manual_seed(2)
    f = torch.randn(4, 32, generator=gen) * 2
    y = torch.randint(0, 2, (4, 32), generator=gen).float() * 2 - 1
    leaf = f.clone().requires_grad_(True)
    loss(leaf, y).mean(1).sum().backward()
    torch.testing.assert_close(loss.grad(f.clone(), y, 1 / 32), leaf.grad, rtol=1e-6, atol=1e-8)


def _reference_params(config: RunConfig, steps: int) -> list[torch.Tensor]:
    """One run trained alone by nn.Sequential + autograd + torch.optim.SGD on its own batches,
    with the registry's activation and loss values (their derivatives left to autograd)."""
    data = make_run_data(config)
    model = to_sequential(stack_params([init_params(config)]), 0, config.activation)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss = get_loss(config.loss)
    stream, s = BatchStream(config), torch.from_numpy(data.parity_set)
    x_train = (None if config.samples is None
               else unpack_pm1(torch.from_numpy(data.train_packed), config.n))
    done = 0
    for stop in eval_steps(config):
        window = stream.next(stop - done)
        for t in range(min(stop, steps) - done):
            if x_train is None:
                x = unpack_pm1(torch.from_numpy(window[t]), config.n)
                y = x[:, s].prod(1)
            else:
                x = x_train[torch.from_numpy(window[t])]
                y = x[:, s].prod(1)
            opt.zero_grad()
            loss(model(x)[:, 0], y).mean().backward()
            opt.step()
        done = stop
        if done >= steps:
            break
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("activation, loss", list(itertools.product(ACTIVATIONS, LOSSES)))
def test_fused_step_follows_autograd_for_every_entry(activation, loss):
    # Every registered activation and loss, through the hand-written step: the trajectory of
    # the autograd loop to float32 rounding (depth 2, so the backward passes a hidden layer).
    steps = 30
    base = RunConfig(n=12, k=3, width=24, depth=2, samples=200, eval_every=10, test_size=100,
                     max_steps=steps, activation=activation, loss=loss, init="sparse-gaussian",
                     s=3)
    configs = [dataclasses.replace(base, seed=seed) for seed in (1, 2)]
    results = train_ensemble(configs, device="cpu", early_stop=False, return_params=True)
    for config, result in zip(configs, results, strict=True):
        ref = _reference_params(config, steps)
        ours = [torch.from_numpy(p).reshape(r.shape)
                for p, r in zip(result.extra["final_params"], ref, strict=True)]
        start = [torch.from_numpy(np.asarray(p)).reshape(r.shape)
                 for p, r in zip(init_params(config), ref, strict=True)]
        assert max(float((r - p0).abs().max()) for r, p0 in zip(ref, start, strict=True)) > 1e-3
        for o, r in zip(ours, ref, strict=True):
            torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-6)


class _Square(Activation):
    """A test entry: z^2, derivative 2z (from z: not a function of h alone)."""

    name = "test-square"
    formula = "z^2; derivative 2 z"
    grad_from_output = False

    def forward(self, z, out):
        return torch.mul(z, z, out=out)

    def backward(self, grad, saved, out):
        return torch.mul(grad, saved * 2, out=out)

    def __call__(self, z):
        return z * z


@pytest.fixture
def square_activation():
    register_activation(_Square())
    yield "test-square"
    del ACTIVATION_REGISTRY["test-square"]


def test_a_new_activation_trains_end_to_end(square_activation):
    config = RunConfig(n=10, k=2, width=16, samples=100, max_steps=20, eval_every=10,
                       test_size=100, lr=0.01, activation=square_activation, seed=4)
    assert config.key() != dataclasses.replace(config, activation="relu").key()
    (result,) = train_ensemble([config], device="cpu", early_stop=False, return_params=True)
    ref = _reference_params(config, 20)
    for o, r in zip(result.extra["final_params"], ref, strict=True):
        torch.testing.assert_close(torch.from_numpy(o).reshape(r.shape), r, rtol=1e-5, atol=1e-6)


# --- init laws ------------------------------------------------------------------------------------

def _moment_check(values: np.ndarray, variance: float, kurtosis: float) -> None:
    """Mean 0, variance and (raw) kurtosis within 5 standard errors of the law's."""
    v = values.astype(np.float64)
    n = len(v)
    assert abs(v.mean()) < 5 * math.sqrt(variance / n)
    m4 = kurtosis * variance**2
    sd_var = math.sqrt((m4 - variance**2) / n)
    assert abs(v.var() - variance) < 5 * sd_var
    assert abs(stats.kurtosis(v, fisher=False) - kurtosis) < 0.15


@pytest.mark.parametrize("name", SPARSE_INITS)
def test_sparse_laws_share_the_supports_and_differ_in_values(name):
    n, width, s = 40, 6000, 3
    config = RunConfig(n=n, k=2, width=width, init=name, s=s, seed=5)
    w1, b1 = init_params(config)[:2]
    assert ((w1 != 0).sum(axis=1) == s).all() and w1.dtype == np.float32
    support = init_supports(config)
    mask = np.zeros_like(w1, dtype=bool)
    np.put_along_axis(mask, support, True, axis=1)
    assert (mask == (w1 != 0)).all()
    # the same draw of supports for both sparse laws (and so one init_supports)
    other = "sparse" if name != "sparse" else "sparse-gaussian"
    assert (init_supports(dataclasses.replace(config, init=other)) == support).all()
    hits = mask.sum(axis=0)  # each input: Binomial(width, s / n), mean 450, sd ~ 20
    assert abs(hits - width * s / n).max() < 6 * math.sqrt(width * s / n)
    if name == "sparse":  # U(+-1/sqrt(s)): variance 1/(3s), kurtosis 9/5
        _moment_check(w1[mask], 1 / (3 * s), 1.8)
        _moment_check(b1, 1 / (3 * s), 1.8)
    else:  # N(0, 1/s): variance 1/s, kurtosis 3, and unbounded
        _moment_check(w1[mask], 1 / s, 3.0)
        _moment_check(b1, 1 / s, 3.0)
        assert stats.kstest(w1[mask] * math.sqrt(s), "norm").pvalue > 1e-3
        assert np.abs(w1).max() > 1 / math.sqrt(s)


@pytest.mark.parametrize("name", INITS)
def test_every_law_draws_its_layer_from_one_generator(name):
    law = get_init(name)
    s = 2 if law.sparse else None
    a = law.draw_layer(np.random.default_rng(3), 5, 9, s)
    b = law.draw_layer(np.random.default_rng(3), 5, 9, s)
    assert [x.shape for x in a] == [(5, 9), (5,)] and all(x.dtype == np.float32 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert law.label(s) == (name if s is None else f"{name} s=2")


def _twin_draw(n, width, s, sparse, seed):
    from parity_frontiers.simulate._sq_kernels import draw_network

    w, b, a = np.empty((width, n)), np.empty(width), np.empty(width)
    c = draw_network(seed, 0, n, width, s if sparse else 0, sparse, w, b, a)
    return w, b, a, c


@pytest.mark.parametrize("init", ["dense", "sparse"])
def test_the_numba_twin_agrees_with_the_registry_in_law(init):
    # simulate/_sq_kernels.draw_network restates INIT_REGISTRY["dense"] / ["sparse"] (and the
    # dense output layer) with its own generator: the two must be the same distribution.
    n, width, s = 6, 20_000, 2
    sparse = init == "sparse"
    w_np, b_np, a_np, _ = _twin_draw(n, width, s, sparse, seed=11)
    w_reg, b_reg, a_reg, _ = init_params(RunConfig(n=n, k=2, width=width, init=init,
                                                   s=s if sparse else None, seed=11))
    if sparse:
        assert ((w_np != 0).sum(axis=1) == s).all() and ((w_reg != 0).sum(axis=1) == s).all()
        # the supports: the same law over the 15 subsets (chi-square homogeneity)
        subsets = [Counter(map(tuple, (np.sort(np.flatnonzero(row)) for row in (w != 0))))
                   for w in (w_np, w_reg)]
        assert len(subsets[0]) == len(subsets[1]) == math.comb(n, s)
        keys = sorted(subsets[0])
        table = [[c[key] for key in keys] for c in subsets]
        assert stats.chi2_contingency(table).pvalue > 1e-3
        values = (w_np[w_np != 0], w_reg[w_reg != 0])
        bound = 1 / math.sqrt(s)
    else:
        values = (w_np.ravel(), w_reg.ravel())
        bound = 1 / math.sqrt(n)
    for twin, ours, edge in ((*values, bound), (b_np, b_reg, bound),
                             (a_np, a_reg, 1 / math.sqrt(width))):
        assert stats.ks_2samp(twin, ours).pvalue > 1e-3
        assert np.abs(twin).max() <= edge and np.abs(ours).max() <= edge
        for v in (twin, ours):
            _moment_check(np.asarray(v), edge**2 / 3, 1.8)


# --- the new entries through the grid, the CLI, the store and the tabular estimator ------------

def test_grid_takes_activation_as_an_axis(tmp_path):
    grid = build_grid(n=8, k=2, width=16, init=["dense", "sparse-gaussian"], s=2,
                      activation=["relu", "abs"], seeds=2, max_steps=100)
    assert len(grid) == 8
    assert Counter((c.init, c.s, c.activation) for c in grid) == {
        ("dense", None, "relu"): 2, ("dense", None, "abs"): 2,
        ("sparse-gaussian", 2, "relu"): 2, ("sparse-gaussian", 2, "abs"): 2}
    assert [c.key() for c in build_grid(n=8, k=2, width=16)] == \
        [RunConfig(n=8, k=2, width=16).key()]  # default grid: the keys of before
    assert "activation" not in describe_point(grid[0].as_dict())
    assert "activation=abs" in describe_point(grid[2].as_dict())
    with pytest.raises(ValueError, match="activation must be one of"):
        build_grid(n=8, k=2, width=16, activation=["relu", "gelu"])
    with pytest.raises(ValueError, match="sparse-gaussian init needs s"):
        build_grid(n=8, k=2, width=16, init="sparse-gaussian")
    toml = tmp_path / "sweep.toml"
    toml.write_text('[grid]\nn = 8\nk = 2\nwidth = 16\ninit = "sparse-gaussian"\ns = [2, 3]\n'
                    'activation = ["abs", "relu"]\n[train]\nmax_steps = 100\n')
    from_file = grid_from_toml(toml)
    assert sorted((c.s, c.activation) for c in from_file) == [
        (2, "abs"), (2, "relu"), (3, "abs"), (3, "relu")]
    toml.write_text('[grid]\nn = 8\nk = 2\nwidth = 16\n[train]\nactivation = "abs"\n')
    with pytest.raises(ValueError, match=r"unknown key\(s\) in \[train\]: activation"):
        grid_from_toml(toml)


TINY = ["--n", "10", "--k", "2", "--max-steps", "300", "--eval-every", "100",
        "--test-size", "300", "--device", "cpu", "--no-progress", "--json"]


def test_cli_train_and_sweep_with_the_new_entries(tmp_path, capsys):
    assert main(["train", "--width", "32", "--samples", "200", "--activation", "abs",
                 "--seeds", "2", *TINY]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["activation"] == "abs" and len(out["runs"]) == 2
    store = tmp_path / "runs.db"
    assert main(["train", "--width", "32", "--init", "sparse-gaussian", "--s", "2",
                 "--store", str(store), *TINY]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["config"]["init"], out["config"]["s"]) == ("sparse-gaussian", 2)
    assert main(["sweep", "--width", "16", "32", "--init", "dense", "sparse-gaussian", "--s", "2",
                 "--activation", "relu", "abs", "--store", str(store), *TINY]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 8 and out["skipped"] == 1  # the train run above is one of them
    assert {(p["init"], p["activation"]) for p in out["cells"]} == {
        ("dense", "relu"), ("dense", "abs"), ("sparse-gaussian", "relu"),
        ("sparse-gaussian", "abs")}
    with ResultsStore(store, readonly=True) as s:
        results = s.results()
        assert s.count(activation="abs", init="sparse-gaussian") == 2
    configs = build_grid(n=10, k=2, width=[16, 32], init=["dense", "sparse-gaussian"], s=2,
                         activation=["relu", "abs"], max_steps=300, eval_every=100,
                         test_size=300)
    assert {r.config for r in results} == set(configs)  # the round trip keeps every field
    # the table names the activation only when a point is not ReLU
    assert main(["sweep", "--width", "16", "--init", "sparse-gaussian", "--s", "2",
                 "--store", str(store), *TINY[:-1]]) == 0
    table = capsys.readouterr().out
    assert "sparse-gaussian" in table and "activation" not in table.splitlines()[1]


def test_tabular_estimator_uses_the_registry():
    from sklearn.datasets import load_iris

    from parity_frontiers.verify.experiments.tabular.estimator import SparseInitMLPClassifier

    X, y = load_iris(return_X_y=True)
    clf = SparseInitMLPClassifier(hidden_layer_sizes=(400,), init="sparse-gaussian", s=2,
                                  activation="abs", learning_rate=2e-2, max_epochs=30,
                                  random_state=0, device="cpu").fit(X, y)
    first = clf.initial_coefs_[0]  # [features, neurons]
    assert ((first != 0).sum(axis=0) == 2).all() and clf.effective_s_ == 2
    assert abs(first[first != 0].var() - 0.5) < 0.1  # N(0, 1/s), not U's 1/(3s) = 0.17
    assert clf.score(X, y) > 0.8
    for bad, match in (({"init": "lecun"}, "init must be one of"),
                       ({"activation": "tanh"}, "activation must be one of")):
        with pytest.raises(ValueError, match=match):
            SparseInitMLPClassifier(**bad).fit(X, y)
