"""Throughput of a sweep through the Dask executors against the local executor, side by side.

Work: (n, k) = (20, 3) sparse parity, dense init, width 64, m in {100, 300, 1000, 3000}, 8 seeds
each (32 runs, 4 ensembles of 8), T = 2000 steps, the other settings RunConfig's defaults
(early stopping on, as in a sweep). No results store: ``executor.train`` alone is timed, with
the cluster already started (its start-up time is printed apart) and every process warmed up
(torch and the trainer imported, one tiny run trained), so the ratios are steady-state ones.

Executors, in one run of this script:

(a) ``local``: :class:`verify.executors.LocalExecutor` in this process (the baseline);
(b) ``dask-local`` with 1 worker process x 1 thread: what the Dask layer costs (pickling the
    configs and results, scheduling, a separate process);
(c) ``dask-local`` with 2 worker processes x 1 thread each: two ensembles trained at once.

Printed: runs/s of each and its ratio against (a). Torch uses ``--threads`` threads (default 1)
in this process and 1 on each worker, so (a) and (b) do the same work on one core; on a
machine whose other cores are busy, more torch threads than free cores make every loop slower
(see bench_trainer.py), and (c) gains only as many cores as are free. The runs of all three
are checked to agree (same success and steps to success, test error within 1e-6).

Timing: best of ``--repeat`` (default 3) calls, each on other seeds (the same ensembles
again could share the previous call's tasks), so the least disturbed by other load.

    python benchmarks/bench_distributed.py [--quick] [--threads N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time


def warm_up(executor) -> None:
    """Train one tiny run in each process that will train (first-call costs, not timed)."""
    from parity_frontiers.verify.config import RunConfig
    from parity_frontiers.verify.experiments.distributed import (
        _train_ensemble_task,
        package_version,
    )

    tiny = [RunConfig(n=20, k=3, width=64, samples=100, max_steps=20, eval_every=10,
                      test_size=100, seed=10**6)]
    if executor.name == "local":
        executor.train(tiny, progress=False)
        return
    client = executor.client  # one task on each worker, in its task thread
    client.gather([client.submit(_train_ensemble_task, tiny, "cpu", None, 1, package_version(),
                                 workers=[address], pure=False)
                   for address in client.nthreads()])


def timed_train(executor, grids):
    """Shortest seconds of ``executor.train(grid)`` over ``grids``, and the results of each.

    Every timing trains another grid (other seeds): the same ensembles again would share the
    tasks of the previous call if the scheduler still held them, which would time nothing.
    """
    times, results = [], []
    for grid in grids:
        start = time.perf_counter()
        results.append(executor.train(grid, progress=False))
        times.append(time.perf_counter() - start)
    return min(times), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T 500 instead of 2000")
    parser.add_argument("--threads", type=int, default=1, help="torch threads here (default 1)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of R timings, each on other seeds (default 3)")
    args = parser.parse_args()

    import torch

    from parity_frontiers.verify.experiments.executors import make_executor
    from parity_frontiers.verify.experiments.grid import build_grid

    torch.set_num_threads(args.threads)
    grids = [build_grid(n=20, k=3, width=64, samples=[100, 300, 1000, 3000], seeds=8,
                        seed_start=100 * i, max_steps=500 if args.quick else 2000)
             for i in range(args.repeat)]
    configs = grids[0]
    setups = [("(a) local", "local", {}),
              ("(b) dask-local, 1 worker x 1 thread", "dask-local", {"workers": 1}),
              ("(c) dask-local, 2 workers x 1 thread", "dask-local", {"workers": 2})]
    rows, outcomes = [], {}
    for label, kind, options in setups:
        start = time.perf_counter()
        with make_executor(kind, device="cpu", **options) as executor:
            started = time.perf_counter() - start
            warm_up(executor)
            seconds, results = timed_train(executor, grids)
        outcomes[label] = [(r.success, r.steps_to_success, r.test_error)
                           for grid_results in results for r in grid_results]
        rows.append((label, started, seconds, len(configs) / seconds))

    base = outcomes[setups[0][0]]
    for label, got in outcomes.items():
        for (s1, t1, e1), (s2, t2, e2) in zip(got, base, strict=True):
            assert (s1, t1) == (s2, t2) and abs(e1 - e2) <= 1e-6, f"{label} differs from local"

    print(f"{len(configs)} runs: n=20, k=3, width 64, m 100..3000, T {configs[0].max_steps}; "
          f"torch threads here {args.threads}, best of {args.repeat}")
    print(f"{'executor':<40} {'start s':>8} {'train s':>8} {'runs/s':>8} {'vs (a)':>7}")
    for label, started, seconds, rate in rows:
        print(f"{label:<40} {started:>8.2f} {seconds:>8.2f} {rate:>8.2f} "
              f"{rate / rows[0][3]:>6.2f}x")
    print(f"outcomes: all three executors agree run by run ({len(base)} runs each)")


if __name__ == "__main__":  # the Dask worker processes re-import this file: guard the work
    main()
