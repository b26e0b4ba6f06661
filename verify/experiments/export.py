"""Runs of a results store as files and data frames: CSV or Parquet export, a pandas
DataFrame, and the write-then-rename that every output file of the toolkit goes through.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from parity_frontiers.verify.experiments.store import (
    COLUMNS,
    CONFIG_COLUMNS,
    OUTCOME_COLUMNS,
    ResultsStore,
)

__all__ = ["EXPORT_FORMATS", "export", "export_format", "load_dataframe", "write_replacing"]


EXPORT_FORMATS = ("csv", "parquet")


def _pandas(purpose: str):
    try:
        import pandas
    except ImportError:
        raise ValueError(f"{purpose} needs pandas: pip install 'parity-frontiers[results]' "
                         "(or pip install pandas pyarrow)") from None
    return pandas


def _dataframe(pandas, rows: list[dict]):
    frame = pandas.DataFrame(rows, columns=list(COLUMNS))
    # Nullable integers: online samples, dense s and failed runs' steps are missing values,
    # which would otherwise turn the whole column into floats.
    nullable = {name: "Int64" for name, sql in {**CONFIG_COLUMNS, **OUTCOME_COLUMNS}.items()
                if sql.startswith("INTEGER") and name != "success"}
    return frame.astype({**nullable, "success": "bool"})


def load_dataframe(path):
    """All runs of the store at ``path`` as a pandas DataFrame, one row per run (columns as in
    the module docstring; integer columns with missing values use pandas' nullable ``Int64``).
    pandas is imported only here."""
    pandas = _pandas("load_dataframe")
    with ResultsStore(path, readonly=True) as store:
        return _dataframe(pandas, store.rows())


def export_format(out, format: str | None = None) -> str:
    """The export format: ``format`` checked, or inferred from the extension of ``out``
    (``.csv`` -> csv; ``.parquet``, ``.pq`` -> parquet)."""
    if format is None:
        name = Path(os.fspath(out)).name
        format = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(
            Path(name).suffix.lower())
        if format is None:
            raise ValueError(f"cannot infer the export format from {name!r}: use a .csv or "
                             ".parquet name, or give the format")
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}")
    return format


def export(path, out, format: str | None = None) -> int:
    """Write every run of the store at ``path`` to ``out`` as CSV or Parquet.

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

    Returns
    -------
    int
        Number of runs written.
    """
    for name, value in (("store", path), ("output", out)):
        if isinstance(value, str) and not value:
            raise ValueError(f"the {name} path is empty")
    path, out = Path(os.fspath(path)), Path(os.fspath(out))
    format = export_format(out, format)
    if out.exists() and out.resolve() == path.resolve():
        raise ValueError(f"refusing to overwrite the store {path} with its export")
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory")
    if format == "parquet":
        pandas = _pandas("Parquet export")
        try:
            import pyarrow  # noqa: F401 - pandas' Parquet engine
        except ImportError:
            raise ValueError("Parquet export needs pyarrow: pip install pyarrow") from None
    with ResultsStore(path, readonly=True) as store:
        rows = store.rows()

    def write(target) -> None:
        if format == "csv":
            with open(target, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
                writer.writeheader()
                writer.writerows(rows)
        else:
            _dataframe(pandas, rows).to_parquet(target, index=False)

    try:
        if out.exists() and not out.is_file():  # /dev/stdout, a FIFO: cannot be replaced
            write(out)
        else:
            write_replacing(out, write)
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(rows)


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
