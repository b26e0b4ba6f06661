"""simulate.sq: the SQ game against independent routes.

* exact sup-norms (Walsh-Hadamard kernel) against a dense numpy computation of every parameter's
  gradient at every input and an explicit chi_S matrix;
* exact enumeration against the sampled route on the same nets (the sampled interval must
  contain the nets' exact mean fraction);
* every estimate at or below its bounds (per net, exactly);
* the guess game against its exact law and a numerical integral of it;
* noisy GD against finite differences of the loss and a direct simulation of the oracle game.

Statistical checks use fixed seeds and limits whose per-check miss probability is stated at the
check (Bonferroni over the checks of one test, or 3.3 standard errors, two-sided ~1e-3 each).
"estimate <= bound" assertions are vacuous wherever the bound is capped at 1, and far from
binding in the guess game (q / C(n, k) against 2 q / (tau^2 C(n, k)) at tau = 0.1); the checks
with content are: estimate <= energy_bound (the per-net Parseval inequality, exact, tested per
net), exact <= bound over a whole (q, tau) grid of the guess game, and the estimates against
their exact values.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

from parity_frontiers.simulate.sq import (
    MAX_EXACT_N,
    draw_init_network,
    gradient_fourier_sup_norms,
    guess_success_probability,
    parseval_visible_bound,
    simulate_sq_guess,
    simulate_sq_noisy_gd,
    simulate_sq_visible,
)
from parity_frontiers.simulate.sq.noisy_gd import _target_free_gradient, all_inputs
from parity_frontiers.simulate.sq.visible import _hoeffding_halfwidth


def _gradient_matrix(inputs, weights, biases, outputs):
    """d h / d theta at every input, columns W (row-major), b, a, c: shape (2^n, r)."""
    pre = inputs @ weights.T + biases
    active = (pre > 0).astype(float)
    relu = np.maximum(pre, 0.0)
    size, n = inputs.shape
    width = weights.shape[0]
    d_w = (active * outputs)[:, :, None] * inputs[:, None, :]
    return np.concatenate([d_w.reshape(size, width * n), active * outputs, relu,
                           np.ones((size, 1))], axis=1)


def _brute_force(n, k, weights, biases, outputs):
    inputs = all_inputs(n)
    grads = _gradient_matrix(inputs, weights, biases, outputs)
    sets = list(itertools.combinations(range(n), k))
    chi = np.stack([np.prod(inputs[:, list(c)], axis=1) for c in sets], axis=1)
    coef = chi.T @ grads / inputs.shape[0]  # (sets, params)
    masks = [sum(1 << i for i in c) for c in sets]
    order = np.argsort(masks)
    second = float(np.max(np.mean(grads**2, axis=0)))
    return (np.asarray(masks)[order], np.max(np.abs(coef), axis=1)[order],
            float(np.sum(coef**2)), second)


@pytest.mark.parametrize("n,k,width,init,s", [(6, 2, 3, "dense", None), (6, 3, 4, "sparse", 2),
                                             (7, 1, 2, "dense", None), (5, 5, 3, "sparse", 3)])
def test_exact_sup_norms_match_brute_force(n, k, width, init, s):
    for trial in range(3):
        w, b, a, _ = draw_init_network(n, width, init, s=s, seed=11, trial=trial)
        out = gradient_fourier_sup_norms(n, k, w, b, a)
        masks, sup, energy, second = _brute_force(n, k, w, b, a)
        assert out["masks"].tolist() == masks.tolist()
        np.testing.assert_allclose(out["sup_norm"], sup, rtol=1e-12, atol=1e-15)
        assert math.isclose(out["energy"], energy, rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(out["second_moment"], second, rel_tol=1e-12)


def test_majority_anchor():
    # 1[x1 + x2 + x3 > 0] = (1 + Maj3)/2 has |coefficient| 1/4 on {1,2,3}: the b_j gradient
    # (a_j = 1) sees it; dh/da_j = relu(x1+x2+x3) has coefficient -1/4 there too.
    out = gradient_fourier_sup_norms(3, 3, [[1.0, 1.0, 1.0]], [0.0], [1.0])
    assert out["sup_norm"].tolist() == [0.25]


def test_init_laws():
    n, width = 40, 200
    w, b, a, c = draw_init_network(n, width, "dense", seed=3)
    assert stats.kstest(w.ravel() * math.sqrt(n), "uniform", args=(-1, 2)).pvalue > 1e-3
    assert stats.kstest(a * math.sqrt(width), "uniform", args=(-1, 2)).pvalue > 1e-3
    assert np.all(np.abs(b) <= 1 / math.sqrt(n)) and abs(c) <= 1 / math.sqrt(width)
    w, b, a, _ = draw_init_network(n, width, "sparse", s=3, seed=3)
    assert np.all((w != 0).sum(axis=1) == 3)
    nonzero = w[w != 0] * math.sqrt(3)
    assert stats.kstest(nonzero, "uniform", args=(-1, 2)).pvalue > 1e-3
    # Every coordinate is equally likely to be in a support: chi-square on the column counts.
    counts = (w != 0).sum(axis=0)
    assert stats.chisquare(counts).pvalue > 1e-3
    # Same stream, same net.
    again = draw_init_network(n, width, "sparse", s=3, seed=3)
    assert np.array_equal(again[0], w)


def test_parseval_bound_values():
    assert parseval_visible_bound(20, 3, 100, 0.5) == 400 / 1140
    assert parseval_visible_bound(20, 3, 10**6, 0.5) == 1.0
    # Huge C(n, k): log-space, no overflow.
    value = parseval_visible_bound(10**6, 50, 10**9, 1e-3)
    assert 0 < value < 1e-100


@pytest.mark.parametrize("init,s", [("dense", None), ("sparse", 2)])
def test_exact_fraction_at_or_below_bounds_per_net(init, s):
    n, k = 9, 2
    binomial = math.comb(n, k)
    taus = np.geomspace(1e-3, 1.0, 13)
    for width in (2, 8, 32):
        for trial in range(4):
            w, b, a, _ = draw_init_network(n, width, init, s=s, seed=5, trial=trial)
            out = gradient_fourier_sup_norms(n, k, w, b, a)
            params = width * (n + 2) + 1
            for tau in taus:
                count = int(np.count_nonzero(out["sup_norm"] > tau))
                # count <= sum_i sum_S coef^2 / tau^2 (Parseval, then Markov): exact.
                assert count * tau**2 <= out["energy"] * (1 + 1e-12)
                if out["second_moment"] <= 1.0:
                    assert count / binomial <= parseval_visible_bound(n, k, params, tau)


def test_visible_rows_below_bounds_and_monotone():
    out = simulate_sq_visible(8, 2, widths=[2, 16], taus=[0.003, 0.03, 0.3],
                              init=["dense", "sparse"], s=2, trials=5, seed=2)
    assert len(out["rows"]) == 12
    for row in out["rows"]:
        assert row["estimate"] <= row["energy_bound"] + 1e-12
        assert row["energy_bound"] <= row["bound"] or row["normalised"] < 1
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
        assert row["bound"] == parseval_visible_bound(8, 2, row["params"], row["tau"])
        assert math.isclose(row["ratio"], row["estimate"] / row["bound"])
    for init in ("dense", "sparse"):
        for width in (2, 16):
            fractions = [r["estimate"] for r in out["rows"]
                         if r["init"] == init and r["width"] == width]
            assert fractions == sorted(fractions, reverse=True)


def test_visible_mean_matches_per_net_enumeration():
    n, k, width, trials = 7, 2, 3, 4
    taus = [0.01, 0.05]
    out = simulate_sq_visible(n, k, width, taus, init="sparse", s=3, trials=trials, seed=9)
    for index, tau in enumerate(taus):
        fractions = []
        for trial in range(trials):
            w, b, a, _ = draw_init_network(n, width, "sparse", s=3, seed=9, trial=trial)
            _, sup, _, _ = _brute_force(n, k, w, b, a)
            fractions.append(np.mean(sup > tau))
        assert math.isclose(out["rows"][index]["estimate"], float(np.mean(fractions)),
                            abs_tol=1e-12)


@pytest.mark.parametrize("k,init,s", [(1, "dense", None), (2, "sparse", 2)])
def test_sampled_interval_contains_exact(k, init, s):
    # Same seed and trials: the same nets. The sampled interval (Wilson over the pairs, widened
    # by the Hoeffding eps) must contain the nets' exact mean fraction; taus span the transition.
    n, width, trials = 8, 4, 6
    taus = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3]
    exact = simulate_sq_visible(n, k, width, taus, init=init, s=s, trials=trials, seed=4)
    sampled = simulate_sq_visible(n, k, width, taus, init=init, s=s, trials=trials, seed=4,
                                  method="sample", samples=2**15, parities=40)
    # Six taus, two limits each: Bonferroni over the 12 one-sided limits, so every Wilson limit
    # below has tail 0.05 / 12 (two-sided level 1 - 0.05 / 6; miss probability 0.0042 per
    # limit, 0.05 per test); the library's own 95% limits must lie inside these.
    level = 1 - 0.05 / 6
    informative = 0
    for e, m in zip(exact["rows"], sampled["rows"], strict=True):
        assert m["method"] == "sample" and m["eps"] > 0 and m["pairs"] == trials * 40
        counts, pairs = m["counts"], m["pairs"]
        low = stats.binomtest(counts["lower"], pairs).proportion_ci(level, "wilson").low
        high = stats.binomtest(counts["upper"], pairs).proportion_ci(level, "wilson").high
        assert low <= m["ci_low"] and m["ci_high"] <= high
        assert math.isclose(m["estimate"], counts["point"] / pairs)
        assert low <= e["estimate"] <= high, (e["tau"], e["estimate"], m)
        informative += high - low < 0.5
    assert informative >= 2  # the check is not vacuous


def test_sampled_route_for_large_n():
    out = simulate_sq_visible(60, 3, 8, [0.05, 0.5], trials=2, seed=0, samples=4096,
                              parities=8)
    assert out["method"] == "sample" and out["binomial"] == math.comb(60, 3)
    for row in out["rows"]:
        assert 0 <= row["ci_low"] <= row["estimate"] <= row["ci_high"] <= 1
        assert row["estimate"] <= row["bound"]


def test_visible_seed_reproducible_and_thread_free():
    one = simulate_sq_visible(8, 3, 5, [0.01, 0.02], init="dense", trials=3, seed=1,
                              threads=1)
    two = simulate_sq_visible(8, 3, 5, [0.01, 0.02], init="dense", trials=3, seed=1)
    assert one == two


@pytest.mark.parametrize("bad,match", [
    (dict(n=5, k=6), "k must be <= n"),
    (dict(taus=0), "tau must be > 0"),
    (dict(taus=-1.0), "tau must be > 0"),
    (dict(widths=0), "width must be >= 1"),
    (dict(trials=1), "trials must be >= 2"),
    (dict(init="sparse"), "s .* required"),
    (dict(init="sparse", s=9), "s must be <= n"),
    (dict(init="wide"), "init must be one of"),
    (dict(method="exact", n=MAX_EXACT_N + 1), "n must be <= 20"),
    (dict(method="magic"), "method must be one of"),
    (dict(samples=100), "samples applies"),
    (dict(n=20, widths=10**5), "operations per net"),
    (dict(n=40, k=3, widths=10**4, samples=10**6), "operations per net"),
    (dict(trials=10**12), "trials must be <= 1000000"),
    (dict(n=16, k=3, widths=256, trials=10**5), "about an hour"),
])
def test_visible_validation(bad, match):
    args = dict(n=6, k=2, widths=2, taus=0.1, trials=2)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        simulate_sq_visible(**args)


# --- the guess game ------------------------------------------------------------------------

def _random_oracle_integral(binomial, q, tau):
    """P = (q / C) P(1 + U_0 > max U_1..U_{q-1}), U uniform(-tau, tau), by numerical quadrature."""
    def integrand(u0):
        z = np.clip((1 + u0 + tau) / (2 * tau), 0.0, 1.0)
        return z ** (q - 1) / (2 * tau)
    value, _ = integrate.quad(integrand, -tau, tau, limit=200)
    return q / binomial * value


@pytest.mark.parametrize("q", [1, 2, 5, 30])
@pytest.mark.parametrize("tau", [0.3, 0.5, 0.8, 0.95, 1.0])
def test_guess_formula_against_quadrature(q, tau):
    assert math.isclose(guess_success_probability(10, 3, q, tau),
                        _random_oracle_integral(120, q, tau), rel_tol=1e-7)


@pytest.mark.parametrize("oracle,tau", [("random", 0.25), ("random", 0.9),
                                        ("adversarial", 0.25), ("adversarial", 0.5),
                                        ("adversarial", 0.75)])
def test_guess_monte_carlo_against_exact(oracle, tau):
    # Fixed seed; 20 comparisons, each allowed 3.3 standard errors of the exact law (two-sided
    # miss probability about 1e-3 each), so a failure means a bug, not bad luck.
    out = simulate_sq_guess(9, 2, queries=[1, 3, 12, 36], tau=tau, oracle=oracle,
                            trials=4000, seed=7)
    for row in out["rows"]:
        se = math.sqrt(row["exact"] * (1 - row["exact"]) / row["trials"])
        assert abs(row["estimate"] - row["exact"]) <= 3.3 * se + 1e-12, row
        # The learner outputs a queried set, so success implies S was asked.
        assert row["estimate"] <= row["asked"]["estimate"]
        assert row["exact"] <= row["bound"]
        asked = row["asked"]
        assert abs(asked["estimate"] - asked["exact"]) <= 3.3 * math.sqrt(
            asked["exact"] * (1 - asked["exact"]) / row["trials"]) + 1e-12
    # Every query asked: S is always found when tau < 1/2.
    if tau < 0.5:
        full = simulate_sq_guess(9, 2, queries=36, tau=tau, oracle=oracle, trials=200, seed=1)
        assert full["estimate"] == 1.0 == full["exact"]


def test_guess_tracks_q_over_binomial_below_bound():
    # 3 checks, each within 3.3 standard errors of q / C(n, k) (miss ~1e-3 each). The bound
    # check is far from binding (bound 0.91 or 1 against at most 0.45): it guards the formula,
    # which is compared with 2 q / (tau^2 C(n, k)) written out.
    out = simulate_sq_guess(12, 3, queries=[1, 10, 100], tau=0.1, trials=20_000, seed=3)
    for row in out["rows"]:
        assert row["exact"] == row["queries"] / 220
        se = math.sqrt(row["exact"] * (1 - row["exact"]) / row["trials"])
        assert abs(row["estimate"] - row["exact"]) <= 3.3 * se
        assert row["estimate"] <= row["bound"]
        assert math.isclose(row["bound"], min(1.0, 2 * row["queries"] / (0.01 * 220)))


@pytest.mark.parametrize("tau", [1.5, 2.0, 5.0])
def test_guess_refuses_tau_above_one(tau):
    # Before the fix: tau=3 gave exact 1/28 above the bound 2/(9*28). With q = 1 the learner
    # outputs its one query, so it wins with 1/C(n, k) > 2/(tau^2 C(n, k)) for tau > sqrt(2).
    assert _random_oracle_integral(28, 1, tau) > 2 / (tau**2 * 28)
    with pytest.raises(ValueError, match="tau must be <= 1 for the guess game"):
        guess_success_probability(8, 2, 1, tau)
    with pytest.raises(ValueError, match="tau must be <= 1 for the guess game"):
        simulate_sq_guess(8, 2, queries=1, tau=tau, trials=10)


def test_guess_plus_one_bound_would_fail_for_the_random_oracle():
    # Why tau > 1 is refused rather than the bound raised to (2q/tau^2 + 1)/C: the U(-tau, tau)
    # oracle leaks S (quadrature, independent of the closed form), beating it at tau = 5.
    assert _random_oracle_integral(28, 20, 5.0) > (2 * 20 / 25 + 1) / 28


@pytest.mark.parametrize("oracle", ["random", "adversarial"])
def test_guess_exact_within_bound_on_a_grid(oracle):
    # Content: the bound binds (2q/(tau^2 C) < 1) on much of this grid, up to tau = 1.
    binomial = 28
    binding = 0
    for tau in np.linspace(0.05, 1.0, 39):
        for q in range(1, binomial + 1):
            exact = guess_success_probability(8, 2, q, tau, oracle)
            bound = min(1.0, 2 * q / (tau**2 * binomial))
            assert exact <= bound * (1 + 1e-12), (tau, q, exact, bound)
            binding += bound < 1
    assert binding > 100


@pytest.mark.parametrize("bad,match", [
    (dict(queries=46), "queries must be <= C"),
    (dict(tau=1.01), "tau must be <= 1"),
    (dict(trials=10**12), "trials=1000000000000 needs"),
    (dict(tau=0), "tau must be > 0"),
    (dict(oracle="kind"), "oracle must be"),
    (dict(n=63), "n must be <= 62"),
    (dict(k=11), "k must be <= n"),
])
def test_guess_validation(bad, match):
    args = dict(n=10, k=2, queries=3, tau=0.1, trials=10)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        simulate_sq_guess(**args)


# --- noisy GD ------------------------------------------------------------------------------

def test_target_free_gradient_finite_differences():
    n, width = 5, 3
    inputs = all_inputs(n)
    w, b, a, c = draw_init_network(n, width, "dense", seed=2)

    def loss(w, b, a, c):
        h = np.maximum(inputs @ w.T + b, 0.0) @ a + c
        return 0.5 * np.mean(h**2)

    g_w, g_b, g_a, g_c = _target_free_gradient(inputs, w, b, a, c)
    step = 1e-6
    for j in range(width):
        for i in range(n):
            e = np.zeros_like(w)
            e[j, i] = step
            numeric = (loss(w + e, b, a, c) - loss(w - e, b, a, c)) / (2 * step)
            assert math.isclose(g_w[j, i], numeric, rel_tol=1e-5, abs_tol=1e-9)
        e = np.zeros(width)
        e[j] = step
        assert math.isclose(g_b[j], (loss(w, b + e, a, c) - loss(w, b - e, a, c)) / (2 * step),
                            rel_tol=1e-5, abs_tol=1e-9)
        assert math.isclose(g_a[j], (loss(w, b, a + e, c) - loss(w, b, a - e, c)) / (2 * step),
                            rel_tol=1e-5, abs_tol=1e-9)
    assert math.isclose(g_c, (loss(w, b, a, c + step) - loss(w, b, a, c - step)) / (2 * step),
                        rel_tol=1e-5, abs_tol=1e-9)


def _oracle_game_fraction(n, k, width, tau, steps, lr, seed, trial):
    """Play the oracle game for every S directly: true gradients with target chi_S, the oracle
    substituting the target-free one while within tau. Fraction of S that leave."""
    inputs = all_inputs(n)
    left = 0
    sets = list(itertools.combinations(range(n), k))
    for subset in sets:
        w, b, a, c = draw_init_network(n, width, "dense", seed=seed, trial=trial)
        y = np.prod(inputs[:, list(subset)], axis=1)
        for _ in range(steps):
            free = _target_free_gradient(inputs, w, b, a, c)
            grads = _gradient_matrix(inputs, w, b, a)
            difference = -(y @ grads) / inputs.shape[0]  # grad L(h, chi_S) - grad L(h, 0)
            if np.max(np.abs(difference)) > tau:
                left += 1
                break
            w, b, a, c = (w - lr * free[0], b - lr * free[1], a - lr * free[2],
                          c - lr * free[3])
    return left / len(sets)


def test_noisy_gd_against_direct_oracle_game():
    n, k, width, steps, lr = 5, 2, 3, 4, 0.5
    taus = [0.02, 0.05, 0.1]
    out = simulate_sq_noisy_gd(n, k, width, taus, steps, lr=lr, trials=2, seed=6)
    for row in out["rows"]:
        direct = np.mean([_oracle_game_fraction(n, k, width, row["tau"], steps, lr, 6, t)
                          for t in range(2)])
        assert math.isclose(row["estimate"], direct, abs_tol=1e-12), (row["tau"], direct)


def test_noisy_gd_one_step_is_the_visible_fraction():
    taus = [0.01, 0.03, 0.1]
    gd = simulate_sq_noisy_gd(8, 2, 6, taus, steps=1, trials=4, seed=8)
    visible = simulate_sq_visible(8, 2, 6, taus, trials=4, seed=8)
    for g, v in zip(gd["rows"], visible["rows"], strict=True):
        assert g["estimate"] == v["estimate"]


@pytest.mark.parametrize("init,s", [("dense", None), ("sparse", 2)])
def test_noisy_gd_below_bounds_and_monotone_in_steps(init, s):
    out = simulate_sq_noisy_gd(9, 3, 4, [0.003, 0.01, 0.03, 0.3], steps=6, lr=0.5,
                               init=init, s=s, weight_decay=0.01, trials=4, seed=1)
    if init == "dense":
        assert out["normalised"] == 1.0
    for row in out["rows"]:
        # The union Parseval bound holds for every run; delta* needs the normalisation (an
        # s = 2 neuron can have E[relu^2] up to 3/2, and here one run does).
        assert row["estimate"] <= row["energy_bound"] + 1e-12
        if out["normalised"] == 1.0:
            assert row["energy_bound"] <= row["bound"] + 1e-12
        assert row["by_step"] == sorted(row["by_step"])
        assert row["by_step"][-1] == row["estimate"]
        assert math.isclose(row["bound"],
                            min(1.0, 2 * out["params"] * 6 / (row["tau"] ** 2 * 84)))


@pytest.mark.parametrize("bad,match", [
    (dict(n=17), "n must be <= 16"),
    (dict(steps=0), "steps must be >= 1"),
    (dict(lr=0), "lr must be > 0"),
    (dict(weight_decay=-1), "weight_decay"),
    (dict(trials=1), "trials >= 2"),
    (dict(taus=[0.1, -0.1]), "tau must be > 0"),
    (dict(n=16, width=10**5), "operations per net"),
    (dict(n=16, width=10**4), "above the memory cap"),
    (dict(n=16, width=64, steps=10**5), "quarter of an hour"),
])
def test_noisy_gd_validation(bad, match):
    args = dict(n=6, k=2, width=2, taus=0.1, steps=2, trials=2)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        simulate_sq_noisy_gd(**args)


# --- review fixes --------------------------------------------------------------------------

def test_hoeffding_halfwidth_written_out():
    # Terms chi_S dh/dtheta in [lo, hi]: eps = (hi - lo) sqrt(ln(2 r' / delta) / (2 m)), with
    # r' = width (n + 2). chi_S dh/da_j = chi_S relu(.) lies in [-span_j, span_j].
    weights = np.array([[0.5, -0.25, 0.0], [0.1, 0.2, -0.3]])
    biases = np.array([0.2, -0.1])
    outputs = np.array([0.05, -0.02])  # small: the output-weight term decides
    m, delta = 1000, 1e-3
    log_term = math.log(2 * 2 * 5 / delta)
    span = max(0.5 + 0.25 + 0.2, 0.1 + 0.2 + 0.3 + 0.1)
    expected = max(2 * 0.05, 2 * span) * math.sqrt(log_term / (2 * m))
    assert math.isclose(_hoeffding_halfwidth(weights, biases, outputs, m, delta), expected)


def test_visible_ratio_when_bound_underflows():
    out = simulate_sq_visible(10, 5, 2, 1e200, trials=2, seed=0)
    assert out["bound"] == 0.0 and out["estimate"] == 0.0 and out["ratio"] == 0.0
    assert math.isclose(out["log10_bound"],
                        math.log10(out["params"]) - 400 - math.log10(math.comb(10, 5)))


def test_all_zero_and_all_one_intervals_are_binomial():
    # Every net gives 0 (tau = 1 is above every coefficient) or 1 (tau = 1e-9 below): the t
    # interval would be [0, 0] / [1, 1]; the exact binomial limits replace the collapsed side.
    for out in (simulate_sq_visible(8, 2, 2, [1e-9, 1.0], trials=4, seed=0),
                simulate_sq_noisy_gd(6, 2, 4, [1e-9, 1.0], steps=2, trials=4, seed=0)):
        ones, zeros = out["rows"]
        assert zeros["estimate"] == 0.0 and zeros["ci_low"] == 0.0
        assert math.isclose(zeros["ci_high"], 1 - 0.025 ** (1 / 4))
        assert math.isclose(zeros["ci_high"],
                            stats.binomtest(0, 4).proportion_ci(0.95, "exact").high)
        assert ones["estimate"] == 1.0 and ones["ci_high"] == 1.0
        assert math.isclose(ones["ci_low"], 0.025 ** (1 / 4))


def test_tolerance_scales_against_enumeration():
    n, k, width, trials = 8, 2, 3, 3
    out = simulate_sq_visible(n, k, width, [0.01, 0.1], init="sparse", s=2, trials=trials,
                              seed=2)
    medians = [np.median(gradient_fourier_sup_norms(
        n, k, *draw_init_network(n, width, "sparse", s=2, seed=2, trial=t)[:3])["sup_norm"])
        for t in range(trials)]
    params = width * (n + 2) + 1
    for row in out["rows"]:
        assert math.isclose(row["tau_half"], float(np.mean(medians)))
        assert math.isclose(row["tau_bound"], math.sqrt(2 * params / math.comb(n, k)))
        assert parseval_visible_bound(n, k, params, row["tau_bound"]) == pytest.approx(0.5)
        assert math.isclose(row["tau_ratio"], row["tau_half"] / row["tau_bound"])
        assert math.isclose(row["energy_ratio"], row["energy_bound"] / row["bound"])
        assert row["sup_norm_sampled"] is False and row["sup_norm_eps"] == 0.0


def test_sampled_sup_norm_flagged_with_its_noise_floor():
    out = simulate_sq_visible(30, 2, 4, 0.1, trials=2, seed=0, samples=1024, parities=8)
    assert out["sup_norm_sampled"] is True and out["sup_norm_eps"] == out["eps"] > 0
    assert out["energy_ratio"] is None


def test_noisy_gd_divergence_is_one_error_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        with pytest.raises(ValueError, match="diverged"):
            simulate_sq_noisy_gd(6, 2, 4, 0.1, steps=20, lr=1e100, trials=2, seed=0)


def test_noisy_gd_trials_capped():
    with pytest.raises(ValueError, match="trials must be <= 1000000"):
        simulate_sq_noisy_gd(6, 2, 4, 0.1, steps=2, trials=10**12)
