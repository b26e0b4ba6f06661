r"""Grids of run configs: from value lists (:func:`build_grid`) or a TOML file.

A sweep is a list of :class:`~parity_frontiers.verify.config.RunConfig`, usually the product of
a few value lists (:func:`build_grid`, or :func:`grid_from_toml` for a file); :mod:`.sweep`
trains it.

Grid rules
----------
Every grid value may be one value or a list. The grid is the product
n x k x width x samples x init x s x activation x seeds, with two rules:

* ``s`` applies only to the sparse inits (``sparse``, ``sparse-gaussian``: the entries of
  :data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY` that take a support size):
  with ``init = ["dense", "sparse"]`` and ``s = [2, 4]`` the grid has the dense runs once
  (without s) and the sparse runs with s = 2 and s = 4. ``s`` without any sparse init, or a
  sparse init without ``s``, is an error.
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
    init = ["dense", "sparse"]   # default "dense"; also "sparse-gaussian"
    s = [2]                      # sparse-init support sizes (sparse runs only)
    activation = ["relu", "abs"] # hidden nonlinearity (default "relu")
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

import math
import numbers
import os
import tomllib
from collections.abc import Sequence
from dataclasses import fields
from itertools import product

from parity_frontiers.verify.config import MAX_SEED, RunConfig
from parity_frontiers.verify.training.registry import (
    ACTIVATION_REGISTRY,
    DEFAULT_ACTIVATION,
    INIT_REGISTRY,
)

__all__ = ["build_grid", "read_sweep_toml", "grid_from_toml", "describe_point", "GRID_KEYS",
           "TRAIN_KEYS", "MAX_GRID_RUNS"]

GRID_KEYS = ("n", "k", "width", "samples", "init", "s", "activation", "seeds", "seed_start")
TRAIN_KEYS = tuple(f.name for f in fields(RunConfig)
                   if f.name not in GRID_KEYS and f.name != "seed")
_INT_TRAIN = ("depth", "max_steps", "eval_every", "batch_size", "test_size")
_REAL_TRAIN = ("lr", "weight_decay", "success_error")

#: Most runs one grid may hold (:func:`build_grid` refuses more, before building anything).
#: Building and keying a config takes about 40 us and 250 bytes here, so a million is about
#: 40 s and 250 MB before the first run trains -- and a million runs of even one second each
#: is 11 days of training. Split a bigger sweep into several (they may share a store).
MAX_GRID_RUNS = 1_000_000


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
               activation=DEFAULT_ACTIVATION, **train) -> list[RunConfig]:
    """The product grid of run configs (rules in the module docstring).

    Parameters
    ----------
    n, k, width : int or sequence of int
        Input dimensions, parity degrees, hidden widths.
    samples : int, "online", None or a sequence of them
        Training-set sizes; None / "online" is online training (the default).
    init : {"dense", "sparse", "sparse-gaussian"} or a sequence of them
    s : int or sequence of int, optional
        Support sizes of sparse init (sparse runs only).
    activation : {"relu", "abs"} or a sequence of them
        Hidden-layer nonlinearities (default "relu").
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
    inits = _names("init", init, INIT_REGISTRY)
    activations = _names("activation", activation, ACTIVATION_REGISTRY)
    s_list = [] if s is None else [_size("s", v) for v in _as_list("s", s)]
    sparse = [name for name in inits if INIT_REGISTRY[name].sparse]
    if sparse and not s_list:
        raise ValueError(f"{sparse[0]} init needs s (the support size of each neuron)")
    if s_list and not sparse:
        raise ValueError("s applies only to sparse init, and the grid has no sparse init")
    seed_list = _seed_list(seeds, seed_start)
    points = len(ns) * len(ks) * len(widths) * len(sample_list) * len(activations) * sum(
        len(s_list) if init_ in sparse else 1 for init_ in inits)
    n_seeds = _length(seed_list)
    total = points * n_seeds
    if total > MAX_GRID_RUNS:
        raise ValueError(f"the grid has {_count_text(total)} runs ({_count_text(points)} "
                         f"point(s) x {_count_text(n_seeds)} seed(s)), more than "
                         f"MAX_GRID_RUNS = {MAX_GRID_RUNS:,} in one sweep: split it into "
                         "several sweeps (they may share a store)")
    _check_seed_range(seed_list)

    configs = []
    for n_, k_, width_, samples_, init_, act in product(ns, ks, widths, sample_list, inits,
                                                         activations):
        for s_ in (s_list if init_ in sparse else [None]):
            point = dict(n=n_, k=k_, width=width_, samples=samples_, init=init_, s=s_,
                         activation=act, **fixed)
            for seed in seed_list:
                try:
                    configs.append(RunConfig(seed=seed, **point))
                except ValueError as exc:
                    raise ValueError(f"invalid grid point {describe_point(point)}: {exc}") from None
                except TypeError as exc:  # pragma: no cover - guarded by the checks above
                    raise ValueError(str(exc)) from None
    return configs


def _names(key: str, value, registry: dict) -> list[str]:
    """Registered names, one or a list (a clear error naming the registered ones)."""
    names = _as_list(key, value)
    for name in names:
        if not isinstance(name, str) or name not in registry:
            raise ValueError(f"{key} must be one of {tuple(registry)}, got {_short(name)}")
    return names


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


def describe_point(point: dict) -> str:
    """``(n=30, k=3, width=64, samples=online, init=dense)``: the grid axes of a point (s only
    when set, activation only when not the default)."""
    shown = {k: ("online" if k == "samples" and v is None else v) for k, v in point.items()
             if k in GRID_KEYS and not (k == "s" and v is None)
             and not (k == "activation" and v == DEFAULT_ACTIVATION)}
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
