r"""Sweeps: grids of run configs, trained ensemble by ensemble into a results store.

A sweep is a list of :class:`~verify.config.RunConfig`, usually the product of a few value lists
(:func:`build_grid`, or :func:`grid_from_toml` for a file). :func:`run_sweep` skips every config
already in the :class:`~verify.store.ResultsStore`, groups the rest by
:meth:`RunConfig.shape_key` (runs that differ only in the seed), cuts each group into ensembles
that fit in memory (:func:`verify.trainer.max_ensemble_size`) and trains them with
:func:`verify.trainer.train_ensemble`, storing each run the moment it finishes. Killing a sweep
loses no finished run; running it again trains only what is missing.

Grid rules
----------
Every grid value may be one value or a list. The grid is the product
n x k x width x samples x init x s x seeds, with two rules:

* ``s`` applies only to sparse init: with ``init = ["dense", "sparse"]`` and ``s = [2, 4]`` the
  grid has the dense runs once (without s) and the sparse runs with s = 2 and s = 4. ``s``
  without any sparse init, or sparse init without ``s``, is an error.
* A grid point that is not a valid config (k > n, s > n, ...) is an error naming the point: no
  part of a grid is silently dropped.

``samples`` is the training-set size m; ``"online"`` (or None) means fresh samples every step.
``seeds`` is a count N (seeds ``seed_start`` .. ``seed_start + N - 1``) or an explicit list;
every seed must be below 2**63 (the store's integer range). The fixed training settings (depth,
max_steps, eval_every, batch_size, lr, weight_decay, loss, test_size, success_error) take
:class:`RunConfig`'s defaults when not given.

A grid holds at most :data:`MAX_GRID_RUNS` runs (its size is counted from the list lengths
before any config is built): a bigger sweep is split into several, which may share a store.
Every value must have the type its key takes -- a table, a nested list, a bool, or a string
where a number belongs is an error naming the key.

TOML schema
-----------
Two tables, both with only the keys below (anything else is an error)::

    [grid]                       # required; n, k, width required
    n = [30, 40]                 # input dimensions (a list, or one value)
    k = 3                        # parity degrees
    width = [16, 64]             # hidden widths r
    samples = [100, 1000, "online"]  # training-set sizes m; "online" = fresh data (default)
    init = ["dense", "sparse"]   # default "dense"
    s = [2]                      # sparse-init support sizes (sparse runs only)
    seeds = 8                    # N seeds: seed_start .. seed_start + N - 1 (default 1)
    seed_start = 0               # or: seeds = [0, 3, 7] (then no seed_start)

    [train]                      # optional; defaults are RunConfig's
    depth = 1
    max_steps = 20000
    eval_every = 100
    batch_size = 32
    lr = 0.1
    weight_decay = 0.01
    loss = "hinge"               # "hinge", "square" or "logistic"
    test_size = 10000
    success_error = 0.1

``verify/examples/sweep_small.toml`` is a complete example. Sizes may be written as integral
floats (``1e4``).

Examples
--------
>>> grid = build_grid(n=[6, 8], k=2, width=16, init=["dense", "sparse"], s=2, seeds=3,
...                   max_steps=200)
>>> len(grid), sorted({(c.init, c.s) for c in grid}, key=str)
(12, [('dense', None), ('sparse', 2)])
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import product

from simulate.estimates import proportion_estimate
from theory._checks import check_int

from .config import INITS, MAX_SEED, RunConfig, RunResult
from .store import ResultsStore

__all__ = ["build_grid", "read_sweep_toml", "grid_from_toml", "run_sweep", "train_runs",
           "plan_ensembles",
           "summarize", "median_steps_to_success", "check_device", "SweepSummary", "GRID_KEYS",
           "TRAIN_KEYS", "DEVICES", "MAX_GRID_RUNS"]

GRID_KEYS = ("n", "k", "width", "samples", "init", "s", "seeds", "seed_start")
TRAIN_KEYS = tuple(f.name for f in fields(RunConfig)
                   if f.name not in GRID_KEYS and f.name != "seed")
DEVICES = ("auto", "cpu", "cuda")
_INT_TRAIN = ("depth", "max_steps", "eval_every", "batch_size", "test_size")
_REAL_TRAIN = ("lr", "weight_decay", "success_error")

#: Most runs one grid may hold (:func:`build_grid` refuses more, before building anything).
#: Building and keying a config takes about 40 us and 250 bytes here, so a million is about
#: 40 s and 250 MB before the first run trains -- and a million runs of even one second each
#: is 11 days of training. Split a bigger sweep into several (they may share a store).
MAX_GRID_RUNS = 1_000_000


def _trainer_module():
    # Imported on first use: torch is slow to import, and `results export` or a fully
    # finished sweep should not pay for it.
    return importlib.import_module("verify.trainer")


# --- grids -----------------------------------------------------------------------------------

_COLLECTIONS = (list, tuple, set, frozenset, range, dict)


def _as_list(name: str, value) -> list:
    if isinstance(value, dict):
        raise ValueError(f"{name} must be a value or a list of values, not a table "
                         f"({_short(value)})")
    if isinstance(value, (list, tuple)):
        values = list(value)
    elif isinstance(value, (set, frozenset, range)):
        try:
            values = sorted(value) if not isinstance(value, range) else list(value)
        except TypeError:
            raise ValueError(f"{name}: cannot order the values {_short(value)}") from None
    else:
        values = [value]
    if not values:
        raise ValueError(f"{name} must have at least one value")
    for item in values:
        if isinstance(item, _COLLECTIONS):
            kind = "a table" if isinstance(item, dict) else "a list"
            raise ValueError(f"{name}: each value must be a single value, not {kind} "
                             f"({_short(item)})")
    try:
        return list(dict.fromkeys(values))  # drop repeats, keep order
    except TypeError:  # another unhashable object
        raise ValueError(f"{name}: unsupported value in {_short(values)}") from None


def _short(value, limit: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _size(name: str, value) -> int:
    """A whole number given as int or integral float (TOML writes 1e4 as a float)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_short(value)}")
    return int(value)  # numpy integers too: the store key needs a plain int


def _samples(value) -> int | None:
    if value is None or (isinstance(value, str) and value.lower() == "online"):
        return None
    if isinstance(value, str):
        raise ValueError(f"samples must be an integer or 'online', got {_short(value)}")
    try:
        return _size("samples", value)
    except ValueError:
        raise ValueError(f"samples must be an integer or 'online', got {_short(value)}") \
            from None


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {_short(value)}")
    try:
        return float(value)  # 1 and 1.0 would give different store keys
    except OverflowError:
        raise ValueError(f"{name} is too large, got {_short(value)}") from None


def build_grid(n, k, width, samples=None, init="dense", s=None, seeds=1, seed_start=0,
               **train) -> list[RunConfig]:
    """The product grid of run configs (rules in the module docstring).

    Parameters
    ----------
    n, k, width : int or sequence of int
        Input dimensions, parity degrees, hidden widths.
    samples : int, "online", None or a sequence of them
        Training-set sizes; None / "online" is online training (the default).
    init : {"dense", "sparse"} or a sequence of them
    s : int or sequence of int, optional
        Support sizes of sparse init (sparse runs only).
    seeds : int or sequence of int
        A count N of seeds starting at ``seed_start``, or an explicit list.
    seed_start : int
        First seed when ``seeds`` is a count.
    **train
        Fixed settings, any of :data:`TRAIN_KEYS`.

    Returns
    -------
    list of RunConfig
        Grid points in order, each with all its seeds consecutive; no duplicates.
    """
    unknown = sorted(set(train) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}; known: "
                         f"{', '.join(TRAIN_KEYS)}")
    fixed = {}
    for name, value in train.items():
        if value is None:
            continue
        if name in _INT_TRAIN:
            fixed[name] = _size(name, value)
        elif name in _REAL_TRAIN:
            fixed[name] = _real(name, value)
        elif not isinstance(value, str):  # loss
            raise ValueError(f"{name} must be a string, got {_short(value)}")
        else:
            fixed[name] = value
    ns = [_size("n", v) for v in _as_list("n", n)]
    ks = [_size("k", v) for v in _as_list("k", k)]
    widths = [_size("width", v) for v in _as_list("width", width)]
    sample_list = list(dict.fromkeys(_samples(v) for v in _as_list("samples", samples)))
    inits = _as_list("init", init)
    for value in inits:
        if not isinstance(value, str) or value not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {_short(value)}")
    s_list = [] if s is None else [_size("s", v) for v in _as_list("s", s)]
    if "sparse" in inits and not s_list:
        raise ValueError("sparse init needs s (the support size of each neuron)")
    if s_list and "sparse" not in inits:
        raise ValueError("s applies only to sparse init, and the grid has no sparse init")
    seed_list = _seed_list(seeds, seed_start)
    points = len(ns) * len(ks) * len(widths) * len(sample_list) * sum(
        len(s_list) if init_ == "sparse" else 1 for init_ in inits)
    n_seeds = _length(seed_list)
    total = points * n_seeds
    if total > MAX_GRID_RUNS:
        raise ValueError(f"the grid has {_count_text(total)} runs ({_count_text(points)} "
                         f"point(s) x {_count_text(n_seeds)} seed(s)), more than "
                         f"MAX_GRID_RUNS = {MAX_GRID_RUNS:,} in one sweep: split it into "
                         "several sweeps (they may share a store)")
    _check_seed_range(seed_list)

    configs = []
    for n_, k_, width_, samples_, init_ in product(ns, ks, widths, sample_list, inits):
        for s_ in (s_list if init_ == "sparse" else [None]):
            point = dict(n=n_, k=k_, width=width_, samples=samples_, init=init_, s=s_, **fixed)
            for seed in seed_list:
                try:
                    configs.append(RunConfig(seed=seed, **point))
                except ValueError as exc:
                    raise ValueError(f"invalid grid point {_describe(point)}: {exc}") from None
                except TypeError as exc:  # pragma: no cover - guarded by the checks above
                    raise ValueError(str(exc)) from None
    return configs


def _seed_list(seeds, seed_start) -> Sequence[int]:
    """The seeds: an explicit list, or a count as a ``range`` (nothing built yet: the grid
    size is checked first). Each seed is >= 0 here; < 2**63 is :func:`_check_seed_range`'s."""
    if isinstance(seeds, range):  # kept lazy; a range never repeats a value
        if seed_start not in (0, None):
            raise ValueError("seed_start goes with a seed count, not with an explicit seed list")
        if not seeds or min(seeds[0], seeds[-1]) < 0:
            raise ValueError(f"seeds must be a non-empty range of seeds >= 0, got {seeds}")
        return seeds
    if isinstance(seeds, (list, tuple, set, frozenset, dict)):
        if seed_start not in (0, None):
            raise ValueError("seed_start goes with a seed count, not with an explicit seed list")
        values = list(dict.fromkeys(_size("seeds", v) for v in _as_list("seeds", seeds)))
        if any(v < 0 for v in values):
            raise ValueError(f"seeds must be >= 0, got {_short(values)}")
        return values
    count = _size("seeds", seeds)
    if count < 1:
        raise ValueError(f"seeds must be >= 1, got {count}")
    start = _size("seed_start", 0 if seed_start is None else seed_start)
    if start < 0:
        raise ValueError(f"seed_start must be >= 0, got {start}")
    if start >= MAX_SEED:
        raise ValueError(f"seed_start must be < 2**63 (the store's integer range), got {start}")
    return range(start, start + count)


def _check_seed_range(seeds: Sequence[int]) -> None:
    # A range's maximum is one of its ends: no need to walk it.
    counted = isinstance(seeds, range)
    largest = max(seeds[0], seeds[-1]) if counted else max(seeds)
    if largest >= MAX_SEED:
        raise ValueError(f"every seed must be < 2**63 (the store's integer range); the largest "
                         f"here is {largest}" + (" (seed_start + seeds - 1)" if counted else ""))


def _length(seeds: Sequence[int]) -> int:
    if isinstance(seeds, range):  # len() overflows past sys.maxsize
        return max(0, -((seeds.start - seeds.stop) // seeds.step))
    return len(seeds)


def _count_text(count: int) -> str:
    return f"{count:,}" if count < 10**15 else f"{count:.3g}"


def _describe(point: dict) -> str:
    shown = {k: ("online" if k == "samples" and v is None else v) for k, v in point.items()
             if k in GRID_KEYS and not (k == "s" and v is None)}
    return "(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


def read_sweep_toml(path) -> dict:
    """Keyword arguments of :func:`build_grid` from a sweep TOML file (schema in the module
    docstring). Raises ValueError naming the file on unreadable or invalid TOML, unknown tables
    or keys, and missing required keys."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"sweep file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot read sweep file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"sweep file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"grid", "train"})
    if unknown:
        raise ValueError(f"sweep file {path}: unknown table(s) or key(s) {', '.join(unknown)} "
                         "(expected [grid] and optionally [train])")
    grid, train = data.get("grid"), data.get("train", {})
    if not isinstance(grid, dict):
        raise ValueError(f"sweep file {path} needs a [grid] table")
    if not isinstance(train, dict):
        raise ValueError(f"sweep file {path}: train must be a table ([train])")
    for table, allowed, name in ((grid, GRID_KEYS, "grid"), (train, TRAIN_KEYS, "train")):
        bad = sorted(set(table) - set(allowed))
        if bad:
            raise ValueError(f"sweep file {path}: unknown key(s) in [{name}]: {', '.join(bad)}; "
                             f"allowed: {', '.join(allowed)}")
    missing = [key for key in ("n", "k", "width") if key not in grid]
    if missing:
        raise ValueError(f"sweep file {path}: [grid] needs {', '.join(missing)}")
    return {**grid, **train}


def grid_from_toml(path) -> list[RunConfig]:
    """:func:`build_grid` of a sweep TOML file; errors name the file."""
    kwargs = read_sweep_toml(path)
    try:
        return build_grid(**kwargs)
    except ValueError as exc:
        raise ValueError(f"sweep file {os.fspath(path)}: {exc}") from None


# --- training --------------------------------------------------------------------------------

def check_device(device: str) -> str:
    """Validate a device name: "auto", "cpu", "cuda" or "cuda:N" (CUDA must be available)."""
    if not isinstance(device, str) or not (
            device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {device!r}")
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but CUDA is not available here "
                             "(use --device cpu or auto)")
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA "
                             "device(s)")
    return device


def _groups(items: Iterable, config_of=lambda item: item) -> list[list]:
    """Items (configs, or results with ``config_of``) grouped by shape key, first-seen order."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(config_of(item).shape_key(), []).append(item)
    return list(groups.values())


def _unique(configs: Iterable[RunConfig]) -> list[RunConfig]:
    seen, out = set(), []
    for config in configs:
        if not isinstance(config, RunConfig):
            raise ValueError(f"expected RunConfig objects, got {type(config).__name__}")
        key = config.key()
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out


def _progress_bar(total: int, initial: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm
    # disable=None: tqdm turns itself off when stderr is not a terminal (CI logs, pipes).
    # smoothing=0: the ETA uses the average rate, since runs finish in ensemble-sized bursts.
    return tqdm(total=total, initial=initial, unit="run", desc=desc, file=sys.stderr,
                disable=None if enabled else True, smoothing=0, dynamic_ncols=True)


def plan_ensembles(configs: Sequence[RunConfig], device: str = "auto",
                   memory_cap_bytes: int | None = None,
                   max_ensemble: int | None = None) -> list[list[RunConfig]]:
    """Cut configs into the ensembles :func:`train_runs` trains, in order.

    Configs are grouped by :meth:`RunConfig.shape_key` (first-seen order, duplicates dropped)
    and each group is cut into consecutive chunks of at most
    :func:`verify.trainer.max_ensemble_size` runs for ``device`` and ``memory_cap_bytes``, and
    at most ``max_ensemble``. Executors that ship chunks elsewhere (:mod:`verify.executors`)
    use the same plan.

    Raises ValueError when one run alone does not fit in the memory cap.
    """
    configs = _unique(configs)
    if max_ensemble is not None:
        max_ensemble = check_int("max_ensemble", max_ensemble, strict=True)
    if not configs:
        return []
    trainer = _trainer_module()
    plan = []
    for group in _groups(configs):
        size = int(trainer.max_ensemble_size(group[0], memory_cap_bytes, device=device))
        if size < 1:
            raise ValueError(f"one run of {_describe(group[0].as_dict())} does not fit in the "
                             "memory cap")
        if max_ensemble is not None:
            size = min(size, max_ensemble)
        plan.extend(group[i:i + size] for i in range(0, len(group), size))
    return plan


def train_runs(configs: Sequence[RunConfig], device: str = "auto",
               on_result: Callable[[RunResult], None] | None = None, progress: bool = True,
               memory_cap_bytes: int | None = None, max_ensemble: int | None = None,
               _bar=None) -> list[RunResult]:
    """Train every config, ensemble by ensemble; results in the order of ``configs``.

    Configs are grouped by :meth:`RunConfig.shape_key` and each group is cut into ensembles of
    at most :func:`verify.trainer.max_ensemble_size` runs (and ``max_ensemble``, if given).

    Parameters
    ----------
    configs : sequence of RunConfig
        Duplicates (same key) are trained once.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    on_result : callable, optional
        Called with each :class:`RunResult` as its run finishes (e.g. ``store.add``).
    progress : bool
        Show a progress bar of runs done / total with ETA on stderr (never when stderr is not a
        terminal).
    memory_cap_bytes : int, optional
        Memory cap passed to the trainer (its default when None).
    max_ensemble : int, optional
        Upper bound on the runs trained together (smaller ensembles store results sooner).
    """
    check_device(device)
    configs = _unique(configs)
    if not configs:
        return []
    trainer = _trainer_module()
    plan = plan_ensembles(configs, device, memory_cap_bytes, max_ensemble)

    from .executors import ResultHandoff

    bar = _bar if _bar is not None else _progress_bar(len(configs), 0, progress, "train")
    finished = ResultHandoff(on_result, bar)

    state = {"steps": 0, "shown": 0.0, "of": "", "T": 0}

    def tick(steps: int) -> None:
        # The trainer reports the steps every active run advanced since its last call. Show
        # them, at most twice a second: a long ensemble then still moves the elapsed time and
        # the ETA, though no run has finished yet.
        state["steps"] += steps
        now = time.monotonic()
        if now - state["shown"] >= 0.5:
            state["shown"] = now
            bar.set_postfix_str(f"{state['of']} step {state['steps']}/{state['T']}",
                                refresh=True)

    try:
        for chunk in plan:
            state["steps"] = 0
            state["of"] = f"ensemble of {len(chunk)}:"
            state["T"] = chunk[0].max_steps
            returned = trainer.train_ensemble(chunk, device=device, on_result=finished,
                                              progress=tick, memory_cap_bytes=memory_cap_bytes)
            for result in returned:  # in case a result was returned but not reported
                finished(result)
    finally:
        if _bar is None:
            bar.close()
    return finished.in_order(configs, "trainer")


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did: ``total`` distinct configs, ``skipped`` (already stored),
    ``trained`` now, ``successes`` among all ``total`` runs (stored ones included), and
    ``points``: :func:`summarize` of all of them, one entry per grid point."""

    total: int
    skipped: int
    trained: int
    successes: int
    wall_seconds: float
    points: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def run_sweep(configs: Sequence[RunConfig], store: ResultsStore, device: str = "auto",
              progress: bool = True, memory_cap_bytes: int | None = None,
              max_ensemble: int | None = None, executor=None) -> SweepSummary:
    """Train every config not yet in ``store``, storing each run as it finishes.

    Parameters
    ----------
    configs : sequence of RunConfig
        The sweep (e.g. :func:`build_grid`); duplicates count once.
    store : ResultsStore
        Where runs are written, one committed transaction each; a key already there is skipped.
        Before anything is trained it is checked whole (:meth:`ResultsStore.check`): a store
        that cannot be read or written raises ValueError then, and trains nothing.
    device, progress, memory_cap_bytes, max_ensemble
        As in :func:`train_runs`. The progress bar counts all runs of the sweep, the skipped
        ones included, so a resumed sweep starts part-way.
    executor : verify.executors.Executor, optional
        Where the runs are trained (default: a :class:`~verify.executors.LocalExecutor` with
        ``device``, ``memory_cap_bytes`` and ``max_ensemble``; a given executor carries its
        own). Results come back to this process, which alone writes ``store``.

    Returns
    -------
    SweepSummary

    Interrupting (Ctrl-C, a kill) keeps every run stored so far; calling again resumes.
    """
    start = time.perf_counter()
    if executor is None:
        from .executors import LocalExecutor

        executor = LocalExecutor(device, memory_cap_bytes, max_ensemble)
    elif device != "auto" or memory_cap_bytes is not None or max_ensemble is not None:
        raise ValueError("give device, memory_cap_bytes and max_ensemble to the executor, not "
                         "to run_sweep (the executor carries its own)")
    configs = _unique(configs)
    stored = store.completed_keys()
    todo = [c for c in configs if c.key() not in stored]
    skipped = len(configs) - len(todo)
    if todo:
        # Read every page and try a write now: a damaged or unwritable store must fail here,
        # not at the first store.add after a run has been trained.
        store.check()
        with _progress_bar(len(configs), skipped, progress, "sweep") as bar:
            executor.train(todo, on_result=store.add, progress=progress, _bar=bar)
    results = store.results(keys=[c.key() for c in configs])
    return SweepSummary(total=len(configs), skipped=skipped, trained=len(todo),
                        successes=sum(r.success for r in results),
                        wall_seconds=time.perf_counter() - start, points=summarize(results))


def summarize(results: Iterable[RunResult]) -> list[dict]:
    """Success rate per grid point (runs sharing a shape key), with the Wilson 95% interval.

    Each entry has the point's config fields (no seed), ``runs``, ``successes``,
    ``success_rate``, ``ci_low``, ``ci_high`` and ``median_steps_to_success``, in first-seen
    order.

    ``median_steps_to_success`` is the Kaplan-Meier median over *all* the point's runs (see
    :func:`median_steps_to_success`): a run that did not succeed counts as right-censored at
    ``max_steps``, not as absent, so the median does not flatter a point where most runs fail.
    It is None when the median is not reached within ``max_steps`` (fewer than half the runs
    succeeded): the median time to success is then only known to exceed ``max_steps``.
    """
    points = []
    for group in _groups(results, lambda result: result.config):
        config = {k: v for k, v in group[0].config.as_dict().items() if k != "seed"}
        wins = sum(bool(r.success) for r in group)
        estimate = proportion_estimate(wins, len(group))
        points.append({**config, "runs": len(group), "successes": wins,
                       "success_rate": estimate.estimate, "ci_low": estimate.ci_low,
                       "ci_high": estimate.ci_high,
                       "median_steps_to_success": median_steps_to_success(group)})
    return points


def median_steps_to_success(results: Sequence[RunResult]) -> float | None:
    """Kaplan-Meier median of the steps to success of runs of one config (and max_steps).

    A run that succeeded is an event at its ``steps_to_success``; any other run (max_steps,
    diverged) is right-censored at ``max_steps`` -- it did not succeed within the budget. All
    the censoring is at ``max_steps``, after every event, so the Kaplan-Meier survival curve is
    the empirical one with the censored runs at +inf: S(t) = #(runs not succeeded by t) / N.
    The median is the first t with S(t) <= 1/2 (the midpoint of the two middle success times
    when S is exactly 1/2 between them, which is the ordinary median when every run succeeds),
    and None when S stays above 1/2 up to ``max_steps``: fewer than half the runs succeeded,
    so the median is only known to exceed ``max_steps``. Agrees with
    ``scipy.stats.ecdf(scipy.stats.CensoredData(uncensored=..., right=...))`` (tested).
    """
    times = sorted(r.steps_to_success if r.success and r.steps_to_success is not None
                   else math.inf for r in results)
    if not times:
        return None
    half = (len(times) + 1) // 2  # 1-based rank where S first drops to <= 1/2
    median = times[half - 1]
    if median == math.inf:
        return None
    if len(times) % 2 == 0 and times[half] != math.inf:
        return (median + times[half]) / 2
    return median
