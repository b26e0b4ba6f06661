"""Crash-safe SQLite results store: one row per training run, keyed by its full config.

A sweep writes each :class:`~verify.config.RunResult` in its own committed transaction the
moment the run finishes, keyed by :meth:`RunConfig.key` (a digest of every config field and the
seed) with ``INSERT OR IGNORE``. So a sweep killed at any point loses no finished run, and a
resumed sweep neither repeats nor duplicates one (docs/design.md, ``verify/``).

Schema (version 2)
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
    ``wall_seconds``), ``finished_at`` (UTC ISO time of the insert), ``version`` (package
    version that trained it), ``config_json`` (canonical JSON of the config: the source of
    truth) and ``extra_json`` (:attr:`RunResult.extra`).

The file carries ``PRAGMA application_id`` = :data:`APPLICATION_ID` and is in WAL mode (readers
never block the writer, and a commit is one append to the log).

Older stores
------------
Version 1 had no ``activation`` column (every run of it is a ReLU net). Such a store opens
without change: reading it (``readonly=True``: reports, exports, DataFrames) never writes to
it, and its rows read with ``activation = "relu"`` (:data:`LEGACY_DEFAULTS`; a filter on
``activation`` works as if the column were there). Opening it for writing does not change it
either -- a resumed sweep that finds every run stored leaves it byte for byte as it was. Only
the first :meth:`ResultsStore.add` upgrades it in place, in one transaction before the run is
inserted: ``ALTER TABLE runs ADD COLUMN activation TEXT NOT NULL DEFAULT 'relu'`` (so the old
rows read "relu") and ``schema_version`` 2 in ``meta``. Its keys stay valid: a config at the
default activation has the key it had before the field existed (:meth:`RunConfig.key`). After
the upgrade, versions of this package that know only schema 1 refuse the store ("newer than
this package").

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
import struct
import urllib.parse
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from parity_frontiers.verify.config import KEY_OPTIONAL_DEFAULTS, RunConfig, RunResult
from parity_frontiers.verify.experiments.store_files import (
    check_size,
    probe_connection,
    remove_stale_temporaries,
)

__all__ = ["ResultsStore", "APPLICATION_ID", "SCHEMA_VERSION", "CONFIG_COLUMNS", "OUTCOME_COLUMNS",
           "COLUMNS", "immediate_transaction", "insert_or_ignore", "package_version", "utc_now",
           "connect_read_only", "LEGACY_DEFAULTS"]

#: ``PRAGMA application_id`` of a results store: the ASCII bytes "PFRS" (parity-frontiers
#: results store) as a big-endian 32-bit integer, as SQLite stores it at header offset 68.
APPLICATION_ID = 0x50465253
SCHEMA_VERSION = 2

_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100

# Column name -> SQL type. Kept explicit (not derived from the dataclass) because it is an
# on-disk schema: a new RunConfig field must come with a schema version bump (tests check that
# these names are exactly RunConfig's fields).
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
#: Columns a version-1 store lacks, with the value each of its runs has (the RunConfig fields
#: added since, at the defaults every earlier run had).
LEGACY_DEFAULTS = dict(KEY_OPTIONAL_DEFAULTS)
OUTCOME_COLUMNS = {
    "success": "INTEGER NOT NULL", "steps_to_success": "INTEGER", "test_error": "REAL",
    "train_error": "REAL", "end_reason": "TEXT NOT NULL", "steps_run": "INTEGER NOT NULL",
    "wall_seconds": "REAL", "finished_at": "TEXT NOT NULL", "version": "TEXT",
}
_KEY_COLUMNS = {"key": "TEXT PRIMARY KEY", "shape_key": "TEXT NOT NULL"}
_JSON_COLUMNS = {"config_json": "TEXT NOT NULL", "extra_json": "TEXT NOT NULL"}
#: Every column of ``runs``, in table order.
COLUMNS = tuple({**_KEY_COLUMNS, **CONFIG_COLUMNS, **OUTCOME_COLUMNS, **_JSON_COLUMNS})

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE runs (" + ", ".join(
        f"{name} {sql}" for name, sql in
        {**_KEY_COLUMNS, **CONFIG_COLUMNS, **OUTCOME_COLUMNS, **_JSON_COLUMNS}.items()) + ")",
    "CREATE INDEX runs_shape ON runs (shape_key)",
)


def package_version() -> str:
    # verify/ may not import parity_frontiers (imports point one way): ask the installed
    # distribution instead.
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("parity-frontiers")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
        return "unknown"


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


def insert_or_ignore(con: sqlite3.Connection, table: str, columns, values: dict) -> bool:
    """Insert one row (``values[c]`` for each of ``columns``) in its own committed
    transaction, unless its primary key is already there; True if it was new."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    with immediate_transaction(con):
        cursor = con.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})",
                             [values[name] for name in columns])
    return cursor.rowcount == 1


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _ro_uri(path: Path, immutable: bool = False) -> str:
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    return uri + "&immutable=1" if immutable else uri


def _error_name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def _write_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a store (SQLite also writes ``-wal`` and ``-shm``
    files beside it), or None when nothing is visibly wrong."""
    parent = path.resolve().parent
    if not os.access(parent, os.W_OK):
        if not path.exists():
            return f"its directory {parent} is not writable"
        return (f"its directory {parent} is not writable (SQLite needs to create "
                f"{path.name}-wal and {path.name}-shm beside it); `results export` can still "
                "read it")
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    return None


def _is_damage(exc: sqlite3.Error) -> bool:
    return (_error_name(exc) in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc)
            or type(exc) is sqlite3.DatabaseError)


def _store_error(path: Path, exc: sqlite3.Error, doing: str, writing: bool) -> ValueError:
    """One line for an SQLite error met while ``doing`` something with the store ``path``."""
    name, text = _error_name(exc), " ".join(str(exc).split())
    if _is_damage(exc):
        return ValueError(f"{path} is a damaged results store ({text}; found while {doing})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ValueError(f"results store {path} is locked by another process ({text}) "
                          f"while {doing}")
    if writing:  # most likely cause of any other failure to write: say it if it is visible
        problem = _write_problem(path)
        if problem is not None:
            return ValueError(f"cannot write to results store {path}: {problem}")
    if name == "SQLITE_FULL":
        return ValueError(f"cannot write to results store {path}: the disk is full ({text})")
    return ValueError(f"results store {path}: {text} (while {doing})")


def _probe(con: sqlite3.Connection) -> None:
    # Opening is lazy: the first read is where a WAL store needs (and creates) its -shm index.
    con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()


def connect_read_only(path: Path, **kwargs) -> sqlite3.Connection:
    """A read-only connection to ``path``, falling back to ``immutable=1`` on read-only
    storage (module docstring). SQLite errors propagate; the caller words them."""
    con = None
    try:
        con = sqlite3.connect(_ro_uri(path), uri=True, **kwargs)
        _probe(con)
        return con
    except sqlite3.OperationalError as exc:
        if con is not None:
            con.close()
        if _error_name(exc) != "SQLITE_CANTOPEN" and "unable to open" not in str(exc):
            raise
    except BaseException:
        if con is not None:
            con.close()
        raise
    # Most likely the -shm index cannot be created (read-only directory or filesystem). An
    # immutable open reads the main file only: exact unless a -wal log holds commits.
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise ValueError(f"cannot read {path}: SQLite cannot create its -shm index here "
                         f"(read-only storage?) and {wal.name} holds runs not yet in the main "
                         "file; copy the store with its -wal file to a writable directory")
    con = sqlite3.connect(_ro_uri(path, immutable=True), uri=True, **kwargs)
    try:
        _probe(con)
    except BaseException:
        con.close()
        raise
    return con


def _check_existing(path: Path) -> int:
    """Its schema version if ``path`` is a results store we can open, else ValueError; never
    writes to it."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not a results store") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not header.startswith(_SQLITE_MAGIC) or len(header) < _HEADER_SIZE:
        raise ValueError(f"{path} is not a parity-frontiers results store (not an SQLite "
                         "database, or a damaged one); it was left untouched")
    (app_id,) = struct.unpack(">i", header[68:72])
    if app_id != _signed32(APPLICATION_ID):
        raise ValueError(f"{path} is an SQLite database of another program (application_id "
                         f"{app_id:#x}, a results store has {APPLICATION_ID:#x}); it was left "
                         "untouched")
    # It claims to be ours: look inside, read-only. A store is always in WAL mode, and reading
    # a WAL database may create the -shm index beside it, which is harmless for our own file.
    try:
        check_size(path, header)  # truncated: refused from the header, before SQLite opens it
        # no -wal/-shm left beside a refused file
        con = probe_connection(path, timeout=30, with_log=connect_read_only)
    except sqlite3.Error as exc:
        if _is_damage(exc):
            raise ValueError(f"{path} is a damaged results store ({exc}); it was left "
                             "untouched") from None
        raise ValueError(f"cannot open {path} read-only: {exc}") from None
    try:
        tables = {row[0] for row in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"meta", "runs"} <= tables:
            raise ValueError(f"{path} has the results-store id but lacks its tables (damaged?); "
                             "it was left untouched")
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        columns = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is a damaged results store ({exc}); it was left "
                         "untouched") from None
    finally:
        con.close()
    if row is None or not str(row[0]).isdigit():
        raise ValueError(f"{path} is a damaged results store (no schema version)")
    found = int(row[0])
    if found > SCHEMA_VERSION:
        raise ValueError(f"{path} is a results store of schema version {found}, newer than this "
                         f"package's {SCHEMA_VERSION}: upgrade parity-frontiers to read it")
    if found < 1:
        raise ValueError(f"{path} is a damaged results store (schema version {found})")
    needed = set(COLUMNS) - (set(LEGACY_DEFAULTS) if found == 1 else set())
    if needed - columns:
        raise ValueError(f"{path} is a results store of schema {found} that lacks the columns "
                         f"{', '.join(sorted(needed - columns))} (damaged?); it was left untouched")
    return found


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def _create(path: Path) -> None:
    """Build an empty store in a temporary file beside ``path`` and link it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        # Header, tables and meta in one rollback-journal transaction, before WAL is switched
        # on: the application id lands in the main file itself, not only in a -wal log.
        con.execute("BEGIN")
        con.execute(f"PRAGMA application_id = {_signed32(APPLICATION_ID)}")
        for statement in _SCHEMA:
            con.execute(statement)
        con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("schema_version", str(SCHEMA_VERSION)),
                         ("created_by", f"parity-frontiers {package_version()}"),
                         ("created_at", utc_now())])
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file header
    finally:
        con.close()  # the last connection closing checkpoints and removes -wal / -shm
    try:
        if path.exists() and path.stat().st_size == 0:
            os.replace(tmp, path)  # an empty file holds nothing to lose
        else:
            try:
                os.link(tmp, path)  # fails if another process created the store meanwhile
            except FileExistsError:
                pass
            except OSError:  # no hard links on this filesystem
                if not path.exists():
                    os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ResultsStore:
    """Results of training runs in an SQLite file, one row per run (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The store's file. Created (its directory must exist) if absent; otherwise validated
        first and never modified unless it is a results store.
    readonly : bool
        Open an existing store for reading only (``file:...?mode=ro``): never created, and
        :meth:`add` refuses. Used by :func:`export` and :func:`load_dataframe`.

    Raises
    ------
    ValueError
        ``path`` exists but is not a results store (corrupt, truncated, another program's
        database, a newer schema), or cannot be read or created.

    Examples
    --------
    >>> import tempfile, os
    >>> from verify.config import RunConfig, RunResult
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
            self.schema_version = _check_existing(self.path)
            try:
                self._con = connect_read_only(self.path, timeout=60, isolation_level=None)
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc, "opening it", writing=False) from None
            return
        remove_stale_temporaries(self.path)  # what a creation killed half-way left behind
        if self.path.exists() and not (self.path.is_file() and self.path.stat().st_size == 0):
            self.schema_version = _check_existing(self.path)
        else:
            if not self.path.parent.is_dir():
                raise ValueError(f"cannot create {self.path}: directory {self.path.parent} "
                                 "does not exist")
            try:
                _create(self.path)
            except (OSError, sqlite3.Error) as exc:
                problem = _write_problem(self.path)
                raise ValueError(f"cannot create results store {self.path}: "
                                 f"{problem or exc}") from None
            # also covers losing a creation race to a non-store
            self.schema_version = _check_existing(self.path)
        try:
            # Autocommit mode: every add() is its own explicit BEGIN IMMEDIATE ... COMMIT.
            self._con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            mode = self._con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL: a commit is on disk before add() returns, so even a power cut keeps every
            # finished run (an fsync per run is nothing next to the run's training time).
            self._con.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            self.close()
            raise _store_error(self.path, exc, "opening it for writing", writing=True) from None
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
            raise _store_error(self.path, exc, doing, writing) from None

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
        """Store one finished run in its own committed transaction.

        Returns True if it was new, False if a run with the same key was already stored (the
        stored row is kept: runs are deterministic per config and seed).
        """
        if self.readonly:
            raise ValueError(f"results store {self.path} is open read-only")
        if self.schema_version < SCHEMA_VERSION:
            self._upgrade()
        config = result.config
        values = {"key": config.key(), "shape_key": config.shape_key(), **config.as_dict(),
                  "success": int(bool(result.success)),
                  "steps_to_success": result.steps_to_success,
                  "test_error": _float_or_none(result.test_error),
                  "train_error": _float_or_none(result.train_error),
                  "end_reason": result.end_reason, "steps_run": int(result.steps_run),
                  "wall_seconds": _float_or_none(result.wall_seconds), "finished_at": utc_now(),
                  "version": package_version(),
                  "config_json": json.dumps(config.as_dict(), sort_keys=True),
                  "extra_json": json.dumps(result.extra or {}, sort_keys=True, default=str)}
        with self._sqlite("storing a run", writing=True) as con:
            return insert_or_ignore(con, "runs", COLUMNS, values)

    def _upgrade(self) -> None:
        """Bring an older store to :data:`SCHEMA_VERSION` in one transaction (module docstring:
        the columns it lacks, with their defaults). Another process may have done it first:
        the columns are looked up inside the transaction."""
        with self._sqlite("upgrading it to the current schema", writing=True) as con:
            with immediate_transaction(con):
                present = _present_columns(con)
                for name in LEGACY_DEFAULTS:
                    if name not in present:
                        con.execute(f"ALTER TABLE runs ADD COLUMN {name} {CONFIG_COLUMNS[name]}")
                (found,) = con.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if int(found) < SCHEMA_VERSION:
                    con.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [("schema_version", str(SCHEMA_VERSION)), ("upgraded_from", str(found)),
                         ("upgraded_by", f"parity-frontiers {package_version()}"),
                         ("upgraded_at", utc_now())])
        self.schema_version = SCHEMA_VERSION

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
            clause, params = _where(where, _present_columns(con))
            return con.execute(f"SELECT COUNT(*) FROM runs{clause}", params).fetchone()[0]

    def rows(self, keys: Iterable[str] | None = None, **where) -> list[dict]:
        """Stored runs as dicts of every column, in insertion order.

        Parameters
        ----------
        keys : iterable of str, optional
            Only runs with these keys.
        **where
            Equality filters on columns, e.g. ``n=30, init="sparse"``; ``samples=None`` selects
            online runs; a list or tuple value matches any of its elements.

        ``success`` comes back as a bool; a column an older store lacks comes back as its
        :data:`LEGACY_DEFAULTS` value.
        """
        with self._sqlite("reading runs") as con:
            present = _present_columns(con)
            clause, params = _where(where, present)
            if keys is None:
                batches = [(clause, params)]
            else:
                # Look the keys up in batches (SQLite caps the bound parameters of one
                # statement) rather than reading the whole store and filtering here.
                keys = list(dict.fromkeys(keys))
                joiner = " AND " if clause else " WHERE "
                batches = [(clause + joiner + f"key IN ({', '.join('?' * len(batch))})",
                            params + batch)
                           for batch in (keys[i:i + 500] for i in range(0, len(keys), 500))]
            con.row_factory = sqlite3.Row
            try:
                found = [(r["rowid"], r) for sql, values in batches for r in con.execute(
                    f"SELECT rowid AS rowid, * FROM runs{sql}", values)]
            finally:
                con.row_factory = None
        rows = []
        for _, r in sorted(found, key=lambda pair: pair[0]):
            row = {name: r[name] if name in present else LEGACY_DEFAULTS[name]
                   for name in COLUMNS}
            row["success"] = bool(row["success"])
            rows.append(row)
        return rows

    def results(self, keys: Iterable[str] | None = None, **where) -> list[RunResult]:
        """Stored runs as :class:`RunResult` objects (filters as in :meth:`rows`)."""
        return [_row_to_result(r) for r in self.rows(keys, **where)]

    def get(self, key: str) -> RunResult | None:
        """The stored run with this key, or None."""
        found = self.rows(key=key)
        return _row_to_result(found[0]) if found else None

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"


def _float_or_none(value):
    return None if value is None else float(value)


def _present_columns(con: sqlite3.Connection) -> set[str]:
    """The columns of ``runs`` in this file (an older store lacks some of COLUMNS)."""
    return {row[1] for row in con.execute("PRAGMA table_info(runs)")}


def _where(where: dict, in_file: set[str]) -> tuple[str, list]:
    clauses, params = [], []
    for name, value in where.items():
        if name not in COLUMNS:  # column names go into the SQL text: whitelist them
            raise ValueError(f"unknown results column {name!r}; columns are {', '.join(COLUMNS)}")
        if name not in in_file:  # an older store: every row holds the legacy default
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            if LEGACY_DEFAULTS[name] not in values:
                clauses.append("0")
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
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


def _row_to_result(row: dict) -> RunResult:
    config = RunConfig.from_dict(json.loads(row["config_json"]))
    return RunResult(config=config, success=bool(row["success"]),
                     steps_to_success=row["steps_to_success"], test_error=row["test_error"],
                     train_error=row["train_error"], end_reason=row["end_reason"],
                     steps_run=row["steps_run"], wall_seconds=row["wall_seconds"] or 0.0,
                     extra=json.loads(row["extra_json"] or "{}"))


if set(CONFIG_COLUMNS) != {f.name for f in fields(RunConfig)}:  # pragma: no cover
    raise RuntimeError("RunConfig changed: update CONFIG_COLUMNS and bump SCHEMA_VERSION")













