"""simulate_gradient against theory's exact class magnitudes on random small configurations.

Each configuration draws (n, k, s, overlap, bias) at random (fixed numpy seed). For +-1
weights the sign-corrected mean of every coordinate class estimates |kappa| without bias, so
|estimate - exact| <= 4.5 stderr fails by chance with probability about 7e-6 per class (t with
N-1 >= 299 degrees of freedom is within a few percent of normal there); with about 60 classes
the whole file fails by chance with probability below 1e-3, and the seeds are fixed.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.theory.fourier_gaps import neuron_gradient_by_class


def _configs(count=16, seed=2026):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        n = int(rng.integers(4, 21))
        k = int(rng.integers(1, min(n, 5) + 1))
        s = int(rng.integers(1, min(n, 8) + 1))
        low, high = max(0, s - (n - k)), min(s, k)
        overlap = int(rng.integers(low, high + 1))
        bias = Fraction(int(rng.integers(-4, 5)), 2)
        out.append((n, k, s, overlap, bias))
    return out


@pytest.mark.parametrize("n, k, s, overlap, bias", _configs())
def test_class_means_agree_with_exact_kappa(n, k, s, overlap, bias):
    out = simulate_gradient(n, k, s, samples=64, bias=bias, overlap=overlap, trials=300,
                            seed=n * 1000 + k * 100 + s)
    exact = neuron_gradient_by_class(s, k, bias, overlap)
    # theory lists "outside" whatever n is; the simulation only classes that have coordinates
    missing = set(exact) - set(out["classes"])
    assert set(out["classes"]) <= set(exact)
    assert missing <= {"outside"} and (not missing or n == s + k - overlap)
    for name, entry in out["classes"].items():
        assert entry["population"] == float(exact[name])  # enumeration is exact
        assert abs(entry["estimate"] - float(exact[name])) <= 4.5 * entry["stderr"] + 1e-12, \
            (name, entry, float(exact[name]))
