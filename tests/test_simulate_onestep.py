"""simulate.onestep: the simulated one-step frontier, its exact invariants and its agreement with
theory.lottery and simulate.gradients.

Seeds are fixed, so outcomes are deterministic. Statistical checks are one-sided or two-sided
at 4.5 standard errors (false failure <= 7e-6 each under the normal approximation, with >= 300
independent trials), or exact intervals at confidence 1 - 1e-7; interval-separation checks are
used only where the two probabilities differ by tens of standard errors.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

import parity_frontiers.simulate.onestep as onestep_module
from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.simulate.onestep import simulate_onestep
from parity_frontiers.theory.fourier_gaps import selection_gap
from parity_frontiers.theory.lottery import p_at_least_one_lucky, p_lucky

Z = 4.5
KEYS = {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed"}
ROW_KEYS = KEYS | {"width", "samples", "mean_selecting", "p_lucky_selects",
                   "p_select_given_lucky", "p_at_least_one_lucky"}


def _count(entry) -> int:
    count = round(entry["estimate"] * entry["trials"])
    assert count / entry["trials"] == entry["estimate"]
    return count


def _cell(out, width, samples):
    (row,) = [r for r in out["rows"] if r["width"] == width and r["samples"] == samples]
    return row


# s = k - 1 = 2, n = 30: lucky means U inside S (p = 3/435); selection needs a lucky neuron.
UNDER = (30, 3, 2)
UNDER_WIDTHS = [1, 10, 100, 400]
UNDER_SAMPLES = [10, 30, 1000]
UNDER_TRIALS = 400


@pytest.fixture(scope="module")
def under():
    return simulate_onestep(*UNDER, widths=UNDER_WIDTHS, samples=UNDER_SAMPLES,
                            trials=UNDER_TRIALS, seed=1)


def test_grid_shape_and_keys(under):
    assert [(r["width"], r["samples"]) for r in under["rows"]] == [
        (r, m) for r in UNDER_WIDTHS for m in UNDER_SAMPLES]
    assert (under["n"], under["k"], under["s"]) == UNDER
    assert under["trials"] == UNDER_TRIALS and under["seed"] == 1
    assert under["bias"] == "0" and under["weights"] == "pm1"
    assert "estimate" not in under  # a grid has no top-level estimate
    for row in under["rows"]:
        assert set(row) == ROW_KEYS
        assert row["trials"] == UNDER_TRIALS and row["seed"] == 1
        assert 0.0 <= row["ci_low"] <= row["estimate"] <= row["ci_high"] <= 1.0
        assert row["p_at_least_one_lucky"] == float(p_at_least_one_lucky(*UNDER, row["width"]))


def test_non_decreasing_in_width(under):
    # Exact, by the common random numbers: the first r neurons of a trial do not depend on r.
    for m in UNDER_SAMPLES:
        rows = [_cell(under, r, m) for r in UNDER_WIDTHS]
        estimates = [row["estimate"] for row in rows]
        selecting = [row["mean_selecting"] for row in rows]
        assert estimates == sorted(estimates)
        assert selecting == sorted(selecting)
    # Lucky neurons among the first r: the same for every m, non-decreasing in r.
    lucky = []
    for r in UNDER_WIDTHS:
        totals = {(_cell(under, r, m)["p_select_given_lucky"] or {"trials": 0})["trials"]
                  for m in UNDER_SAMPLES}
        assert len(totals) == 1
        lucky.append(totals.pop())
    assert lucky == sorted(lucky) and lucky[-1] > 0


def test_lucky_neurons_follow_theory(under):
    # Lucky neurons among r * trials independent ones: exact interval at 1 - 1e-7.
    p = float(p_lucky(*UNDER))
    for r in UNDER_WIDTHS:
        given = _cell(under, r, UNDER_SAMPLES[0])["p_select_given_lucky"]
        lucky = given["trials"] if given else 0
        ci = stats.binomtest(lucky, r * UNDER_TRIALS).proportion_ci(1 - 1e-7, method="exact")
        assert ci.low <= p <= ci.high


def test_under_sparse_selection_needs_a_lucky_neuron(under):
    # For s = k - 1 a neuron selects only if U lies inside S, so per trial
    # (selecting neurons) <= (lucky neurons) and {some neuron selects} implies {some lucky}.
    p = float(p_lucky(*UNDER))
    for row in under["rows"]:
        r = row["width"]
        selecting = round(row["mean_selecting"] * UNDER_TRIALS)
        given = row["p_select_given_lucky"]
        if given is None:
            assert selecting == 0
            continue
        # Every selecting neuron is lucky: the two counts coincide exactly.
        assert _count(given) == selecting
        assert selecting <= given["trials"]
        # One-sided 4.5 se bounds from the dominating lucky counts.
        p_any = row["p_at_least_one_lucky"]
        assert row["estimate"] <= p_any + Z * math.sqrt(p_any * (1 - p_any) / UNDER_TRIALS)
        mean_lucky = r * p
        assert row["mean_selecting"] <= mean_lucky + Z * math.sqrt(
            r * p * (1 - p) / UNDER_TRIALS)


def test_rises_with_samples(under):
    assert selection_gap(2, 3, 0) > 0
    for r in (100, 400):
        few, many = _cell(under, r, 10), _cell(under, r, 1000)
        assert few["ci_high"] < many["ci_low"]
        # With enough samples every lucky neuron selects (gap 1/4, m = 1000).
        assert many["p_select_given_lucky"]["estimate"] >= 0.95


def test_over_sparse_rises_with_samples():
    assert selection_gap(4, 2, 0) > 0
    out = simulate_onestep(12, 2, 4, widths=[10, 100], samples=[10, 1000], trials=300, seed=2)
    for r in (10, 100):
        few, many = _cell(out, r, 10), _cell(out, r, 1000)
        assert few["ci_high"] < many["ci_low"]
    assert _cell(out, 100, 1000)["estimate"] >= 0.95


def test_no_population_gap_no_selection():
    # k = s = 3, b = 0: the lucky neuron's gap is 0 (majority has no degree-2 coefficient).
    assert selection_gap(3, 3, 0) <= 0
    out = simulate_onestep(12, 3, 3, widths=40, samples=5000, trials=300, seed=3)
    given = out["p_select_given_lucky"]
    assert given["trials"] >= 20  # about 300 * 40 / 220 lucky neurons
    assert given["ci_high"] < 0.5


def test_agrees_with_the_single_neuron_gradient():
    # With width 1, a trial's neuron is lucky with probability p; given that, it selects with
    # the probability simulate_gradient estimates for the lucky overlap. Two independent
    # estimates of one proportion: |difference| <= 4.5 pooled standard errors.
    n, k, s, m = 12, 2, 4, 100
    one = simulate_onestep(n, k, s, widths=1, samples=m, trials=4000, seed=4)
    given = one["p_select_given_lucky"]
    single = simulate_gradient(n, k, s, samples=m, trials=2000, seed=5)
    x1, n1 = _count(given), given["trials"]
    x2, n2 = _count(single), single["trials"]
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert n1 > 200 and 0.2 < pooled < 0.95
    assert abs(x1 / n1 - x2 / n2) <= Z * se


# --- output shape --------------------------------------------------------------------------

def test_single_cell_has_row_keys_at_top_level():
    out = simulate_onestep(12, 2, 3, widths=7, samples=50, trials=100, seed=6)
    assert len(out["rows"]) == 1
    row = out["rows"][0]
    assert ROW_KEYS <= set(out)
    for key in ROW_KEYS:
        assert out[key] == row[key]


def test_rows_sorted_and_duplicates_collapse():
    out = simulate_onestep(12, 2, 3, widths=[10, 1, 10, 4], samples=[100, 30, 30],
                           trials=50, seed=7)
    assert [(r["width"], r["samples"]) for r in out["rows"]] == [
        (1, 30), (1, 100), (4, 30), (4, 100), (10, 30), (10, 100)]
    same = simulate_onestep(12, 2, 3, widths=[1, 4, 10], samples=[30, 100], trials=50, seed=7)
    assert same == out


def test_grid_cells_equal_single_runs():
    # Neuron j and sample t do not depend on the grid: each cell equals its own run.
    grid = simulate_onestep(12, 2, 3, widths=[1, 7, 40], samples=[30, 100, 130], trials=150,
                            seed=8)
    for row in grid["rows"]:
        alone = simulate_onestep(12, 2, 3, widths=row["width"], samples=row["samples"],
                                 trials=150, seed=8)
        assert alone["rows"] == [row]


def test_gaussian_weights():
    out = simulate_onestep(12, 2, 3, widths=[1, 20], samples=[50, 400], weights="gaussian",
                           bias="1/2", trials=100, seed=9)
    assert out["weights"] == "gaussian" and out["bias"] == "1/2"
    for m in (50, 400):
        assert _cell(out, 1, m)["estimate"] <= _cell(out, 20, m)["estimate"]


# --- determinism ---------------------------------------------------------------------------

OARGS = (14, 3, 4)
OOPTS = {"widths": [3, 20], "samples": [40, 130], "bias": 1, "trials": 120}


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_threads_do_not_change_the_result():
    one = simulate_onestep(*OARGS, **OOPTS, seed=10, threads=1)
    assert simulate_onestep(*OARGS, **OOPTS, seed=10, threads=2) == one


def test_seed_and_progress():
    a = simulate_onestep(*OARGS, **OOPTS, seed=11)
    assert simulate_onestep(*OARGS, **OOPTS, seed=11, progress=True) == a
    b = simulate_onestep(*OARGS, **OOPTS, seed=12)
    assert [r["mean_selecting"] for r in a["rows"]] != [r["mean_selecting"] for r in b["rows"]]


def test_chunking_and_prefix(monkeypatch):
    expected = simulate_onestep(*OARGS, **OOPTS, seed=13)
    short = simulate_onestep(*OARGS, **{**OOPTS, "trials": 50}, seed=13)

    def odd_chunks(step, trials, progress, label, target_seconds=0.25, **_):
        for start in reversed(range(0, trials, 7)):
            step(start, min(trials, start + 7))

    monkeypatch.setattr(onestep_module, "run_in_chunks", odd_chunks)
    assert simulate_onestep(*OARGS, **OOPTS, seed=13) == expected

    def first_50(step, trials, progress, label, target_seconds=0.25, **_):
        step(0, 50)

    monkeypatch.setattr(onestep_module, "run_in_chunks", first_50)
    partial = simulate_onestep(*OARGS, **OOPTS, seed=13)
    for a, b in zip(partial["rows"], short["rows"], strict=True):
        assert _count(a) == _count(b)
        assert round(a["mean_selecting"] * 120) == round(b["mean_selecting"] * 50)


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((10, 4, 2, 5, 10), {}, "s >= k - 1"),
    ((10, 3, 1, 5, 10), {}, "s >= k - 1"),
    ((5, 6, 5, 5, 10), {}, "k must be <= n"),
    ((5, 2, 6, 5, 10), {}, "s must be <= n"),
    ((5, 2, 2, 0, 10), {}, "width must be"),
    ((5, 2, 2, [], 10), {}, "width must be one size or a non-empty list"),
    ((5, 2, 2, [[1, 2]], 10), {}, "width must be one size or a non-empty list"),
    ((5, 2, 2, [3, -1], 10), {}, "width must be"),
    ((5, 2, 2, [True], 10), {}, "width must be an integer"),
    ((5, 2, 2, 2.5, 10), {}, "width must be an integer"),
    ((5, 2, 2, 5, 0), {}, "samples must be"),
    ((5, 2, 2, 5, [10, 0]), {}, "samples must be"),
    ((5, 2, 2, 5, 10), {"weights": "uniform"}, "weights must be one of"),
    ((5, 2, 2, 5, 10), {"bias": "1/0"}, "bias"),
    ((5, 2, 2, 5, 10), {"trials": 0}, "trials must be"),
    ((5, 2, 2, 5, 10), {"threads": 0}, "threads must be"),
    ((5, 2, 2, 5, 10), {"threads": numba.config.NUMBA_NUM_THREADS + 1}, "NUMBA_NUM_THREADS"),
    ((5, 2, 2, 5, 10), {"seed": -1}, "seed must be"),
    ((5, 2, 2, 5, 10), {"seed": 2**63}, "seed must be"),
])
def test_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_onestep(*args, **{"trials": 10, **kwargs})


def test_memory_cap():
    with pytest.raises(ValueError, match=r"needs an estimated [\d.]+ KiB, above the memory "
                       r"cap \(memory_cap_bytes\) of 1000 B") as info:
        simulate_onestep(10, 2, 3, widths=10, samples=100, trials=10, memory_cap_bytes=1000)
    assert "cap" in str(info.value)
    with pytest.raises(ValueError, match="memory cap"):
        simulate_onestep(10, 2, 3, widths=10**6, samples=10**9, trials=10)
    with pytest.raises(ValueError, match="cannot be interrupted"):
        simulate_onestep(10, 2, 3, widths=10**9, samples=100, trials=10)


def test_widths_accept_numpy_arrays():
    out = simulate_onestep(10, 2, 3, widths=np.array([2, 5]), samples=np.int64(64), trials=20,
                           seed=0)
    assert [r["width"] for r in out["rows"]] == [2, 5]
