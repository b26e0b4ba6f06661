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

``--eval-work``: instead, the test samples the evaluations count on a grid with a test set of
1e4 ((30, 3), widths 64 and 256, m 300..3000 and online, dense and s = 2, 4 seeds, T = 4000):
with per-run settled counts (each run's count stops once its decision is certain), under the
rule they replace (a per-cell ensemble's count stopped only once every active run had failed;
modelled from the traces: at each evaluation, the cell's active runs times the most samples any
of them needed, or the full test set when one was not a settled failure), and in full.

    python benchmarks/bench_cross_cell.py [--repeats 2] [--threads 1] [--eval-work]
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


def eval_work() -> None:
    """Print the test samples counted: settled per run, the all-fail rule (model), in full."""
    from parity_frontiers.verify.experiments.grid import build_grid

    grid = build_grid(n=30, k=3, width=[64, 256], samples=[300, 1000, 3000, None],
                      init=["dense", "sparse"], s=[2], seeds=4, max_steps=4000,
                      eval_every=100, test_size=10_000)
    results = [r for chunk in plan_ensembles(grid, "cpu")
               for r in train_ensemble(chunk, device="cpu")]
    total = grid[0].test_size
    settled = sum(int(r.trace.test_samples.sum()) for r in results)
    full = sum(len(r.trace) * total for r in results)
    all_fail = 0
    for cell in group_by_shape(results, lambda r: r.config):
        at: dict[int, list[int]] = {}
        for r in cell:
            for step, samples in zip(r.trace.steps.tolist(), r.trace.test_samples.tolist(),
                                     strict=True):
                at.setdefault(step, []).append(samples)
        for samples in at.values():
            stopped = all(count < total for count in samples)
            all_fail += len(samples) * (max(samples) if stopped else total)
    print(f"{len(grid)} runs, test samples counted: settled per run {settled:,}, all-fail rule "
          f"{all_fail:,}, full {full:,}; settled / all-fail = {settled / all_fail:.3f}, "
          f"settled / full = {settled / full:.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", default="smoke")
    parser.add_argument("--eval-work", action="store_true",
                        help="count the evaluation's test samples instead (see the docstring)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.eval_work:
        eval_work()
        return
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
