r"""The tabular benchmark: MLP variants against a tuned random forest, by training fraction.

For every dataset, trial and training fraction (docs/theory.md §5.10; the paper's Fig. 3)
one stratified test split is drawn per (dataset, trial), the training set is the fraction's
nested stratified subsample of the rest (:mod:`verify.tabular.datasets`), and every model is
fit on it and scored on the test split. Each result is one row of the table ``tabular_runs``
in the *same SQLite file* as :class:`verify.store.ResultsStore`'s ``runs`` (the file is created
or validated by ResultsStore first, so it stays a results store), written in its own committed
transaction, keyed by a digest of everything that determines it (dataset, fraction, trial, seed,
split settings, model spec): an interrupted benchmark resumes without repeating or duplicating
a row.

Errors: the test error of one result is a proportion over the test rows, with its Wilson 95%
interval (:func:`simulate.estimates.proportion_estimate`); across trials the mean test error has
the union of Student's t 95% interval (:func:`simulate.estimates.mean_estimate`) and the Wilson
interval of the pooled test errors, which keeps a width when every trial scores the same
(:func:`summarize`). Only results whose settings agree apart from the trial are pooled.

Models are written as strings (:func:`parse_model`): ``rf`` (the tuned forest of
:mod:`verify.tabular.forest`), ``mlp:W`` (dense init), ``mlp:W1xW2:s=S`` (depth 2, s-sparse
first layer), ...
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.verify.experiments.store import (
    ResultsStore,
    connect_read_only,
    immediate_transaction,
    insert_or_ignore,
    package_version,
    utc_now,
)
from parity_frontiers.verify.experiments.tabular.datasets import (
    load_dataset,
    resolve_names,
    split_counts,
    stratified_split,
    train_counts,
)

__all__ = ["ModelSpec", "parse_model", "TabularStore", "TABLE", "run_benchmark", "summarize",
           "DEFAULT_MLP_SETTINGS", "DEFAULT_MODELS", "estimate_mlp_bytes", "check_mlp_memory"]

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

#: Training settings shared by every MLP of a benchmark (part of each result's key). Adam at
#: 1e-2: on ``sparse_parity`` (2250 training rows, width 256) Adam at 1e-3 stopped on the
#: initial loss plateau at chance (test error 0.47-0.49), at 1e-2 it reached 0.22-0.26
#: (measured here, one seed). Patience counts *optimiser steps* (500) and no run stops before
#: 2000 steps (``min_steps``, which also lengthens training on sets too small for 2000 steps
#: in 200 epochs): the earlier patience of 20 *epochs* stopped sparse_parity runs after about
#: 100 Adam steps, still on the initial plateau (best epoch mostly 1), an artefact of the
#: stopping rule rather than of the model.
DEFAULT_MLP_SETTINGS = {"optimizer": "adam", "learning_rate": 1e-2, "batch_size": 128,
                        "max_epochs": 200, "patience": 500, "min_steps": 2000,
                        "weight_decay": 0.0, "validation_fraction": 0.1}
DEFAULT_MODELS = ("rf", "mlp:256", "mlp:256:s=2")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a benchmark: the tuned forest, or an MLP (widths, init, s, settings)."""

    kind: str
    hidden: tuple[int, ...] = ()
    s: int | None = None
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short name for tables and legends, e.g. ``rf``, ``mlp 256``, ``mlp 256x64 s=2``."""
        if self.kind == "rf":
            return "rf"
        widths = "x".join(str(w) for w in self.hidden)
        return f"mlp {widths}" + (f" s={self.s}" if self.s is not None else "")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    def build(self, random_state: int, device: str = "auto"):
        """The unfitted MLP estimator of this spec (MLPs only)."""
        from parity_frontiers.verify.experiments.tabular.estimator import SparseInitMLPClassifier

        return SparseInitMLPClassifier(
            hidden_layer_sizes=self.hidden, init="dense" if self.s is None else "sparse",
            s=self.s if self.s is not None else 2, random_state=random_state, device=device,
            **self.settings)


def parse_model(text: str, mlp_settings: dict | None = None, forest_trees: int = 100,
                ) -> ModelSpec:
    """A model spec from ``rf``, ``mlp:W[xW...]`` (dense) or ``mlp:W[xW...]:s=S`` (sparse).

    Examples
    --------
    >>> parse_model("mlp:256x64:s=2").label
    'mlp 256x64 s=2'
    >>> parse_model("rf").settings
    {'n_estimators': 100, 'grid': {'max_features': ['sqrt', 1.0], 'min_samples_leaf': [1, 5]}}
    """
    from parity_frontiers.verify.experiments.tabular.forest import FOREST_GRID

    bad = (f"model must be 'rf', 'mlp:WIDTH[xWIDTH...]' or 'mlp:WIDTH[xWIDTH...]:s=S', got "
           f"{text!r}")
    if text in ("rf", "forest"):
        return ModelSpec("rf", settings={"n_estimators": int(forest_trees),
                                         "grid": FOREST_GRID})
    parts = text.split(":")
    if parts[0] != "mlp" or len(parts) not in (2, 3):
        raise ValueError(bad)
    try:
        hidden = tuple(int(float(w)) for w in parts[1].lower().split("x"))
    except (ValueError, OverflowError):  # "mlp:abc", "mlp:1e400", "mlp:nan"
        raise ValueError(bad) from None
    if not hidden or any(w < 1 for w in hidden):
        raise ValueError(bad)
    s = None
    if len(parts) == 3:
        if not parts[2].startswith("s="):
            raise ValueError(bad)
        try:
            s = int(parts[2][2:])
        except ValueError:
            raise ValueError(bad) from None
        if s < 1:
            raise ValueError(f"the sparse support s must be >= 1, got {text!r}")
    settings = dict(DEFAULT_MLP_SETTINGS)
    unknown = set(mlp_settings or {}) - set(settings)
    if unknown:
        raise ValueError(f"unknown MLP settings {sorted(unknown)}; known: {sorted(settings)}")
    settings.update(mlp_settings or {})
    return ModelSpec("mlp", hidden, s, settings)


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

def _name_hash(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def _task_key(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:32]


def run_benchmark(store, datasets: Sequence[str], fractions: Sequence[float], trials: int = 3,
                  models: Sequence[str] = DEFAULT_MODELS, seed: int = 0,
                  test_fraction: float = 0.25, max_test: int = 5000, min_per_class: int = 2,
                  mlp_settings: dict | None = None, forest_trees: int = 100,
                  cache_dir=None, download: bool = True, device: str = "auto",
                  progress: bool = True,
                  on_result: Callable[[dict], None] | None = None) -> dict:
    r"""Run (or resume) the benchmark into ``store`` and return its summary.

    Everything is validated before the store is opened or anything is trained: dataset names,
    OpenML availability, fractions (each must leave every class ``min_per_class`` training
    rows, :func:`~verify.tabular.datasets.train_counts`), trials, models, settings.

    Parameters
    ----------
    store : path
        Results store file (created if absent).
    datasets : list of str
        Dataset names or aliases (:func:`~verify.tabular.datasets.resolve_names`).
    fractions : list of float
        Training fractions of the pool, in (0, 1].
    trials : int
        Trials per (dataset, fraction, model); trial t uses its own test split.
    models : list of str
        Model specs (:func:`parse_model`).
    seed : int
        Root seed of every split and model.
    test_fraction, max_test : float, int
        Size of the test split: ``min(test_fraction, max_test / n)`` of each class.
    min_per_class : int
        Fewest training rows of any class.
    mlp_settings : dict, optional
        Overrides of :data:`DEFAULT_MLP_SETTINGS`.
    forest_trees : int
        Trees per random forest.
    cache_dir, download
        OpenML cache directory and whether a missing dataset may be downloaded.
    device : {"auto", "cpu", "cuda"}
        Where the MLPs train.
    progress : bool
        tqdm bar on stderr (off anyway when stderr is not a terminal).
    on_result : callable, optional
        Called with each new row after it is stored.

    Returns
    -------
    dict
        ``trained`` (new rows), ``skipped`` (already stored), ``tasks``, and ``summary``
        (:func:`summarize` of the rows of this run's datasets, models and fractions).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tab.db")
    >>> out = run_benchmark(path, ["iris"], [0.2], trials=1, models=["rf"], forest_trees=10,
    ...                     progress=False)
    >>> out["trained"], out["summary"][0]["n_train"], out["summary"][0]["test_error"] < 0.2
    (1, 24.0, True)
    """
    from parity_frontiers.theory.checks import check_int

    names = resolve_names(datasets)
    trials = check_int("trials", trials, strict=True)
    seed = check_int("seed", seed, minimum=0, strict=True)
    min_per_class = check_int("min_per_class", min_per_class, strict=True)
    max_test = check_int("max_test", max_test, strict=True)
    forest_trees = check_int("forest_trees", forest_trees, strict=True)
    fractions = [float(f) for f in fractions]
    if not fractions:
        raise ValueError("no training fraction given")
    for f in fractions:
        if not np.isfinite(f) or not 0 < f <= 1:
            raise ValueError(f"training fraction must be in (0, 1], got {f!r}")
    fractions = sorted(set(fractions))
    specs = [parse_model(m, mlp_settings, forest_trees) for m in models]
    if not specs:
        raise ValueError("no model given")
    if len({s.label for s in specs}) < len(specs):
        raise ValueError("a model is listed twice")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if any(s.kind == "mlp" for s in specs):  # settings errors now, not after a forest ran
        specs[[s.kind for s in specs].index("mlp")].build(0, device)._checked_params()
        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device 'cuda' requested but CUDA is not available")
    loaded = {name: load_dataset(name, cache_dir, download) for name in names}
    for name, data in loaded.items():
        labels, counts = np.unique(data.y, return_counts=True)
        try:
            _, pool = split_counts(counts, test_fraction, max_test)
        except ValueError as exc:
            raise ValueError(f"dataset {name}: {exc}") from None
        for f in fractions:
            train_counts(pool, f, min_per_class, dataset=name, class_labels=labels)
        for spec in specs:  # memory of the largest fit, refused before anything is trained
            if spec.kind == "mlp":
                check_mlp_memory(spec, data, device)

    tasks = []
    for name in names:
        for trial in range(trials):
            for f in fractions:
                for spec in specs:
                    config = {"dataset": name, "fraction": f, "trial": trial, "seed": seed,
                              "test_fraction": test_fraction, "max_test": max_test,
                              "min_per_class": min_per_class, "model": spec.as_dict()}
                    tasks.append((_task_key(config), config, spec))

    trained = 0
    with TabularStore(store) as results:
        done = results.keys()
        todo = [t for t in tasks if t[0] not in done]
        bar = progress_bar(len(tasks), unit="fit", desc="tabular", enabled=progress,
                           initial=len(tasks) - len(todo), smoothing=0.3)
        try:
            splits = {}
            for key, config, spec in todo:
                name, trial = config["dataset"], config["trial"]
                if (name, trial) not in splits:
                    rng = np.random.default_rng(
                        np.random.SeedSequence(seed, spawn_key=(_name_hash(name), trial, 0)))
                    splits[(name, trial)] = stratified_split(loaded[name].y, rng,
                                                             test_fraction, max_test)
                row = _fit_one(loaded[name], splits[(name, trial)], config, spec,
                               min_per_class, device)
                row["key"] = key
                if results.add(row):
                    trained += 1
                    if on_result is not None:
                        on_result(row)
                bar.update(1)
        finally:
            bar.close()
        rows = [r for r in results.rows() if r["dataset"] in names]
    labels = {s.label for s in specs}
    keys = {t[0] for t in tasks}
    return {"trained": trained, "skipped": len(tasks) - len(todo), "tasks": len(tasks),
            "summary": summarize([r for r in rows if r["key"] in keys and r["model"] in labels])}


def estimate_mlp_bytes(hidden: Sequence[int], n_features: int, n_classes: int, n_rows: int,
                       batch_size: int = 128, validation_fraction: float = 0.1) -> int:
    """Estimated peak memory (bytes) of fitting and scoring one MLP of the benchmark.

    With P parameters: float32 weights, gradients, two Adam moments, the best-epoch copy and
    the initial weights kept for rewinding (24 P), the float64 copy used to predict (8 P) and
    its float32 arrays (8 P); the standardised data (float64 and float32 copies, 12 bytes per
    value) and the validation forward pass (its rows through the widest layer, twice), a
    minibatch's activations and gradients (3 x 4 bytes per unit), the prediction chunks (2 x
    64 MiB); plus 15% and 16 MiB of slack, as the trainer's estimate
    (:func:`verify.training.trainer.estimate_ensemble_bytes`).
    """
    widths = [int(n_features), *(int(h) for h in hidden), int(n_classes)]
    params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))
    widest = max(widths)
    validation = math.ceil(validation_fraction * n_rows)
    total = (40 * params + 12 * n_rows * n_features + 2 * 4 * validation * widest
             + 12 * min(batch_size, n_rows) * sum(widths) + 2 * 64 * 2**20)
    return int(1.15 * total) + 16 * 2**20


def check_mlp_memory(spec: ModelSpec, data, device: str = "auto") -> None:
    """Refuse (ValueError, naming both numbers) an MLP whose fit needs more memory than the
    device's default cap or than is available now (:mod:`verify.experiments.limits`)."""
    from parity_frontiers.verify.experiments.limits import check_memory_fits

    kind = "cpu"
    if device in ("cuda", "auto"):
        import sys

        torch = sys.modules.get("torch")
        if device == "cuda" or (torch is not None and torch.cuda.is_available()):
            kind = "cuda"
    if kind == "cpu":
        from parity_frontiers.verify.training.device import DEFAULT_CPU_MEMORY_CAP_BYTES as cap
    else:
        from parity_frontiers.verify.training.device import default_memory_cap

        cap = default_memory_cap(kind)
    settings = {**DEFAULT_MLP_SETTINGS, **spec.settings}
    labels = len(np.unique(data.y))
    estimate = estimate_mlp_bytes(spec.hidden, data.X.shape[1], labels, len(data.y),
                                  int(settings["batch_size"]),
                                  float(settings["validation_fraction"] or 0.0))
    check_memory_fits(estimate, cap, f"fitting {spec.label} on {data.name} "
                                     f"({len(data.y)} rows, {data.X.shape[1]} features)", kind,
                      cap_name=f"the default cap of one fit on the {kind.upper()}")


def _fit_one(data, split, config: dict, spec: ModelSpec, min_per_class: int,
             device: str) -> dict:
    """Train one model on one training subsample; the row to store (without its key)."""
    from parity_frontiers.simulate.estimates import proportion_estimate

    test_rows, pools = split
    labels = np.unique(data.y)
    counts = train_counts([len(p) for p in pools], config["fraction"], min_per_class,
                          dataset=data.name, class_labels=labels)
    train_rows = np.sort(np.concatenate([p[:c] for p, c in zip(pools, counts, strict=True)]))
    X_train, y_train = data.X[train_rows], data.y[train_rows]
    X_test, y_test = data.X[test_rows], data.y[test_rows]
    model_seed = int(np.random.SeedSequence(
        config["seed"], spawn_key=(_name_hash(data.name), config["trial"], 1)).generate_state(1)[0])
    start = time.perf_counter()
    if spec.kind == "rf":
        from parity_frontiers.verify.experiments.tabular.forest import fit_forest

        model, details = fit_forest(X_train, y_train, random_state=model_seed,
                                    n_estimators=spec.settings["n_estimators"],
                                    grid=spec.settings["grid"])
    else:
        model = spec.build(model_seed, device).fit(X_train, y_train)
        details = {"epochs": model.n_epochs_, "steps": model.n_steps_,
                   "best_epoch": model.best_epoch_,
                   "validation_used": model.validation_used_, "device": model.device_}
    seconds = time.perf_counter() - start
    errors = int(np.sum(model.predict(X_test) != y_test))
    estimate = proportion_estimate(errors, len(test_rows))
    return {"dataset": data.name, "fraction": config["fraction"], "trial": config["trial"],
            "model": spec.label, "seed": config["seed"], "n_train": len(train_rows),
            "n_test": len(test_rows), "n_features": data.X.shape[1],
            "n_classes": len(labels), "test_errors": errors,
            "test_error": estimate.estimate, "test_ci_low": estimate.ci_low,
            "test_ci_high": estimate.ci_high,
            "train_error": float(np.mean(model.predict(X_train) != y_train)),
            "fit_seconds": seconds, "config_json": json.dumps(config, sort_keys=True),
            "details_json": json.dumps(details, sort_keys=True, default=str)}


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
