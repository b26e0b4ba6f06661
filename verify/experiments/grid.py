r"""Grids of run configs: from value lists (:func:`build_grid`) or a TOML file.

A sweep is a list of :class:`~parity_frontiers.verify.config.RunConfig`, usually the product of
a few value lists (:func:`build_grid`, or :func:`grid_from_toml` for a file); :mod:`.sweep`
trains it.

Grid rules
----------
Every :class:`RunConfig` field but the seed (:data:`AXIS_KEYS`) may be one value or a list of
values: a list is an axis of the grid. The grid is the product of the axes x seeds, with two
rules:

* ``s`` applies only to the sparse inits (``sparse``, ``sparse-gaussian``: the entries of
  :data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY` that take a support size):
  with ``init = ["dense", "sparse"]`` and ``s = [2, 4]`` the grid has the dense runs once
  (without s) and the sparse runs with s = 2 and s = 4. ``s`` without any sparse init, or a
  sparse init without ``s``, is an error.
* A grid point that is not a valid config (k > n, s > n, lr * weight_decay past float32, ...)
  is an error naming the point: no part of a grid is silently dropped.

``samples`` is the training-set size m; ``"online"`` (or None) means fresh samples every step.
``seeds`` is a count N (seeds ``seed_start`` .. ``seed_start + N - 1``) or an explicit list;
every seed must be below 2**63 (the store's integer range). The training settings (depth,
max_steps, eval_every, batch_size, lr, weight_decay, loss, test_size, success_error) take
:class:`RunConfig`'s defaults when not given; given as lists they are axes like the others
(``lr = [0.1, 0.05]`` trains every point at both rates).

A grid holds at most :data:`MAX_GRID_RUNS` runs (its size is counted from the list lengths
before any config is built): a bigger sweep is split into several, which may share a store.
Every value must have the type its key takes -- a table, a nested list, a bool, or a string
where a number belongs is an error naming the key (its command-line flag when the grid comes
from the command line). Values are checked with :mod:`parity_frontiers.theory.checks`.

TOML schema
-----------
Two tables, both with only the keys below (anything else is an error naming the valid keys)::

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

    [train]                      # optional; defaults are RunConfig's; each a value or a list
    depth = 1
    max_steps = 20000
    eval_every = 100
    batch_size = 32
    lr = [0.1, 0.05]             # a list: an axis of the grid
    weight_decay = 0.01
    loss = "hinge"               # "hinge", "square" or "logistic"
    test_size = 10000
    success_error = 0.1

A training setting may also be written in ``[grid]`` (not in both tables). The files in
``verify/examples/`` are complete examples (``sweep --config example:NAME``:
:func:`example_path`). Sizes may be written as integral floats (``1e4``).

Examples
--------
>>> grid = build_grid(n=[6, 8], k=2, width=16, init=["dense", "sparse"], s=2, seeds=3,
...                   max_steps=200)
>>> len(grid), sorted({(c.init, c.s) for c in grid}, key=str)
(12, [('dense', None), ('sparse', 2)])
>>> sorted({(c.lr, c.depth) for c in build_grid(n=6, k=2, width=8, lr=[0.1, 0.05],
...                                              depth=[1, 2])})
[(0.05, 1), (0.05, 2), (0.1, 1), (0.1, 2)]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import fields
from importlib import resources
from itertools import product
from pathlib import Path

from parity_frontiers.theory.checks import check_int, check_real
from parity_frontiers.verify.config import MAX_SEED, RunConfig
from parity_frontiers.verify.training.registry import (
    ACTIVATION_REGISTRY,
    DEFAULT_ACTIVATION,
    INIT_REGISTRY,
    LOSS_REGISTRY,
)

__all__ = ["build_grid", "read_sweep_toml", "grid_from_toml", "describe_point", "GRID_KEYS",
           "TRAIN_KEYS", "AXIS_KEYS", "MAX_GRID_RUNS", "EXAMPLE_PREFIX", "example_names",
           "example_path", "resolve_config"]

GRID_KEYS = ("n", "k", "width", "samples", "init", "s", "activation", "seeds", "seed_start")
TRAIN_KEYS = tuple(f.name for f in fields(RunConfig)
                   if f.name not in GRID_KEYS and f.name != "seed")
#: The keys that may be lists (axes of the grid): every RunConfig field but the seed.
AXIS_KEYS = tuple(f.name for f in fields(RunConfig) if f.name != "seed")
_SIZES = ("n", "k", "width", "s", "depth", "max_steps", "eval_every", "batch_size", "test_size")
_REALS = ("lr", "weight_decay", "success_error")
_NAMES = {"init": INIT_REGISTRY, "activation": ACTIVATION_REGISTRY, "loss": LOSS_REGISTRY}
#: Axes that always appear in a point's description (the training settings only when varied).
_SHOWN = ("n", "k", "width", "samples", "init", "s", "activation")

#: Most runs one grid may hold (:func:`build_grid` refuses more, before building anything).
#: Building and keying a config takes about 40 us and 250 bytes here, so a million is about
#: 40 s and 250 MB before the first run trains -- and a million runs of even one second each
#: is 11 days of training. Split a bigger sweep into several (they may share a store).
MAX_GRID_RUNS = 1_000_000

#: ``--config example:NAME`` names a sweep file packaged in ``verify/examples/``.
EXAMPLE_PREFIX = "example:"


# --- grids -----------------------------------------------------------------------------------

_COLLECTIONS = (list, tuple, set, frozenset, range, dict)
Label = Callable[[str], str]


def _flag_label(name: str) -> str:
    return "--" + name.replace("_", "-")


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
    return values


def _short(value, limit: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one(key: str, value, name: str):
    """One value of axis ``key`` in the type RunConfig stores (``name`` labels it)."""
    if key == "samples":
        if value is None or (isinstance(value, str) and value.lower() == "online"):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be an integer or 'online', got {_short(value)}")
        return check_int(name, value, 1)
    if key in _SIZES:
        return check_int(name, value, 1)
    if key in _REALS:
        # a float: 1 and 1.0 would give different store keys
        return float(check_real(name, value))
    registry = _NAMES[key]
    if not isinstance(value, str) or value not in registry:
        raise ValueError(f"{name} must be one of {tuple(registry)}, got {_short(value)}")
    return value


def _axis(key: str, value, label: Label) -> list:
    name = label(key)
    # drop repeats (1e3 and 1000 too), keep order
    return list(dict.fromkeys(_one(key, v, name) for v in _as_list(name, value)))


def build_grid(n, k, width, samples=None, init="dense", s=None, seeds=1, seed_start=0,
               activation=DEFAULT_ACTIVATION, *, flags: bool = False,
               **train) -> list[RunConfig]:
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
    flags : bool
        Name values in messages by their command-line flags (``--max-steps``), not their
        keys (``max_steps``).
    **train
        Training settings, any of :data:`TRAIN_KEYS`: one value or a list (an axis); None
        takes RunConfig's default.

    Returns
    -------
    list of RunConfig
        Grid points in order, each with all its seeds consecutive; no duplicates.
    """
    label = _flag_label if flags else str
    unknown = sorted(set(train) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(map(label, unknown))}; "
                         f"known: {', '.join(map(label, TRAIN_KEYS))}")
    given = dict(n=n, k=k, width=width, samples=samples, init=init, activation=activation,
                 **{name: value for name, value in train.items() if value is not None})
    axes = {key: _axis(key, value, label) for key, value in given.items()}
    s_list = [] if s is None else _axis("s", s, label)
    sparse = [name for name in axes["init"] if INIT_REGISTRY[name].sparse]
    if sparse and not s_list:
        raise ValueError(f"{label('init')} {sparse[0]} needs {label('s')} (the support size "
                         "of each neuron)" if flags else
                         f"{sparse[0]} init needs s (the support size of each neuron)")
    if s_list and not sparse:
        raise ValueError(f"{label('s')} applies only to sparse init, and the grid has no "
                         "sparse init")
    seed_list = _seed_list(seeds, seed_start, label)
    points = len(s_list) * len(sparse) + len(axes["init"]) - len(sparse)
    for key, values in axes.items():
        if key != "init":
            points *= len(values)
    n_seeds = _length(seed_list)
    total = points * n_seeds
    if total > MAX_GRID_RUNS:
        raise ValueError(f"the grid has {_count_text(total)} runs ({_count_text(points)} "
                         f"point(s) x {_count_text(n_seeds)} seed(s)), more than "
                         f"MAX_GRID_RUNS = {MAX_GRID_RUNS:,} in one sweep: split it into "
                         "several sweeps (they may share a store)")
    _check_seed_range(seed_list, label)

    varied = [key for key, values in axes.items() if len(values) > 1 and key not in _SHOWN]
    configs = []
    names = list(axes)
    for values in product(*axes.values()):
        point = dict(zip(names, values, strict=True))
        for s_ in (s_list if point["init"] in sparse else [None]):
            point["s"] = s_
            for seed in seed_list:
                try:
                    configs.append(RunConfig(seed=seed, **point))
                except ValueError as exc:
                    raise ValueError(f"invalid grid point {describe_point(point, varied)}: "
                                     f"{exc}") from None
    return configs


def _seed_list(seeds, seed_start, label: Label) -> Sequence[int]:
    """The seeds: an explicit list, or a count as a ``range`` (nothing built yet: the grid
    size is checked first). Each seed is >= 0 here; < 2**63 is :func:`_check_seed_range`'s."""
    clash = (f"{label('seed_start')} goes with a seed count, not with an explicit seed list")
    if isinstance(seeds, range):  # kept lazy; a range never repeats a value
        if seed_start not in (0, None):
            raise ValueError(clash)
        if not seeds or min(seeds[0], seeds[-1]) < 0:
            raise ValueError(f"{label('seeds')} must be a non-empty range of seeds >= 0, "
                             f"got {seeds}")
        return seeds
    if isinstance(seeds, (list, tuple, set, frozenset, dict)):
        if seed_start not in (0, None):
            raise ValueError(clash)
        name = label("seeds")
        return list(dict.fromkeys(check_int(name, v, 0) for v in _as_list(name, seeds)))
    count = check_int(label("seeds"), seeds, 1)
    start = check_int(label("seed_start"), 0 if seed_start is None else seed_start, 0)
    if start >= MAX_SEED:
        raise ValueError(f"{label('seed_start')} must be < 2**63 (the store's integer range), "
                         f"got {start}")
    return range(start, start + count)


def _check_seed_range(seeds: Sequence[int], label: Label) -> None:
    # A range's maximum is one of its ends: no need to walk it.
    counted = isinstance(seeds, range)
    largest = max(seeds[0], seeds[-1]) if counted else max(seeds)
    if largest >= MAX_SEED:
        source = f" ({label('seed_start')} + {label('seeds')} - 1)" if counted else ""
        raise ValueError(f"every seed must be < 2**63 (the store's integer range); the largest "
                         f"here is {largest}" + source)


def _length(seeds: Sequence[int]) -> int:
    if isinstance(seeds, range):  # len() overflows past sys.maxsize
        return max(0, -((seeds.start - seeds.stop) // seeds.step))
    return len(seeds)


def _count_text(count: int) -> str:
    return f"{count:,}" if count < 10**15 else f"{count:.3g}"


def describe_point(point: dict, extra: Sequence[str] = ()) -> str:
    """``(n=30, k=3, width=64, samples=online, init=dense)``: the grid axes of a point (s only
    when set, activation only when not the default), and the fields in ``extra`` (training
    settings that vary in the grid)."""
    shown = {k: ("online" if k == "samples" and v is None else v) for k, v in point.items()
             if (k in _SHOWN or k in extra) and not (k == "s" and v is None)
             and not (k == "activation" and v == DEFAULT_ACTIVATION)}
    return "(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


# --- TOML files --------------------------------------------------------------------------------

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
    for table, allowed, name in ((grid, GRID_KEYS + TRAIN_KEYS, "grid"),
                                 (train, TRAIN_KEYS, "train")):
        bad = sorted(set(table) - set(allowed))
        if bad:
            hint = " (grid keys go in [grid])" if set(bad) & set(GRID_KEYS) else ""
            raise ValueError(f"sweep file {path}: unknown key(s) in [{name}]: {', '.join(bad)}"
                             f"{hint}; allowed: {', '.join(allowed)}")
    twice = sorted(set(grid) & set(train))
    if twice:
        raise ValueError(f"sweep file {path}: {', '.join(twice)} set in both [grid] and "
                         "[train]; set each key once")
    missing = [key for key in ("n", "k", "width") if key not in grid]
    if missing:
        raise ValueError(f"sweep file {path}: [grid] needs {', '.join(missing)}")
    return {**grid, **train}


def grid_from_toml(path) -> list[RunConfig]:
    """:func:`build_grid` of a sweep TOML file (or ``example:NAME``); errors name the file."""
    path = resolve_config(path)
    kwargs = read_sweep_toml(path)
    try:
        return build_grid(**kwargs)
    except ValueError as exc:
        raise ValueError(f"sweep file {os.fspath(path)}: {exc}") from None


def _examples():
    return resources.files("parity_frontiers.verify").joinpath("examples")


def example_names() -> list[str]:
    """The packaged example sweeps (``verify/examples/NAME.toml``), sorted.

    Examples
    --------
    >>> "sweep_small" in example_names()
    True
    """
    return sorted(entry.name[:-5] for entry in _examples().iterdir()
                  if entry.name.endswith(".toml"))


def example_path(name: str) -> Path:
    """The file of a packaged example sweep; ValueError listing the names for any other."""
    names = example_names()
    if name not in names:
        raise ValueError(f"--config {EXAMPLE_PREFIX}{name}: no such example; the examples are "
                         f"{', '.join(EXAMPLE_PREFIX + n for n in names)}")
    # A wheel installs the package as files on disk (no zip import here): a real path.
    return Path(os.fspath(_examples().joinpath(f"{name}.toml")))


def resolve_config(path):
    """``example:NAME`` as its packaged file; any other path unchanged."""
    text = os.fspath(path)
    if isinstance(text, str) and text.startswith(EXAMPLE_PREFIX):
        return example_path(text[len(EXAMPLE_PREFIX):])
    return path
