"""Frontier models (verify.analysis.models): recovery, seed-cluster coverage, scoring rule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from parity_frontiers.verify.analysis.models import (
    MODEL_NAMES,
    FittedModel,
    RunTable,
    fit_model,
    get_model,
    seed_weights,
)
from parity_frontiers.verify.analysis.models.scoring import (
    inside_threshold,
    predictive_band,
    score_model,
)
from parity_frontiers.verify.config import RunConfig, RunResult

T = 2000


def make_runs(prob, ns, widths, inits, samples, seeds, rng, rho=0.0):
    """Runs drawn with P(success) = prob(cells) per cell. rho > 0 correlates the outcomes of
    one seed across cells (a Gaussian copula: each seed shares a latent z), leaving every
    cell's marginal P exact."""
    configs = [RunConfig(n=n, k=3, width=w, samples=m, init=i, s=None if i == "dense" else 2,
                         seed=seed, max_steps=T)
               for n in ns for w in widths for i in inits for m in samples for seed in seeds]
    table = RunTable.from_results(
        [RunResult(c, False, None, 0.5, 0.5, "max_steps", T) for c in configs])
    p = prob(table.cells)[table.cell_index]
    shared = {seed: rng.normal() for seed in seeds}
    z = np.array([shared[c.seed] for c in configs])
    u = stats.norm.cdf(math.sqrt(rho) * z + math.sqrt(1 - rho) * rng.normal(size=z.size))
    return [RunResult(c, bool(win), 100 if win else None, 0.0 if win else 0.5, 0.0,
                      "success" if win else "max_steps", 100 if win else T)
            for c, win in zip(configs, u < p, strict=True)]


def truth(name, params, runs):
    """A FittedModel holding known parameters (constants from the runs, as a fit would)."""
    table = RunTable.from_results(runs)
    model = get_model(name)
    constants = model.constants(table)
    names = [s[0] for s in model.parameters(table, constants)]
    assert set(names) == set(params), names
    return FittedModel(name, names, np.array([params[n] for n in names]),
                       np.zeros((0, len(names))), constants, table.summary())


GRID = dict(ns=[20, 40], widths=[16, 256], inits=["dense", "sparse"],
            samples=[100, 200, 400, 800, 1600, 3200, None])
CASES = {
    "phenomenological": {"dense.g": math.log(3), "dense.a": 6.0, "dense.alpha": 1.5,
                         "dense.beta": -0.2, "sparse.g": math.log(4), "sparse.a": 5.5,
                         "sparse.alpha": 1.0, "sparse.beta": -0.3},
    "lottery": {"dense.lc": -3.0, "dense.g": math.log(2), "dense.a": 6.0, "dense.b": 1.5,
                "sparse.lc": 2.0, "sparse.g": math.log(2), "sparse.a": 5.5, "sparse.b": 1.0},
    "sq": {"lc": 14.0, "g": math.log(1.5)},
    "theorem": {"lc_thm4": -5.0, "lc_thm5": 6.0, "g": math.log(2)},
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_recovers_known_parameters(name):
    rng = np.random.default_rng(1)
    template = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(1), rng=rng, **GRID)
    true = truth(name, CASES[name], template)
    runs = make_runs(true.probability, seeds=range(60), rng=rng, **GRID)
    fitted = fit_model(name, runs, bootstrap=0)
    table = RunTable.from_results(runs)
    # The fitted law matches the true one everywhere on the grid ...
    assert np.max(np.abs(fitted.probability(table.cells) - true.probability(table.cells))) < 0.1
    # ... and the parameters themselves come back (the lottery's c and location trade off
    # where c r p_lucky >> 1, so its check is looser).
    tol = 0.6 if name == "lottery" else 0.25
    for key, value in CASES[name].items():
        assert fitted.theta[fitted.names.index(key)] == pytest.approx(value, abs=tol), key
    # at least as likely as the truth (it is the maximum)
    assert fitted.log_likelihood(table, clip=0) >= true.log_likelihood(table, clip=0) - 1e-6


def test_seed_weights_resample_whole_seeds():
    seeds = np.array([0, 0, 1, 1, 2, 2, 2])
    w = seed_weights(seeds, 50, np.random.default_rng(0))
    assert w.shape == (50, 7)
    # runs of one seed always carry the same weight; the seed counts sum to the seed number
    assert np.all(w[:, 0] == w[:, 1]) and np.all(w[:, 4] == w[:, 6])
    assert np.all(w[:, [0, 2, 4]].sum(axis=1) == 3)


def test_bootstrap_interval_covers_m_star_on_seed_clustered_data():
    """95% seed-bootstrap intervals of m* cover the true m* about 95% of the time when every
    seed's outcomes are strongly correlated across cells; resampling runs as if independent
    would not (checked against the same data)."""
    gamma, a = 2.0, math.log(500.0)

    def prob(c):
        return 1 / (1 + np.exp(-gamma * (c["log_m"] - a)))

    reps, covered, lengths = 20, 0, []
    rng = np.random.default_rng(7)
    grid = dict(ns=[30], widths=[64], inits=["dense"], samples=[100, 200, 400, 800, 1600])
    for rep in range(reps):
        runs = make_runs(prob, seeds=range(16), rng=rng, rho=0.8, **grid)
        fitted = fit_model("phenomenological", runs, bootstrap=40, seed=rep, starts=1)
        star = fitted.m_star(30, 3, 64, "dense", None, T, 32)
        low, high = star["m_star_low"] or 0, star["m_star_high"] or math.inf
        covered += low <= 500 <= high
        lengths.append(math.log(high / low))
    se = math.sqrt(0.95 * 0.05 / reps)
    assert covered / reps >= 0.95 - 3 * se, covered
    assert np.median(lengths) < 1.5  # not covering by being useless


def test_predictive_band_and_threshold():
    # a point mass at p: the central 95% binomial interval
    low, high = predictive_band(16, np.array([0.5]))
    assert (low, high) == (int(stats.binom.ppf(0.025, 16, 0.5)),
                           int(stats.binom.ppf(0.975, 16, 0.5)))
    # uncertainty in p widens it
    wide = predictive_band(16, np.linspace(0.2, 0.8, 50))
    assert wide[0] < low and wide[1] > high
    assert predictive_band(8, np.array([1.0])) == (8, 8)
    assert inside_threshold(160) == int(stats.binom.ppf(0.01, 160, 0.95))


def test_score_of_true_model_is_consistent_and_baseline_worse():
    rng = np.random.default_rng(3)
    runs = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(1), rng=rng, **GRID)
    true = truth("phenomenological", CASES["phenomenological"], runs)
    fit_runs = make_runs(true.probability, seeds=range(16), rng=rng, **GRID)
    fitted = fit_model("phenomenological", fit_runs, bootstrap=15, seed=1, starts=2)
    held = make_runs(true.probability, seeds=range(100, 108), rng=rng,
                     **dict(GRID, ns=[30]))
    out = score_model(fitted, held)
    assert out["verdict"] == "consistent", out["reasons"]
    assert out["log_likelihood_per_run"] > out["baseline_log_likelihood_per_run"]
    assert len(out["cells"]) == 2 * 2 * 7
    for key in ("fraction_inside", "m_star_coverage", "cells_inside", "verdict_rule"):
        assert key in out
    # the same law with every location off by a factor e in m is rejected
    wrong = truth("phenomenological", {k: v + (1.0 if k.endswith(".a") else 0.0)
                                       for k, v in CASES["phenomenological"].items()}, runs)
    wrong.draws = np.tile(wrong.theta, (5, 1))
    assert score_model(wrong, held)["verdict"] == "rejected"


def test_refuses_unfitted_sizes_and_inits():
    rng = np.random.default_rng(4)
    runs = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(4), rng=rng,
                     ns=[20], widths=[16], inits=["dense"], samples=[100, 1000])
    fitted = fit_model("phenomenological", runs, bootstrap=3)
    sparse = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(2), rng=rng,
                       ns=[20], widths=[16], inits=["sparse"], samples=[100])
    with pytest.raises(ValueError, match="never fitted on sparse"):
        score_model(fitted, sparse)
    far = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(2), rng=rng,
                    ns=[100], widths=[16], inits=["dense"], samples=[100])
    with pytest.raises(ValueError, match="never fitted near"):
        score_model(fitted, far)
    with pytest.raises(ValueError, match="unknown model"):
        fit_model("nope", runs)


def test_each_init_law_gets_its_own_parameters_and_coverage():
    # sparse-gaussian is a sparse law of its own: fitted apart from sparse, never predicted
    # from sparse's parameters.
    rng = np.random.default_rng(5)
    rates = {"dense": 0.2, "sparse": 0.5, "sparse-gaussian": 0.8}
    grid = dict(ns=[20], widths=[16], samples=[100, 1000], rng=rng)
    runs = make_runs(lambda c: np.array([rates[i] for i in c["init"]]), seeds=range(40),
                     inits=list(rates), **grid)
    table = RunTable.from_results(runs)
    assert table.summary()["inits"] == [{"init": "dense", "s": None},
                                        {"init": "sparse", "s": 2},
                                        {"init": "sparse-gaussian", "s": 2}]
    fitted = fit_model("phenomenological", runs, bootstrap=0)
    assert {"dense.a", "sparse.a", "sparse-gaussian.a"} <= set(fitted.names)
    p = fitted.probability(table.cells)
    for init, rate in rates.items():  # one location per law: each law's own success rate
        assert p[table.cells["init"] == init] == pytest.approx(rate, abs=0.12), init
    two = fit_model("phenomenological", [r for r in runs if r.config.init != "sparse-gaussian"],
                    bootstrap=0)
    with pytest.raises(ValueError, match="never fitted on sparse-gaussian init with s = 2"):
        two.predict(20, 3, 16, "sparse-gaussian", 2, [100], T, 32)
    assert two.predict(20, 3, 16, "sparse", 2, [100], T, 32)[0]["p_success"] > 0


def test_json_round_trip_and_version_check():
    rng = np.random.default_rng(5)
    runs = make_runs(lambda c: np.full(c["n"].size, 0.3), seeds=range(4), rng=rng,
                     ns=[20, 30], widths=[16, 64], inits=["dense", "sparse"],
                     samples=[100, 1000])
    for name in MODEL_NAMES:
        fitted = fit_model(name, runs, bootstrap=2, starts=1)
        back = FittedModel.from_dict(json.loads(json.dumps(fitted.as_dict())))
        assert back.names == fitted.names and np.allclose(back.theta, fitted.theta)
        assert np.allclose(back.draws, fitted.draws)
    d = fitted.as_dict()
    with pytest.raises(ValueError, match="version"):
        FittedModel.from_dict(dict(d, format_version=99))
    with pytest.raises(ValueError, match="not a parity-frontiers model"):
        FittedModel.from_dict({"hello": 1})


def test_lottery_saturates_and_online_is_large_m():
    rng = np.random.default_rng(6)
    runs = make_runs(lambda c: np.full(c["n"].size, 0.5), seeds=range(1), rng=rng, **GRID)
    true = truth("lottery", CASES["lottery"], runs)
    rows = true.predict(40, 3, 8, "dense", None, [100, 10**7, None], T, 32)
    ceiling = 1 - math.exp(-math.exp(-3.0) * 8)  # 1 - exp(-c r p_lucky), p_lucky = 1 dense
    assert ceiling < 0.5
    assert rows[1]["p_success"] == pytest.approx(ceiling, rel=1e-3)
    assert rows[2]["effective_samples"] == pytest.approx(T * 32)
    assert true.m_star(40, 3, 8, "dense", None, T, 32)["m_star"] is None  # never crosses 1/2
