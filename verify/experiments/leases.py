"""Claims on runs in a results store, so that concurrent sweeps never train a run twice.

Before training, a sweep claims the runs it is about to train: one row per run key in the
table ``leases`` of the store's SQLite file, with its owner and an expiry time. Another sweep
sharing runs with it skips the claimed ones, trains the rest, then waits until the claimed
runs are stored -- or until their lease lapses, when it claims and trains them itself. A
claimant renews its leases from a heartbeat thread while it trains, deletes each one as its run
is stored, and releases what is left when it stops (Ctrl-C included). A claimant killed outright
(``kill -9``, a lost machine) stops renewing: its runs are free again once the lease expires --
at once when the claimant ran on this host and its process is gone.

The table is created on demand by the first sweep that claims anything, so stores written
before it existed need no migration (readers never look at it)::

    leases(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL,
           claimed_at REAL NOT NULL)

``expires`` and ``claimed_at`` are Unix times (``time.time()``): machines sharing a store on a
network filesystem should keep their clocks in sync to well within the lease duration.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Claims", "DEFAULT_LEASE_SECONDS", "lease_seconds_from_env"]

#: Lease duration (seconds): a crashed claimant's runs are retrained at most this long after
#: it stopped renewing. Renewed every third of it while the claimant lives.
DEFAULT_LEASE_SECONDS = 600.0
#: Environment variable overriding :data:`DEFAULT_LEASE_SECONDS`.
LEASE_ENV = "PARITY_FRONTIERS_LEASE_SECONDS"

_SCHEMA = ("CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
           "expires REAL NOT NULL, claimed_at REAL NOT NULL)")
_BATCH = 500


def lease_seconds_from_env() -> float:
    """:data:`LEASE_ENV` if set to a positive number, else :data:`DEFAULT_LEASE_SECONDS`."""
    text = os.environ.get(LEASE_ENV, "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_LEASE_SECONDS
    return value if 0 < value < float("inf") else DEFAULT_LEASE_SECONDS


def _owner_alive(owner: str) -> bool:
    """False only for a claimant known dead: one of this host whose process is gone (a sweep
    killed here and run again need not wait for its lease); elsewhere, trust the lease."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return True
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours, or cannot tell
        return True
    return True


def _batches(items: list, size: int = _BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Claims:
    """This process's claims on runs of the store at ``path`` (a context manager).

    Parameters
    ----------
    path : path
        The results store (an existing SQLite file in WAL mode).
    lease_seconds : float, optional
        Lease duration (default :func:`lease_seconds_from_env`).

    Examples
    --------
    >>> import tempfile, os
    >>> from parity_frontiers.verify.experiments.store import ResultsStore
    >>> path = os.path.join(tempfile.mkdtemp(), "runs.db")
    >>> ResultsStore(path).close()
    >>> with Claims(path, lease_seconds=60) as mine, Claims(path, lease_seconds=60) as theirs:
    ...     sorted(mine.claim(["a", "b"])), sorted(theirs.claim(["b", "c"]))
    (['a', 'b'], ['c'])
    """

    def __init__(self, path, lease_seconds: float | None = None):
        self.path = Path(path)
        self.lease = float(lease_seconds) if lease_seconds is not None else \
            lease_seconds_from_env()
        if not self.lease > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._con = self._connect()
        self._stop = threading.Event()
        self._heart = None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                              check_same_thread=False)
        con.execute(_SCHEMA)
        return con

    # --- context manager ------------------------------------------------------------------

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the heartbeat and release every claim still held (idempotent)."""
        self._stop.set()
        if self._heart is not None:
            self._heart.join(5)
            self._heart = None
        with self._lock:
            if self._con is None:
                return
            try:
                self._con.execute("DELETE FROM leases WHERE owner = ?", (self.owner,))
            except sqlite3.Error:  # the leases lapse by themselves
                pass
            finally:
                self._con.close()
                self._con = None

    # --- claiming -------------------------------------------------------------------------

    def claim(self, keys: Iterable[str]) -> set[str]:
        """Claim every key not stored and not held by a live lease of another owner.

        One transaction: two sweeps claiming at once never both get a key. Returns the keys
        claimed now (this owner's existing claims on ``keys`` are renewed and included).
        """
        keys = list(dict.fromkeys(keys))
        now = time.time()
        got: set[str] = set()
        with self._lock:
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                for batch in _batches(keys):
                    marks = ", ".join("?" * len(batch))
                    stored = {r[0] for r in con.execute(
                        f"SELECT key FROM runs WHERE key IN ({marks})", batch)}
                    held = {r[0] for r in con.execute(
                        f"SELECT key, owner FROM leases WHERE key IN ({marks}) AND owner != ? "
                        "AND expires > ?", [*batch, self.owner, now]) if _owner_alive(r[1])}
                    free = [k for k in batch if k not in stored and k not in held]
                    con.executemany(
                        "INSERT OR REPLACE INTO leases (key, owner, expires, claimed_at) "
                        "VALUES (?, ?, ?, ?)",
                        [(k, self.owner, now + self.lease, now) for k in free])
                    got.update(free)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        if got:
            self._start_heartbeat()
        return got

    def release(self, key: str) -> None:
        """Drop this owner's claim on ``key`` (its run is stored, or will not be trained)."""
        with self._lock:
            if self._con is not None:
                self._con.execute("DELETE FROM leases WHERE key = ? AND owner = ?",
                                  (key, self.owner))

    def held_by_others(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` not stored and held by a live lease of another owner."""
        keys = list(dict.fromkeys(keys))
        now = time.time()
        found: set[str] = set()
        with self._lock:
            for batch in _batches(keys):
                marks = ", ".join("?" * len(batch))
                found.update(r[0] for r in self._con.execute(
                    f"SELECT key, owner FROM leases WHERE key IN ({marks}) AND owner != ? AND "
                    f"expires > ? AND key NOT IN (SELECT key FROM runs WHERE key IN ({marks}))",
                    [*batch, self.owner, now, *batch]) if _owner_alive(r[1]))
        return found

    def stored(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` already in the store's runs."""
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._lock:
            for batch in _batches(keys):
                marks = ", ".join("?" * len(batch))
                found.update(r[0] for r in self._con.execute(
                    f"SELECT key FROM runs WHERE key IN ({marks})", batch))
        return found

    # --- heartbeat ------------------------------------------------------------------------

    def renew(self) -> None:
        """Push the expiry of every claim of this owner one lease ahead."""
        with self._lock:
            if self._con is not None:
                self._con.execute("UPDATE leases SET expires = ? WHERE owner = ?",
                                  (time.time() + self.lease, self.owner))

    def _start_heartbeat(self) -> None:
        if self._heart is not None:
            return
        self._heart = threading.Thread(target=self._beat, name="parity-frontiers-lease",
                                       daemon=True)
        self._heart.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.renew()
            except sqlite3.Error:  # busy for a moment: the next beat renews
                pass
