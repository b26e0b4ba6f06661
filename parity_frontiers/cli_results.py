"""The ``results`` subcommands: tools over a results store written by train/sweep/tabular.

``results export``   stored runs (or tabular results) to CSV or Parquet
``results curves``   the learning curves of stored runs to CSV, Parquet or JSON

Registered by :func:`parity_frontiers.cli.build_parser`; each is a thin wrapper over
:mod:`parity_frontiers.verify.experiments.export`.
"""

from __future__ import annotations

from parity_frontiers.verify.experiments.export import (
    CURVE_FORMATS,
    EXPORT_FORMATS,
    EXPORT_KINDS,
    default_kind,
    export,
    export_curves,
    export_format,
    resolve_where,
    store_contents,
)
from parity_frontiers.verify.experiments.where import describe_where

from .args import add_output_flags, emit, path_arg

_WHERE_HELP = ("only runs whose configuration matches, e.g. 'lr=0.1,n=30|50' or "
               "'samples=online' (repeatable: the same field given again adds values)")


def register(sub) -> None:
    p = sub.add_parser("results", help="results-store tools (export, curves)",
                       description="Tools for a results store written by train/sweep/tabular.")
    results = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = results.add_parser("export", help="write the stored runs to CSV or Parquet",
                           description="One row per run: key, config fields, outcome, compute "
                                       "time, version and config JSON; or, with --kind tabular "
                                       "(the default for a store written only by `tabular "
                                       "run`), one row per tabular result. Parquet needs "
                                       "pandas and pyarrow.")
    _store_and_out(e, EXPORT_FORMATS, "csv or parquet")
    e.add_argument("--kind", choices=EXPORT_KINDS,
                   help="parity runs or tabular results (default: what the store holds; "
                        "parity when it holds both)")
    e.set_defaults(handler=_cmd_export)
    c = results.add_parser("curves", help="write the learning curves of stored runs",
                           description="One row per run and evaluation point (runs trained "
                                       "with a stored trace): key, config fields, step, "
                                       "test_error, test_samples, train_error. Parquet needs "
                                       "pandas and pyarrow; JSON is a list of records.")
    _store_and_out(c, CURVE_FORMATS, "csv, parquet or json")
    c.set_defaults(handler=_cmd_curves)


def _store_and_out(parser, formats, said: str) -> None:
    parser.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                        help="results store")
    parser.add_argument("--out", metavar="FILE", type=path_arg, required=True,
                        help="output file (replaced whole once the export is complete)")
    parser.add_argument("--format", choices=formats,
                        help=f"{said} (default: from the extension of --out)")
    parser.add_argument("--where", metavar="FILTER", action="append", help=_WHERE_HELP)
    add_output_flags(parser, latex=False)


def _cmd_export(args) -> str:
    fmt = export_format(args.out, args.format)
    where = resolve_where(args.where)
    contents = store_contents(args.store)
    kind = args.kind or default_kind(contents)
    count = export(args.store, args.out, fmt, where=where, kind=kind)
    out = {"store": args.store, "out": args.out, "format": fmt, "kind": kind, "runs": count}
    noun = "run(s)" if kind == "parity" else "tabular result(s)"
    text = f"exported {count} {noun} from {args.store} to {args.out} ({fmt})"
    if where:
        text += f" where {describe_where(where)}"
    if args.kind is None and kind == "parity" and contents["tabular"]:
        text += f"; it also holds {contents['tabular']} tabular result(s): --kind tabular"
    return emit(args, out, text)


def _cmd_curves(args) -> str:
    fmt = export_format(args.out, args.format, CURVE_FORMATS)
    where = resolve_where(args.where)
    runs, rows = export_curves(args.store, args.out, fmt, where=where)
    out = {"store": args.store, "out": args.out, "format": fmt, "runs": runs, "rows": rows}
    text = f"wrote {rows} point(s) of {runs} run(s) from {args.store} to {args.out} ({fmt})"
    if where:
        text += f" where {describe_where(where)}"
    if not runs:
        text += (" (no stored run with a learning curve passes the filter)" if where
                 else " (no stored run has a learning curve)")
    return emit(args, out, text)
