"""The files around a results store: probing one without side files, and stale leftovers.

:class:`~parity_frontiers.verify.experiments.store.ResultsStore` validates an existing file
before it trusts it. Three things here keep that validation from leaving anything behind:

* :func:`check_size` refuses a file shorter than its own SQLite header says (a store truncated
  by a full disk or a partial copy, a header-only file) from the header bytes alone, before
  SQLite opens it;
* :func:`probe_connection` opens a store for its schema check read-only and, when no ``-wal``
  log lies beside it, ``immutable`` -- so looking at a file that turns out not to be a usable
  store creates no ``-wal`` or ``-shm`` files next to it;
* :func:`remove_stale_temporaries` deletes what a creation killed half-way left behind: the
  hidden ``.NAME.PID.tmp`` file a new store is built in (and its ``-journal``, ``-wal``,
  ``-shm``) whose process no longer exists. The next open of the store calls it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
import urllib.parse
from pathlib import Path

__all__ = ["check_size", "probe_connection", "remove_stale_temporaries", "side_files"]

_SUFFIXES = ("-journal", "-wal", "-shm")


def side_files(path) -> list[Path]:
    """``path-wal``, ``path-shm`` and ``path-journal``."""
    return [Path(f"{path}{suffix}") for suffix in _SUFFIXES]


def check_size(path, header: bytes) -> None:
    """Refuse (ValueError) a database file shorter than its header's page size and count.

    ``header`` is the file's first 100 bytes (already known to start with the SQLite magic).
    The page size is at offset 16 (1 means 65536); the database size in pages at offset 28,
    valid when the change counters at offsets 24 and 92 agree.
    """
    size = os.stat(path).st_size
    (raw_page,) = struct.unpack(">H", header[16:18])
    page = 65536 if raw_page == 1 else raw_page
    if page < 512 or page & (page - 1):
        raise ValueError(f"{path} is a damaged results store (page size {raw_page} in its "
                         "header); it was left untouched")
    (pages,) = struct.unpack(">I", header[28:32])
    valid = header[24:28] == header[92:96] and pages > 0
    needed = pages * page if valid else page
    if size < needed or size % page:
        said = f"{pages} page(s) of {page} bytes" if valid else f"pages of {page} bytes"
        raise ValueError(f"{path} is a truncated results store ({size} bytes, its header says "
                         f"{said}); it was left untouched")


def probe_connection(path, timeout: float = 30, with_log=None) -> sqlite3.Connection:
    """A read-only connection for looking inside ``path``, creating no side files if possible.

    Without a ``-wal`` log beside the file its main file holds every commit, and an
    ``immutable`` open reads it without the ``-shm`` index (which SQLite would otherwise create,
    and leave, next to a WAL database). With a log, a plain read-only open (the log must be
    read: ``with_log(path, timeout=...)`` when given). SQLite errors propagate.
    """
    if Path(f"{path}-wal").exists() and with_log is not None:
        # The log must be read: the caller's read-only connection (the store's, with its
        # fallback and messages for read-only storage).
        return with_log(Path(path), timeout=timeout)
    uri = "file:" + urllib.parse.quote(str(Path(path).resolve())) + "?mode=ro&immutable=1"
    con = sqlite3.connect(uri, uri=True, timeout=timeout)
    try:
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        con.close()
        raise
    return con


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or cannot tell: keep its files)
    return True


def remove_stale_temporaries(path) -> list[Path]:
    """Delete ``.NAME.PID.tmp`` (and its side files) beside ``path`` whose process is gone.

    Those are the hidden files :func:`store._create` builds a new store in; a process killed
    while creating one leaves them. Files of a live process are kept. Returns what was removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(r"^\." + re.escape(path.name) + r"\.(\d+)\.tmp(-journal|-wal|-shm)?$")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            (folder / name).unlink()
            removed.append(folder / name)
        except OSError:
            pass
    return removed

