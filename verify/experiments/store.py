"""Crash-safe SQLite results store: one row per training run, keyed by its full config.

A sweep writes each :class:`~verify.config.RunResult` in its own committed transaction the
moment the run finishes, keyed by :meth:`RunConfig.key` (a digest of every config field and the
seed) with ``INSERT OR IGNORE``. So a sweep killed at any point loses no finished run, and a
resumed sweep neither repeats nor duplicates one (docs/design.md, ``verify/``).

Schema (version 3)
------------------
``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``schema_version``, ``created_by`` (package version), ``created_at`` (UTC ISO time); after
    an upgrade also ``upgraded_from``, ``upgraded_by``, ``upgraded_at``.
``runs``
    ``key`` (TEXT PRIMARY KEY, :meth:`RunConfig.key`), ``shape_key`` (all fields but the seed),
    one column per :class:`RunConfig` field (``n``, ``k``, ``width``, ``samples`` (NULL =
    online), ``init``, ``s`` (NULL unless sparse), ``depth``, ``seed``, ``max_steps``,
    ``eval_every``, ``batch_size``, ``lr``, ``weight_decay``, ``loss``, ``test_size``,
    ``success_error``, ``activation``), the outcome (``success`` 0/1, ``steps_to_success``
    (NULL if never), ``test_error``, ``train_error``, ``end_reason``, ``steps_run``,
    ``wall_seconds`` (from the ensemble's start to the run's end: shared compute),
    ``compute_seconds`` (the run's share of that compute; NULL when not measured)),
    ``finished_at`` (UTC ISO time of the insert), ``version`` (package version that trained
    it), ``config_json`` (canonical JSON of the config: the source of truth) and
    ``extra_json`` (:attr:`RunResult.extra`).
``traces``
    The learning curve (:class:`RunTrace`) of each run that has one: ``key`` (the run's, PRIMARY
    KEY, REFERENCES ``runs``), ``points`` and one compact BLOB per array (codecs in
    :mod:`~parity_frontiers.verify.experiments.store_traces`; every value round-trips exactly).
    Written in the same transaction as its run's row; a run without a trace has no row.

The file carries ``PRAGMA application_id`` = :data:`APPLICATION_ID` and is in WAL mode (readers
never block the writer, and a commit is one append to the log). The column lists, versions and
migration are in :mod:`~parity_frontiers.verify.experiments.store_schema`, the file checks in
:mod:`~parity_frontiers.verify.experiments.store_open`, the queries in
:mod:`~parity_frontiers.verify.experiments.store_query`.

Older stores
------------
Version 1 had no ``activation`` column (every run of it is a ReLU net); versions 1 and 2 have no
``compute_seconds`` column and no ``traces`` table. Such a store opens without change: reading
it (``readonly=True``: reports, exports, DataFrames) never writes to it, its rows read with
``activation = "relu"`` and ``compute_seconds = None`` (:data:`LEGACY_DEFAULTS`; a filter on
those columns works as if they were there), and its runs have no trace. Opening it for writing
does not change it either -- a resumed sweep that finds every run stored leaves it byte for
byte as it was. Only the first :meth:`ResultsStore.add` upgrades it in place, in one
transaction before the run is inserted: the missing columns are added with their defaults
(``ALTER TABLE runs ADD COLUMN activation TEXT NOT NULL DEFAULT 'relu'``, ``compute_seconds
REAL``), the ``traces`` table is created, and ``meta`` says ``schema_version`` 3. Its keys stay
valid: a config at the default activation has the key it had before the field existed
(:meth:`RunConfig.key`). After the upgrade, versions of this package that know only an older
schema refuse the store ("newer than this package") rather than write runs without traces.

Safety of existing files
------------------------
Opening a path that exists never modifies it before it is known to be a store: the 100-byte
SQLite header is read directly (magic string and application id), then the file is opened
read-only (``file:...?mode=ro``) to check the ``meta`` table and schema version. Anything else --
a non-SQLite or truncated file, another program's SQLite database, a store of a newer schema --
raises ValueError naming the path, and the file is left byte-for-byte as it was (no ``-wal`` or
``-shm`` side files either). A new store is built in a temporary file beside the target and
linked into place, so the path is at every moment either absent or a complete store. An empty
(0-byte) file is treated as absent.

Errors
------
Every operation turns an SQLite error into one ValueError line naming the path: a page damaged
after the store was opened (``database disk image is malformed``), a store locked by another
process, a full disk. :meth:`ResultsStore.check` reads every page (``PRAGMA quick_check``) and
tries a write transaction, so a sweep finds such a store before it trains anything.

Read-only storage
-----------------
Reading a WAL database needs its ``-shm`` index beside it, which SQLite cannot create in a
read-only directory or filesystem. Reading a store (``readonly=True``: export, DataFrame) then
falls back to ``file:...?mode=ro&immutable=1``, which is exact as long as no ``-wal`` log with
content lies beside the file (a store closed cleanly has none; otherwise the error says so).
Opening for writing there fails with the real cause: the directory (or file) is not writable.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from parity_frontiers.verify.config import RunResult, RunTrace
from parity_frontiers.verify.experiments.store_files import remove_stale_temporaries
from parity_frontiers.verify.experiments.store_open import (
    check_existing,
    connect_read_only,
    create_store,
    store_error,
    write_problem,
)
from parity_frontiers.verify.experiments.store_query import (
    read_rows,
    read_traces,
    row_to_result,
    where_clause,
)
from parity_frontiers.verify.experiments.store_schema import (
    APPLICATION_ID,
    COLUMN_SINCE,
    COLUMNS,
    CONFIG_COLUMNS,
    LEGACY_DEFAULTS,
    OUTCOME_COLUMNS,
    SCHEMA_VERSION,
    TRACE_COLUMNS,
    TRACES_TABLE,
    immediate_transaction,
    insert_or_ignore,
    package_version,
    present_columns,
    upgrade,
    utc_now,
)
from parity_frontiers.verify.experiments.store_traces import encode_trace

__all__ = ["ResultsStore", "APPLICATION_ID", "SCHEMA_VERSION", "CONFIG_COLUMNS", "OUTCOME_COLUMNS",
           "COLUMNS", "TRACE_COLUMNS", "TRACES_TABLE", "COLUMN_SINCE", "LEGACY_DEFAULTS",
           "immediate_transaction", "insert_or_ignore", "package_version", "utc_now",
           "connect_read_only"]

# The validation's old private name, kept for callers of this module.
_check_existing = check_existing


class ResultsStore:
    """Results of training runs in an SQLite file, one row per run (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The store's file. Created (its directory must exist) if absent; otherwise validated
        first and never modified unless it is a results store.
    readonly : bool
        Open an existing store for reading only (``file:...?mode=ro``): never created, and
        :meth:`add` refuses. Used by exports, reports and figures.

    Raises
    ------
    ValueError
        ``path`` exists but is not a results store (corrupt, truncated, another program's
        database, a newer schema), or cannot be read or created.

    Examples
    --------
    >>> import tempfile, os
    >>> from parity_frontiers.verify.config import RunConfig, RunResult
    >>> path = os.path.join(tempfile.mkdtemp(), "runs.db")
    >>> with ResultsStore(path) as store:
    ...     result = RunResult(RunConfig(n=6, k=2, width=8, seed=3), True, 400, 0.05, 0.0,
    ...                        "success", 400)
    ...     store.add(result), store.add(result), store.count()
    (True, False, 1)
    """

    def __init__(self, path, readonly: bool = False):
        if isinstance(path, str) and not path:
            raise ValueError("the results store path is empty")
        self.path = Path(os.fspath(path))
        self.readonly = bool(readonly)
        self._con = None
        if self.readonly:
            if not self.path.exists():
                raise ValueError(f"results store {self.path} does not exist")
            self.schema_version = check_existing(self.path)
            try:
                self._con = connect_read_only(self.path, timeout=60, isolation_level=None)
            except sqlite3.Error as exc:
                raise store_error(self.path, exc, "opening it", writing=False) from None
            return
        remove_stale_temporaries(self.path)  # what a creation killed half-way left behind
        if self.path.exists() and not (self.path.is_file() and self.path.stat().st_size == 0):
            self.schema_version = check_existing(self.path)
        else:
            if not self.path.parent.is_dir():
                raise ValueError(f"cannot create {self.path}: directory {self.path.parent} "
                                 "does not exist")
            try:
                create_store(self.path)
            except (OSError, sqlite3.Error) as exc:
                problem = write_problem(self.path)
                raise ValueError(f"cannot create results store {self.path}: "
                                 f"{problem or exc}") from None
            # also covers losing a creation race to a non-store
            self.schema_version = check_existing(self.path)
        try:
            # Autocommit mode: every add() is its own explicit BEGIN IMMEDIATE ... COMMIT.
            self._con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            mode = self._con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL: a commit is on disk before add() returns, so even a power cut keeps every
            # finished run (an fsync per run is nothing next to the run's training time).
            self._con.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            self.close()
            raise store_error(self.path, exc, "opening it for writing", writing=True) from None
        if mode.lower() != "wal":  # pragma: no cover - e.g. a filesystem without shared memory
            self.close()
            raise ValueError(f"cannot put {self.path} in WAL mode (got {mode!r})")

    # --- context manager --------------------------------------------------------------------

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            raise ValueError(f"results store {self.path} is closed")
        return self._con

    @contextmanager
    def _sqlite(self, doing: str, writing: bool = False):
        """Turn any SQLite error in the block into one ValueError line naming the store."""
        try:
            yield self._connection()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc, doing, writing) from None

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode of the open connection ('wal')."""
        with self._sqlite("reading its journal mode") as con:
            return con.execute("PRAGMA journal_mode").fetchone()[0]

    def check(self) -> None:
        """Make sure the whole store can be read and, unless read-only, written.

        Runs ``PRAGMA quick_check`` (reads every page: a damaged one anywhere is found now, not
        by the :meth:`add` after a run has been trained) and, for a writable store, begins and
        rolls back a write transaction. Raises ValueError naming the path and the problem.
        """
        with self._sqlite("checking it") as con:
            found = [row[0] for row in con.execute("PRAGMA quick_check")]
        if found != ["ok"]:
            shown = "; ".join(" ".join(str(f).split()) for f in found[:3])
            more = f" (and {len(found) - 3} more problems)" if len(found) > 3 else ""
            raise ValueError(f"{self.path} is a damaged results store: {shown}{more}")
        if not self.readonly:
            with self._sqlite("trying a write transaction", writing=True) as con:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")

    # --- writing ----------------------------------------------------------------------------

    def add(self, result: RunResult) -> bool:
        """Store one finished run, and its trace if it has one, in one committed transaction.

        Returns True if it was new, False if a run with the same key was already stored (the
        stored row and trace are kept: runs are deterministic per config and seed). An older
        store is first upgraded to the current schema (module docstring).
        """
        if self.readonly:
            raise ValueError(f"results store {self.path} is open read-only")
        if not isinstance(result, RunResult):
            raise ValueError(f"a results store holds RunResult objects, got "
                             f"{type(result).__name__}")
        if result.trace is not None and not isinstance(result.trace, RunTrace):
            raise ValueError(f"RunResult.trace must be a RunTrace or None, got "
                             f"{type(result.trace).__name__}")
        if self.schema_version < SCHEMA_VERSION:
            with self._sqlite("upgrading it to the current schema", writing=True) as con:
                upgrade(con)
            self.schema_version = SCHEMA_VERSION
        config = result.config
        values = {"key": config.key(), "shape_key": config.shape_key(), **config.as_dict(),
                  "success": int(bool(result.success)),
                  "steps_to_success": result.steps_to_success,
                  "test_error": _float_or_none(result.test_error),
                  "train_error": _float_or_none(result.train_error),
                  "end_reason": result.end_reason, "steps_run": int(result.steps_run),
                  "wall_seconds": _float_or_none(result.wall_seconds),
                  "compute_seconds": _float_or_none(result.compute_seconds),
                  "finished_at": utc_now(), "version": package_version(),
                  "config_json": json.dumps(config.as_dict(), sort_keys=True),
                  "extra_json": json.dumps(result.extra or {}, sort_keys=True, default=str)}
        then = None
        if result.trace is not None:
            trace = {"key": values["key"], **encode_trace(result.trace)}

            def then(con):  # the trace commits with its run, or neither does
                con.execute(f"INSERT INTO {TRACES_TABLE} ({', '.join(TRACE_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(TRACE_COLUMNS))})",
                            [trace[name] for name in TRACE_COLUMNS])

        with self._sqlite("storing a run", writing=True) as con:
            return insert_or_ignore(con, "runs", COLUMNS, values, then=then)

    # --- reading ----------------------------------------------------------------------------

    def completed_keys(self) -> set[str]:
        """Keys (:meth:`RunConfig.key`) of every stored run."""
        with self._sqlite("reading its keys") as con:
            return {row[0] for row in con.execute("SELECT key FROM runs")}

    def __contains__(self, key: str) -> bool:
        with self._sqlite("looking up a key") as con:
            return con.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def count(self, **where) -> int:
        """Number of stored runs, optionally only those matching ``where`` (see :meth:`rows`)."""
        with self._sqlite("counting runs") as con:
            clause, params = where_clause(where, present_columns(con))
            return con.execute(f"SELECT COUNT(*) FROM runs{clause}", params).fetchone()[0]

    def rows(self, keys: Iterable[str] | None = None, **where) -> list[dict]:
        """Stored runs as dicts of every column, in insertion order.

        Parameters
        ----------
        keys : iterable of str, optional
            Only runs with these keys.
        **where
            Equality filters on columns, e.g. ``n=30, init="sparse"``; ``samples=None`` selects
            online runs; a list, tuple or set value matches any of its elements (so a
            :func:`~parity_frontiers.verify.experiments.where.parse_where` filter can be
            passed as ``**where``).

        ``success`` comes back as a bool; a column an older store lacks comes back as its
        :data:`LEGACY_DEFAULTS` value.
        """
        with self._sqlite("reading runs") as con:
            return read_rows(con, keys, where)

    def traces(self, keys: Iterable[str]) -> dict[str, RunTrace]:
        """``{key: trace}`` of the runs among ``keys`` that have a stored trace."""
        with self._sqlite("reading traces") as con:
            return read_traces(con, self.path, keys)

    def results(self, keys: Iterable[str] | None = None, *, traces: bool = True,
                **where) -> list[RunResult]:
        """Stored runs as :class:`RunResult` objects (filters as in :meth:`rows`), with their
        traces unless ``traces=False`` (faster; and the way to read every run of a store
        whose trace of some run is damaged)."""
        rows = self.rows(keys, **where)
        found = self.traces(r["key"] for r in rows) if traces and rows else {}
        return [row_to_result(r, found.get(r["key"])) for r in rows]

    def get(self, key: str) -> RunResult | None:
        """The stored run with this key (with its trace), or None."""
        found = self.results(key=key)
        return found[0] if found else None

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"


def _float_or_none(value):
    return None if value is None else float(value)
