"""Subcommand ``tabular``: the tabular proxy, sparse-init MLPs against random forests.

``tabular datasets``  the dataset names (offline ones, and OpenML ones with their cache state)
``tabular run``       the benchmark into a results store (resumable), then its summary table
``tabular summary``   the summary table of a store
``tabular plot``      test error vs training fraction per dataset, PNG + PDF

Thin wrappers over :mod:`parity_frontiers.verify.experiments.tabular`; scikit-learn (the
``[tabular]`` extra) and torch are imported only inside the handlers, and only ``run`` needs
scikit-learn (without it: one line naming the extra, exit status 2).
"""

from __future__ import annotations

import argparse

from parity_frontiers.verify.training.device import DEVICES

from .args import NO_PROGRESS_HELP, add_output_flags, positive_int_arg, real_arg, size_arg
from .cli_verify import path_arg, set_threads
from .output import dumps_json, format_table

_INSTALL_HINT = "scikit-learn is not installed: pip install parity-frontiers[tabular]"
DEFAULT_DATASETS = ("breast_cancer", "wine", "sparse_parity", "axis_rule")
DEFAULT_FRACTIONS = (0.05, 0.2, 1.0)


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ValueError(_INSTALL_HINT) from None


def fraction_arg(text: str) -> float:
    """A training fraction in (0, 1]; accepts 1e-4."""
    value = real_arg(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def register(sub) -> None:
    """Add the ``tabular`` subcommand to the top-level subparsers ``sub``."""
    p = sub.add_parser("tabular", help="tabular proxy: sparse-init MLPs vs random forests",
                       description="The paper's tabular proxy (Fig. 3): test error of wide "
                                   "dense / sparse-init MLPs and a tuned random forest against "
                                   "the training fraction. Needs scikit-learn "
                                   "(pip install parity-frontiers[tabular]).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    d = actions.add_parser("datasets", help="list the dataset names",
                           description="Offline datasets (scikit-learn's bundled ones, "
                                       "synthetic sparse-rule tasks) and the 16 OpenML tasks "
                                       "of Grinsztajn et al. 2022 with their cache state. "
                                       "Aliases: offline, grinsztajn.")
    d.add_argument("--cache-dir", type=path_arg,
                   help="OpenML cache directory (default $PARITY_FRONTIERS_DATA or "
                        "~/.cache/parity-frontiers/openml)")
    add_output_flags(d, latex=False)
    d.set_defaults(handler=_cmd_datasets)

    r = actions.add_parser("run", help="run (or resume) the benchmark into a results store",
                           description="For each dataset, trial and fraction: a stratified "
                                       "test split per (dataset, trial), the fraction's nested "
                                       "stratified training subsample of the rest, every model "
                                       "fit and scored. One committed row per fit in the "
                                       "store's tabular_runs table; re-running skips stored "
                                       "rows.")
    r.add_argument("--store", type=path_arg, required=True, metavar="PATH",
                   help="results store (SQLite; created if absent)")
    r.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), metavar="NAME",
                   help="dataset names or aliases (default: " + " ".join(DEFAULT_DATASETS)
                   + "; see `tabular datasets`)")
    r.add_argument("--fractions", nargs="+", type=fraction_arg,
                   default=list(DEFAULT_FRACTIONS), metavar="F",
                   help="training fractions in (0, 1] (default 0.05 0.2 1)")
    r.add_argument("--trials", type=positive_int_arg, default=5,
                   help="trials per point, each with its own test split (default 5: a t "
                        "interval over fewer has t_0.975 >= 3.18 and rough bands)")
    r.add_argument("--models", nargs="+", default=["rf", "mlp:256", "mlp:256:s=2"],
                   metavar="SPEC", help="rf, mlp:W[xW...] (dense) or mlp:W[xW...]:s=S "
                                        "(sparse) (default: rf mlp:256 mlp:256:s=2)")
    r.add_argument("--seed", type=size_arg, default=0, help="root seed (default 0)")
    r.add_argument("--test-fraction", type=real_arg, default=0.25,
                   help="test share of each class (default 0.25)")
    r.add_argument("--max-test", type=positive_int_arg, default=5000,
                   help="at most this many test rows (default 5000)")
    r.add_argument("--min-per-class", type=positive_int_arg, default=2,
                   help="fewest training rows of any class (default 2)")
    g = r.add_argument_group("MLP training (shared by every MLP; defaults: Adam, lr 0.01, "
                             "batch 128, 200 epochs, patience 500 steps, at least 2000 steps, "
                             "no weight decay); an error with no MLP in --models")
    g.add_argument("--optimizer", choices=("adam", "sgd"), help="optimiser (default adam)")
    g.add_argument("--lr", type=real_arg, help="learning rate (default 0.01)")
    g.add_argument("--batch-size", type=positive_int_arg, help="minibatch size (default 128)")
    g.add_argument("--max-epochs", type=positive_int_arg,
                   help="most passes over the training rows (default 200)")
    g.add_argument("--patience", type=positive_int_arg,
                   help="early-stopping patience in optimiser steps (default 500)")
    g.add_argument("--min-steps", type=size_arg,
                   help="optimiser steps always taken (no early stop before; more epochs if "
                        "needed; default 2000)")
    g.add_argument("--weight-decay", type=real_arg, help="weight decay (default 0)")
    r.add_argument("--forest-trees", type=positive_int_arg, default=100,
                   help="trees per random forest (default 100)")
    r.add_argument("--cache-dir", type=path_arg, help="OpenML cache directory")
    r.add_argument("--no-download", action="store_true",
                   help="never download: an uncached OpenML dataset is an error")
    r.add_argument("--device", choices=DEVICES,
                   help="where the MLPs train (default auto: CUDA if available)")
    r.add_argument("--threads", type=positive_int_arg, help="CPU threads for torch")
    r.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)
    add_output_flags(r, latex=False)
    r.set_defaults(handler=_cmd_run)

    s = actions.add_parser("summary", help="summary table of a store's tabular results",
                           description="Mean test error per (dataset, model, fraction) with "
                                       "its 95% interval (Student's t over trials joined "
                                       "with the pooled Wilson interval). Results run with "
                                       "other settings (forest trees, MLP options, seed, "
                                       "test split) are never pooled: each setting is its "
                                       "own row, labelled by what differs.")
    s.add_argument("--store", type=path_arg, required=True, metavar="PATH",
                   help="results store (SQLite) holding the tabular runs")
    add_output_flags(s, latex=False)
    s.set_defaults(handler=_cmd_summary)

    f = actions.add_parser("plot", help="figure: test error vs training fraction per dataset",
                           description="Writes STEM.png and STEM.pdf into --out.")
    f.add_argument("--store", type=path_arg, required=True, metavar="PATH",
                   help="results store (SQLite) holding the tabular runs")
    f.add_argument("--out", type=path_arg, required=True, metavar="DIR",
                   help="folder for STEM.png and STEM.pdf (created if absent)")
    f.add_argument("--stem", default="tabular", help="file name stem (default tabular)")
    f.add_argument("--datasets", nargs="+", metavar="NAME", help="only these datasets")
    add_output_flags(f, latex=False)
    f.set_defaults(handler=_cmd_plot)


# --- handlers --------------------------------------------------------------------------------

def _summary_table(summary: list[dict], title: str) -> str:
    rows = [[r["dataset"], r["model"], f"{r['fraction']:g}", f"{r['n_train']:g}", r["trials"],
             f"{r['test_error']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"]
            for r in summary]
    return format_table(["dataset", "model", "fraction", "n train", "trials",
                         "test error [ci low, ci high] (95%)"], rows, title=title)


def _cmd_datasets(args) -> str:
    from parity_frontiers.verify.experiments.tabular.datasets import (
        DATASETS,
        default_cache_dir,
        openml_cached,
    )

    cache = args.cache_dir or str(default_cache_dir())
    items = []
    for name, (source, text) in DATASETS.items():
        available = "offline" if source != "openml" else (
            "cached" if openml_cached(name, cache) else "not cached")
        items.append({"name": name, "source": source, "available": available,
                      "description": text})
    if args.json:
        return dumps_json({"cache_dir": cache, "datasets": items})
    return format_table(["name", "source", "available", "description"],
                        [[i["name"], i["source"], i["available"], i["description"]]
                         for i in items],
                        title=f"Tabular datasets (OpenML cache: {cache}; aliases: offline, "
                              "grinsztajn)")


def _cmd_run(args) -> str:
    _require_sklearn()
    from parity_frontiers.verify.experiments.tabular.benchmark import run_benchmark

    set_threads(args)
    given = {"optimizer": args.optimizer, "learning_rate": args.lr,
             "batch_size": args.batch_size, "max_epochs": args.max_epochs,
             "patience": args.patience, "min_steps": args.min_steps,
             "weight_decay": args.weight_decay}
    settings = {name: value for name, value in given.items() if value is not None}
    flags = {"optimizer": "--optimizer", "learning_rate": "--lr", "batch_size": "--batch-size",
             "max_epochs": "--max-epochs", "patience": "--patience", "min_steps": "--min-steps",
             "weight_decay": "--weight-decay"}
    unused = [flags[name] for name in settings] + (["--device"] if args.device else [])
    if unused and not any(m.startswith("mlp") for m in args.models):
        # Silently ignoring them would let a run look like it tested something it did not.
        raise ValueError(f"{', '.join(unused)} only apply to MLPs, and --models has none")
    try:
        out = run_benchmark(args.store, args.datasets, args.fractions, trials=args.trials,
                            models=args.models, seed=args.seed,
                            test_fraction=args.test_fraction, max_test=args.max_test,
                            min_per_class=args.min_per_class, mlp_settings=settings,
                            forest_trees=args.forest_trees, cache_dir=args.cache_dir,
                            download=not args.no_download, device=args.device or "auto",
                            progress=not args.no_progress)
    except ValueError as exc:  # the library speaks of "training fraction": name the flag
        if str(exc).startswith("training fraction"):
            raise ValueError(f"--fractions: {exc}") from None
        raise
    if args.json:
        return dumps_json({"store": args.store, **out})
    return _summary_table(out["cells"], f"Tabular benchmark in {args.store}: {out['trained']} "
                                          f"fits trained, {out['skipped']} already stored")


def _cmd_summary(args) -> str:
    from parity_frontiers.verify.experiments.tabular.benchmark import summarize

    summary = summarize(args.store)
    if args.json:
        return dumps_json({"store": args.store, "cells": summary})
    if not summary:
        return f"no tabular results in {args.store}"
    return _summary_table(summary, f"Tabular results in {args.store}")


def _cmd_plot(args) -> str:
    from parity_frontiers.figures.tabular import plot_tabular

    paths = [str(p) for p in plot_tabular(args.store, args.out, stem=args.stem,
                                          datasets=args.datasets)]
    if args.json:
        return dumps_json({"figures": paths})
    return "\n".join(paths)
