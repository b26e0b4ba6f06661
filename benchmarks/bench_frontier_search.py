"""Benchmark: runs spent by the adaptive frontier search against a full grid, same precision.

Baseline (named): "full grid" -- every size m of the grid trained with the same number of seeds,
m* fitted per curve by Firth logistic regression with Fieller's 95% interval
(verify.analysis.fit_frontier(..., interval="fieller")). The adaptive search
(verify.frontier_search) is stopped at the *same* precision: its tol is the full grid's
half-width of the interval of log10 m* on that curve. Reported: runs of each, the ratio
grid runs / adaptive runs, and whether the two 95% intervals overlap.

(No replay of a stored grid: the search gives every run of a curve its own seed, while a grid
uses the same seeds at every size, so a grid's runs cannot answer the search's requests.)

Part 1 -- the paper's grid (figures/scales/paper.toml: 11 finite sizes 100..1e6 x 50 seeds = 550
    runs per curve) on the same 16 curves, simulated: each curve's truth is the Firth fit of
    its cpu-scale data, and both designs draw outcomes from it (verify.oracles.LogisticOracle),
    over --replicates independent draws. The search samples its default lattice (24 sizes per
    decade) on 100..1e6. Also reported: how often each interval covers the true m*.

Part 2 (with --live STORE) -- a real search: the store of a `parity-frontiers frontier` run
    trained on the same settings (e.g. figures/reference/frontier_search/frontier_n50.db, made
    on an H200), refitted per curve and set against the grid's curve of the same (n, k, width,
    init, s): runs of each, whether the intervals overlap, and how many of the search's runs
    are grid runs (same key) or share a seed with the grid. A search with seeds starting past
    the grid's (--seed-start 16 for the cpu grid) is independent of it, and its agreement is a
    real check; one that starts at seed 0 partly repeats the grid.

Run:  .venv/bin/python benchmarks/bench_frontier_search.py [--replicates 20] [--store PATH]
                                                           [--live SEARCH_STORE]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from parity_frontiers.verify.analysis.frontier import (
    curve_key,
    fit_frontier,
    group_rows,
    success_points,
)
from parity_frontiers.verify.experiments.frontier_search import SearchSettings, search_frontiers
from parity_frontiers.verify.experiments.oracles import LogisticOracle
from parity_frontiers.verify.experiments.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
PAPER_SIZES = [100, 200, 300, 600, 1000, 3000, 10000, 30000, 100000, 300000, 1000000]
PAPER_SEEDS = 50


def half_width(fit) -> float | None:
    if fit.ci_low is None or fit.ci_high is None:
        return None
    return (math.log10(fit.ci_high) - math.log10(fit.ci_low)) / 2


def overlap(a_low, a_high, b_low, b_high) -> bool:
    return a_low <= b_high and b_low <= a_high


def label(curve: dict) -> str:
    init = f"sparse s={curve['s']}" if curve["init"] == "sparse" else "dense"
    return f"n={curve['n']} r={curve['width']} {init}"


def curves_of(store: ResultsStore):
    """(template result, finite-m results, grid fit) per curve of the store."""
    results = [r for r in store.results() if r.config.samples is not None]
    by_curve = group_rows(success_points(results), curve_key)
    runs_by_curve = group_rows(results, lambda r: curve_key(r.config.as_dict()))
    for key, cells in by_curve.items():
        fit = fit_frontier(cells, interval="fieller")
        yield cells[0], runs_by_curve[key], fit


def part_b(store: ResultsStore, replicates: int) -> list[dict]:
    rows = []
    for cell, runs, truth_fit in curves_of(store):
        if truth_fit.status != "fitted":
            continue
        b0, b1 = truth_fit.intercept, truth_fit.slope
        true_m = truth_fit.m_star
        template = runs[0].config
        grid_runs, search_runs, grid_cover, search_cover, agree, statuses = [], [], 0, 0, 0, []
        for rep in range(replicates):
            oracle = LogisticOracle(lambda config, b0=b0, b1=b1: (b0, b1), seed=1000 + rep)
            from dataclasses import replace
            grid = [replace(template, samples=m, seed=s) for m in PAPER_SIZES
                    for s in range(PAPER_SEEDS)]
            outcomes = oracle.train(grid)
            cells = [{"samples": m, "runs": PAPER_SEEDS,
                      "successes": sum(r.success for r in outcomes if r.config.samples == m)}
                     for m in PAPER_SIZES]
            full = fit_frontier(cells, interval="fieller")
            width = half_width(full)
            if full.status != "fitted" or width is None:
                continue
            grid_runs.append(len(grid))
            grid_cover += full.ci_low <= true_m <= full.ci_high
            search_oracle = LogisticOracle(lambda config, b0=b0, b1=b1: (b0, b1),
                                           seed=5000 + rep)
            settings = SearchSettings(m_min=100, m_max=10**6, tol=width, max_runs=len(grid))
            [found] = search_frontiers([template], search_oracle, settings=settings,
                                       progress=False)
            statuses.append(found.status)
            search_runs.append(found.runs)
            if found.ci_low is not None and found.ci_high is not None:
                search_cover += found.ci_low <= true_m <= found.ci_high
                agree += overlap(found.ci_low, found.ci_high, full.ci_low, full.ci_high)
        done = len(grid_runs)
        rows.append({"curve": label(cell), "slope": b1, "true_m": true_m, "draws": done,
                     "grid_runs": int(np.median(grid_runs)),
                     "search_runs": float(np.median(search_runs)),
                     "converged": statuses.count("converged"),
                     "grid_cover": grid_cover / done, "search_cover": search_cover / done,
                     "agree": agree / done})
    return rows


def part_c(store: ResultsStore, live: ResultsStore) -> list[dict]:
    grid = {curve_key(cell): (runs, fit) for cell, runs, fit in curves_of(store)}
    rows = []
    for cell, runs, found in curves_of(live):
        if curve_key(cell) not in grid:
            continue
        grid_runs, full = grid[curve_key(cell)]
        bounded = None not in (found.ci_low, found.ci_high, full.ci_low, full.ci_high)
        grid_keys = {r.config.key() for r in grid_runs}
        grid_seeds = {r.config.seed for r in grid_runs}
        rows.append({"curve": label(cell), "grid_runs": len(grid_runs), "runs": len(runs),
                     "same_runs": sum(r.config.key() in grid_keys for r in runs),
                     "same_seeds": sum(r.config.seed in grid_seeds for r in runs),
                     "grid": (full.m_star, full.ci_low, full.ci_high),
                     "search": (found.m_star, found.ci_low, found.ci_high),
                     "agree": bounded and overlap(found.ci_low, found.ci_high, full.ci_low,
                                                  full.ci_high)})
    return rows


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "figures/reference/cpu/runs.db"))
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--live", metavar="SEARCH_STORE",
                        help="also compare a real search's store with the grid (part 2)")
    args = parser.parse_args()
    start = time.perf_counter()
    with ResultsStore(args.store, readonly=True) as store:
        print(f"Part 1: the paper's grid ({len(PAPER_SIZES)} sizes x {PAPER_SEEDS} seeds) vs "
              f"the search at its precision, {args.replicates} simulated draws per curve")
        rows = part_b(store, args.replicates)
        print(f"{'curve':<24}{'slope':>7}{'true m*':>9}{'grid runs':>10}{'search (median)':>17}"
              f"{'ratio':>7}{'conv.':>7}{'cover grid':>11}{'cover search':>13}{'agree':>7}")
        for r in rows:
            print(f"{r['curve']:<24}{r['slope']:>7.2f}{r['true_m']:>9.0f}{r['grid_runs']:>10}"
                  f"{r['search_runs']:>17.0f}{r['grid_runs'] / r['search_runs']:>7.1f}"
                  f"{r['converged']:>4}/{r['draws']:<2}{r['grid_cover']:>11.2f}"
                  f"{r['search_cover']:>13.2f}{r['agree']:>7.2f}")
        total_grid = sum(r["grid_runs"] for r in rows)
        total_search = sum(r["search_runs"] for r in rows)
        print(f"total over {len(rows)} curves: grid {total_grid} runs, search (medians) "
              f"{total_search:.0f} runs, ratio {total_grid / total_search:.1f}")
        if args.live:
            with ResultsStore(args.live, readonly=True) as live:
                rows = part_c(store, live)
            print(f"\nPart 2: the real search in {args.live} vs the grid")
            print(f"{'curve':<24}{'grid runs':>10}{'grid m* [95%]':>26}{'search':>8}"
                  f"{'search m* [95%]':>26}{'ratio':>7}  agree  shared runs / seeds")
            for r in rows:
                grid = "{} [{}, {}]".format(*(fmt(v) for v in r["grid"]))
                found = "{} [{}, {}]".format(*(fmt(v) for v in r["search"]))
                print(f"{r['curve']:<24}{r['grid_runs']:>10}{grid:>26}{r['runs']:>8}"
                      f"{found:>26}{r['grid_runs'] / r['runs']:>7.1f}  {r['agree']!s:<6} "
                      f"{r['same_runs']} / {r['same_seeds']}")
            total_grid = sum(r["grid_runs"] for r in rows)
            total_search = sum(r["runs"] for r in rows)
            paper_per_curve = len(PAPER_SIZES) * PAPER_SEEDS
            print(f"shared runs: search runs identical to a grid run (same key); shared "
                  f"seeds: search runs whose seed the grid also used at some size (one seed "
                  f"at two sizes is nearly the same run). The check is independent only where "
                  f"both are 0 ({sum(r['same_seeds'] for r in rows)} shared seeds in all).")
            print(f"total over {len(rows)} curves: grid {total_grid} runs, search "
                  f"{total_search} runs, ratio {total_grid / total_search:.2f}; intervals "
                  f"agree on {sum(r['agree'] for r in rows)}/{len(rows)}; against the paper's "
                  f"{len(PAPER_SIZES)} x {PAPER_SEEDS} = {paper_per_curve} runs per curve: "
                  f"ratio {len(rows) * paper_per_curve / total_search:.1f}")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
