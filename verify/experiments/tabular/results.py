"""The ``tabular_runs`` table of a results store, and the summary of its rows.

Each result of :func:`verify.tabular.benchmark.run_benchmark` is one row of ``tabular_runs``
in the same SQLite file as :class:`verify.store.ResultsStore`'s ``runs``, written in its own
committed transaction (:class:`TabularStore`). :func:`summarize` pools the trials of one
(dataset, model, settings, fraction) into a mean test error with its 95% interval (the union of
Student's t and the pooled Wilson interval); results run with other settings are never pooled.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from parity_frontiers.verify.experiments.store import (
    ResultsStore,
    connect_read_only,
    immediate_transaction,
    insert_or_ignore,
    package_version,
    utc_now,
)

__all__ = ["TabularStore", "TABLE", "COLUMNS", "summarize"]

#: Table of tabular results inside a results store.
TABLE = "tabular_runs"
_COLUMNS = {
    "key": "TEXT PRIMARY KEY", "dataset": "TEXT NOT NULL", "fraction": "REAL NOT NULL",
    "trial": "INTEGER NOT NULL", "model": "TEXT NOT NULL", "seed": "INTEGER NOT NULL",
    "n_train": "INTEGER NOT NULL", "n_test": "INTEGER NOT NULL",
    "n_features": "INTEGER NOT NULL", "n_classes": "INTEGER NOT NULL",
    "test_errors": "INTEGER NOT NULL", "test_error": "REAL NOT NULL",
    "test_ci_low": "REAL NOT NULL", "test_ci_high": "REAL NOT NULL",
    "train_error": "REAL NOT NULL", "fit_seconds": "REAL NOT NULL",
    "config_json": "TEXT NOT NULL", "details_json": "TEXT NOT NULL",
    "finished_at": "TEXT NOT NULL", "version": "TEXT",
}
COLUMNS = tuple(_COLUMNS)


# --- the store ------------------------------------------------------------------------------

class TabularStore:
    """The ``tabular_runs`` table of a results store (see the module docstring).

    Parameters
    ----------
    path : path
        The results store (created, as a :class:`~verify.store.ResultsStore`, if absent).
    readonly : bool
        Read only; the file must exist (a store without the table reads as empty).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "results.db")
    >>> with TabularStore(path) as store:
    ...     store.count()
    0
    """

    def __init__(self, path, readonly: bool = False):
        self.path = Path(os.fspath(path))
        self.readonly = bool(readonly)
        self._con = None
        ResultsStore(self.path, readonly=self.readonly).close()  # create or validate
        try:
            if self.readonly:
                # ResultsStore's read-only opener: falls back to immutable=1 on read-only
                # storage, where SQLite cannot create the WAL index.
                self._con = connect_read_only(self.path, timeout=60, isolation_level=None)
            else:
                self._con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
                self._con.execute("PRAGMA synchronous = FULL")
            self._has_table = self._check_table()
        except sqlite3.Error as exc:
            self.close()
            raise ValueError(f"results store {self.path}: {exc} (while opening its "
                             f"{TABLE} table)") from None

    def _check_table(self) -> bool:
        con = self._con
        found = [r[1] for r in con.execute(f"PRAGMA table_info({TABLE})")]
        if not found:
            if self.readonly:
                return False
            columns = ", ".join(f"{name} {sql}" for name, sql in _COLUMNS.items())
            with immediate_transaction(con):
                con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
                con.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_dataset ON {TABLE} (dataset)")
            return True
        if set(found) != set(COLUMNS):
            raise ValueError(f"{self.path} has a {TABLE} table of another schema (columns "
                             f"{found}); use another store")
        return True

    def __enter__(self) -> TabularStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        con, self._con = self._con, None
        if con is not None:
            con.close()

    def add(self, row: dict) -> bool:
        """Store one result (a dict of :data:`COLUMNS` but ``finished_at``, ``version``) in
        its own committed transaction; False if its key was already stored."""
        if self.readonly:
            raise ValueError(f"results store {self.path} is open read-only")
        values = {**row, "finished_at": utc_now(), "version": package_version()}
        missing = set(COLUMNS) - set(values)
        if missing:
            raise ValueError(f"tabular result lacks {sorted(missing)}")
        try:
            return insert_or_ignore(self._con, TABLE, COLUMNS, values)
        except sqlite3.Error as exc:
            raise ValueError(f"results store {self.path}: {exc} (while storing a tabular "
                             "result)") from None

    def keys(self) -> set[str]:
        """Keys of every stored result."""
        if not self._has_table:
            return set()
        return {r[0] for r in self._con.execute(f"SELECT key FROM {TABLE}")}

    def count(self) -> int:
        """Number of stored results."""
        return len(self.keys())

    def rows(self, dataset: str | None = None) -> list[dict]:
        """Stored results as dicts, in insertion order (optionally of one dataset)."""
        if not self._has_table:
            return []
        sql = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
        params: tuple = ()
        if dataset is not None:
            sql, params = sql + " WHERE dataset = ?", (dataset,)
        return [dict(zip(COLUMNS, r, strict=True))
                for r in self._con.execute(sql + " ORDER BY rowid", params)]


# --- running --------------------------------------------------------------------------------


def _shape(config: dict) -> dict:
    """The settings of one stored result that must agree for results to be trials of one
    point: its config without ``trial``, ``dataset`` and ``fraction`` (those are the point),
    flattened to dotted keys (``model.settings.n_estimators``...)."""
    flat: dict = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        else:
            flat[prefix[:-1]] = json.dumps(value, sort_keys=True)

    walk("", {k: v for k, v in config.items() if k not in ("trial", "dataset", "fraction")})
    return flat


def _variant_labels(shapes: list[dict]) -> list[str]:
    """Short, distinct labels for the different settings one model was run with: the keys
    whose values differ between them, e.g. ``n_estimators=50``; '' when there is only one."""
    if len(shapes) < 2:
        return [""] * len(shapes)
    keys = sorted({k for shape in shapes for k in shape})
    differing = [k for k in keys if len({shape.get(k) for shape in shapes}) > 1]
    return [", ".join(f"{k.rsplit('.', 1)[-1]}={json.loads(shape[k]) if k in shape else '-'}"
                      for k in differing) for shape in shapes]


def summarize(rows) -> list[dict]:
    r"""Mean test error per (dataset, model, settings, fraction) over trials, with a 95%
    interval.

    Results are trials of one point only when everything but the trial agrees (dataset,
    fraction, model *and* its settings -- forest trees, MLP options -- seed, test split
    settings; :func:`_shape`). A model run with different settings gives one row per setting,
    its ``model`` label followed by the settings that differ, e.g. ``rf [n_estimators=50]``
    (``variant`` holds the bracketed part, '' when there is no ambiguity).

    The interval is the union of two 95% intervals: Student's t over the trials' errors
    (:func:`mean_estimate`, clipped to [0, 1], two or more trials) and the Wilson interval of
    the pooled test errors, :math:`\sum_t E_t` errors out of :math:`\sum_t n_t` test rows
    (:func:`proportion_estimate`). The t interval alone collapses to zero width when every
    trial scores the same (e.g. all 0 errors), which says nothing about the test rows' own
    binomial noise; the Wilson part keeps that floor (derived here). ``interval`` says which
    parts were used: ``t+wilson`` or ``wilson`` (one trial).

    .. math:: \bar e = \frac1T \sum_t e_t, \qquad
              [\bar e \pm t_{T-1, 0.975}\, s / \sqrt{T}] \cup
              \mathrm{Wilson}\big(\textstyle\sum_t E_t, \sum_t n_t\big)

    ``rows`` are :meth:`TabularStore.rows` dicts, or a store path.

    Examples
    --------
    >>> rows = [dict(dataset="d", model="rf", fraction=0.5, trial=t, test_error=e / 100,
    ...              test_errors=e, n_test=100, n_train=10, config_json="{}")
    ...         for t, e in enumerate([10, 12, 14])]
    >>> s = summarize(rows)[0]
    >>> s["trials"], round(s["test_error"], 3), round(s["ci_high"] - s["test_error"], 4)
    (3, 0.12, 0.0497)
    >>> zero = [dict(r, test_error=0.0, test_errors=0) for r in rows]
    >>> s = summarize(zero)[0]
    >>> s["ci_low"], round(s["ci_high"], 4)  # Wilson of 0 out of 300, not [0, 0]
    (0.0, 0.0126)
    """
    from parity_frontiers.simulate.estimates import mean_estimate, proportion_estimate

    if isinstance(rows, (str, os.PathLike)):
        with TabularStore(rows, readonly=True) as store:
            rows = store.rows()
    rows = list(rows)
    shapes = [_shape(json.loads(r.get("config_json") or "{}")) for r in rows]
    shape_keys = [json.dumps(shape, sort_keys=True) for shape in shapes]
    # Per (dataset, model): the distinct settings it was run with, and their labels.
    variants: dict[tuple, dict[str, str]] = {}
    for r, shape, key in zip(rows, shapes, shape_keys, strict=True):
        variants.setdefault((r["dataset"], r["model"]), {})[key] = shape
    labels = {}
    for point, found in variants.items():
        for key, label in zip(found, _variant_labels(list(found.values())), strict=True):
            labels[point + (key,)] = label
    groups: dict[tuple, list[dict]] = {}
    for r, key in zip(rows, shape_keys, strict=True):
        variant = labels[(r["dataset"], r["model"], key)]
        groups.setdefault((r["dataset"], r["model"], variant, r["fraction"]), []).append(r)
    out = []
    for (dataset, model, variant, fraction), members in sorted(groups.items()):
        errors = [m["test_error"] for m in members]
        pooled = proportion_estimate(int(sum(m["test_errors"] for m in members)),
                                     int(sum(m["n_test"] for m in members)))
        low, high, interval = pooled.ci_low, pooled.ci_high, "wilson"
        if len(members) >= 2:
            est = mean_estimate(errors)
            low, high = min(low, max(0.0, est.ci_low)), max(high, min(1.0, est.ci_high))
            interval = "t+wilson"
        out.append({"dataset": dataset, "model": f"{model} [{variant}]" if variant else model,
                    "variant": variant, "fraction": fraction,
                    "trials": len(members), "test_error": float(np.mean(errors)),
                    "ci_low": low, "ci_high": high, "interval": interval,
                    "n_train": float(np.mean([m["n_train"] for m in members])),
                    "n_test": float(np.mean([m["n_test"] for m in members]))})
    return out
