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
    train whole ensembles (:func:`verify.local.plan_ensembles`) and return their results; a
    worker that dies mid-task has its ensemble retrained elsewhere. Needs the optional extra
    ``pip install "parity-frontiers[distributed]"``.

Use :func:`make_executor` to build one by name, as a context manager so a started cluster is
shut down::

    with make_executor("dask-local", workers=4) as executor:
        run_sweep(configs, store, executor=executor)
"""

from __future__ import annotations

import importlib.util

from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.experiments.checkpoints import check_checkpoint_options
from parity_frontiers.verify.experiments.handoff import Executor, ResultHandoff
from parity_frontiers.verify.experiments.local import plan_ensembles, train_runs
from parity_frontiers.verify.training.device import check_device

__all__ = ["Executor", "LocalExecutor", "ResultHandoff", "make_executor", "EXECUTORS"]

#: Executor names accepted by :func:`make_executor` (and the CLI's ``--executor``).
EXECUTORS = ("local", "dask", "dask-local")






class LocalExecutor(Executor):
    """The ensemble trainer in this process (:func:`verify.sweep.train_runs`).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    memory_cap_bytes : int, optional
        Memory cap of one ensemble (the trainer's default when None).
    max_ensemble : int, optional
        Upper bound on the runs trained together.
    checkpoint_every, checkpoint_dir : optional
        Parameter checkpoints (:func:`verify.local.train_runs`); default off.
    """

    name = "local"

    def __init__(self, device: str = "auto", memory_cap_bytes: int | None = None,
                 max_ensemble: int | None = None, checkpoint_every: int | None = None,
                 checkpoint_dir=None):
        self.device = check_device(device)
        self.checkpoint_every = check_checkpoint_options(checkpoint_every, checkpoint_dir)
        self.checkpoint_dir = checkpoint_dir
        self.memory_cap_bytes = memory_cap_bytes
        self.max_ensemble = (None if max_ensemble is None
                             else check_int("max_ensemble", max_ensemble, strict=True))

    def train(self, configs, on_result=None, progress=True, _bar=None):
        return train_runs(configs, device=self.device, on_result=on_result, progress=progress,
                          memory_cap_bytes=self.memory_cap_bytes,
                          max_ensemble=self.max_ensemble, _bar=_bar,
                          checkpoint_every=self.checkpoint_every,
                          checkpoint_dir=self.checkpoint_dir)

    def plan(self, configs):
        return plan_ensembles(configs, self.device, self.memory_cap_bytes, self.max_ensemble)

    def describe(self) -> str:
        return f"local ({self.device})"


def make_executor(kind: str = "local", *, device: str = "auto",
                  memory_cap_bytes: int | None = None, max_ensemble: int | None = None,
                  scheduler: str | None = None, workers: int | None = None,
                  threads_per_worker: int | None = None, checkpoint_every: int | None = None,
                  checkpoint_dir=None) -> Executor:
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
    checkpoint_every, checkpoint_dir : optional
        Parameter checkpoints, ``local`` only (:func:`verify.local.train_runs`).

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
        return LocalExecutor(device, memory_cap_bytes, max_ensemble, checkpoint_every,
                             checkpoint_dir)
    if checkpoint_every is not None or checkpoint_dir is not None:
        raise ValueError("--checkpoint-every goes with --executor local only")
    if kind == "dask" and not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786); "
                         "use --executor dask-local for a cluster on this machine")
    if importlib.util.find_spec("distributed") is None:
        raise ValueError(f"--executor {kind} needs Dask distributed: "
                         'pip install "parity-frontiers[distributed]"')
    # Dask is imported only when asked for: it is an optional extra and slow to import.
    from parity_frontiers.verify.experiments.distributed import DaskExecutor

    return DaskExecutor(scheduler=scheduler, workers=workers, device=device,
                        memory_cap_bytes=memory_cap_bytes, max_ensemble=max_ensemble,
                        threads_per_worker=threads_per_worker)
