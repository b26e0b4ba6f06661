"""The reported 95% intervals cover the exact value about 95% of the time.

Over R independent seeds the number of intervals containing the exact value is binomial
(R, c) with c the true coverage. Wilson and t intervals have c close to 0.95 (Wilson between
about 0.93 and 0.97 at these sizes), so we check 0.90 <= covered / R <= 0.99: with R = 400
the standard deviation of covered / R is about 0.011, and the bounds sit 3.5 or more of them
away from any coverage in [0.93, 0.97]; the seeds are fixed.
"""

from __future__ import annotations

from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.simulate.lottery import simulate_lottery
from parity_frontiers.theory.fourier_gaps import neuron_gradient_by_class

REPEATS = 400


def test_wilson_intervals_cover_the_exact_lucky_probability():
    covered = 0
    for seed in range(REPEATS):
        out = simulate_lottery(12, 2, 4, width=3, trials=150, seed=seed)
        covered += out["ci_low"] <= out["exact"] <= out["ci_high"]
    assert 0.90 <= covered / REPEATS <= 0.99, covered


def test_t_intervals_cover_the_exact_gradient_magnitude():
    exact = float(neuron_gradient_by_class(4, 2, 0)["in_S_in_U"])
    covered = 0
    for seed in range(REPEATS):
        c = simulate_gradient(10, 2, 4, samples=32, trials=25, seed=seed)["classes"]["in_S_in_U"]
        covered += c["ci_low"] <= exact <= c["ci_high"]
    assert 0.90 <= covered / REPEATS <= 0.99, covered
