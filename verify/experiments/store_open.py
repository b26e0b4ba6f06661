"""Opening a results store's file: validation before trust, creation, connections, errors.

An existing file is never modified before it is known to be a store (:func:`check_existing`
reads the SQLite header, then looks inside read-only); a new store is built beside its path and
linked into place (:func:`create_store`); a read-only connection falls back to ``immutable=1``
on read-only storage (:func:`connect_read_only`); and :func:`store_error` words any SQLite
error as one line naming the store. The rules are in
:mod:`~parity_frontiers.verify.experiments.store`'s docstring.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import urllib.parse
from pathlib import Path

from parity_frontiers.verify.experiments.store_files import check_size, probe_connection
from parity_frontiers.verify.experiments.store_schema import (
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    TRACES_TABLE,
    package_version,
    required_columns,
    utc_now,
)

__all__ = ["connect_read_only", "check_existing", "create_store", "store_error",
           "write_problem", "signed32"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


def _ro_uri(path: Path, immutable: bool = False) -> str:
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    return uri + "&immutable=1" if immutable else uri


def _error_name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def write_problem(path: Path) -> str | None:
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


def store_error(path: Path, exc: sqlite3.Error, doing: str, writing: bool) -> ValueError:
    """One line for an SQLite error met while ``doing`` something with the store ``path``."""
    name, text = _error_name(exc), " ".join(str(exc).split())
    if _is_damage(exc):
        return ValueError(f"{path} is a damaged results store ({text}; found while {doing})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ValueError(f"results store {path} is locked by another process ({text}) "
                          f"while {doing}")
    if writing:  # most likely cause of any other failure to write: say it if it is visible
        problem = write_problem(path)
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


def check_existing(path: Path) -> int:
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
    if app_id != signed32(APPLICATION_ID):
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
    needed = required_columns(found)
    if needed - columns:
        raise ValueError(f"{path} is a results store of schema {found} that lacks the columns "
                         f"{', '.join(sorted(needed - columns))} (damaged?); it was left untouched")
    if found >= 3 and TRACES_TABLE not in tables:
        raise ValueError(f"{path} is a results store of schema {found} that lacks its "
                         f"{TRACES_TABLE} table (damaged?); it was left untouched")
    return found


def signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def create_store(path: Path) -> None:
    """Build an empty store in a temporary file beside ``path`` and link it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        # Header, tables and meta in one rollback-journal transaction, before WAL is switched
        # on: the application id lands in the main file itself, not only in a -wal log.
        con.execute("BEGIN")
        con.execute(f"PRAGMA application_id = {signed32(APPLICATION_ID)}")
        for statement in SCHEMA:
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
