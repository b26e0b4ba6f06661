"""Throughput of the ensemble trainer against a plain per-run PyTorch loop, on the CPU.

Work (early stopping off, ``train_ensemble(..., early_stop=False)``): (n, k) = (50, 3) sparse
parity, m = 1000 samples, 2-layer ReLU MLP of width 256, SGD lr 0.1 / weight decay 0.01, batch
32 resampled with replacement each step, hinge loss, test error on 1e4 held-out samples every
100 steps; 32 runs (seeds 0..31) x 2000 steps.

Baseline, written here: the same runs one after another, each an ``nn.Sequential`` (Linear,
ReLU, Linear) trained by ``torch.optim.SGD`` with autograd, batches drawn by ``torch.randint``,
test error every 100 steps -- what one writes without an ensemble. Both start from the same
initial weights and data.

Printed: run-steps/s of both and their ratio (end to end, and for the SGD steps alone); the
ensemble's achieved GFLOP/s against this machine's float32 matmul peak measured in the same
run (a large ``torch.mm``), for the reference width and a width sweep; peak resident memory.
FLOPs are counted two ways: "nominal", 6 B (n r + r) per run-step (forward + backward of both
layers, as if the input gradient were computed), and "executed", the matmul FLOPs the trainer
really does: 4 B n r + 4 B r (no gradient is needed for the input).

Threads: torch's own choice by default (``--threads N`` sets it). On a machine whose other
cores are busy, torch's OpenMP regions wait for descheduled threads at every barrier: on the
2-core machine this was written on, with a stray process holding one core, two threads made
both loops about 50x slower; use ``--threads 1`` there.

``--traces``: end-to-end time of the reference ensemble with the learning-curve trace's train
error counted (the default) and not (``ensemble.TRACE_TRAIN_STEPS = 0``), interleaved
repetitions, best of each, and their ratio.

    python benchmarks/bench_trainer.py [--quick] [--threads N] [--profile] [--traces]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import torch
from _timing import best_of
from torch import nn

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training import trainer as vtrainer
from parity_frontiers.verify.training.data import make_run_data, unpack_pm1
from parity_frontiers.verify.training.memory import estimate_ensemble_bytes
from parity_frontiers.verify.training.model import init_params, stack_params, to_sequential
from parity_frontiers.verify.training.trainer import train_ensemble


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_gflops(size: int = 2048, repeats: int = 7) -> float:
    """Best float32 ``torch.mm`` rate of two size x size matrices, GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    return 2 * size**3 / best_of(lambda: torch.mm(a, b), repeats) / 1e9


def executed_gflop(cfg: RunConfig) -> float:
    """Matmul GFLOP of one run-step as the trainer does it (depth 1)."""
    return 4 * cfg.batch_size * (cfg.n * cfg.width + cfg.width) / 1e9


def nominal_gflop(cfg: RunConfig) -> float:
    return 6 * cfg.batch_size * (cfg.n * cfg.width + cfg.width) / 1e9


def baseline(configs: list[RunConfig], evaluate: bool = True) -> float:
    """Seconds for the plain per-run loop over ``configs`` (one after another)."""
    total = 0.0
    for cfg in configs:
        data = make_run_data(cfg)
        x_train = unpack_pm1(torch.from_numpy(data.train_packed), cfg.n).contiguous()
        y_train = torch.from_numpy(data.train_y).float()
        x_test = unpack_pm1(torch.from_numpy(data.test_packed), cfg.n).contiguous()
        y_test = torch.from_numpy(data.test_y).float()
        model: nn.Sequential = to_sequential(stack_params([init_params(cfg)]), 0)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        start = time.perf_counter()
        for step in range(1, cfg.max_steps + 1):
            idx = torch.randint(0, cfg.samples, (cfg.batch_size,), generator=gen)
            out = model(x_train[idx])[:, 0]
            loss = torch.relu(1 - y_train[idx] * out).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if evaluate and (step % cfg.eval_every == 0 or step == cfg.max_steps):
                with torch.no_grad():
                    float((model(x_test)[:, 0] * y_test <= 0).float().mean())
        total += time.perf_counter() - start
    return total


def ensemble_steps_only(configs: list[RunConfig], steps: int) -> float:
    """Seconds for ``steps`` SGD steps of the ensemble, windows of eval_every, no evaluation."""
    ens = vtrainer._Ensemble(configs, torch.device("cpu"))
    ens.train_window(min(steps, 10))  # warm-up: allocator, MKL, LUT
    start = time.perf_counter()
    done = 0
    while done < steps:
        window = min(configs[0].eval_every, steps - done)
        ens.train_window(window)
        done += window
    return time.perf_counter() - start


def traces_ab(configs: list[RunConfig], repeats: int = 5) -> None:
    """Print the end-to-end CPU seconds (``time.process_time``: with one thread, other
    processes' load hardly enters) with and without trace train-error counting."""
    from parity_frontiers.verify.training import ensemble as vensemble

    default = vensemble.TRACE_TRAIN_STEPS
    times = {"traces on": [], "traces off": []}
    try:
        for rep in range(repeats):
            order = ("traces on", "traces off") if rep % 2 == 0 else ("traces off", "traces on")
            for mode in order:
                vensemble.TRACE_TRAIN_STEPS = default if mode == "traces on" else 0
                start = time.process_time()
                train_ensemble(configs, device="cpu", early_stop=False)
                times[mode].append(time.process_time() - start)
        on, off = min(times["traces on"]), min(times["traces off"])
        print(f"end to end: traces on {on:.3f} CPU s, off {off:.3f} CPU s (best of {repeats}, "
              f"interleaved): on/off = {on / off:.3f}; all: on "
              f"{[round(t, 2) for t in times['traces on']]}, off "
              f"{[round(t, 2) for t in times['traces off']]}")
        # The trace's only cost is in the steps: one window at a time, tightly interleaved,
        # is a sharper measure than whole trainings on a shared machine.
        ens = vtrainer._Ensemble(configs, torch.device("cpu"))
        ens.train_window(20)
        windows = {default: [], 0: []}
        for rep in range(4 * repeats):
            for traced in ((default, 0) if rep % 2 else (0, default)):
                vensemble.TRACE_TRAIN_STEPS = traced
                start = time.process_time()
                ens.train_window(configs[0].eval_every)
                ens.train_trace()
                windows[traced].append(time.process_time() - start)
        on, off = min(windows[default]), min(windows[0])
        print(f"one window of {configs[0].eval_every} steps: traces on {on * 1e3:.1f} ms, off "
              f"{off * 1e3:.1f} ms (best of {4 * repeats}): on/off = {on / off:.3f}")
    finally:
        vensemble.TRACE_TRAIN_STEPS = default


def profile_ensemble(configs: list[RunConfig], steps: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    ens = vtrainer._Ensemble(configs, torch.device("cpu"))
    ens.train_window(10)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ens.train_window(steps)
        ens.test_errors(give_up_above=configs[0].success_error)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version (fewer steps)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads (default 0: torch's own choice)")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table")
    parser.add_argument("--traces", action="store_true",
                        help="only time traces on vs off (interleaved)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = 32
    steps = 300 if args.quick else 2000
    base_runs = 4 if args.quick else runs
    base = RunConfig(n=50, k=3, width=256, samples=1000, max_steps=steps, eval_every=100,
                     lr=0.1, weight_decay=0.01, batch_size=32, loss="hinge", test_size=10_000)
    configs = [dataclasses.replace(base, seed=s) for s in range(runs)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"{runs} runs x {steps} steps, n={base.n} k={base.k} width={base.width} "
          f"m={base.samples} batch={base.batch_size}")
    peak = matmul_peak_gflops()
    print(f"float32 matmul peak (2048^3 torch.mm): {peak:.1f} GFLOP/s")
    if args.traces:
        train_ensemble(configs[:2], device="cpu", early_stop=False)  # warm-up
        traces_ab(configs)
        return

    train_ensemble(configs[:2], device="cpu", early_stop=False)  # warm-up
    start = time.perf_counter()
    results = train_ensemble(configs, device="cpu", early_stop=False)
    ens_total = time.perf_counter() - start
    rss_ensemble = _maxrss_mib()
    ens_steps = ensemble_steps_only(configs, steps)

    base_total = baseline(configs[:base_runs])
    base_steps = baseline(configs[:base_runs], evaluate=False)
    rss_all = _maxrss_mib()

    work, base_work = runs * steps, base_runs * steps
    rows = [("end to end (data, steps, evaluation)", work / ens_total, base_work / base_total),
            ("SGD steps only", work / ens_steps, base_work / base_steps)]
    print()
    print(f"{'':40s} {'ensemble':>12s} {'per-run loop':>14s} {'ratio':>7s}")
    for name, ens_rate, base_rate in rows:
        print(f"{name:40s} {ens_rate:12,.0f} {base_rate:14,.0f} {ens_rate / base_rate:6.1f}x")
    print(f"evaluation and overhead: {100 * (1 - ens_steps / ens_total):.0f}% of the ensemble's "
          "end-to-end time")
    print("(run-steps/s; the per-run loop timed on "
          f"{base_runs} run(s), its rate does not depend on the number of runs)")
    print(f"successes at the end: {sum(r.success for r in results)}/{runs}")

    print()
    print(f"{'width':>6s} {'steps':>6s} {'run-steps/s':>12s} {'exec GFLOP/s':>13s} "
          f"{'% peak':>7s} {'nominal GFLOP/s':>16s} {'est. MiB':>9s}")
    sweep = [(256, steps), (1024, max(50, steps // 4)), (4096, max(20, steps // 16))]
    for width, n_steps in sweep:
        cfgs = [dataclasses.replace(c, width=width, max_steps=n_steps) for c in configs]
        seconds = ensemble_steps_only(cfgs, n_steps)
        rate = runs * n_steps / seconds
        executed = rate * executed_gflop(cfgs[0])
        print(f"{width:6d} {n_steps:6d} {rate:12,.0f} {executed:13.1f} "
              f"{100 * executed / peak:6.1f}% {rate * nominal_gflop(cfgs[0]):16.1f} "
              f"{estimate_ensemble_bytes(cfgs[0], runs) / 2**20:9.0f}")
    print()
    print(f"peak resident memory: {rss_ensemble:.0f} MiB after the ensemble run, "
          f"{_maxrss_mib():.0f} MiB at the end (whole process; {rss_all:.0f} MiB before the "
          "sweep); estimate_ensemble_bytes for the reference ensemble: "
          f"{estimate_ensemble_bytes(base, runs) / 2**20:.0f} MiB")
    if args.profile:
        print()
        profile_ensemble(configs, 100)


if __name__ == "__main__":
    main()
