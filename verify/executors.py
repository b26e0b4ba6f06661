"""Executors: where the runs of a sweep or a frontier search are trained.

An executor takes a list of :class:`~verify.config.RunConfig`, trains them, and hands every
:class:`~verify.config.RunResult` back to the driver (the process that called it) through
``on_result``, exactly once per run key, in the driver's thread. The driver alone writes the
results store, so many workers never contend on the SQLite file.

``local`` (:class:`LocalExecutor`, the default)
    The ensemble trainer in this process (:func:`verify.sweep.train_runs`).
``dask`` / ``dask-local`` (:class:`verify.distributed.DaskExecutor`)
    Dask distributed: ``dask`` connects to a running scheduler (``scheduler="tcp://host:8786"``),
    ``dask-local`` starts a ``LocalCluster`` of ``workers`` processes on this machine. Workers
    train whole ensembles (:func:`verify.sweep.plan_ensembles`) and return their results; a
    worker that dies mid-task has its ensemble retrained elsewhere. Needs the optional extra
    ``pip install "parity-frontiers[distributed]"``.

Use :func:`make_executor` to build one by name, as a context manager so a started cluster is
shut down::

    with make_executor("dask-local", workers=4) as executor:
        run_sweep(configs, store, executor=executor)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence

from theory._checks import check_int

from .config import RunConfig, RunResult

__all__ = ["Executor", "LocalExecutor", "ResultHandoff", "make_executor", "EXECUTORS"]

#: Executor names accepted by :func:`make_executor` (and the CLI's ``--executor``).
EXECUTORS = ("local", "dask", "dask-local")


class Executor:
    """Base class: trains configs and reports each result once, in the calling thread.

    Subclasses implement :meth:`train`; :meth:`close` releases what the executor started (a
    cluster, a client). Executors are context managers.
    """

    name = "executor"

    def train(self, configs: Sequence[RunConfig],
              on_result: Callable[[RunResult], None] | None = None, progress: bool = True,
              _bar=None) -> list[RunResult]:
        """Train every config (duplicates once); results in the order of the distinct configs.

        ``on_result`` is called with each result as it arrives, exactly once per run key, in
        the calling thread (so it may write the results store). ``_bar`` is an open tqdm bar
        to advance by one per result instead of a bar of the executor's own.
        """
        raise NotImplementedError

    def plan(self, configs: Sequence[RunConfig]) -> list[list[RunConfig]]:
        """The ensembles :meth:`train` would form; ValueError if one run alone does not fit.

        Callers use it to refuse a sweep before creating anything (e.g. a results store).
        The base class forms none (an executor that does not train).
        """
        return [[config] for config in configs]

    def check_fits(self, configs: Sequence[RunConfig]) -> None:
        """Raise ValueError (the planner's) unless one run of each shape fits in memory."""
        one_per_shape = {c.shape_key(): c for c in configs}
        self.plan(list(one_per_shape.values()))

    def describe(self) -> str:
        """One line saying where runs are trained (for logs and the CLI)."""
        return self.name

    def close(self) -> None:
        """Release what the executor started; calling it twice is harmless."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ResultHandoff:
    """The executor side of the contract: each result to ``on_result`` once per run key.

    Calling it with a result hands the result on (and advances ``bar`` by one) the first time
    its key is seen, and ignores repeats (a retried task, an ensemble reported twice).
    ``results`` maps each key to its result.
    """

    def __init__(self, on_result: Callable[[RunResult], None] | None = None, bar=None):
        self.on_result = on_result
        self.bar = bar
        self.results: dict[str, RunResult] = {}

    def __call__(self, result: RunResult) -> bool:
        key = result.config.key()
        if key in self.results:
            return False
        if self.on_result is not None:
            self.on_result(result)
        self.results[key] = result
        if self.bar is not None:
            self.bar.update(1)
        return True

    def in_order(self, configs: Sequence[RunConfig], source: str) -> list[RunResult]:
        """The results of ``configs``, in their order; RuntimeError naming ``source`` (what
        should have trained them) if any is missing."""
        missing = [c for c in configs if c.key() not in self.results]
        if missing:
            raise RuntimeError(f"{source} returned no result for {len(missing)} run(s)")
        return [self.results[c.key()] for c in configs]


class LocalExecutor(Executor):
    """The ensemble trainer in this process (:func:`verify.sweep.train_runs`).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    memory_cap_bytes : int, optional
        Memory cap of one ensemble (the trainer's default when None).
    max_ensemble : int, optional
        Upper bound on the runs trained together.
    """

    name = "local"

    def __init__(self, device: str = "auto", memory_cap_bytes: int | None = None,
                 max_ensemble: int | None = None):
        from .sweep import check_device

        self.device = check_device(device)
        self.memory_cap_bytes = memory_cap_bytes
        self.max_ensemble = (None if max_ensemble is None
                             else check_int("max_ensemble", max_ensemble, strict=True))

    def train(self, configs, on_result=None, progress=True, _bar=None):
        from .sweep import train_runs

        return train_runs(configs, device=self.device, on_result=on_result, progress=progress,
                          memory_cap_bytes=self.memory_cap_bytes,
                          max_ensemble=self.max_ensemble, _bar=_bar)

    def plan(self, configs):
        from .sweep import plan_ensembles

        return plan_ensembles(configs, self.device, self.memory_cap_bytes, self.max_ensemble)

    def describe(self) -> str:
        return f"local ({self.device})"


def make_executor(kind: str = "local", *, device: str = "auto",
                  memory_cap_bytes: int | None = None, max_ensemble: int | None = None,
                  scheduler: str | None = None, workers: int | None = None,
                  threads_per_worker: int | None = None) -> Executor:
    """Build an executor by name (one of :data:`EXECUTORS`), validating its options.

    Parameters
    ----------
    kind : {"local", "dask", "dask-local"}
    device, memory_cap_bytes, max_ensemble
        Training settings, on the workers for the Dask executors.
    scheduler : str
        Scheduler address, e.g. ``"tcp://10.0.0.1:8786"`` (``dask`` only, required there).
    workers : int
        Worker processes of the LocalCluster (``dask-local`` only; default: the CPU count).
    threads_per_worker : int, optional
        Torch threads on each Dask worker (default 1: several torch processes on one machine
        oversubscribe its cores otherwise).

    Raises ValueError on an unknown kind, options that do not belong to it, or the Dask
    executors without dask installed (naming the extra to install).

    Examples
    --------
    >>> with make_executor("local", device="cpu") as executor:
    ...     executor.describe()
    'local (cpu)'
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind != "dask" and scheduler is not None:
        raise ValueError("a scheduler address goes with --executor dask only")
    if kind != "dask-local" and workers is not None:
        raise ValueError("a worker count goes with --executor dask-local only")
    if kind == "local":
        if threads_per_worker is not None:
            raise ValueError("threads per worker go with the Dask executors only")
        return LocalExecutor(device, memory_cap_bytes, max_ensemble)
    if kind == "dask" and not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786); "
                         "use --executor dask-local for a cluster on this machine")
    if importlib.util.find_spec("distributed") is None:
        raise ValueError(f"--executor {kind} needs Dask distributed: "
                         'pip install "parity-frontiers[distributed]"')
    from .distributed import DaskExecutor

    return DaskExecutor(scheduler=scheduler, workers=workers, device=device,
                        memory_cap_bytes=memory_cap_bytes, max_ensemble=max_ensemble,
                        threads_per_worker=threads_per_worker)
