"""The results store's on-disk schema, its versions, and the migration between them.

The tables and columns are documented in :mod:`~parity_frontiers.verify.experiments.store`.
Here are the column names and SQL types (kept explicit, not derived from the dataclasses,
because they are an on-disk format), the columns each schema version added
(:data:`COLUMN_SINCE`, read back from an older store as :data:`LEGACY_DEFAULTS`), the
transaction helpers every writer of the file uses, and :func:`upgrade`, which brings an older
store to :data:`SCHEMA_VERSION` inside one transaction.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime

from parity_frontiers.verify.config import KEY_OPTIONAL_DEFAULTS, RunConfig

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "CONFIG_COLUMNS", "OUTCOME_COLUMNS", "COLUMNS",
           "TRACE_COLUMNS", "LEGACY_DEFAULTS", "COLUMN_SINCE", "SCHEMA", "TRACES_TABLE",
           "package_version", "utc_now", "immediate_transaction", "insert_or_ignore",
           "present_columns", "has_table", "required_columns", "upgrade"]

#: ``PRAGMA application_id`` of a results store: the ASCII bytes "PFRS" (parity-frontiers
#: results store) as a big-endian 32-bit integer, as SQLite stores it at header offset 68.
APPLICATION_ID = 0x50465253
SCHEMA_VERSION = 3

# Column name -> SQL type. A new RunConfig field must come with a schema version bump (tests
# check that these names are exactly RunConfig's fields).
CONFIG_COLUMNS = {
    "n": "INTEGER NOT NULL", "k": "INTEGER NOT NULL", "width": "INTEGER NOT NULL",
    "samples": "INTEGER", "init": "TEXT NOT NULL", "s": "INTEGER", "depth": "INTEGER NOT NULL",
    "seed": "INTEGER NOT NULL", "max_steps": "INTEGER NOT NULL",
    "eval_every": "INTEGER NOT NULL", "batch_size": "INTEGER NOT NULL", "lr": "REAL NOT NULL",
    "weight_decay": "REAL NOT NULL", "loss": "TEXT NOT NULL", "test_size": "INTEGER NOT NULL",
    "success_error": "REAL NOT NULL",
    # schema 2
    "activation": f"TEXT NOT NULL DEFAULT '{KEY_OPTIONAL_DEFAULTS['activation']}'",
}
OUTCOME_COLUMNS = {
    "success": "INTEGER NOT NULL", "steps_to_success": "INTEGER", "test_error": "REAL",
    "train_error": "REAL", "end_reason": "TEXT NOT NULL", "steps_run": "INTEGER NOT NULL",
    "wall_seconds": "REAL",
    # schema 3
    "compute_seconds": "REAL",
    "finished_at": "TEXT NOT NULL", "version": "TEXT",
}
_KEY_COLUMNS = {"key": "TEXT PRIMARY KEY", "shape_key": "TEXT NOT NULL"}
_JSON_COLUMNS = {"config_json": "TEXT NOT NULL", "extra_json": "TEXT NOT NULL"}
_RUN_COLUMNS = {**_KEY_COLUMNS, **CONFIG_COLUMNS, **OUTCOME_COLUMNS, **_JSON_COLUMNS}
#: Every column of ``runs``, in the table order of a new store (an upgraded store has the
#: columns added since its schema at the end; every query names its columns).
COLUMNS = tuple(_RUN_COLUMNS)

#: The schema version that added each column of ``runs``; a store of an earlier version lacks
#: it, and its rows read as :data:`LEGACY_DEFAULTS` (the value every run of that version had:
#: a ReLU net, compute time not measured).
COLUMN_SINCE = {"activation": 2, "compute_seconds": 3}
LEGACY_DEFAULTS = {**KEY_OPTIONAL_DEFAULTS, "compute_seconds": None}

#: Table of learning curves (schema 3): one row per run that has one.
TRACES_TABLE = "traces"
_TRACE_SQL = {
    "key": "TEXT PRIMARY KEY REFERENCES runs (key)", "points": "INTEGER NOT NULL",
    "steps": "BLOB NOT NULL", "test_error": "BLOB NOT NULL",
    "test_samples": "BLOB NOT NULL", "train_error": "BLOB NOT NULL",
}
TRACE_COLUMNS = tuple(_TRACE_SQL)
_CREATE_TRACES = (f"CREATE TABLE IF NOT EXISTS {TRACES_TABLE} ("
                  + ", ".join(f"{name} {sql}" for name, sql in _TRACE_SQL.items()) + ")")

#: The statements that create a new store's tables.
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE runs (" + ", ".join(f"{name} {sql}" for name, sql in _RUN_COLUMNS.items())
    + ")",
    "CREATE INDEX runs_shape ON runs (shape_key)",
    _CREATE_TRACES,
)


def package_version() -> str:
    """The installed parity-frontiers version ("unknown" in a bare checkout)."""
    # verify/ may not import parity_frontiers (imports point one way): ask the installed
    # distribution instead.
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("parity-frontiers")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
        return "unknown"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def immediate_transaction(con: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on an autocommit connection; any error in the block
    rolls it back (unless SQLite already did) and propagates."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # SQLite may have rolled back by itself already
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the original error matters
                pass
        raise


def insert_or_ignore(con: sqlite3.Connection, table: str, columns, values: dict,
                     then=None) -> bool:
    """Insert one row (``values[c]`` for each of ``columns``) in its own committed
    transaction, unless its primary key is already there; True if it was new.

    ``then(con)``, when given, runs inside the same transaction after a new row went in (the
    rows that belong to it commit with it or not at all).
    """
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    with immediate_transaction(con):
        cursor = con.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})",
                             [values[name] for name in columns])
        new = cursor.rowcount == 1
        if new and then is not None:
            then(con)
    return new


def present_columns(con: sqlite3.Connection) -> set[str]:
    """The columns of ``runs`` in this file (an older store lacks some of :data:`COLUMNS`)."""
    return {row[1] for row in con.execute("PRAGMA table_info(runs)")}


def has_table(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone() is not None


def required_columns(version: int) -> set[str]:
    """The columns of ``runs`` a store of schema ``version`` must have."""
    return {name for name in COLUMNS if COLUMN_SINCE.get(name, 1) <= version}


def upgrade(con: sqlite3.Connection) -> int:
    """Bring the store on ``con`` to :data:`SCHEMA_VERSION` in one transaction; the version it
    had. Adds the columns it lacks (with their defaults, so old rows read as
    :data:`LEGACY_DEFAULTS`) and the traces table, and records the upgrade in ``meta``.
    Another process may have done it first: everything is looked up inside the transaction."""
    with immediate_transaction(con):
        present = present_columns(con)
        for name in COLUMN_SINCE:
            if name not in present:
                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {_RUN_COLUMNS[name]}")
        con.execute(_CREATE_TRACES)
        (found,) = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if int(found) < SCHEMA_VERSION:
            con.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("upgraded_from", str(found)),
                 ("upgraded_by", f"parity-frontiers {package_version()}"),
                 ("upgraded_at", utc_now())])
    return int(found)


if set(CONFIG_COLUMNS) != {f.name for f in fields(RunConfig)}:  # pragma: no cover
    raise RuntimeError("RunConfig changed: update CONFIG_COLUMNS and bump SCHEMA_VERSION")
