"""Subcommands of the verify/ layer (registered by :func:`parity_frontiers.cli.build_parser`).

``train``            one config, several seeds: per-seed outcomes and the success rate
``sweep``            a grid (options, a TOML file or a packaged example) trained into a
                     resumable results store

Each is a thin wrapper over :mod:`verify.experiments.grid`, :mod:`verify.experiments.sweep`
and :mod:`verify.experiments.store`; torch is imported only when something is trained.
``sweep`` trains where ``--executor`` says (in this process, or on a Dask cluster:
:mod:`parity_frontiers.executor_args`); this process alone writes the store.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from pathlib import Path

from parity_frontiers.verify.analysis.summaries import summarize
from parity_frontiers.verify.config import ACTIVATIONS, INITS, LOSSES, RunConfig
from parity_frontiers.verify.experiments.executors import make_executor
from parity_frontiers.verify.experiments.grid import (
    EXAMPLE_PREFIX,
    TRAIN_KEYS,
    build_grid,
    example_names,
    grid_from_toml,
)
from parity_frontiers.verify.experiments.local import train_runs
from parity_frontiers.verify.experiments.store import ResultsStore
from parity_frontiers.verify.experiments.sweep import run_sweep
from parity_frontiers.verify.training.device import DEVICES, set_torch_threads
from parity_frontiers.verify.training.registry import DEFAULT_ACTIVATION, get_init

from .args import (
    NO_PROGRESS_HELP,
    PROG,
    add_output_flags,
    emit,
    memory_gib_arg,
    path_arg,
    positive_int_arg,
    real_arg,
    size_arg,
)
from .executor_args import add_executor_options, executor_from_args
from .output import dumps_json, format_number, format_table

# argparse dest -> RunConfig field, for the training settings shared by train and sweep.
TRAIN_OPTIONS = TRAIN_KEYS
_GRID_OPTIONS = ("n", "k", "width", "samples", "init", "s", "activation", "seeds",
                 "seed_start")

#: Largest ``--threads``: torch takes a C int, and more threads than this helps no machine.
MAX_THREADS = 1024


def samples_arg(text: str):
    """A training-set size (1e4 allowed), or "online" (None)."""
    if text.lower() == "online":
        return None
    try:
        return size_arg(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be an integer or 'online', got {text!r}") from None


def threads_arg(text: str) -> int:
    """A thread count, 1 .. :data:`MAX_THREADS`."""
    value = positive_int_arg(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_THREADS}, got {text!r}")
    return value


# path_arg: one line at parse time for any path that cannot name a file (args.path_problem)


def add_training_options(p, axes: bool = False) -> None:
    """The training settings (RunConfig's fields); ``axes``: each takes one or more values."""
    title = "training settings (defaults: the paper's, docs/theory.md §5, but T = 20000)"
    if axes:
        title = title[:-1] + "; several values make an axis of the grid)"
    g = p.add_argument_group(title)
    more = {"nargs": "+"} if axes else {}
    g.add_argument("--depth", type=size_arg, **more,
                   help="hidden layers (default 1: a 2-layer MLP)")
    g.add_argument("--max-steps", type=size_arg, **more, help="step budget T (default 20000)")
    add_sgd_options(g, axes)


def add_sgd_options(g, axes: bool = False) -> None:
    """The SGD and evaluation settings every training command shares (RunConfig's fields);
    ``axes``: each takes one or more values."""
    more = {"nargs": "+"} if axes else {}
    g.add_argument("--eval-every", type=size_arg, **more,
                   help="evaluation period in steps (default 100)")
    g.add_argument("--batch-size", type=size_arg, **more, help="minibatch size (default 32)")
    g.add_argument("--lr", type=real_arg, **more, help="SGD learning rate (default 0.1)")
    g.add_argument("--weight-decay", type=real_arg, **more, help="weight decay (default 0.01)")
    g.add_argument("--loss", choices=LOSSES, **more, help="loss on +-1 labels (default hinge)")
    g.add_argument("--test-size", type=size_arg, **more,
                   help="held-out test samples (default 10000)")
    g.add_argument("--success-error", type=real_arg, **more,
                   help="success = test error <= this (default 0.1)")


def add_run_options(p) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto (CUDA if available), cpu or cuda (default auto)")
    g.add_argument("--max-ensemble", type=positive_int_arg,
                   help="train at most this many runs together (smaller ensembles store "
                        "results sooner)")
    g.add_argument("--memory-cap", type=memory_gib_arg, metavar="GIB",
                   help="memory cap for one ensemble, in GiB (e.g. 0.5; default 4 on the CPU, "
                        "80%% of the GPU's memory on CUDA)")
    g.add_argument("--threads", type=threads_arg,
                   help=f"CPU threads for torch, at most {MAX_THREADS} (default: torch's "
                        "choice; 1 helps on a machine whose other cores are busy)")
    g.add_argument("--no-progress", action="store_true",
                   help=NO_PROGRESS_HELP)


def set_threads(args) -> None:
    set_torch_threads(args.threads)


def register(sub) -> None:
    """Add this layer's subcommands to the top-level subparsers sub."""
    p = sub.add_parser("train", help="train one MLP config on sparse parity over several seeds",
                       description="Trains an ensemble of 2-layer (or deeper) MLPs (ReLU by "
                                   "default) on (n, k)-sparse parity, one per seed, and "
                                   "reports each "
                                   "seed's outcome and the success rate with its Wilson 95% "
                                   "interval (docs/theory.md §5).")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--width", type=size_arg, required=True, help="hidden width r")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--samples", type=samples_arg,
                      help="training-set size m (default: online, fresh samples every step)")
    data.add_argument("--online", action="store_true", help="online training (the default)")
    p.add_argument("--init", choices=INITS, default="dense", help="first-layer init "
                   "(default dense; sparse: U(+-1/sqrt(s)) values, sparse-gaussian: N(0, 1/s))")
    p.add_argument("--s", type=size_arg, help="support size of a sparse init (with --init "
                   "sparse or sparse-gaussian)")
    p.add_argument("--activation", choices=ACTIVATIONS, default=DEFAULT_ACTIVATION,
                   help=f"hidden-layer nonlinearity (default {DEFAULT_ACTIVATION})")
    p.add_argument("--seeds", type=positive_int_arg, default=1,
                   help="number of seeds N: seeds seed-start .. seed-start + N - 1 (default 1)")
    p.add_argument("--seed-start", type=size_arg, default=0, help="first seed (default 0)")
    add_training_options(p)
    add_run_options(p)
    p.add_argument("--store", metavar="PATH", type=path_arg,
                   help="also save the runs to this results store (runs already there are "
                        "read back, not retrained)")
    add_output_flags(p, latex=False)
    p.set_defaults(handler=_cmd_train)

    examples = ", ".join(EXAMPLE_PREFIX + name for name in example_names())
    p = sub.add_parser("sweep", help="train a grid of configs into a resumable results store",
                       description="Trains every point of the grid (the product of the value "
                                   "lists: every grid option and training setting takes one "
                                   "or more values; s applies to sparse init only) for each "
                                   "seed, storing each run as it finishes. Re-running the "
                                   "same command skips the stored runs, so an interrupted "
                                   "sweep resumes where it stopped.")
    p.add_argument("--config", metavar="FILE.toml",
                   help="read the grid and training settings from a TOML file (schema: the "
                        "docstring of verify/experiments/grid.py) instead of the options "
                        f"below; or a packaged example by name: {examples}")
    p.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store (SQLite)")
    g = p.add_argument_group("grid (each takes one or more values)")
    g.add_argument("--n", type=size_arg, nargs="+", help="input dimensions")
    g.add_argument("--k", type=size_arg, nargs="+", help="parity degrees")
    g.add_argument("--width", type=size_arg, nargs="+", help="hidden widths")
    g.add_argument("--samples", type=samples_arg, nargs="+",
                   help="training-set sizes, 'online' for fresh data (default online)")
    g.add_argument("--init", choices=INITS, nargs="+", help="inits (default dense)")
    g.add_argument("--s", type=size_arg, nargs="+", help="sparse-init support sizes")
    g.add_argument("--activation", choices=ACTIVATIONS, nargs="+",
                   help=f"hidden-layer nonlinearities (default {DEFAULT_ACTIVATION})")
    g.add_argument("--seeds", type=positive_int_arg, help="seeds per point (default 1)")
    g.add_argument("--seed-start", type=size_arg, help="first seed (default 0)")
    add_training_options(p, axes=True)
    add_run_options(p)
    p.add_argument("--checkpoint-every", type=positive_int_arg, metavar="K",
                   help="save each run's parameters at every evaluation step that is a "
                        "multiple of K, to STORE.checkpoints/<run key>/step_<step>.npz (4 "
                        "bytes per parameter and checkpoint; --executor local only)")
    add_executor_options(p)
    add_output_flags(p, latex=False)
    p.set_defaults(handler=_cmd_sweep)


# --- helpers ---------------------------------------------------------------------------------

def given_options(args, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _samples_text(samples) -> str:
    return "online" if samples is None else format_number(samples)


def _point_text(config: dict) -> str:
    init = get_init(config["init"]).label(config["s"]) + " init"
    if config["activation"] != DEFAULT_ACTIVATION:
        init += f", {config['activation']} activation"
    return (f"n={config['n']}, k={config['k']}, width {config['width']}, m "
            f"{_samples_text(config['samples'])}, {init}, depth {config['depth']}, "
            f"{config['loss']} loss, lr {config['lr']:g}, wd {config['weight_decay']:g}, batch "
            f"{config['batch_size']}, T {config['max_steps']}")


def ci_text(rate: float, low: float, high: float) -> str:
    return f"{rate:.3f} [{low:.3f}, {high:.3f}]"


# --- subcommands -----------------------------------------------------------------------------

def _cmd_train(args) -> str:
    point = dict(n=args.n, k=args.k, width=args.width, samples=None if args.online else
                 args.samples, init=args.init, s=args.s, activation=args.activation,
                 **given_options(args, TRAIN_OPTIONS))
    RunConfig(seed=args.seed_start, **point)  # one config: its own error, not a grid point's
    set_threads(args)
    configs = build_grid(**point, seeds=args.seeds, seed_start=args.seed_start, flags=True)
    execution = dict(device=args.device, progress=not args.no_progress,
                     memory_cap_bytes=args.memory_cap, max_ensemble=args.max_ensemble)
    if args.store is not None:
        with ResultsStore(args.store) as store:
            run_sweep(configs, store, **execution)
            results = store.results(keys=[c.key() for c in configs])
    else:
        results = train_runs(configs, **execution)
    results.sort(key=lambda r: r.config.seed)
    (point,) = summarize(results)
    config = {k: v for k, v in configs[0].as_dict().items() if k != "seed"}
    out = {"runs": [r.summary() for r in results], "success_rate": point["success_rate"],
           "ci_low": point["ci_low"], "ci_high": point["ci_high"], "config": config}
    rows = [[r.config.seed, format_number(r.success),
             "-" if r.steps_to_success is None else r.steps_to_success,
             f"{r.test_error:.4f}", f"{r.train_error:.4f}", r.end_reason] for r in results]
    table = format_table(["seed", "success", "steps to success", "test error", "train error",
                          "end reason"], rows,
                         title=f"Sparse parity training: {_point_text(config)}")
    table += (f"\n\nsuccess rate {point['successes']}/{point['runs']} = "
              f"{point['success_rate']:.3f}, Wilson 95% CI [{point['ci_low']:.3f}, "
              f"{point['ci_high']:.3f}] (success: test error <= "
              f"{config['success_error']:g} within {config['max_steps']} steps)")
    if args.store is not None:
        table += f"\nstored in {args.store}"
    return emit(args, out, table)


def _cmd_sweep(args) -> str:
    set_threads(args)
    if args.config:
        clash = sorted(name for name in _GRID_OPTIONS + TRAIN_OPTIONS
                       if getattr(args, name) is not None)
        if clash:
            options = ", ".join("--" + name.replace("_", "-") for name in clash)
            raise ValueError(f"--config sets the whole grid; drop {options} (or edit the file)")
        configs = grid_from_toml(args.config)
    else:
        missing = [f"--{name}" for name in ("n", "k", "width") if getattr(args, name) is None]
        if missing:
            raise ValueError(f"give {', '.join(missing)} (or --config FILE.toml)")
        configs = build_grid(**given_options(args, _GRID_OPTIONS + TRAIN_OPTIONS), flags=True)
    # The executor first: options that do not go together, or an unreachable scheduler, fail
    # before the store is created. Inside, a started cluster is shut down on every exit.
    with _sweep_executor(args) as executor:
        executor.check_fits(configs)  # before the store exists: bad input writes nothing
        if args.checkpoint_every:
            check_checkpoint_space(configs, args.store, args.checkpoint_every)
        executor_text = executor.describe()
        with ResultsStore(args.store) as store:
            try:
                summary = run_sweep(configs, store, progress=not args.no_progress,
                                    executor=executor)
            except KeyboardInterrupt:
                try:
                    safe = f"{store.count()} run(s) are"
                except ValueError:  # the store cannot be read: no second traceback
                    safe = "the runs finished so far are"
                print(f"{PROG} sweep: {safe} safe in {args.store}; run the same command again "
                      "to resume", file=sys.stderr)
                raise
    # the per-cell aggregates are "cells", as in report.json
    out = {"store": str(args.store), "executor": executor_text,
           **({"checkpoints": checkpoint_dir(args.store)} if args.checkpoint_every else {}),
           **{("cells" if k == "points" else k): v for k, v in summary.as_dict().items()}}
    if args.json:
        return dumps_json(out)
    # the activation column only when some point is not the default ReLU, and a column for
    # each training setting that takes several values in this grid
    activations = any(p["activation"] != DEFAULT_ACTIVATION for p in summary.points)
    varied = [name for name in TRAIN_OPTIONS if len({p[name] for p in summary.points}) > 1]
    rows = [[p["n"], p["k"], p["width"], _samples_text(p["samples"]), p["init"],
             "-" if p["s"] is None else p["s"], *([p["activation"]] if activations else []),
             *(format_number(p[name]) for name in varied),
             p["runs"], p["successes"], ci_text(p["success_rate"], p["ci_low"], p["ci_high"]),
             median_text(p["median_steps_to_success"], p["max_steps"])]
            for p in summary.points]
    title = (f"Sweep into {args.store}: {summary.total} runs, {summary.skipped} already stored, "
             f"{summary.trained} trained now ({summary.wall_seconds:.1f} s); "
             f"{summary.successes} successes; executor {executor_text}"
             + (f"; checkpoints every {args.checkpoint_every} steps in "
                f"{checkpoint_dir(args.store)}" if args.checkpoint_every else ""))
    table = format_table(["n", "k", "width", "samples", "init", "s",
                          *(["activation"] if activations else []), *varied, "runs", "successes",
                          "success rate [Wilson 95%]", "median steps to success (KM)"], rows,
                         title=title)
    return table + ("\n\nmedian steps to success: Kaplan-Meier median over all runs, a run "
                    "that did not succeed counting as censored at max_steps T ('> T': fewer "
                    "than half succeeded within T steps)")


def checkpoint_dir(store) -> str:
    """Where ``sweep --checkpoint-every`` writes: next to the store, ``STORE.checkpoints``."""
    return f"{store}.checkpoints"


def checkpoint_bytes(config: RunConfig, every: int) -> int:
    """Bytes of one run's checkpoints when it trains to ``max_steps``: float32 parameters
    r (n + 1) + (depth - 1) r (r + 1) + r + 1 (layers with biases, derived here) at each
    evaluation step (the multiples of eval_every below max_steps, and max_steps) that is a
    multiple of ``every``.

    Examples
    --------
    >>> checkpoint_bytes(RunConfig(n=6, k=2, width=8, max_steps=200, eval_every=50), 100)
    520
    """
    step = math.lcm(config.eval_every, every)
    count = (config.max_steps - 1) // step + (config.max_steps % every == 0)
    r = config.width
    params = r * (config.n + 1) + (config.depth - 1) * r * (r + 1) + r + 1
    return 4 * params * count


def check_checkpoint_space(configs, store, every: int) -> int:
    """The checkpoints' worst case (every run not yet stored trains to max_steps), refused
    (ValueError) when it exceeds the free space where they go; returns it in bytes."""
    stored = set()
    if os.path.isfile(store) and os.path.getsize(store):
        with ResultsStore(store, readonly=True) as existing:
            stored = existing.completed_keys()
    total = sum(checkpoint_bytes(c, every) for c in configs if c.key() not in stored)
    folder = Path(checkpoint_dir(store)).absolute()
    while not folder.exists():  # the nearest existing folder holds them
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if total > free:
        raise ValueError(f"--checkpoint-every {every}: the checkpoints may take up to "
                         f"{total / 2**30:.3g} GiB, more than the {free / 2**30:.3g} GiB free "
                         f"under {folder}; raise K or sweep fewer runs")
    return total


def _sweep_executor(args):
    """:func:`executor_from_args`, with the parameter checkpoints of ``--checkpoint-every``
    (which the shared executor options do not have)."""
    if args.checkpoint_every is None:
        return executor_from_args(args)
    return make_executor(args.executor, device=args.device, memory_cap_bytes=args.memory_cap,
                         max_ensemble=args.max_ensemble, scheduler=args.scheduler,
                         workers=args.workers, threads_per_worker=args.threads_per_worker,
                         checkpoint_every=args.checkpoint_every,
                         checkpoint_dir=checkpoint_dir(args.store))


def median_text(median, budget) -> str:
    """A Kaplan-Meier median, or '> T' when it is not reached within the budget T."""
    return f"> {budget}" if median is None else format_number(median)
