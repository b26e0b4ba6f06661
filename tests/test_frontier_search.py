"""Adaptive frontier search (verify/frontier_search.py), checked against known truths.

Independent routes: a logistic oracle whose m* is known (coverage of the search's interval
over many replicates), a full grid of the same oracle fitted by verify.analysis.fit_frontier
(agreement), exact step functions (bracketing and the grid-edge endings), a results store
(reuse and resume), and one real training curve on the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from parity_frontiers.verify.analysis.frontier import fit_frontier
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.frontier_search import (
    SEARCH_STATUSES,
    SearchSettings,
    curve_templates,
    frontier_rows,
    sample_lattice,
    search_frontiers,
)
from parity_frontiers.verify.experiments.handoff import Executor
from parity_frontiers.verify.experiments.oracles import LogisticOracle, ReplayExecutor
from parity_frontiers.verify.experiments.store import ResultsStore

TEMPLATE = curve_templates(30, 3, 16)


def logistic(m_star: float, slope: float):
    """Curve model with crossing of 1/2 at m_star and the given slope per decade of m."""
    return lambda config: (-slope * math.log10(m_star), slope)


class Step(Executor):
    """Deterministic runs: success exactly when m >= threshold (or always / never)."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.asked = []

    def train(self, configs, on_result=None, progress=True, _bar=None):
        out = []
        for c in configs:
            win = c.samples >= self.threshold
            out.append(RunResult(c, win, 1 if win else None, 0.0, 0.0,
                                 "success" if win else "max_steps", 1))
        self.asked.extend(configs)
        for r in out:
            on_result(r)
        return out


# --- lattice and settings --------------------------------------------------------------------

@pytest.mark.parametrize("m_min,m_max,per_decade", [(100, 10**6, 12), (7, 5000, 5), (3, 5000, 7)])
def test_lattice_is_log_spaced_and_spans_the_range(m_min, m_max, per_decade):
    lattice = sample_lattice(m_min, m_max, per_decade)
    assert lattice[0] == m_min and lattice[-1] == m_max
    assert np.all(np.diff(lattice) > 0)
    # Consecutive ratios are 10**(1/d) up to rounding (and the last step, which may be short).
    ratios = np.diff(np.log10(lattice.astype(float)))[:-1]
    assert np.all(ratios <= 1 / per_decade + math.log10(1 + 1 / m_min) + 1e-12)


@pytest.mark.parametrize("kwargs,match", [
    ({"target": 1.0}, "target"), ({"target": 0}, "target"), ({"tol": 0}, "tol"),
    ({"tol": float("nan")}, "tol"), ({"m_min": 0}, "m_min"), ({"batch": -1}, "batch"),
    ({"m_min": 100, "m_max": 100}, "m_max"), ({"m_values": (5,)}, "two distinct"),
    ({"max_runs_per_cell": 0}, "max_runs_per_cell"), ({"seed_start": -1}, "seed_start"),
    ({"m_max": 10**13}, "m_max must be at most"), ({"m_values": (10, 10**13)}, "at most"),
    ({"seed_start": 2**63 - 10}, "seed_start \\+ max_runs"),
])
def test_settings_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchSettings(**kwargs)


def test_templates_refuse_search_chosen_fields():
    with pytest.raises(ValueError, match="chosen by the frontier search"):
        curve_templates(30, 3, 16, samples=100)
    with pytest.raises(ValueError, match="k"):
        curve_templates(3, 5, 16)


# --- the design ------------------------------------------------------------------------------

def test_step_function_is_bracketed_and_converges_between_the_steps():
    step = Step(700)
    settings = SearchSettings(m_min=100, m_max=10**4, points_per_decade=12)
    [found] = search_frontiers(TEMPLATE, step, settings=settings, progress=False)
    lattice = settings.lattice()
    below = lattice[lattice < 700].max()
    above = lattice[lattice >= 700].min()
    assert found.status == "converged"
    assert below <= found.m_star <= above
    assert found.ci_low <= 700 <= found.ci_high
    assert found.runs == len(step.asked) == found.trained


@pytest.mark.parametrize("threshold,status", [(1, "below_grid"), (10**9, "above_grid")])
def test_frontier_outside_the_range_ends_at_the_edge(threshold, status):
    settings = SearchSettings(m_min=100, m_max=10**4, batch=8)
    [found] = search_frontiers(TEMPLATE, Step(threshold), settings=settings, progress=False)
    assert found.status == status and found.m_star is None
    edge = 100 if status == "below_grid" else 10**4
    edge_cell = next(c for c in found.cells if c["samples"] == edge)
    # Stopped as soon as the edge's Wilson interval excluded 1/2: 4/4 (or 0/4) does.
    assert edge_cell["runs"] == 4
    low, high = stats.binomtest(edge_cell["successes"], 4).proportion_ci(method="wilson")
    assert (low >= 0.5) if status == "below_grid" else (high <= 0.5)
    # bisection: about log2(#lattice) probes, not the whole lattice
    assert len(found.cells) <= math.ceil(math.log2(len(settings.lattice()))) + 1


def test_budget_and_exhaustion_statuses():
    oracle = LogisticOracle(logistic(1000, 3.0))
    [found] = search_frontiers(TEMPLATE, oracle, progress=False,
                               settings=SearchSettings(m_max=10**4, max_runs=20, tol=0.01))
    assert found.status == "budget" and found.runs == 20
    [found] = search_frontiers(TEMPLATE, oracle, progress=False,
                               settings=SearchSettings(m_values=(300, 1000, 3000), tol=0.001,
                                                       max_runs_per_cell=6))
    assert found.status == "exhausted"
    assert max(c["runs"] for c in found.cells) == 6
    assert all(c["runs"] <= 6 for c in found.cells)


def test_interval_covers_the_true_frontier_at_the_nominal_rate():
    # 300 independent searches at the default settings of one known curve (m* = 1000, 10
    # logits per decade; the real cpu-scale curves have 9-37). nested=True: runs of one seed
    # are fully dependent across sizes, as in real training, which the search must defuse by
    # never reusing a seed within a curve (with seeds reused per size coverage was 0.68-0.78).
    # Coverage of a 95% interval over 300 replicates has SE sqrt(.95 * .05 / 300) = 0.0126;
    # the band is 0.95 - 3.5 SE. Measured 0.930 (stopping when the interval is narrow enough
    # costs a little coverage); with the delta-method interval instead of Fieller's, 0.85.
    covered, runs = 0, []
    replicates = 300
    for rep in range(replicates):
        oracle = LogisticOracle(logistic(1000, 10.0), seed=rep, nested=True)
        [found] = search_frontiers(TEMPLATE, oracle, progress=False)
        assert found.status == "converged"
        assert found.half_width_log10 <= 0.05
        covered += found.ci_low <= 1000 <= found.ci_high
        runs.append(found.runs)
        assert sum(c["runs"] for c in found.cells) == found.runs
    assert 0.906 <= covered / replicates <= 1.0
    assert np.median(runs) < 120


def test_each_new_run_of_a_curve_has_its_own_seed():
    oracle = LogisticOracle(logistic(1000, 10.0), seed=1, nested=True)
    asked = []

    class Recording(Executor):
        def train(self, configs, on_result=None, progress=True, _bar=None):
            asked.extend(configs)
            return oracle.train(configs, on_result)

    [found] = search_frontiers(TEMPLATE, Recording(), progress=False)
    seeds = [c.seed for c in asked]
    assert len(seeds) == len(set(seeds)) == found.runs
    assert sorted(seeds) == list(range(found.runs))  # the smallest unused ones


def test_nested_oracle_keeps_the_marginal_and_nests_each_seed():
    plain = LogisticOracle(logistic(1000, 4.0), seed=2)
    nested = LogisticOracle(logistic(1000, 4.0), seed=2, nested=True)
    sizes = [300, 1000, 3000]
    configs = [RunConfig(n=30, k=3, width=16, samples=m, seed=s) for s in range(2000)
               for m in sizes]
    by_seed = {}
    for r in nested.train(configs):
        by_seed.setdefault(r.config.seed, []).append(r.success)
    # one latent uniform per seed: success at a size implies success at every larger size
    assert all(list(v) == sorted(v) for v in by_seed.values())
    for oracle in (plain, nested):
        results = oracle.train(configs)
        for m in sizes:
            wins = sum(r.success for r in results if r.config.samples == m)
            p = oracle.probability(RunConfig(n=30, k=3, width=16, samples=m))
            # 2000 draws: 4 binomial standard errors
            assert abs(wins / 2000 - p) <= 4 * math.sqrt(p * (1 - p) / 2000)


def test_search_agrees_with_a_full_grid_of_the_same_oracle_with_fewer_runs():
    oracle = LogisticOracle(logistic(2000, 6.0), seed=11)
    grid_m = [100, 200, 300, 600, 1000, 3000, 10000, 30000, 100000]
    grid = [RunConfig(n=30, k=3, width=16, samples=m, seed=s) for m in grid_m
            for s in range(50)]
    results = oracle.train(grid)
    cells = [{"samples": m, "runs": 50,
              "successes": sum(r.success for r in results if r.config.samples == m)}
             for m in grid_m]
    full = fit_frontier(cells, interval="fieller")
    target_width = (math.log10(full.ci_high) - math.log10(full.ci_low)) / 2
    [found] = search_frontiers(TEMPLATE, oracle, progress=False,
                               settings=SearchSettings(tol=target_width))
    assert found.status == "converged"
    assert found.ci_low <= full.ci_high and full.ci_low <= found.ci_high  # intervals overlap
    assert found.runs * 3 <= len(grid)  # the paper's grid spends 450 runs on this curve


def test_several_curves_advance_in_rounds_through_one_executor():
    models = {16: (500, 4.0), 64: (300, 4.0), 256: (50, 4.0)}
    oracle = LogisticOracle(lambda c: logistic(*models[c.width])(c))

    calls = []

    class Counting(Executor):
        def train(self, configs, on_result=None, progress=True, _bar=None):
            calls.append(len({c.width for c in configs}))
            return oracle.train(configs, on_result)

    found = search_frontiers(curve_templates(30, 3, [16, 64, 256]), Counting(), progress=False,
                             settings=SearchSettings(m_min=100, m_max=10**4, tol=0.1))
    assert [f.curve["width"] for f in found] == [16, 64, 256]
    assert [f.status for f in found] == ["converged", "converged", "below_grid"]
    assert calls[0] == 3  # the first round trains one batch of every curve together
    rows = frontier_rows(found)
    assert rows[0]["width"] == 16 and rows[0]["status"] in SEARCH_STATUSES


def test_store_runs_are_reused_and_a_second_search_trains_nothing(tmp_path):
    oracle = LogisticOracle(logistic(800, 5.0), seed=3)
    settings = SearchSettings(m_min=100, m_max=10**4, tol=0.08)
    with ResultsStore(tmp_path / "runs.db") as store:
        # a pre-existing grid with seeds 0..3 at four sizes
        store_grid = [RunConfig(n=30, k=3, width=16, samples=m, seed=s)
                      for m in (100, 316, 1000, 3162) for s in range(4)]
        for result in oracle.train(store_grid):
            store.add(result)
        [first] = search_frontiers(TEMPLATE, oracle, store=store, settings=settings,
                                   progress=False)
        assert first.reused == 16 and first.trained == first.runs - 16
        assert len(store) == first.runs  # every new run stored, none twice
        replay = ReplayExecutor(store.results())
        [again] = search_frontiers(TEMPLATE, replay, store=store, settings=settings,
                                   progress=False)
    assert again.trained == 0 and again.reused == first.runs and not replay.asked
    assert again.m_star == pytest.approx(first.m_star)


def test_replay_refuses_runs_it_does_not_hold():
    replay = ReplayExecutor([])
    with pytest.raises(ValueError, match="replay holds no run"):
        replay.train([RunConfig(n=30, k=3, width=16, samples=100)])


def test_templates_must_be_configs():
    with pytest.raises(ValueError, match="RunConfig"):
        search_frontiers(["not a config"], Step(1), progress=False)
    assert search_frontiers([], Step(1), progress=False) == []


def test_real_training_curve_on_the_cpu(tmp_path, one_torch_thread):
    # (8, 2)-parity, width 32: a real frontier in m well inside 10..1000 at T = 1500.
    templates = curve_templates(8, 2, 32, max_steps=1500, eval_every=100, test_size=512)
    settings = SearchSettings(m_min=10, m_max=1000, points_per_decade=6, batch=4, max_runs=24,
                              tol=0.15)
    from parity_frontiers.verify.experiments.executors import LocalExecutor

    with ResultsStore(tmp_path / "real.db") as store:
        [found] = search_frontiers(templates, LocalExecutor("cpu"), store=store,
                                   settings=settings, progress=False)
        # (8, 2)-parity at width 32 and T = 1500 learns from about 20 samples (seen: m* 18-22
        # in repeated searches); the search must find that crossing, not an edge.
        assert found.fit_status == "fitted" and 12 <= found.m_star <= 40, found
        rates = [c["successes"] / c["runs"] for c in found.cells]
        assert rates[0] < 0.5 < rates[-1]
        assert len(store) == found.runs == found.trained <= 24
        keys = [row["key"] for row in store.rows()]
        assert len(keys) == len(set(keys))
    sizes = [c["samples"] for c in found.cells]
    assert set(sizes) <= set(settings.lattice().tolist())
