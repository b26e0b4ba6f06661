"""Reading a results store: filters as SQL, rows in insertion order, traces, RunResults.

The functions take an open connection and the store's path (for messages); SQLite errors
propagate to :class:`~parity_frontiers.verify.experiments.store.ResultsStore`, which words
them. A column an older store lacks reads as its :data:`~.store_schema.LEGACY_DEFAULTS` value,
and a filter on it behaves as if the column were there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from parity_frontiers.verify.config import RunConfig, RunResult, RunTrace
from parity_frontiers.verify.experiments.store_schema import (
    COLUMNS,
    LEGACY_DEFAULTS,
    TRACE_COLUMNS,
    TRACES_TABLE,
    has_table,
    present_columns,
)
from parity_frontiers.verify.experiments.store_traces import decode_trace

__all__ = ["where_clause", "read_rows", "read_traces", "row_to_result"]

#: Keys looked up per statement (SQLite caps the bound parameters of one statement).
_BATCH = 500


def where_clause(where: dict, in_file: set[str]) -> tuple[str, list]:
    """`` WHERE ...`` (or '') and its parameters for equality filters on ``runs`` columns: a
    list, tuple or set value matches any of its elements, None matches NULL."""
    clauses, params = [], []
    for name, value in where.items():
        if name not in COLUMNS:  # column names go into the SQL text: whitelist them
            raise ValueError(f"unknown results column {name!r}; columns are {', '.join(COLUMNS)}")
        many = isinstance(value, (list, tuple, set, frozenset))
        if name not in in_file:  # an older store: every row holds the legacy default
            if LEGACY_DEFAULTS[name] not in (list(value) if many else [value]):
                clauses.append("0")
            continue
        if many:
            values = list(value)
            parts = [f"{name} IS NULL" for v in values if v is None]
            present = [v for v in values if v is not None]
            if present:
                parts.append(f"{name} IN ({', '.join('?' for _ in present)})")
                params.extend(present)
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "0")
        elif value is None:
            clauses.append(f"{name} IS NULL")
        else:
            clauses.append(f"{name} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _batches(clause: str, params: list, keys: list[str]):
    joiner = " AND " if clause else " WHERE "
    for i in range(0, len(keys), _BATCH):
        batch = keys[i:i + _BATCH]
        yield clause + joiner + f"key IN ({', '.join('?' * len(batch))})", params + batch


def read_rows(con: sqlite3.Connection, keys: Iterable[str] | None, where: dict) -> list[dict]:
    """Runs as dicts of every column of :data:`COLUMNS`, in insertion order (``success`` a
    bool), filtered by ``keys`` (looked up in batches, not by reading the whole store) and
    ``where`` (:func:`where_clause`)."""
    present = present_columns(con)
    clause, params = where_clause(where, present)
    if keys is None:
        batches = [(clause, params)]
    else:
        batches = list(_batches(clause, params, list(dict.fromkeys(keys))))
    selected = ", ".join(name for name in COLUMNS if name in present)
    found = [r for sql, values in batches
             for r in con.execute(f"SELECT rowid, {selected} FROM runs{sql}", values)]
    names = [name for name in COLUMNS if name in present]
    rows = []
    for r in sorted(found, key=lambda r: r[0]):
        row = dict(LEGACY_DEFAULTS)
        row.update(zip(names, r[1:], strict=True))
        row = {name: row[name] for name in COLUMNS}
        row["success"] = bool(row["success"])
        rows.append(row)
    return rows


def read_traces(con: sqlite3.Connection, path, keys: Iterable[str]) -> dict[str, RunTrace]:
    """The traces of the runs ``keys`` that have one (none before schema 3).

    Raises
    ------
    ValueError
        A damaged trace, naming the store and the run (nothing is written: the store keeps
        it, and ``results(traces=False)`` still reads every run).
    """
    keys = list(dict.fromkeys(keys))
    if not keys or not has_table(con, TRACES_TABLE):
        return {}
    out = {}
    for sql, values in _batches("", [], keys):
        for r in con.execute(f"SELECT {', '.join(TRACE_COLUMNS)} FROM {TRACES_TABLE}{sql}",
                             values):
            row = dict(zip(TRACE_COLUMNS, r, strict=True))
            try:
                out[row["key"]] = decode_trace(row)
            except ValueError as exc:
                raise ValueError(f"results store {path}: the trace of run {row['key']} is "
                                 f"damaged ({exc}); read the runs without it with "
                                 "traces=False") from None
    return out


def row_to_result(row: dict, trace: RunTrace | None = None) -> RunResult:
    """The :class:`RunResult` of a :func:`read_rows` row (its config from ``config_json``)."""
    config = RunConfig.from_dict(json.loads(row["config_json"]))
    compute = row["compute_seconds"]
    return RunResult(config=config, success=bool(row["success"]),
                     steps_to_success=row["steps_to_success"], test_error=row["test_error"],
                     train_error=row["train_error"], end_reason=row["end_reason"],
                     steps_run=row["steps_run"], wall_seconds=row["wall_seconds"] or 0.0,
                     extra=json.loads(row["extra_json"] or "{}"),
                     compute_seconds=None if compute is None else float(compute), trace=trace)
