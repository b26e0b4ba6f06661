"""The ``results`` subcommands: tools over a results store written by train/sweep.

``results export``   every stored run to CSV or Parquet

Registered by :func:`parity_frontiers.cli.build_parser`; each is a thin wrapper over
:mod:`parity_frontiers.verify.experiments.export`.
"""

from __future__ import annotations

from parity_frontiers.verify.experiments.export import EXPORT_FORMATS, export, export_format

from .args import add_output_flags, emit, path_arg


def register(sub) -> None:
    p = sub.add_parser("results", help="results-store tools (export)",
                       description="Tools for a results store written by train/sweep.")
    results = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = results.add_parser("export", help="write every stored run to CSV or Parquet",
                           description="One row per run: key, config fields, outcome, version "
                                       "and config JSON. Parquet needs pandas and pyarrow.")
    e.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store")
    e.add_argument("--out", metavar="FILE", type=path_arg, required=True,
                   help="output file (replaced whole once the export is complete)")
    e.add_argument("--format", choices=EXPORT_FORMATS,
                   help="csv or parquet (default: from the extension of --out)")
    add_output_flags(e, latex=False)
    e.set_defaults(handler=_cmd_export)


def _cmd_export(args) -> str:
    fmt = export_format(args.out, args.format)
    count = export(args.store, args.out, fmt)
    out = {"store": args.store, "out": args.out, "format": fmt, "runs": count}
    return emit(args, out, f"exported {count} run(s) from {args.store} to {args.out} ({fmt})")
