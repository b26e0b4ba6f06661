"""The ``frontier`` subcommand: adaptive search for m*(r)
(:mod:`parity_frontiers.verify.experiments.frontier_search`).

``parity-frontiers frontier --n 30 --k 3 --width 16 64 256 --init dense sparse --s 2
--store runs.db`` locates, per curve, the training-set size where the success probability
crosses ``--target``, training only the runs the sequential design asks for. Every run goes to
the results store as it finishes (only this process writes it), runs already stored are reused,
and the same command resumes an interrupted search. ``--executor dask ...`` trains the rounds
on a Dask cluster.
"""

from __future__ import annotations

import sys

from parity_frontiers.verify.config import INITS
from parity_frontiers.verify.experiments.frontier_search import SEARCH_STATUSES, SearchSettings

from .args import PROG, add_output_flags, add_renamed, positive_int_arg, real_arg, size_arg
from .cli_verify import (
    TRAIN_OPTIONS,
    add_run_options,
    add_training_options,
    given_options,
    path_arg,
    set_threads,
)
from .executor_args import add_executor_options, executor_from_args
from .output import dumps_json, format_number, format_table

_SETTINGS = ("target", "tol", "m_min", "m_max", "points_per_decade", "batch", "probe_batch",
             "max_runs", "max_runs_per_cell", "seed_start")


def register(sub) -> None:
    """Add the ``frontier`` subcommand to the top-level subparsers ``sub``."""
    defaults = SearchSettings()
    p = sub.add_parser(
        "frontier", help="adaptive search for the frontier m*(r): far fewer runs than a grid",
        description="For every curve (n, k, width, init, s), finds m*, the training-set size "
                    "where P(success) crosses --target, by a sequential design in log m: "
                    "bisection, then Firth logistic fits that place each new batch where it "
                    "most narrows the interval of m*, until the 95% Fieller interval of "
                    "log10 m* has half-width <= --tol. Runs already in --store are reused; "
                    "each new run is stored as it finishes, so the same command resumes.")
    g = p.add_argument_group("curves (each takes one or more values)")
    g.add_argument("--n", type=size_arg, nargs="+", required=True, help="input dimensions")
    g.add_argument("--k", type=size_arg, nargs="+", required=True, help="parity degrees")
    add_renamed(p, g, "--width", "--widths", type=size_arg, nargs="+", required=True,
                help="hidden widths r (one frontier point each)")
    g.add_argument("--init", choices=INITS, nargs="+", default=["dense"],
                   help="inits (default dense)")
    g.add_argument("--s", type=size_arg, nargs="+", help="sparse-init support sizes")
    s = p.add_argument_group("search")
    s.add_argument("--target", type=real_arg, default=defaults.target,
                   help="success probability that defines m* (default 0.5)")
    s.add_argument("--tol", type=real_arg, default=defaults.tol,
                   help="stop at this half-width of the 95%% interval of log10 m* (default "
                        f"{defaults.tol:g}: the interval spans at most a factor "
                        f"{10 ** (2 * defaults.tol):.2f} in m)")
    s.add_argument("--m-min", type=size_arg, default=defaults.m_min,
                   help=f"smallest m searched (default {defaults.m_min})")
    s.add_argument("--m-max", type=size_arg, default=defaults.m_max,
                   help=f"largest m searched (default {defaults.m_max:.0e})")
    s.add_argument("--points-per-decade", type=positive_int_arg,
                   default=defaults.points_per_decade,
                   help=f"sizes per decade of m (default {defaults.points_per_decade})")
    s.add_argument("--batch", type=positive_int_arg, default=defaults.batch,
                   help=f"seeds per model-phase batch (default {defaults.batch})")
    s.add_argument("--probe-batch", type=positive_int_arg,
                   help="seeds per bracketing probe (default max(2, batch / 2))")
    s.add_argument("--max-runs", type=positive_int_arg, default=defaults.max_runs,
                   help=f"budget of runs per curve, stored ones included (default "
                        f"{defaults.max_runs})")
    s.add_argument("--max-runs-per-cell", type=positive_int_arg,
                   help="at most this many runs at one m (default no limit)")
    s.add_argument("--seed-start", type=size_arg, default=0,
                   help="smallest seed a new run takes (default 0)")
    p.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store (SQLite): reused, and written as runs finish")
    add_renamed(p, p, "--out", "--plot", metavar="DIR", type=path_arg,
                help="also draw DIR/frontier_search.png and .pdf (runs placed, fits, m*(r))")
    add_training_options(p)
    add_run_options(p)
    add_executor_options(p)
    add_output_flags(p, latex=False)
    p.set_defaults(handler=_cmd_frontier)


def _cmd_frontier(args) -> str:
    from parity_frontiers.verify.experiments.frontier_search import curve_templates

    settings = SearchSettings(**{name: getattr(args, name) for name in _SETTINGS})
    train = given_options(args, TRAIN_OPTIONS)
    templates = curve_templates(args.n, args.k, args.width, args.init, args.s, **train)
    if args.out is not None:
        from parity_frontiers.figures.report import check_out_dir

        check_out_dir(args.out, create=False, option="--out")  # made when drawn
    set_threads(args)
    with executor_from_args(args) as executor:
        # One run at the largest size must fit in memory: refuse before the store exists.
        from dataclasses import replace

        largest = int(settings.lattice()[-1])
        executor.check_fits([replace(t, samples=largest) for t in templates])
        found = _search(args, templates, executor, settings)
    return _render(args, found, settings, executor.describe())


def _search(args, templates, executor, settings):
    from parity_frontiers.verify.experiments.frontier_search import search_frontiers
    from parity_frontiers.verify.experiments.store import ResultsStore

    with ResultsStore(args.store) as store:
        try:
            return search_frontiers(templates, executor, store=store, settings=settings,
                                    progress=not args.no_progress)
        except KeyboardInterrupt:
            print(f"{PROG} frontier: every finished run is safe in {args.store}; run the same "
                  "command again to resume", file=sys.stderr)
            raise


def _render(args, found, settings, executor_text) -> str:
    paths = []
    if args.out is not None:
        from parity_frontiers.figures.search_plots import search_figure

        paths = [str(p) for p in search_figure(found, args.out)]
    trained = sum(f.trained for f in found)
    reused = sum(f.reused for f in found)
    out = {"store": str(args.store), "executor": executor_text, "settings": settings.as_dict(),
           "trained": trained, "reused": reused, "figures": paths,
           "curves": [f.as_dict() for f in found]}
    if args.json:
        return dumps_json(out)
    rows = []
    for f in found:
        c = f.curve
        interval = "-" if f.m_star is None else (
            f"{format_number(round(f.m_star))} [{_end(f.ci_low)}, {_end(f.ci_high)}]")
        rows.append([c["n"], c["k"], c["width"], c["init"], "-" if c["s"] is None else c["s"],
                     f.status, interval,
                     "-" if f.half_width_log10 is None else f"{f.half_width_log10:.3f}",
                     f.runs, f.trained, f.reused, len(f.cells)])
    title = (f"Adaptive frontier search into {args.store}: {len(found)} curve(s), {trained} "
             f"runs trained, {reused} reused; executor {executor_text}")
    table = format_table(["n", "k", "width", "init", "s", "status",
                          "m star [ci low, ci high]", "half width log10", "runs", "trained",
                          "reused", "cells"], rows, title=title)
    lattice = len(settings.lattice())
    notes = [
        f"m star: the m where P(success) = {settings.target:g}, from a Firth logistic fit "
        f"in log10 m, Fieller 95% interval ('open' = unbounded); cells: sizes sampled; "
        f"converged = half-width <= {settings.tol:g}.",
        "statuses: " + ", ".join(SEARCH_STATUSES)
        + " (parity_frontiers.verify.experiments.frontier_search).",
        f"a full grid of the same {lattice} sizes with 16 seeds would take {16 * lattice} runs "
        "per curve.",
    ]
    if paths:
        notes.append(f"figure: {paths[0]}")
    return table + "\n\n" + "\n".join(notes)


def _end(value) -> str:
    return "open" if value is None else format_number(round(value))
