"""Measured training throughput, and what the paper-scale grid costs on this device.

Work: one full cell of the paper's grid per (n, width) -- 50 seeds of (n, 3)-sparse parity,
m = 1e4, SGD lr 0.1 / wd 0.01, batch 32, hinge loss, test error on 1e4 samples every 100 steps
(figures/scales/paper.toml) -- trained through verify.sweep.train_runs (the ensembles a sweep
would form on this device) for a fixed --steps with early stopping off. Printed per cell:
run-steps/s (runs x steps / wall seconds, evaluation included).

Baseline (named): "width 10" -- the narrowest cell, whose cost is all kernel launches; the ratio
column is each cell's run-steps/s over it (how much slower wider nets are per step).

Then the cost of the whole paper grid (129600 runs: 6 n x 2 k x 9 widths x 12 sizes x 2 inits x
50 seeds) on this device: each cell's run-steps/s interpolated in log(width) and log(n) from the
measured ones, times its runs x steps, summed, for
  * "upper bound": every run trains all T = 1e5 steps (no run ever succeeds early);
  * "typical": runs stop at success, using the mean fraction of T the runs of
    figures/reference/cpu/runs.db actually trained (measured there, T = 2e4).
And the same for the adaptive frontier search: --search-runs runs per curve (from
benchmarks/bench_frontier_search.py) over the grid's 216 curves, its "typical" taking the mean
fraction of T that the runs of a real search trained (figures/reference/frontier_search/
frontier_n50.db: they sit near P = 1/2, where half of them fail and train all of T).

Run:  python benchmarks/bench_grid_cost.py [--device cuda] [--steps 300] [--quick]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import time
from pathlib import Path

import numpy as np

from parity_frontiers.verify.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
PAPER = dict(n=[50, 100, 150, 200, 250, 300], k=[3, 4],
             width=[10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], sizes=12, inits=2,
             seeds=50, max_steps=100_000)


def measure(n: int, width: int, steps: int, seeds: int, device: str) -> float:
    """run-steps/s of one paper cell (seeds runs x steps), evaluation included."""
    import torch

    from parity_frontiers.verify.experiments.local import train_runs

    configs = [RunConfig(n=n, k=3, width=width, samples=10_000, seed=s, max_steps=steps,
                         eval_every=100, test_size=10_000) for s in range(seeds)]
    import parity_frontiers.verify.training.trainer as trainer

    original = trainer.train_ensemble

    def no_early_stop(*args, **kwargs):
        return original(*args, early_stop=False, **kwargs)

    trainer.train_ensemble = no_early_stop
    try:
        # warm-up: CUDA context, kernels, allocator
        train_runs(configs[:2], device=device, progress=False)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        train_runs(configs, device=device, progress=False)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    finally:
        trainer.train_ensemble = original
    return seeds * steps / wall


def typical_fraction(store: Path) -> float:
    with sqlite3.connect(f"file:{store}?mode=ro&immutable=1", uri=True) as con:
        (fraction,) = con.execute("SELECT AVG(1.0 * steps_run / max_steps) FROM runs").fetchone()
    return float(fraction)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="small widths and n only")
    parser.add_argument("--search-runs", type=float, default=64.0,
                        help="runs per curve of the adaptive search (default 64, the median "
                             "of benchmarks/bench_frontier_search.py part 1)")
    args = parser.parse_args()
    import torch

    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"device: {args.device} ({name}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    ns = [50, 300] if not args.quick else [20]
    widths = PAPER["width"] if not args.quick else [10, 100]
    rates = {}
    print(f"{'n':>5}{'width':>8}{'run-steps/s':>14}{'vs width 10':>13}")
    for n in ns:
        for width in widths:
            rate = measure(n, width, args.steps, args.seeds, args.device)
            rates[(n, width)] = rate
            print(f"{n:>5}{width:>8}{rate:>14.3g}{rate / rates[(n, widths[0])]:>13.3f}",
                  flush=True)

    log_n = np.log(ns)
    log_w = np.log(widths)
    table = np.log([[rates[(n, w)] for w in widths] for n in ns])

    def rate_at(n, w):
        # bilinear in (log n, log width), clamped to the measured range
        by_n = [np.interp(math.log(w), log_w, row) for row in table]
        return math.exp(np.interp(math.log(n), log_n, by_n)) if len(ns) > 1 else \
            math.exp(by_n[0])

    fraction = typical_fraction(ROOT / "figures/reference/cpu/runs.db")
    search_fraction = typical_fraction(ROOT / "figures/reference/frontier_search/frontier_n50.db")
    runs_per_cell = PAPER["seeds"]
    cell_seconds = sum(runs_per_cell * PAPER["max_steps"] / rate_at(n, w)
                       for n in PAPER["n"] for w in PAPER["width"])
    cells_per_nw = len(PAPER["k"]) * PAPER["sizes"] * PAPER["inits"]
    grid_hours = cell_seconds * cells_per_nw / 3600
    curves = len(PAPER["n"]) * len(PAPER["k"]) * len(PAPER["width"]) * PAPER["inits"]
    search_seconds = sum(args.search_runs * PAPER["max_steps"] / rate_at(n, w)
                         for n in PAPER["n"] for w in PAPER["width"])
    search_hours = search_seconds * len(PAPER["k"]) * PAPER["inits"] / 3600
    print(f"\npaper grid: {runs_per_cell * cells_per_nw * len(PAPER['n']) * len(PAPER['width'])}"
          f" runs; on this device (1 {name}):")
    print(f"  upper bound (every run to T = 1e5): {grid_hours:,.0f} device-hours")
    print(f"  typical (runs train {fraction:.2f} of T on average, cpu reference): "
          f"{grid_hours * fraction:,.0f} device-hours")
    print(f"adaptive search, {args.search_runs:g} runs per curve x {curves} curves "
          f"= {args.search_runs * curves:,.0f} runs:")
    print(f"  upper bound: {search_hours:,.0f} device-hours; typical (its runs train "
          f"{search_fraction:.2f} of T): {search_hours * search_fraction:,.0f} device-hours")
    print("(the widest widths dominate: "
          + ", ".join(f"width {w}: {100 * sum(1 / rate_at(n, w) for n in PAPER['n']) / sum(1 / rate_at(n, v) for n in PAPER['n'] for v in PAPER['width']):.0f}%"  # noqa: E501
                      for w in PAPER["width"][-3:]) + " of the grid's time)")


if __name__ == "__main__":
    main()
