"""Runs of a results store as files and data frames: CSV or Parquet export, pandas
DataFrames of runs and of learning curves, and the write-then-rename that every output file of
the toolkit goes through.

Runs (:func:`export`, :func:`load_dataframe`)
    One row per run, the columns of the store's ``runs`` table
    (:data:`~parity_frontiers.verify.experiments.store.COLUMNS`). ``wall_seconds`` is the time
    from the run's ensemble's start to the run's end -- shared compute, so these do not add up
    over runs -- and ``compute_seconds`` the run's share of that compute (empty when not
    measured). The DataFrame adds a boolean ``online`` column (``samples`` is missing exactly
    for online runs).
Tabular results (``kind="tabular"``)
    A store written by ``tabular run`` holds its results in its own ``tabular_runs`` table, with
    its own columns (:data:`~parity_frontiers.verify.experiments.tabular.results.COLUMNS`:
    dataset, fraction, trial, model...); :func:`export` writes one kind per file, by default
    the kind the store holds (parity runs when it holds both: :func:`store_contents`).
Learning curves (:func:`load_curves`, :func:`export_curves`)
    One row per run and evaluation point of each run with a stored trace: the run's ``key`` and
    configuration fields, then ``step``, ``test_error``, ``test_samples`` and ``train_error``
    (missing where not measured). CSV, Parquet or JSON records.

Every reader takes ``where``: a run filter over configuration fields (``"lr=0.1,n=30|50"``
strings, or a :func:`~parity_frontiers.verify.experiments.where.parse_where` mapping).
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from parity_frontiers.verify.experiments.store import (
    COLUMNS,
    CONFIG_COLUMNS,
    OUTCOME_COLUMNS,
    ResultsStore,
)
from parity_frontiers.verify.experiments.tabular.results import COLUMNS as TABULAR_COLUMNS
from parity_frontiers.verify.experiments.tabular.results import TabularStore
from parity_frontiers.verify.experiments.where import WHERE_FIELDS, parse_where

__all__ = ["EXPORT_FORMATS", "CURVE_FORMATS", "EXPORT_KINDS", "CURVE_COLUMNS", "export",
           "export_format", "export_curves", "load_dataframe", "load_curves", "store_contents",
           "default_kind",
           "resolve_where", "write_replacing"]

EXPORT_FORMATS = ("csv", "parquet")
CURVE_FORMATS = ("csv", "parquet", "json")
#: What :func:`export` writes: the parity runs of ``runs``, or the ``tabular_runs`` results.
EXPORT_KINDS = ("parity", "tabular")
_TRACE_FIELDS = ("step", "test_error", "test_samples", "train_error")
#: Columns of :func:`load_curves` and :func:`export_curves`.
CURVE_COLUMNS = ("key", *CONFIG_COLUMNS, *_TRACE_FIELDS)
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}
#: Integer columns with missing values (online samples, dense s, failed runs' steps): pandas'
#: nullable Int64 instead of floats.
_NULLABLE = tuple(name for name, sql in {**CONFIG_COLUMNS, **OUTCOME_COLUMNS}.items()
                  if sql.startswith("INTEGER") and "NOT NULL" not in sql)


def _pandas(purpose: str):
    try:
        import pandas
    except ImportError:
        raise ValueError(f"{purpose} needs pandas: pip install 'parity-frontiers[results]' "
                         "(or pip install pandas pyarrow)") from None
    return pandas


def _parquet(purpose: str):
    pandas = _pandas(purpose)
    try:
        import pyarrow  # noqa: F401 - pandas' Parquet engine
    except ImportError:
        raise ValueError(f"{purpose} needs pyarrow: pip install pyarrow") from None
    return pandas


def resolve_where(where) -> dict[str, frozenset]:
    """A run filter as ``{field: allowed values}``: ``None``, ``--where`` text(s) (parsed by
    :func:`~parity_frontiers.verify.experiments.where.parse_where`), or such a mapping."""
    if where is None:
        return {}
    if isinstance(where, Mapping):
        unknown = sorted(set(where) - set(WHERE_FIELDS))
        if unknown:
            raise ValueError(f"--where: unknown field(s) {', '.join(map(repr, unknown))}; the "
                             f"fields are {', '.join(WHERE_FIELDS)}")
        return {name: frozenset(values if isinstance(values, (list, tuple, set, frozenset))
                                else [values]) for name, values in where.items()}
    return parse_where(where)


def _run_frame(pandas, rows: list[dict], online: bool = True):
    frame = pandas.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({**{name: "Int64" for name in _NULLABLE}, "success": "bool"})
    if online:
        frame.insert(frame.columns.get_loc("samples") + 1, "online", frame["samples"].isna())
    return frame


def load_dataframe(path, where=None):
    """The runs of the store at ``path`` (filtered by ``where``) as a pandas DataFrame, one row
    per run: the store's columns plus a boolean ``online`` after ``samples`` (module
    docstring); integer columns with missing values use pandas' nullable ``Int64``. pandas is
    imported only here."""
    pandas = _pandas("load_dataframe")
    where = resolve_where(where)
    with ResultsStore(path, readonly=True) as store:
        return _run_frame(pandas, store.rows(**where))


def export_format(out, format: str | None = None, formats=EXPORT_FORMATS) -> str:
    """The output format: ``format`` checked against ``formats``, or inferred from the extension
    of ``out`` (``.csv`` -> csv; ``.parquet``, ``.pq`` -> parquet; ``.json`` -> json)."""
    if format is None:
        name = Path(os.fspath(out)).name
        format = _SUFFIXES.get(Path(name).suffix.lower())
        if format not in formats:
            names = " or ".join("." + f for f in formats)
            raise ValueError(f"cannot infer the export format from {name!r}: use a {names} "
                             "name, or give the format")
    if format not in formats:
        raise ValueError(f"format must be one of {formats}, got {format!r}")
    return format


def store_contents(path) -> dict[str, int]:
    """``{"parity": runs, "tabular": tabular results}`` held by the store at ``path``."""
    with ResultsStore(path, readonly=True) as store:
        parity = store.count()
    with TabularStore(path, readonly=True) as tabular:
        return {"parity": parity, "tabular": tabular.count()}


def default_kind(contents: Mapping[str, int]) -> str:
    """The kind :func:`export` writes by default, given :func:`store_contents`: tabular for a
    store holding only tabular results, else parity."""
    return "tabular" if contents["tabular"] and not contents["parity"] else "parity"


def _kind(path, kind: str | None) -> str:
    if kind is None:
        return default_kind(store_contents(path))
    if kind not in EXPORT_KINDS:
        raise ValueError(f"--kind must be one of {EXPORT_KINDS}, got {kind!r}")
    return kind


def _check_paths(path, out) -> tuple[Path, Path]:
    for name, value in (("store", path), ("output", out)):
        if isinstance(value, str) and not value:
            raise ValueError(f"the {name} path is empty")
    path, out = Path(os.fspath(path)), Path(os.fspath(out))
    if out.exists() and out.resolve() == path.resolve():
        raise ValueError(f"refusing to overwrite the store {path} with its export")
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory")
    return path, out


def _write_output(out: Path, write) -> None:
    try:
        if out.exists() and not out.is_file():  # /dev/stdout, a FIFO: cannot be replaced
            write(out)
        else:
            write_replacing(out, write)
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from None


def export(path, out, format: str | None = None, *, where=None, kind: str | None = None) -> int:
    """Write the runs of the store at ``path`` to ``out`` as CSV or Parquet.

    Parameters
    ----------
    path : str or os.PathLike
        The results store (must exist and be valid).
    out : str or os.PathLike
        Output file, replaced whole: the export is written to a temporary file beside it and
        renamed into place (``os.replace``), so a failure leaves an existing ``out`` as it was.
        (A special file such as ``/dev/stdout`` is written directly.)
    format : {"csv", "parquet"}, optional
        Inferred from the extension of ``out`` (``.csv``; ``.parquet`` / ``.pq``) by default.
        CSV uses the stdlib (always available; online ``samples`` and missing values are empty
        cells, ``success`` is True/False); Parquet needs pandas and pyarrow.
    where : str, list of str or mapping, optional
        Only the parity runs passing this filter (module docstring).
    kind : {"parity", "tabular"}, optional
        Which results (module docstring); by default the kind the store holds.

    Returns
    -------
    int
        Number of runs written.
    """
    path, out = _check_paths(path, out)
    format = export_format(out, format)
    where = resolve_where(where)
    pandas = _parquet("Parquet export") if format == "parquet" else None
    kind = _kind(path, kind)
    if kind == "tabular":
        if where:
            raise ValueError("--where selects parity runs by their configuration; tabular "
                             "results have none (drop --where, or export --kind parity)")
        with TabularStore(path, readonly=True) as tabular:
            rows, columns = tabular.rows(), list(TABULAR_COLUMNS)
    else:
        with ResultsStore(path, readonly=True) as store:
            rows, columns = store.rows(**where), list(COLUMNS)

    def write(target) -> None:
        if format == "csv":
            with open(target, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        elif kind == "tabular":
            pandas.DataFrame(rows, columns=columns).to_parquet(target, index=False)
        else:
            _run_frame(pandas, rows, online=False).to_parquet(target, index=False)

    _write_output(out, write)
    return len(rows)


# --- learning curves ------------------------------------------------------------------------

def _curve_columns(path, where) -> tuple[int, dict[str, list]]:
    """(runs with a trace, ``{column: values}`` of :data:`CURVE_COLUMNS`), in run order."""
    with ResultsStore(path, readonly=True) as store:
        rows = store.rows(**resolve_where(where))
        traces = store.traces(r["key"] for r in rows)
    columns: dict[str, list] = {name: [] for name in CURVE_COLUMNS}
    arrays: dict[str, list] = {name: [] for name in _TRACE_FIELDS}
    runs = 0
    for row in rows:
        trace = traces.get(row["key"])
        if trace is None:
            continue
        runs += 1
        for name in ("key", *CONFIG_COLUMNS):
            columns[name].extend([row[name]] * len(trace))
        for name, values in zip(_TRACE_FIELDS, (trace.steps, trace.test_error,
                                                trace.test_samples, trace.train_error),
                                strict=True):
            arrays[name].append(values)
    for name, parts in arrays.items():
        dtype = np.int64 if name in ("step", "test_samples") else np.float64
        columns[name] = np.concatenate(parts) if parts else np.empty(0, dtype)
    return runs, columns


def _curve_frame(pandas, columns: dict):
    frame = pandas.DataFrame({name: columns[name] for name in CURVE_COLUMNS})
    return frame.astype({name: "Int64" for name in _NULLABLE if name in CONFIG_COLUMNS})


def load_curves(path, where=None):
    """The learning curves of the store at ``path`` as a pandas DataFrame: one row per run
    (with a stored trace, passing ``where``) and evaluation point, the columns of
    :data:`CURVE_COLUMNS` (module docstring); ``train_error`` is NaN where not measured."""
    pandas = _pandas("load_curves")
    return _curve_frame(pandas, _curve_columns(path, where)[1])


def _records(columns: dict):
    """Rows of the curves as plain Python values, NaN as None (CSV empty cells, JSON null)."""
    lists = []
    for name in CURVE_COLUMNS:
        values = columns[name]
        if isinstance(values, np.ndarray):
            values = values.tolist()
            if values and isinstance(values[0], float):
                values = [None if math.isnan(v) else v for v in values]
        lists.append(values)
    return zip(*lists, strict=True)


def export_curves(path, out, format: str | None = None, *, where=None) -> tuple[int, int]:
    """Write the learning curves of the store at ``path`` to ``out`` (rows as in
    :func:`load_curves`): CSV (stdlib: missing values are empty cells), Parquet (pandas and
    pyarrow) or JSON (a list of records, missing values null). The format is inferred from the
    extension of ``out`` (``.csv``, ``.parquet``/``.pq``, ``.json``) unless given; ``out`` is
    replaced whole once complete, as by :func:`export`. Returns (runs, rows) written."""
    path, out = _check_paths(path, out)
    format = export_format(out, format, CURVE_FORMATS)
    pandas = _parquet("Parquet export") if format == "parquet" else None
    runs, columns = _curve_columns(path, where)

    def write(target) -> None:
        if format == "parquet":
            _curve_frame(pandas, columns).to_parquet(target, index=False)
            return
        with open(target, "w", newline="", encoding="utf-8") as handle:
            if format == "csv":
                writer = csv.writer(handle)
                writer.writerow(CURVE_COLUMNS)
                writer.writerows(_records(columns))  # the csv module writes None as ''
            else:
                # dumps, not dump: one call of the C encoder (dump streams it in Python)
                handle.write(json.dumps([dict(zip(CURVE_COLUMNS, r, strict=True))
                                         for r in _records(columns)], allow_nan=False) + "\n")

    _write_output(out, write)
    return runs, len(columns["step"])


def write_replacing(out, write) -> None:
    """``write(tmp)`` to a temporary file beside ``out`` (beside its target if ``out`` is a
    symlink), then rename it over ``out``; on any error the temporary file is removed. The
    file gets the mode of the one it replaces, or what a plain ``open`` would give. Exports,
    reports and figures all write through this, so none is ever left half-written."""
    out = Path(out)
    target = Path(os.path.realpath(out))
    if out.exists():
        mode = target.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, mode)  # mkstemp makes it 0600; keep the mode a plain open would give
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
