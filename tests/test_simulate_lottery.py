"""simulate.lottery against theory.lottery: lucky rates, P(>= 1 lucky) and the overlap law.

The seeds are fixed, so every outcome is deterministic. Agreement with theory is tested with the
exact (Clopper-Pearson) interval at confidence 1 - 1e-7 around each simulated frequency: were
the seeds random, each check would fail a correct simulator with probability <= 1e-7, and all
checks of this file together (under 1000) with probability <= 1e-4.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

import parity_frontiers.simulate.lottery as lottery_module
from parity_frontiers.simulate.estimates import proportion_estimate
from parity_frontiers.simulate.lottery import MAX_LOTTERY_OVERLAPS, simulate_lottery
from parity_frontiers.theory.lottery import overlap_pmf, p_at_least_one_lucky, p_lucky

ALPHA = 1e-7
KEYS = {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed"}


def _count(entry) -> int:
    """Number of successes behind a proportion entry (estimate = count / trials exactly)."""
    count = round(entry["estimate"] * entry["trials"])
    assert count / entry["trials"] == entry["estimate"]
    return count


def _agrees(entry, exact) -> bool:
    """Whether ``exact`` lies in the 1 - ALPHA Clopper-Pearson interval of the entry."""
    ci = stats.binomtest(_count(entry), entry["trials"]).proportion_ci(
        confidence_level=1 - ALPHA, method="exact")
    return ci.low <= exact <= ci.high


def _configs():
    """20 random small configurations (fixed numpy seed), plus hand-picked edge cases."""
    rng = np.random.default_rng(2023)
    out = []
    for _ in range(20):
        n = int(rng.integers(4, 31))
        k = int(rng.integers(1, n + 1))
        s = int(rng.integers(1, n + 1))
        out.append((n, k, s, int(rng.integers(1, 21))))
    out += [(10, 2, 3, 5),   # the doctest case
            (30, 10, 3, 4),  # under-sparse
            (45, 3, 40, 2),  # s > SCAN_LIMIT: Floyd's marks path
            (8, 8, 8, 1),    # S = U = [n]: always lucky
            (12, 1, 1, 20),  # k = s = 1
            (9, 4, 7, 3)]    # smallest overlap is s - (n - k) = 2 > 0
    return out


CONFIGS = _configs()
TRIALS = 3000


@pytest.mark.parametrize(("n", "k", "s", "width"), CONFIGS)
def test_lottery_agrees_with_theory(n, k, s, width):
    out = simulate_lottery(n, k, s, width=width, trials=TRIALS, seed=n * 1000 + k * 31 + s)
    neurons = TRIALS * width
    assert (out["n"], out["k"], out["s"], out["width"]) == (n, k, s, width)
    assert out["regime"] == ("over-sparse" if s >= k else "under-sparse")
    assert KEYS <= set(out) and KEYS <= set(out["per_neuron"])
    assert out["trials"] == TRIALS and out["per_neuron"]["trials"] == neurons

    # The exact values are theory's, unchanged.
    assert out["exact"] == float(p_at_least_one_lucky(n, k, s, width))
    assert out["per_neuron"]["exact"] == float(p_lucky(n, k, s))
    law = np.asarray(overlap_pmf(n, k, s), dtype=float)
    assert [o["j"] for o in out["overlap"]] == list(range(min(s, k) + 1))
    assert [o["exact"] for o in out["overlap"]] == law.tolist()

    # Agreement within the 1 - 1e-7 exact interval.
    assert _agrees(out, out["exact"]), out
    assert _agrees(out["per_neuron"], out["per_neuron"]["exact"]), out["per_neuron"]
    for o in out["overlap"]:
        assert o["trials"] == neurons
        assert _agrees(o, o["exact"]), o

    # Exact bookkeeping between the reported counts.
    lucky = _count(out["per_neuron"])
    any_lucky = _count(out)
    overlaps = [_count(o) for o in out["overlap"]]
    assert sum(overlaps) == neurons
    assert overlaps[-1] == lucky  # lucky means overlap min(s, k)
    assert round(out["mean_lucky"] * TRIALS) == lucky
    assert any_lucky <= lucky <= any_lucky * width
    if width == 1:
        assert any_lucky == lucky
    for j, c in enumerate(overlaps):  # impossible overlaps never occur
        if s - j > n - k:
            assert c == 0

    # The reported intervals are the Wilson intervals of those counts.
    for entry, count, total in [(out, any_lucky, TRIALS), (out["per_neuron"], lucky, neurons)]:
        expected = proportion_estimate(count, total, out["seed"]).as_dict()
        assert {key: entry[key] for key in KEYS} == expected


def test_lottery_can_fail():
    # The agreement test has power: a neighbouring configuration is clearly rejected.
    out = simulate_lottery(20, 2, 5, width=3, trials=TRIALS, seed=1)
    assert _agrees(out["per_neuron"], float(p_lucky(20, 2, 5)))
    assert not _agrees(out["per_neuron"], float(p_lucky(20, 2, 4)))
    assert not _agrees(out, float(p_at_least_one_lucky(20, 2, 5, 2)))


def test_lottery_certain_and_impossible():
    sure = simulate_lottery(6, 6, 6, width=2, trials=50, seed=0)
    assert sure["estimate"] == sure["per_neuron"]["estimate"] == 1.0 == sure["exact"]
    assert sure["mean_lucky"] == 2.0
    # k = n, s < n: U is always inside S, so every neuron is lucky (under-sparse).
    inside = simulate_lottery(7, 7, 3, width=4, trials=50, seed=0)
    assert inside["regime"] == "under-sparse"
    assert inside["per_neuron"]["estimate"] == 1.0 == inside["per_neuron"]["exact"]


# --- determinism ---------------------------------------------------------------------------

ARGS = (18, 3, 5)
OPTS = {"width": 7, "trials": 1500}


def test_same_seed_same_result_different_seed_different():
    a = simulate_lottery(*ARGS, **OPTS, seed=42)
    assert simulate_lottery(*ARGS, **OPTS, seed=42) == a
    b = simulate_lottery(*ARGS, **OPTS, seed=43)
    assert b["seed"] == 43
    assert [o["estimate"] for o in b["overlap"]] != [o["estimate"] for o in a["overlap"]]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_threads_do_not_change_the_result():
    one = simulate_lottery(*ARGS, **OPTS, seed=5, threads=1)
    assert simulate_lottery(*ARGS, **OPTS, seed=5, threads=2) == one
    assert simulate_lottery(*ARGS, **OPTS, seed=5) == one


def test_progress_does_not_change_the_result():
    assert (simulate_lottery(*ARGS, **OPTS, seed=6, progress=True)
            == simulate_lottery(*ARGS, **OPTS, seed=6, progress=False))


def _odd_chunks(step, trials, progress, label, target_seconds=0.25, **_):
    """Chunks of 7 trials, last chunk first."""
    starts = list(range(0, trials, 7))
    for start in reversed(starts):
        step(start, min(trials, start + 7))


def test_chunking_does_not_change_the_result(monkeypatch):
    expected = simulate_lottery(*ARGS, **OPTS, seed=8)
    monkeypatch.setattr(lottery_module, "run_in_chunks", _odd_chunks)
    assert simulate_lottery(*ARGS, **OPTS, seed=8) == expected


def test_trials_are_a_prefix(monkeypatch):
    # Trial t's numbers depend on (seed, t) only: running only the first 600 of 1500 trials
    # gives the counts of a 600-trial run.
    short = simulate_lottery(*ARGS, width=7, trials=600, seed=9)

    def first_600(step, trials, progress, label, target_seconds=0.25, **_):
        step(0, 600)

    monkeypatch.setattr(lottery_module, "run_in_chunks", first_600)
    partial = simulate_lottery(*ARGS, **OPTS, seed=9)
    assert _count(partial["per_neuron"]) == _count(short["per_neuron"])
    assert _count(partial) == _count(short)
    assert [_count(o) for o in partial["overlap"]] == [_count(o) for o in short["overlap"]]


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((5, 6, 2), {}, "k must be <= n"),
    ((5, 2, 6), {}, "s must be <= n"),
    ((0, 1, 1), {}, "n must be"),
    ((5, 0, 2), {}, "k must be"),
    ((5, 2, -1), {}, "s must be"),
    ((True, 1, 1), {}, "n must be an integer"),
    ((5, 2, 2.5), {}, "s must be an integer"),
    ((5, 2, 2), {"width": 0}, "width must be"),
    ((5, 2, 2), {"width": True}, "width must be an integer"),
    ((5, 2, 2), {"trials": 0}, "trials must be"),
    ((5, 2, 2), {"trials": True}, "trials must be"),
    ((5, 2, 2), {"trials": 10.0}, "trials must be"),
    ((5, 2, 2), {"threads": 0}, "threads must be"),
    ((5, 2, 2), {"threads": numba.config.NUMBA_NUM_THREADS + 1}, "NUMBA_NUM_THREADS"),
    ((5, 2, 2), {"threads": True}, "threads must be"),
    ((5, 2, 2), {"seed": -1}, "seed must be"),
    ((5, 2, 2), {"seed": 2**63}, "seed must be"),
    ((5, 2, 2), {"seed": 1.0}, "seed must be"),
    ((5, 2, 2), {"seed": False}, "seed must be"),
])
def test_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_lottery(*args, **{"trials": 10, **kwargs})


def test_largest_seed_is_accepted():
    out = simulate_lottery(6, 2, 3, trials=20, seed=2**63 - 1)
    assert out["seed"] == 2**63 - 1


def test_memory_cap():
    with pytest.raises(ValueError, match=r"needs an estimated [\d.]+ KiB, above the memory "
                       r"cap \(memory_cap_bytes\) of 1000 B") as info:
        simulate_lottery(10, 2, 3, trials=1000, memory_cap_bytes=1000)
    assert "cap" in str(info.value)


def test_numpy_integer_seed_and_trials_are_accepted():
    expected = simulate_lottery(6, 2, 3, trials=20, seed=3)
    assert simulate_lottery(6, 2, 3, trials=np.int64(20), seed=np.int64(3)) == expected


def test_overlap_limit_refused_up_front(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the simulation ran")

    monkeypatch.setattr(lottery_module, "run_in_chunks", never)
    k = MAX_LOTTERY_OVERLAPS  # min(s, k) + 1 = MAX_LOTTERY_OVERLAPS + 1 classes
    with pytest.raises(ValueError, match="histogram limit"):
        simulate_lottery(k, k, k, trials=2)


def test_largest_accepted_overlap_law_completes():
    k = MAX_LOTTERY_OVERLAPS - 1  # the largest min(s, k) the guard lets through
    out = simulate_lottery(k, k, k, width=1, trials=2, seed=0)
    assert len(out["overlap"]) == MAX_LOTTERY_OVERLAPS
    assert out["estimate"] == 1.0
