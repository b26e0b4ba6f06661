"""Subcommands of the figures/ layer (registered by :func:`parity_frontiers.cli.build_parser`).

``plot KIND``   one figure kind (or all) from a results store
``report``      the theory-vs-experiment report of a results store (Markdown + JSON + figures)
``reproduce``   a scale's sweep (smoke, cpu, paper) and its report

Thin wrappers over :mod:`figures.report` and :mod:`figures.reproduce`, whose module level is
light (no matplotlib, torch or numba: those are imported inside the functions that draw, train
or simulate). ``plot`` and ``report`` read the runs that pass ``--where``, and analyse a store
whose runs differ in a training setting per group of equal settings
(:mod:`verify.analysis.settings_groups`).
"""

from __future__ import annotations

import shlex
import sys

from parity_frontiers.figures.report import PLOT_KINDS
from parity_frontiers.figures.reproduce import SCALES

from .args import NO_PROGRESS_HELP, PROG, positive_int_arg, size_arg
from .cli_verify import add_run_options, path_arg, set_threads
from .output import dumps_json, format_table


def _add_analysis_options(p) -> None:
    p.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store (SQLite) written by sweep or reproduce")
    p.add_argument("--out", metavar="DIR", type=path_arg, required=True,
                   help="output folder (created if missing)")
    p.add_argument("--config", metavar="FILE.toml", type=path_arg,
                   help="the sweep's grid (a TOML file, or example:NAME): report what the "
                        "store lacks, and analyse only the grid's runs")
    p.add_argument("--onestep-trials", type=positive_int_arg, default=200,
                   help="Monte Carlo trials per cell of the one-step prediction (default 200)")
    p.add_argument("--lottery-trials", type=positive_int_arg, default=2000,
                   help="Monte Carlo trials per point of the lottery figure (default 2000)")
    p.add_argument("--seed", type=size_arg, default=0,
                   help="seed of the Monte Carlo predictions (default 0)")
    add_where_option(p)
    p.add_argument("--no-progress", action="store_true",
                   help=NO_PROGRESS_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_where_option(p) -> None:
    """``--where field=value,...`` (repeatable), for every command that reads a store."""
    p.add_argument("--where", metavar="FIELD=VALUE,...", action="append",
                   help="analyse only the runs whose config matches, e.g. \"lr=0.1,depth=1\" "
                        "or \"n=30|50\" (any RunConfig field; repeatable: terms add up, a "
                        "field given twice matches either value)")


def filtered_runs(results, texts, store) -> tuple[list, str]:
    """The runs that pass ``--where`` (all without it) and the filter as one line ('' for
    none); a filter that matches no run is an error."""
    from parity_frontiers.verify.experiments.where import (
        describe_where,
        filter_results,
        parse_where,
    )

    where = parse_where(texts)
    if not where:
        return list(results), ""
    kept = filter_results(results, where)
    text = describe_where(where)
    if not kept:
        raise ValueError(f"--where {text} matches none of the {len(results)} runs of {store}")
    return kept, text


def _where_text(texts) -> str:
    from parity_frontiers.verify.experiments.where import describe_where, parse_where

    return describe_where(parse_where(texts))


def register(sub) -> None:
    """Add plot, report and reproduce to the top-level subparsers ``sub``."""
    p = sub.add_parser("plot", help="theory-vs-experiment figures from a results store",
                       description="Draws one figure kind (PNG + PDF) from the runs of a "
                                   "results store: heatmap (success over m x width with "
                                   "measured and predicted frontiers), success (vs m, Wilson "
                                   "bars), steps (Kaplan-Meier median steps vs m), sq (the "
                                   "SQ frontier with the grid's cells), lottery (P(lucky) vs "
                                   "width, exact and Monte Carlo), or all; per group of equal "
                                   "training settings when the runs' differ.")
    p.add_argument("kind", choices=(*PLOT_KINDS, "curves"),
                   help="figure kind (curves: test error against step per cell, from the "
                        "learning curves the runs stored; not part of all)")
    _add_analysis_options(p)
    p.set_defaults(handler=_cmd_plot)

    p = sub.add_parser("report", help="Markdown report: findings, frontiers, figures",
                       description="Analyses a results store (success rates, Kaplan-Meier, "
                                   "fitted frontier m*(r) and its power law, SQ / one-step / "
                                   "Thm 4-5 predictions), judges the paper's findings (six "
                                   "verdicts) and writes report.md, report.json and every "
                                   "figure to --out. Runs that differ in a training setting "
                                   "(lr, depth, activation ...) are analysed per group of "
                                   "equal settings, one section (and figure suffix) each.")
    _add_analysis_options(p)
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser("reproduce", help="train a scale's grid, then write its report",
                       description="Runs the sweep of a scale (figures/scales/SCALE.toml: "
                                   "smoke ~1 min, cpu ~1-2 h on 2 cores, paper: GPU/cluster) "
                                   "into --store, resuming what is stored, then writes the "
                                   "report to --out.")
    p.add_argument("--scale", choices=SCALES, required=True, help="grid size")
    p.add_argument("--out", metavar="DIR", type=path_arg,
                   help="report folder (default reproduce-SCALE)")
    p.add_argument("--store", metavar="PATH", type=path_arg,
                   help="results store (default OUT/runs.db)")
    p.add_argument("--seed", type=size_arg, default=0,
                   help="seed of the report's Monte Carlo predictions (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_run_options(p)
    p.set_defaults(handler=_cmd_reproduce)


def _command_line() -> str:
    return " ".join([PROG] + [shlex.quote(a) for a in sys.argv[1:]])


def _analysis(args) -> dict:
    """The groups of the runs to analyse (:func:`figures.report.analyze_groups`), with
    ``where`` (the filter applied, '') and ``missing`` (grid settings without a run)."""
    from parity_frontiers.figures.report import (
        analyze_groups,
        check_out_dir,
        load_results,
        missing_groups,
    )
    from parity_frontiers.verify.analysis.settings_groups import split_by_settings

    check_out_dir(args.out, create=False)  # before any work; created when writing
    results, where = filtered_runs(load_results(args.store), args.where, args.store)
    expected = None
    if args.config:
        from parity_frontiers.verify.experiments.grid import grid_from_toml

        expected = grid_from_toml(args.config)
        keys = {c.key() for c in expected}
        results = [r for r in results if r.config.key() in keys]
        if not results:
            raise ValueError(f"the store {args.store} holds none of the {len(expected)} runs "
                             f"of {args.config}" + (f" that pass --where {where}" if where
                                                    else ""))
    groups = split_by_settings(results)
    if getattr(args, "kind", "all") in ("lottery", "all"):  # its Monte Carlo, before analysis
        from .work_estimates import check_lottery_figure

        for group in groups:
            check_lottery_figure(group.items, args.lottery_trials)
    from .work_estimates import check_onestep_predictions

    for group in groups:  # the analysis runs the one-step predictions' Monte Carlo
        check_onestep_predictions(group.items, args.onestep_trials)
    analysed = analyze_groups(groups, expected=expected, onestep_trials=args.onestep_trials,
                              seed=args.seed, progress=not args.no_progress)
    return {"groups": analysed, "where": where,
            "missing": missing_groups(analysed, expected) if expected is not None else []}


def _missing_text(analysis: dict) -> str:
    comp = analysis["completeness"]
    if comp["missing_runs"]:
        return (f"\nnote: the store lacks {comp['missing_runs']} of {comp['expected_runs']} "
                f"runs of the grid ({len(comp['missing_cells'])} cells without any run, "
                f"{len(comp['partial_cells'])} partial); the figures show the runs present")
    if comp["partial_cells"]:
        return (f"\nnote: {len(comp['partial_cells'])} cell(s) have fewer runs than the "
                "fullest one")
    return ""


def _notes(result: dict) -> str:
    """What the output must say besides the tables: the filter, the settings groups, and
    what the store lacks."""
    from parity_frontiers.verify.analysis.settings_groups import settings_text

    lines = []
    if result["where"]:
        lines.append(f"runs filtered by --where {result['where']}")
    groups = result["groups"]
    if len(groups) > 1:
        lines.append(f"{len(groups)} groups of training settings, analysed separately: "
                     + "; ".join(f"{g['label']} ({g['analysis']['runs']} runs)"
                                 for g in groups))
    if result["missing"]:
        lines.append(f"note: the store holds no run of {len(result['missing'])} settings "
                     "group(s) of the grid: " + "; ".join(map(settings_text, result["missing"])))
    text = "".join("\n" + line for line in lines)
    for g in groups:
        missing = _missing_text(g["analysis"])
        if missing and len(groups) > 1:
            missing = missing.replace("note: ", f"note ({g['label']}): ", 1)
        text += missing
    return text


def _group_json(result: dict, keys: tuple[str, ...]) -> dict:
    """One group: the group's keys at the top (as before groups existed); several: a list
    ``groups`` of them, each with its settings. ``where`` and ``missing_groups`` when set."""
    groups = result["groups"]
    if len(groups) == 1:
        out = {k: groups[0]["analysis"][k] for k in keys}
    else:
        out = {"groups": [{"settings": g["settings"], "varying": g["varying"],
                           "label": g["label"], **{k: g["analysis"][k] for k in keys}}
                          for g in groups]}
    if result["where"]:
        out["where"] = result["where"]
    if result["missing"]:
        out["missing_groups"] = result["missing"]
    return out


def _cmd_plot(args) -> str:
    from parity_frontiers.figures.report import check_out_dir, make_figures

    if args.kind == "curves":
        from parity_frontiers.figures.curves import plot_curves

        check_out_dir(args.out, create=False)
        paths = plot_curves(args.store, args.out, where=args.where, fmt=None)
        where = _where_text(args.where)
        if args.json:
            return dumps_json({"figures": paths, **({"where": where} if where else {})})
        return "wrote:\n" + "\n".join(f"  {p}" for p in paths) + (
            f"\nruns filtered by --where {where}" if where else "")
    result = _analysis(args)
    paths = []
    for group in result["groups"]:
        paths += make_figures(group["analysis"], args.out, [args.kind],
                              lottery_trials=args.lottery_trials, seed=args.seed,
                              suffix=group["suffix"])
    if args.json:
        return dumps_json({"figures": [str(p) for p in paths],
                           **_group_json(result, ("completeness",))})
    return "wrote:\n" + "\n".join(f"  {p}" for p in paths) + _notes(result)


def findings_table(findings: dict | list, title: str | None = None) -> str:
    """The paper's findings and their verdicts as a table (report and demo)."""
    rows = [[f["id"], f["claim"], f["verdict"]] for f in findings]
    return format_table(["#", "finding (docs/theory.md §5)", "verdict"], rows, title=title)


def _cmd_report(args) -> str:
    from parity_frontiers.figures.report import write_group_report

    result = _analysis(args)
    written = write_group_report(result["groups"], args.out, command=_command_line(),
                                 store=args.store, where=result["where"],
                                 missing=result["missing"],
                                 lottery_trials=args.lottery_trials, seed=args.seed)
    if args.json:
        return dumps_json({"report": str(written["report"]), "json": str(written["json"]),
                           "figures": [str(p) for p in written["figures"]],
                           **_group_json(result, ("findings", "completeness"))})
    groups = result["groups"]
    tables = "\n\n".join(findings_table(g["analysis"]["findings"],
                                        title=f"Settings: {g['label']}" if len(groups) > 1
                                        else None) for g in groups)
    return (tables + f"\n\nreport: {written['report']}\n"
            f"data:   {written['json']}\nfigures: {len(written['figures'])} files in "
            f"{args.out}" + _notes(result))


def _check_reproduce(args) -> None:
    """Device, output folder, an existing store, and the plan (memory and time of every
    ensemble), checked without creating anything."""
    from pathlib import Path

    from parity_frontiers.figures.report import check_out_dir
    from parity_frontiers.figures.reproduce import scale_grid
    from parity_frontiers.verify.experiments.local import plan_ensembles
    from parity_frontiers.verify.experiments.store import ResultsStore
    from parity_frontiers.verify.training.device import check_device

    check_device(args.device)
    out = args.out or f"reproduce-{args.scale}"
    check_out_dir(out, create=False)
    store = Path(args.store or Path(out) / "runs.db")
    if store.exists() and not (store.is_file() and store.stat().st_size == 0):
        ResultsStore(store, readonly=True).close()  # refused unless a usable store
    plan_ensembles(scale_grid(args.scale), args.device, args.memory_cap, args.max_ensemble)


def _cmd_reproduce(args) -> str:

    from parity_frontiers.figures.reproduce import reproduce

    set_threads(args)
    from parity_frontiers.figures.report import check_out_dir

    _check_reproduce(args)  # everything that can be refused, before any folder or store
    out = check_out_dir(args.out or f"reproduce-{args.scale}")
    store = args.store or str(out / "runs.db")
    try:
        result = reproduce(args.scale, store, out, device=args.device,
                           progress=not args.no_progress, memory_cap_bytes=args.memory_cap,
                           max_ensemble=args.max_ensemble, seed=args.seed,
                           command=_command_line())
    except KeyboardInterrupt:
        print(f"{PROG} reproduce: the runs finished so far are safe in {store}; run the same "
              "command again to resume", file=sys.stderr)
        raise
    if args.json:
        return dumps_json({k: (str(v) if k in ("report", "json") else v)
                           for k, v in result.items() if k != "figures"}
                          | {"figures": [str(p) for p in result["figures"]]})
    sweep = result["sweep"]
    return (f"sweep: {sweep['total']} runs ({sweep['skipped']} already stored, "
            f"{sweep['trained']} trained, {sweep['wall_seconds']:.0f} s) into {store}\n"
            f"report: {result['report']}\n\n" + findings_table(result["findings"]))
