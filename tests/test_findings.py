"""verify.analysis.findings / findings_time / paired: the paired tests against scipy, and
each finding's rule on synthetic runs where it passes, where it fails and where it cannot be
tested.

Runs are built by hand (no training): a seed's outcome in each cell is set directly, so every
verdict below follows from the rule's arithmetic, with fixed seeds throughout."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from parity_frontiers.verify.analysis.findings import (
    finding_small_m,
    finding_sparse_beats_dense,
    finding_width_compensates,
    finding_width_monotone,
    judge_findings,
)
from parity_frontiers.verify.analysis.findings_time import (
    finding_double_descent,
    finding_steps_vs_m,
)
from parity_frontiers.verify.analysis.paired import (
    ALPHA,
    NOT_TESTABLE,
    combine_verdicts,
    detectable_shift,
    init_label,
    mcnemar_test,
    problem_label,
    seed_cells,
    seeds_to_detect,
    sign_flip_test,
    tarone_threshold,
    too_few_to_test,
    two_way_sign_flip,
)
from parity_frontiers.verify.config import RunConfig, RunResult

SEEDS = range(16)


def _run(seed, success, steps=None, *, n=30, k=3, width=16, samples=100, init="dense",
         s=None):
    config = RunConfig(n=n, k=k, width=width, samples=samples, init=init, s=s, seed=seed,
                       max_steps=20_000, eval_every=100)
    if success:
        return RunResult(config, True, steps or 1000, 0.0, 0.0, "success", steps or 1000)
    return RunResult(config, False, None, 0.5, 0.0, "max_steps", 20_000)


def _cell(wins, seeds=SEEDS, steps=None, **where):
    """One cell: seed i succeeds iff wins(i) (a set of seeds or a predicate); ``steps`` maps a
    seed to its steps to success (default 1000)."""
    won = wins if callable(wins) else (lambda i: i in wins)
    return [_run(i, won(i), (steps(i) if callable(steps) else steps), **where) for i in seeds]


def _verdicts(finding):
    return {(p["n"], p["k"]): p["verdict"] for p in finding["problems"]}


# --- paired tests against scipy ------------------------------------------------------------------

@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sign_flip_equals_scipy_permutation_test(alternative, seed):
    rng = np.random.default_rng(seed)
    d = np.round(rng.normal(0.4, 1.0, size=12), 2)
    d[:2] = 0.0  # zeros never move the statistic
    ours = sign_flip_test(d, alternative)
    theirs = stats.permutation_test((d,), lambda x, axis=-1: np.sum(x, axis=axis),
                                    permutation_type="samples", alternative=alternative,
                                    n_resamples=np.inf)
    assert ours["exact"] and ours["p_value"] == pytest.approx(theirs.pvalue, rel=1e-12)


def test_sign_flip_counts_and_smallest_p():
    out = sign_flip_test([1, 2, 0, 3, 1])
    assert out["p_value"] == 1 / 16 == out["min_p"]
    assert (out["nonzero"], out["positive"], out["negative"]) == (4, 4, 0)
    assert sign_flip_test([0, 0])["p_value"] == 1.0
    assert sign_flip_test([-1] * 5, "less")["p_value"] == 2.0 ** -5
    with pytest.raises(ValueError, match="alternative"):
        sign_flip_test([1], "bigger")


def test_sign_flip_monte_carlo_beyond_the_exact_limit(monkeypatch):
    import parity_frontiers.verify.analysis.paired as paired

    monkeypatch.setattr(paired, "EXACT_SIGN_FLIP_MAX", 4)
    monkeypatch.setattr(paired, "SIGN_FLIP_RESAMPLES", 20_000)
    d = [1.0, 2.0, -0.5, 1.5, 0.7, 1.1]
    mc = sign_flip_test(d)
    exact = stats.permutation_test((np.array(d),), lambda x, axis=-1: np.sum(x, axis=axis),
                                   permutation_type="samples", alternative="greater",
                                   n_resamples=np.inf).pvalue
    assert not mc["exact"] and abs(mc["p_value"] - exact) < 0.01
    assert sign_flip_test(d) == mc  # seeded: the same draws every time


@pytest.mark.parametrize("first,second", [(7, 1), (3, 3), (0, 5), (12, 0), (0, 0)])
def test_mcnemar_equals_scipy_binomtest(first, second):
    out = mcnemar_test(first, second)
    if first + second == 0:
        assert out["p_value"] == 1.0 and out["min_p"] == 1.0
        return
    exact = stats.binomtest(first, first + second, 0.5, alternative="greater").pvalue
    assert out["p_value"] == pytest.approx(exact, rel=1e-12)
    assert out["min_p"] == 0.5 ** (first + second)
    less = stats.binomtest(first, first + second, 0.5, alternative="less").pvalue
    assert mcnemar_test(first, second, "less")["p_value"] == pytest.approx(less, rel=1e-12)


def test_tarone_counts_only_tests_that_can_reach_significance():
    assert tarone_threshold([]) == (1, ALPHA)
    # Two tests able to reach 0.025, many that cannot reach even 0.05: K = 2.
    assert tarone_threshold([1e-5, 1e-4] + [0.25] * 50) == (2, ALPHA / 2)
    # Brute force: the smallest K with #{min_p <= alpha/K} <= K.
    mins = list(np.random.default_rng(3).uniform(0, 0.02, 30))
    k, _ = tarone_threshold(mins)
    assert k == min(k for k in range(1, 31) if sum(m <= ALPHA / k for m in mins) <= k)


def test_seeds_to_detect_and_detectable_shift():
    assert seeds_to_detect(0.025) == 6 and seeds_to_detect(0.05 / 13) == 9
    assert seeds_to_detect(0.05, two_sided=True) == 6
    d = np.random.default_rng(4).normal(0, 1, 16)
    shift = detectable_shift(d, 0.025)
    centred = d - d.mean()
    assert sign_flip_test(centred + shift)["p_value"] <= 0.025
    assert sign_flip_test(centred + shift * 0.98)["p_value"] > 0.025
    assert detectable_shift([1.0, 2.0, 3.0], 0.025) is None  # 2^-3 > 0.025: never detectable


def test_combine_needs_every_testable_problem():
    assert combine_verdicts(["reproduced", NOT_TESTABLE]) == "reproduced"
    assert combine_verdicts(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine_verdicts(["reproduced", "not reproduced"]) == "not reproduced"
    assert combine_verdicts([NOT_TESTABLE, NOT_TESTABLE]) == NOT_TESTABLE
    assert combine_verdicts([]) == NOT_TESTABLE


def test_two_way_sign_flip_and_the_too_few_screen():
    up = [0.5, 1.0, 2.0, 0.3, 0.7, 1.1, 0.2, 0.9]
    judged = two_way_sign_flip(up, 0.025)
    assert judged["greater"] == sign_flip_test(up, "greater")
    assert judged["less"] == sign_flip_test(up, "less")
    assert judged["verdict"] == "reproduced" and "detectable_shift" not in judged
    assert two_way_sign_flip([-v for v in up], 0.025)["verdict"] == "not reproduced"
    mixed = two_way_sign_flip([0.5, -0.4, 0.3, -0.6, 0.2, -0.1, 0.4, -0.3], 0.025)
    assert mixed["verdict"] == "inconclusive"
    assert mixed["detectable_shift"] == detectable_shift(
        [0.5, -0.4, 0.3, -0.6, 0.2, -0.1, 0.4, -0.3], 0.025)
    # 2^-4 = 0.0625 > ALPHA: four seeds can never be significant; five can (0.03125 <= 0.05).
    assert too_few_to_test(30, 3, [], 16, empty="none", what="drop", count="pairs") == \
        {"n": 30, "k": 3, "verdict": NOT_TESTABLE, "reason": "none"}
    row = too_few_to_test(30, 3, [{}, {}], 4, empty="none", what="drop", count="pairs")
    assert row["verdict"] == NOT_TESTABLE and row["pairs"] == 2
    assert row["reason"] == f"4 seeds: no drop can be significant at {ALPHA}"
    assert too_few_to_test(30, 3, [{}], 5, empty="none", what="drop", count="pairs") is None


def test_seed_cells_keep_each_seed():
    cells = seed_cells(_cell({1, 3}, seeds=range(4), steps=700))
    assert len(cells) == 1 and cells[0]["runs"] == 4 and cells[0]["successes"] == 2
    assert cells[0]["outcomes"][1] == (True, 700) and cells[0]["outcomes"][0] == (False, None)


# --- 1a: success with m << n^k ------------------------------------------------------------------

def test_small_m_passes_fails_and_cannot_fail_without_a_large_m():
    # n = 30, k = 3: n^k/10 = 2700.
    good = seed_cells(_cell(set(SEEDS), samples=300) + _cell(set(SEEDS), samples=3000))
    assert finding_small_m(good)["verdict"] == "reproduced"
    only_large = seed_cells(_cell(set(), samples=300) + _cell(set(SEEDS), samples=3000))
    assert finding_small_m(only_large)["verdict"] == "not reproduced"
    nothing = seed_cells(_cell(set(range(8)), samples=300) + _cell(set(range(8)), samples=3000))
    assert finding_small_m(nothing)["verdict"] == "inconclusive"
    # n = 50: n^k/10 = 12500 above every m: success at m = 300 says nothing that could fail.
    n50 = seed_cells(_cell(set(SEEDS), n=50, samples=300) + _cell(set(), n=50, samples=10000))
    out = finding_small_m(n50)
    assert out["verdict"] == NOT_TESTABLE and "cannot fail" in out["problems"][0]["reason"]
    few = seed_cells(_cell({0, 1, 2}, seeds=range(3), samples=300)
                     + _cell({0, 1, 2}, seeds=range(3), samples=3000))
    assert finding_small_m(few)["verdict"] == NOT_TESTABLE


def test_small_m_overall_is_not_any_pass():
    cells = seed_cells(_cell(set(SEEDS), samples=300) + _cell(set(SEEDS), samples=3000)
                       + _cell(set(), n=20, samples=300) + _cell(set(SEEDS), n=20, samples=900))
    out = finding_small_m(cells)  # (20, 3): n^k/10 = 800, success only at m = 900
    assert _verdicts(out) == {(20, 3): "not reproduced", (30, 3): "reproduced"}
    assert out["verdict"] == "not reproduced"


# --- 1b: width compensates for data -------------------------------------------------------------

def _two_widths(narrow, wide, **where):
    return seed_cells([r for m in (100, 300) for r in
                       _cell(narrow(m), width=16, samples=m, **where)
                       + _cell(wide(m), width=64, samples=m, **where)])


def test_width_compensates_passes_fails_and_untestable():
    everyone, nobody = set(SEEDS), set()
    passes = _two_widths(lambda m: nobody, lambda m: everyone if m == 300 else nobody)
    out = finding_width_compensates(passes)
    assert out["verdict"] == "reproduced"
    assert out["problems"][0]["p_wide_better"] == 2.0 ** -16
    fails = _two_widths(lambda m: everyone if m == 300 else nobody, lambda m: nobody)
    assert finding_width_compensates(fails)["verdict"] == "not reproduced"
    flat = _two_widths(lambda m: set(range(8)), lambda m: set(range(8)))
    out = finding_width_compensates(flat)
    assert out["verdict"] == "inconclusive" and "detectable_shift" in out["problems"][0]
    one_width = seed_cells(_cell(everyone, width=16, samples=100))
    assert finding_width_compensates(one_width)["verdict"] == NOT_TESTABLE
    few = seed_cells(_cell(set(), seeds=range(4), width=16)
                     + _cell(set(range(4)), seeds=range(4), width=64))
    assert finding_width_compensates(few)["verdict"] == NOT_TESTABLE


# --- 2: width monotone --------------------------------------------------------------------------

def test_width_monotone_passes_fails_inconclusive_untestable():
    rising = seed_cells(_cell(set(range(4)), width=16) + _cell(set(range(12)), width=64))
    out = finding_width_monotone(rising)
    assert out["verdict"] == "reproduced"
    assert out["problems"][0]["smallest_detectable_drop"] == 5  # 2^-5 <= 0.05 (K = 1)
    falling = seed_cells(_cell(set(SEEDS), width=16) + _cell(set(), width=64))
    out = finding_width_monotone(falling)
    assert out["verdict"] == "not reproduced" and len(out["problems"][0]["significant"]) == 1
    flat = seed_cells(_cell(set(), width=16) + _cell(set(), width=64))
    assert finding_width_monotone(flat)["verdict"] == "inconclusive"
    assert finding_width_monotone(seed_cells(_cell(set(), width=16)))["verdict"] == NOT_TESTABLE
    few = seed_cells(_cell({0}, seeds=range(3), width=16) + _cell(set(), seeds=range(3),
                                                                 width=64))
    assert finding_width_monotone(few)["verdict"] == NOT_TESTABLE


def test_width_monotone_pairs_seeds_not_counts():
    """Same counts (8/16 at both widths), but the wider net loses exactly the seeds the narrow
    one wins: a paired test sees 8 discordant seeds one way and none the other way."""
    swap = seed_cells(_cell(set(range(8)), width=16) + _cell(set(range(8, 16)), width=64))
    problem = finding_width_monotone(swap)["problems"][0]
    assert problem["significant"] == [] and problem["raw_drops"] == 0  # 8 vs 8: balanced
    loses = seed_cells(_cell(set(range(10)), width=16) + _cell(set(range(1)), width=64))
    assert finding_width_monotone(loses)["verdict"] == "not reproduced"  # 9 vs 0: p = 2^-9


# --- 3: sparse beats dense ----------------------------------------------------------------------

def _arms(dense, sparse, dense_steps=1000, sparse_steps=1000):
    runs = []
    for width in (64, 256):
        for m in (100, 300):
            runs += _cell(dense, width=width, samples=m, steps=dense_steps)
            runs += _cell(sparse, width=width, samples=m, init="sparse", s=2,
                          steps=sparse_steps)
    return seed_cells(runs)


def test_sparse_passes_on_success_or_steps_fails_and_untestable():
    half, everyone = set(range(8)), set(SEEDS)
    out = finding_sparse_beats_dense(_arms(half, everyone))
    assert out["verdict"] == "reproduced"
    assert out["problems"][0]["p_sparse_better"] == 2.0 ** -8
    faster = finding_sparse_beats_dense(_arms(everyone, everyone, 2000, 500))
    assert faster["verdict"] == "reproduced"
    assert faster["problems"][0]["steps"]["dense_over_sparse"] == pytest.approx(4.0)
    assert finding_sparse_beats_dense(_arms(everyone, half))["verdict"] == "not reproduced"
    slower = finding_sparse_beats_dense(_arms(half, everyone, 500, 2000))
    assert slower["verdict"] == "not reproduced"  # better success, but slower on every seed
    tie = finding_sparse_beats_dense(_arms(half, half))
    assert tie["verdict"] == "inconclusive"
    dense_only = seed_cells(_cell(half, width=64))
    assert finding_sparse_beats_dense(dense_only)["verdict"] == NOT_TESTABLE


def test_sparse_gaussian_cells_are_labelled_and_kept_apart_from_sparse():
    cell = {"n": 30, "k": 3, "init": "sparse-gaussian", "s": 2}
    assert init_label(cell) == "sparse-gaussian s=2"
    assert problem_label(cell) == "n=30 k=3 sparse-gaussian s=2"
    assert init_label({"init": "sparse", "s": 2}) == "sparse s=2"
    assert init_label({"init": "dense", "s": None}) == "dense"
    # The dense-vs-sparse finding is about the paper's sparse law: a sparse-gaussian arm of
    # the same (width, m) neither joins the test nor lends its m* to the row.
    half, everyone = set(range(8)), set(SEEDS)
    runs = [r for width in (64, 256) for m in (100, 300)
            for r in _cell(half, width=width, samples=m, init="sparse-gaussian", s=2)]
    alone = finding_sparse_beats_dense(seed_cells(runs + _cell(half, width=64)))
    assert alone["verdict"] == NOT_TESTABLE
    both = _arms(half, everyone) + seed_cells(runs)
    frontier = [{"n": 30, "k": 3, "width": w, "init": init, "s": 2, "status": "fitted",
                 "m_star": 100.0} for w in (64, 256) for init in ("sparse", "sparse-gaussian")]
    row = finding_sparse_beats_dense(both, frontier)["problems"][0]
    assert row["p_sparse_better"] == 2.0 ** -8
    assert sorted(row["m_star"]) == ["sparse_256", "sparse_64"]


# --- 4a: steps near the edge ----------------------------------------------------------------------

def _curve(steps_by_m, seeds=SEEDS, wins=None):
    return seed_cells([r for m, steps in steps_by_m.items()
                       for r in _cell(wins or set(seeds), seeds=seeds, samples=m, steps=steps)])


def test_steps_vs_m_passes_fails_and_untestable():
    rng = np.random.default_rng(7)
    jitter = {i: int(rng.integers(0, 50)) * 10 for i in SEEDS}
    more = _curve({300: lambda i: 5000 + jitter[i], 3000: lambda i: 1000 + jitter[i]})
    out = finding_steps_vs_m(more)
    assert out["verdict"] == "reproduced" and out["problems"][0]["p_more_at_edge"] == 2.0 ** -16
    fewer = _curve({300: lambda i: 1000 + jitter[i], 3000: lambda i: 5000 + jitter[i]})
    assert finding_steps_vs_m(fewer)["verdict"] == "not reproduced"
    same = _curve({300: lambda i: 1000 + jitter[i], 3000: lambda i: 1000 + jitter[(i + 1) % 16]})
    out = finding_steps_vs_m(same)
    assert out["verdict"] == "inconclusive" and out["problems"][0]["detectable_ratio"] > 1
    assert finding_steps_vs_m(_curve({300: 5000}))["verdict"] == NOT_TESTABLE
    few = _curve({300: 5000, 3000: 1000}, seeds=range(4))
    assert finding_steps_vs_m(few)["verdict"] == NOT_TESTABLE


# --- 4b: double descent ---------------------------------------------------------------------------

def test_double_descent_passes_fails_and_untestable():
    everyone, nobody = set(SEEDS), set()
    dip = seed_cells(_cell(everyone, samples=100) + _cell(nobody, samples=300)
                     + _cell(everyone, samples=1000))
    out = finding_double_descent(dip)
    assert out["verdict"] == "reproduced"
    assert out["problems"][0]["significant"][0]["m"] == [100, 300, 1000]
    monotone = seed_cells(_cell(nobody, samples=100) + _cell(set(range(8)), samples=300)
                          + _cell(everyone, samples=1000))
    out = finding_double_descent(monotone)
    assert out["verdict"] == "not reproduced"
    assert out["problems"][0]["smallest_detectable_dip"] == seeds_to_detect(
        out["problems"][0]["threshold"])
    # The same counts with the seeds shuffled between sizes is no per-seed fall and recovery.
    shuffled = seed_cells(_cell(set(range(8)), samples=100) + _cell(set(range(8, 16)),
                                                                    samples=300)
                          + _cell(set(range(8)), samples=1000))
    assert finding_double_descent(shuffled)["problems"][0]["significant"] == []
    two_sizes = seed_cells(_cell(everyone, samples=100) + _cell(nobody, samples=300))
    assert finding_double_descent(two_sizes)["verdict"] == NOT_TESTABLE
    few = seed_cells([r for m, w in ((100, {0, 1}), (300, set()), (1000, {0, 1}))
                      for r in _cell(w, seeds=range(2), samples=m)])
    assert finding_double_descent(few)["verdict"] == NOT_TESTABLE


def test_judge_findings_returns_six_per_problem_verdicts():
    runs = [r for m, w in itertools.product((100, 3000), (16, 64))
            for r in _cell(set(SEEDS) if m == 3000 or w == 64 else set(), width=w, samples=m)]
    out = judge_findings(runs)
    assert [f["id"] for f in out] == ["1a", "1b", 2, 3, "4a", "4b"]
    for f in out:
        assert f["verdict"] in ("reproduced", "not reproduced", "inconclusive", NOT_TESTABLE)
        assert f["rule"] and all("verdict" in p for p in f["problems"])
    assert out[0]["verdict"] == "reproduced" and out[1]["verdict"] == "reproduced"
    assert out[3]["verdict"] == NOT_TESTABLE  # no sparse arm
    with pytest.raises(ValueError, match="no runs"):
        judge_findings([])
