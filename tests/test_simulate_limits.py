"""Limits and exact reductions of the simulate layer (each a defect once found in review)."""

from __future__ import annotations

import numpy as np
import pytest

from parity_frontiers.cli import main
from parity_frontiers.simulate.estimates import ExactMean, mean_estimate
from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.simulate.lottery import simulate_lottery
from parity_frontiers.simulate.onestep import simulate_onestep


def test_exact_mean_matches_mean_estimate_and_ignores_chunking():
    rng = np.random.default_rng(3)
    values = rng.integers(-10**6, 10**6, size=5000)
    whole = ExactMean(scale=7)
    whole.update(values)
    pieces = ExactMean(scale=7)
    for chunk in np.array_split(values[::-1], 13):  # other order, other splits
        pieces.update(chunk)
    assert whole.estimate() == pieces.estimate()
    reference = mean_estimate(values / 7)
    got = whole.estimate()
    assert got.estimate == pytest.approx(reference.estimate, rel=1e-13)
    assert got.stderr == pytest.approx(reference.stderr, rel=1e-12)
    assert got.ci_high == pytest.approx(reference.ci_high, rel=1e-12)


def test_exact_mean_rejects_floats_and_single_values():
    acc = ExactMean()
    with pytest.raises(ValueError, match="integer numerators"):
        acc.update(np.array([0.5]))
    acc.update([1])
    with pytest.raises(ValueError, match="at least two"):
        acc.estimate()
    with pytest.raises(ValueError, match="scale"):
        ExactMean(scale=0)


def test_gradient_results_do_not_depend_on_chunking(monkeypatch):
    import parity_frontiers.simulate._config as config

    first = simulate_gradient(20, 3, 4, samples=300, trials=300, seed=4, weights="gaussian")
    monkeypatch.setattr(config, "MAX_CHUNK_TRIALS", 7)
    second = simulate_gradient(20, 3, 4, samples=300, trials=300, seed=4, weights="gaussian")
    assert first == second


def test_bias_beyond_float_range_is_refused():
    with pytest.raises(ValueError, match="float64 range"):
        simulate_gradient(10, 2, 3, samples=10, bias="1e400", trials=2)
    with pytest.raises(ValueError, match="float64 range"):
        simulate_onestep(10, 2, 3, widths=2, samples=10, bias="-1e400", trials=2)


def test_uninterruptible_trials_are_refused():
    with pytest.raises(ValueError, match="cannot be interrupted"):
        simulate_lottery(10, 2, 3, width=10**12, trials=1)


def test_gradient_needs_two_trials():
    with pytest.raises(ValueError, match="trials >= 2"):
        simulate_gradient(10, 2, 3, samples=10, trials=1)


@pytest.mark.parametrize("cap", ["0", "1e-12", "1e300", "inf"])
def test_cli_memory_cap_bounds(cap, capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", "lottery", "--n", "10", "--k", "2", "--s", "3", "--memory-cap", cap])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
