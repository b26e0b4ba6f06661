"""simulate.gradients against theory.fourier_gaps: exact population gradients, per-class means,
selection gaps, and the chance that a neuron's m-sample gradient selects S.

Seeds are fixed, so outcomes are deterministic. Monte Carlo means are compared with exact
values within 4.5 standard errors (normal approximation over >= 1000 independent trials): a
correct simulator with a random seed would fail one such check with probability 6.8e-6, and
the ~70 checks of this file together with probability below 5e-4. Proportions are compared
through their 95% Wilson intervals only where the gap between them is tens of standard errors.
"""

from __future__ import annotations

from fractions import Fraction

import numba
import numpy as np
import pytest

import parity_frontiers.simulate.gradients as gradients_module
from parity_frontiers.simulate.gradients import MAX_ENUM_S, population_gradient, simulate_gradient
from parity_frontiers.theory.fourier_gaps import (
    fourier_gap,
    kappa_exact,
    neuron_gradient_by_class,
    neuron_population_gradient,
    selection_gap,
)

Z = 4.5
KEYS = {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed"}


# --- exact population gradient -------------------------------------------------------------

def _random_neurons(count=250, seed=7):
    """Random +-1 neurons: supports anywhere, containing S, or missing one element of S."""
    rng = np.random.default_rng(seed)
    biases = [Fraction(b, 2) for b in range(-7, 8)]
    for index in range(count):
        n = int(rng.integers(2, 15))
        k = int(rng.integers(1, n + 1))
        mode = index % 3
        if mode == 1 and k <= min(n, 10):  # S inside U
            s = int(rng.integers(k, min(n, 10) + 1))
            extra = rng.choice(np.arange(k, n), size=s - k, replace=False)
            support = list(range(k)) + extra.tolist()
        elif mode == 2 and max(1, k - 1) <= min(n - 1, 10):  # U misses one element of S
            missing = int(rng.integers(k))
            s = int(rng.integers(max(1, k - 1), min(n - 1, 10) + 1))
            extra = rng.choice(np.arange(k, n), size=s - (k - 1), replace=False)
            support = [i for i in range(k) if i != missing] + extra.tolist()
        else:
            s = int(rng.integers(1, min(n, 10) + 1))
            support = rng.choice(n, size=s, replace=False).tolist()
        support = [int(u) for u in rng.permutation(support)]
        weights = [int(w) for w in rng.choice([-1, 1], size=len(support))]
        yield n, k, support, weights, biases[int(rng.integers(len(biases)))]


def test_population_gradient_equals_theory_exactly():
    nonzero = 0
    checked = 0
    kinds = set()
    for n, k, support, weights, bias in _random_neurons():
        ours = population_gradient(n, k, support, weights, bias)
        theirs = neuron_population_gradient(n, list(range(k)), support, weights, bias)
        assert ours.tolist() == [-float(g) for g in theirs], (n, k, support, weights, bias)
        nonzero += int(np.count_nonzero(ours))
        checked += 1
        kinds.add(len(set(range(k)) - set(support)))
    assert checked == 250
    assert {0, 1, 2} <= kinds
    assert nonzero >= 300  # the comparison is not only between zero vectors


@pytest.mark.parametrize("bias", [0, 1, "1/2", -1.5, Fraction(-3, 2), np.float64(0.5)])
def test_population_gradient_bias_types(bias):
    ours = population_gradient(7, 2, [0, 1, 4], [1, -1, 1], bias)
    theirs = neuron_population_gradient(7, [0, 1], [0, 1, 4], [1, -1, 1], Fraction(bias))
    assert ours.tolist() == [-float(g) for g in theirs]


def test_population_gradient_real_weights_by_enumeration():
    # Any real weights: compare with a direct numpy enumeration of {-1, 1}^s.
    rng = np.random.default_rng(3)
    n, k = 9, 3
    for _ in range(20):
        s = int(rng.integers(1, 7))
        support = rng.choice(n, size=s, replace=False)
        weights = rng.normal(size=s)
        bias = float(rng.normal())
        z = 1 - 2 * ((np.arange(2**s)[:, None] >> np.arange(s)) & 1)  # patterns x s
        g = (bias + z @ weights) > 0
        x = np.zeros((2**s, n))
        x[:, support] = z
        # Coordinates off U are independent signs: E[chi_S x_i g] vanishes unless
        # S triangle {i} lies in U; average over them by including them in the product.
        expected = np.zeros(n)
        for i in range(n):
            d = set(range(k)) ^ {i}
            if d <= set(support.tolist()):
                chi = np.prod(x[:, sorted(d)], axis=1) if d else np.ones(2**s)
                expected[i] = np.mean(chi * g)
        got = population_gradient(n, k, support, weights, bias)
        assert np.allclose(got, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize(("args", "match"), [
    ((5, 6, [0], [1], 0), "target_size"),
    ((5, 2, [], [], 0), "support"),
    ((5, 2, [0, 0], [1, 1], 0), "support"),
    ((5, 2, [0, 5], [1, 1], 0), "support"),
    ((5, 2, [-1, 2], [1, 1], 0), "support"),
    ((5, 2, [0, 1], [1], 0), "weights"),
    ((5, 2, [0, 1], [1, float("nan")], 0), "weights"),
    ((5, 2, [0, 1], [1, 1], float("inf")), "bias"),
    ((5, 2, [0, 1], [1, 1], "x"), "bias"),
    ((30, 2, list(range(MAX_ENUM_S + 1)), [1] * (MAX_ENUM_S + 1), 0), "support"),
])
def test_population_gradient_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        population_gradient(*args)


# --- per-class Monte Carlo means against theory --------------------------------------------

def _class_counts(n, k, s, j):
    counts = {"in_S_in_U": j, "in_S_off_U": k - j, "in_U_off_S": s - j,
              "outside": n - k - (s - j)}
    return {c: v for c, v in counts.items() if v > 0}


def _close(entry, value):
    return abs(entry["estimate"] - value) <= Z * entry["stderr"] + 1e-12


PM1_CASES = [
    # n, k, s, bias, overlap (None: the lucky min(s, k))
    (12, 2, 4, 0, None),       # over-sparse lucky, gap 1/8
    (12, 3, 5, 1, None),       # over-sparse lucky, odd bias
    (12, 3, 5, 1, 2),          # overlap k - 1: the missing element of S has a gradient
    (12, 3, 5, "-1/2", 1),     # overlap k - 2: nothing but noise
    (12, 3, 2, 1, None),       # under-sparse lucky, s = k - 1
    (12, 4, 2, "1/2", 1),      # under-sparse, not lucky
    (10, 1, 3, 0, 0),          # k = 1, overlap 0: the S coordinate sees E[g]
    (10, 2, 3, "-1/2", 0),     # overlap 0
    (9, 3, 6, 2, 3),           # no coordinate outside U and S
]


@pytest.mark.parametrize(("n", "k", "s", "bias", "overlap"), PM1_CASES)
def test_class_means_agree_with_theory(n, k, s, bias, overlap):
    out = simulate_gradient(n, k, s, samples=150, bias=bias, overlap=overlap, trials=1500,
                            seed=n + 10 * k + 100 * s)
    j = min(s, k) if overlap is None else overlap
    assert out["overlap"] == j and out["weights"] == "pm1"
    assert out["bias"] == str(Fraction(bias))
    exact = neuron_gradient_by_class(s, k, Fraction(bias), j)
    counts = _class_counts(n, k, s, j)
    assert set(out["classes"]) == set(counts)
    assert set(counts) <= set(exact)
    for name, entry in out["classes"].items():
        assert KEYS <= set(entry)
        assert entry["trials"] == 1500
        assert entry["coordinates"] == counts[name]
        assert entry["exact"] == float(exact[name])
        assert entry["population"] == entry["exact"]  # +-1 weights: every neuron alike
        assert _close(entry, entry["exact"]), (name, entry)

    # Gaps: theory's, for this overlap.
    if overlap is None:
        expected_gap = selection_gap(s, k, Fraction(bias))
    elif s >= k:
        expected_gap = fourier_gap(s, k, Fraction(bias), j)
    else:
        expected_gap = exact["in_S_off_U"] - exact["outside"]
    assert out["exact_gap"] == float(expected_gap)
    assert out["population_gap"] == out["exact_gap"]


def test_class_means_can_fail():
    # Power: the estimates reject the coefficient of a neighbouring support size
    # (kappa(4, 0, 1) = 3/16 against kappa(6, 0, 1) = 5/32, some 40 standard errors apart).
    out = simulate_gradient(12, 2, 4, samples=150, trials=1500, seed=1)
    c = out["classes"]["in_S_in_U"]
    assert _close(c, float(abs(kappa_exact(4, 0, 1))))
    assert not _close(c, float(abs(kappa_exact(6, 0, 1))))
    assert not _close(out["classes"]["in_U_off_S"], 0.0)


def test_doctest_values():
    out = simulate_gradient(8, 2, 4, samples=256, trials=200, seed=0)
    c = out["classes"]["in_S_in_U"]
    assert c["population"] == c["exact"] == 0.1875


# (Bias 0 makes g - 1/2 odd, so the even-degree coefficient of overlap k - 1 = 2 would vanish.)
GAUSSIAN_CASES = [(12, 2, 4, 0, None), (12, 3, 2, "1/2", None), (12, 3, 5, "1/2", 2),
                  (10, 2, 6, "-1", None)]


@pytest.mark.parametrize(("n", "k", "s", "bias", "overlap"), GAUSSIAN_CASES)
def test_gaussian_class_means_agree_with_enumeration(n, k, s, bias, overlap):
    # E[sign(G_i) hat G_i | neuron] = |G_i|, so the class estimate and the mean enumerated
    # |G_i| differ by a mean-zero average whose spread is below the estimate's stderr.
    out = simulate_gradient(n, k, s, samples=150, bias=bias, overlap=overlap,
                            weights="gaussian", trials=1500, seed=77 + s)
    assert out["weights"] == "gaussian"
    assert out["exact_gap"] is None
    assert out["population_gap"] is not None
    nonzero = 0
    for entry in out["classes"].values():
        assert entry["exact"] is None
        assert entry["population"] >= 0.0
        assert _close(entry, entry["population"]), entry
        nonzero += entry["population"] > 0.01
    assert nonzero >= 1


def test_gaussian_differs_from_pm1():
    pm1 = simulate_gradient(12, 2, 4, samples=150, trials=1500, seed=5)
    gauss = simulate_gradient(12, 2, 4, samples=150, weights="gaussian", trials=1500, seed=5)
    assert gauss["classes"]["in_S_in_U"]["population"] != pm1["classes"]["in_S_in_U"]["exact"]


def test_large_support_has_no_enumeration():
    out = simulate_gradient(25, 2, MAX_ENUM_S + 1, samples=64, trials=5, seed=0)
    assert out["population_gap"] is None
    assert out["exact_gap"] == float(selection_gap(MAX_ENUM_S + 1, 2, 0))
    for entry in out["classes"].values():
        assert "estimate" not in entry and entry["population"] is None
        assert entry["exact"] is not None
    assert KEYS <= set(out)


# --- P(select) --------------------------------------------------------------------------

def test_selection_rises_with_samples():
    assert selection_gap(4, 2, 0) > 0
    few = simulate_gradient(12, 2, 4, samples=20, trials=400, seed=3)
    many = simulate_gradient(12, 2, 4, samples=2000, trials=400, seed=3)
    assert few["ci_high"] < many["ci_low"]
    assert many["estimate"] >= 0.95
    assert few["gap"]["estimate"] < many["gap"]["estimate"]
    # The mean empirical gap approaches the population gap from below at large m.
    assert many["gap"]["ci_low"] < many["exact_gap"] + 0.05


def test_no_selection_without_a_population_gap():
    # Majority of 3 has no degree-2 coefficient: the lucky neuron's gap is 0.
    assert selection_gap(3, 3, 0) <= 0
    out = simulate_gradient(12, 3, 3, samples=20_000, trials=400, seed=3)
    assert out["exact_gap"] == 0.0
    assert out["ci_high"] < 0.5


@pytest.mark.parametrize("overlap", [0, 1])
def test_unlucky_neurons_rarely_select(overlap):
    # An over-sparse neuron with one element of S outside its support has gradient 0 on the
    # elements of S inside it; at large m it selects S only by chance.
    out = simulate_gradient(12, 2, 4, samples=4000, overlap=overlap, trials=400, seed=4)
    assert out["ci_high"] < 0.5


def test_selects_is_a_wilson_proportion():
    out = simulate_gradient(12, 2, 4, samples=100, trials=300, seed=2)
    assert KEYS <= set(out) and out["trials"] == 300 and out["seed"] == 2
    assert 0.0 <= out["ci_low"] <= out["estimate"] <= out["ci_high"] <= 1.0
    assert KEYS <= set(out["gap"])


# --- determinism ---------------------------------------------------------------------------

GARGS = (14, 3, 4, 130)
GOPTS = {"bias": "1/2", "trials": 300}


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize("weights", ["pm1", "gaussian"])
def test_threads_do_not_change_the_result(weights):
    one = simulate_gradient(*GARGS, **GOPTS, weights=weights, seed=11, threads=1)
    assert simulate_gradient(*GARGS, **GOPTS, weights=weights, seed=11, threads=2) == one


def test_seed_and_progress():
    a = simulate_gradient(*GARGS, **GOPTS, seed=12)
    assert simulate_gradient(*GARGS, **GOPTS, seed=12, progress=True) == a
    b = simulate_gradient(*GARGS, **GOPTS, seed=13)
    assert b["gap"]["estimate"] != a["gap"]["estimate"]


def _odd_chunks(step, trials, progress, label, target_seconds=0.25, **_):
    """Chunks of 7 trials, last chunk first."""
    for start in reversed(range(0, trials, 7)):
        step(start, min(trials, start + 7))


def test_chunking_does_not_change_the_result(monkeypatch):
    # run_in_chunks sizes its chunks from wall-clock timings, so the numbers must not depend
    # on the chunking, floats included (the module promises "the same seed gives the same
    # numbers"); a per-chunk floating-point merge would break this at the last digit.
    expected = simulate_gradient(*GARGS, **GOPTS, seed=14)
    monkeypatch.setattr(gradients_module, "run_in_chunks", _odd_chunks)
    assert simulate_gradient(*GARGS, **GOPTS, seed=14) == expected


def test_trials_are_a_prefix(monkeypatch):
    # Trial t's numbers depend on (seed, t) only: the first 100 trials of a 300-trial run are
    # those of a 100-trial run (compared through the count of selecting trials).
    short = simulate_gradient(12, 2, 4, 100, trials=100, seed=14)

    def first_100(step, trials, progress, label, target_seconds=0.25, **_):
        step(0, 100)

    monkeypatch.setattr(gradients_module, "run_in_chunks", first_100)
    partial = simulate_gradient(12, 2, 4, 100, trials=300, seed=14)
    assert 10 < round(short["estimate"] * 100) < 90
    assert round(partial["estimate"] * 300) == round(short["estimate"] * 100)


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((5, 6, 2, 10), {}, "k must be <= n"),
    ((5, 2, 6, 10), {}, "s must be <= n"),
    ((0, 1, 1, 10), {}, "n must be"),
    ((5, 2, 2, 0), {}, "samples must be"),
    ((5, 2, 2, True), {}, "samples must be an integer"),
    ((5, 2, False, 10), {}, "s must be an integer"),
    ((5, 2, 2, 10), {"overlap": 3}, "overlap must be in"),
    ((6, 3, 5, 10), {"overlap": 1}, "overlap must be in"),  # 4 coordinates outside S, only 3
    ((5, 2, 2, 10), {"overlap": -1}, "overlap must be"),
    ((5, 2, 2, 10), {"weights": "uniform"}, "weights must be one of"),
    ((5, 2, 2, 10), {"bias": "abc"}, "bias"),
    ((5, 2, 2, 10), {"bias": float("nan")}, "bias"),
    ((5, 2, 2, 10), {"trials": 0}, "trials must be"),
    ((5, 2, 2, 10), {"threads": 0}, "threads must be"),
    ((5, 2, 2, 10), {"threads": numba.config.NUMBA_NUM_THREADS + 1}, "NUMBA_NUM_THREADS"),
    ((5, 2, 2, 10), {"seed": -1}, "seed must be"),
    ((5, 2, 2, 10), {"seed": 2**63}, "seed must be"),
])
def test_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_gradient(*args, **{"trials": 10, **kwargs})


def test_memory_cap():
    with pytest.raises(ValueError, match=r"needs an estimated [\d.]+ KiB, above the memory "
                       r"cap \(memory_cap_bytes\) of 1000 B") as info:
        simulate_gradient(10, 2, 3, samples=1000, trials=10, memory_cap_bytes=1000)
    assert "cap" in str(info.value)
    with pytest.raises(ValueError, match="memory cap"):
        simulate_gradient(10, 2, 3, samples=10**13, trials=10)


def test_unhashable_weights_is_a_value_error():
    with pytest.raises(ValueError, match="weights"):
        simulate_gradient(5, 2, 2, 10, weights=["pm1"], trials=10)
