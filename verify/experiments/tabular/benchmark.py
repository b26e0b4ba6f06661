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
import time
from collections.abc import Callable, Sequence

import numpy as np

from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.verify.experiments.tabular.datasets import (
    load_dataset,
    resolve_names,
    split_counts,
    stratified_split,
    train_counts,
)
from parity_frontiers.verify.experiments.tabular.models import (
    DEFAULT_MLP_SETTINGS,
    DEFAULT_MODELS,
    ModelSpec,
    check_mlp_memory,
    estimate_mlp_bytes,
    parse_model,
)
from parity_frontiers.verify.experiments.tabular.results import (
    COLUMNS,
    TABLE,
    TabularStore,
    summarize,
)

__all__ = ["ModelSpec", "parse_model", "TabularStore", "TABLE", "COLUMNS", "run_benchmark",
           "summarize", "DEFAULT_MLP_SETTINGS", "DEFAULT_MODELS", "estimate_mlp_bytes",
           "check_mlp_memory"]


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
        ``trained`` (new rows), ``skipped`` (already stored), ``tasks``, and ``cells``
        (:func:`summarize` of the rows of this run's datasets, models and fractions).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tab.db")
    >>> out = run_benchmark(path, ["iris"], [0.2], trials=1, models=["rf"], forest_trees=10,
    ...                     progress=False)
    >>> out["trained"], out["cells"][0]["n_train"], out["cells"][0]["test_error"] < 0.2
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
            from parity_frontiers.verify.training.device import check_device

            check_device("cuda")  # ValueError unless CUDA is available
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
            "cells": summarize([r for r in rows if r["key"] in keys and r["model"] in labels])}


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
