"""Cross-cell ensembles against per-cell ensembles, on the CPU, on a smoke-size grid.

Work: the ``smoke`` scale's grid (``figures/scales/smoke``: (n, k) = (20, 3), 2 widths, several
m and online, dense and sparse inits, 6 seeds: 120 runs), trained with early stopping, twice:

* per cell: one ensemble per :meth:`RunConfig.shape_key` (every field but the seed), as the
  planner did before cross-cell ensembles;
* cross cell: :func:`verify.experiments.local.plan_ensembles`, one ensemble per
  :meth:`RunConfig.ensemble_key` (k, m, init, s and seed free; online and offline apart).

Repetitions alternate the two (the machine is shared: interleaving spreads its load over
both); each is timed in CPU seconds of this process (``time.process_time``; one torch thread,
so other processes' load hardly enters) and wall seconds. Every run's outcome must be the same
in both (checked). Printed: a table per repetition, the best of each, and the ratio.

    python benchmarks/bench_cross_cell.py [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from parity_frontiers.figures.reproduce import scale_grid
from parity_frontiers.verify.config import group_by_shape
from parity_frontiers.verify.experiments.local import plan_ensembles
from parity_frontiers.verify.training.trainer import train_ensemble


def outcome(result):
    return (result.success, result.steps_to_success, result.test_error, result.train_error,
            result.end_reason, result.steps_run)


def train_plan(plan) -> tuple[float, float, dict]:
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes = {}
    for chunk in plan:
        for result in train_ensemble(chunk, device="cpu"):
            outcomes[result.config.key()] = outcome(result)
    return time.process_time() - cpu, time.perf_counter() - wall, outcomes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", default="smoke")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    grid = scale_grid(args.scale)
    plans = {"per cell": group_by_shape(grid), "cross cell": plan_ensembles(grid, "cpu")}
    print(f"{len(grid)} runs; per cell: {len(plans['per cell'])} ensembles, cross cell: "
          f"{len(plans['cross cell'])} ({', '.join(str(len(c)) for c in plans['cross cell'])} "
          f"runs); torch {torch.get_num_threads()} thread(s)")
    train_ensemble(grid[:2], device="cpu")  # warm-up
    best: dict[str, tuple[float, float]] = {}
    reference = None
    print(f"{'rep':>3s} {'mode':<11s} {'ensembles':>9s} {'CPU s':>8s} {'wall s':>8s}")
    for rep in range(args.repeats):
        order = ("per cell", "cross cell") if rep % 2 == 0 else ("cross cell", "per cell")
        for mode in order:
            cpu, wall, outcomes = train_plan(plans[mode])
            if reference is None:
                reference = outcomes
            assert outcomes == reference, f"{mode}: outcomes differ"
            old = best.get(mode, (float("inf"), float("inf")))
            best[mode] = (min(old[0], cpu), min(old[1], wall))
            print(f"{rep:3d} {mode:<11s} {len(plans[mode]):9d} {cpu:8.2f} {wall:8.2f}")
    (pc_cpu, pc_wall), (cc_cpu, cc_wall) = best["per cell"], best["cross cell"]
    print(f"best: per cell {pc_cpu:.2f} CPU s / {pc_wall:.2f} wall s, cross cell {cc_cpu:.2f} / "
          f"{cc_wall:.2f}; per cell / cross cell = {pc_cpu / cc_cpu:.2f}x CPU, "
          f"{pc_wall / cc_wall:.2f}x wall; outcomes identical")


if __name__ == "__main__":
    main()
