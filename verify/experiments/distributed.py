"""The Dask distributed executor: sweeps and frontier searches trained on a Dask cluster.

:class:`DaskExecutor` is built by :func:`verify.executors.make_executor` (``"dask"`` with a
scheduler address, ``"dask-local"`` with a worker count). The driver -- the process that calls
:meth:`DaskExecutor.train` -- cuts the configs into ensembles with
:func:`verify.sweep.plan_ensembles`, submits each ensemble as one task, collects the results as
they complete and hands each to ``on_result`` in its own thread, exactly once per run key.
Workers only train and return :class:`~verify.config.RunResult` objects: they never open the
results store, so a cluster never contends on the SQLite file (``run_sweep`` passes
``store.add`` as ``on_result``).

Fault tolerance
---------------
Each task's key is a digest of its ensemble's run keys, so submitting the same ensemble twice
(two drivers, or a retried call) shares one task instead of training it twice. A worker that
dies mid-task (killed, out of memory, its node lost) has the task rescheduled by the scheduler on
another worker; the runs are a function of their configs alone, so the retrained ensemble gives
the same results, and the driver stores each run once. A task whose workers died more often than
the scheduler's ``distributed.scheduler.allowed-failures`` (default 3: ``KilledWorker``), or
that raises, ends :meth:`DaskExecutor.train` with one ValueError naming the ensemble and the
cause; what is left is cancelled, and the runs already handed to ``on_result`` stay stored.

GPUs
----
Run one worker per GPU, each with one thread and its own ``CUDA_VISIBLE_DEVICES``::

    CUDA_VISIBLE_DEVICES=0 dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1 &
    CUDA_VISIBLE_DEVICES=1 dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1 &

(as dask-cuda's ``LocalCUDACluster`` and dask-jobqueue setups do) and give ``device="cuda"``
or ``"auto"``: every worker then trains on "its" GPU 0.

Memory planning
---------------
The driver may have no GPU while the workers do, so it cannot always size ensembles for the
workers' device itself. It plans with ``memory_cap_bytes`` when given; otherwise, for a device
other than ``"cpu"``, with the smallest :func:`verify.trainer.default_memory_cap` the connected
workers report for ``device`` (80% of their GPU's memory, or 4 GiB on a CPU worker). Memory is
estimated for the driver's view of the device when it can resolve it to the workers' device type
and for the CPU otherwise (the estimates then differ only by the evaluation buffer,
:data:`verify.trainer.EVAL_CHUNK_BYTES`). Each worker re-cuts its ensemble with
:func:`~verify.sweep.plan_ensembles` for its own device before training, so an ensemble that
the driver's estimate let slightly over the cap is trained in two parts rather than refused.
Give ``max_ensemble`` to make tasks smaller than the memory allows (better balance across
workers, results sent back sooner).

Versions
--------
On connecting, and again before each :meth:`~DaskExecutor.train`, every worker must import
:mod:`verify` and run the same ``parity-frontiers`` version as the driver
(:mod:`importlib.metadata`); each task checks it once more, for workers that joined later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import sys
from collections.abc import Sequence

from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import RunConfig, RunResult, unique_configs
from parity_frontiers.verify.experiments.handoff import Executor, ResultHandoff
from parity_frontiers.verify.experiments.store import (
    package_version,  # "unknown" in a bare checkout
)

__all__ = ["DaskExecutor", "DEFAULT_CONNECT_TIMEOUT", "DISTRIBUTION"]

#: Seconds to wait for a scheduler to answer before giving up (``DaskExecutor(timeout=...)``).
DEFAULT_CONNECT_TIMEOUT = 10.0

#: The distribution whose version the driver and the workers must share.
DISTRIBUTION = "parity-frontiers"

# Torch threads set on this worker process (by the first task): set once, not per task.
_worker_threads: int | None = None


def _worker_info(device: str) -> dict:
    """Run on each worker by the driver: its version, pid and what ``device`` means there."""
    info = {"version": package_version(), "pid": os.getpid(),
            "python": sys.version.split()[0]}
    try:
        from parity_frontiers.verify.training.device import default_memory_cap, resolve_device

        dev = resolve_device(device)
        info["device"] = dev.type
        info["memory_cap"] = int(default_memory_cap(dev))
    except ValueError as exc:  # e.g. CUDA asked for on a worker without it
        info["error"] = str(exc)
    return info


def _train_ensemble_task(configs: Sequence[RunConfig], device: str,
                         memory_cap_bytes: int | None, threads: int,
                         driver_version: str) -> list[RunResult]:
    """One Dask task: train one ensemble on this worker and return its results in order.

    Sets torch's thread count on the worker's first task, re-cuts the ensemble for this
    worker's device and ``memory_cap_bytes`` (:func:`verify.sweep.plan_ensembles`; normally one
    part) and trains each part with :func:`verify.trainer.train_ensemble`. Never touches a
    results store.
    """
    global _worker_threads
    version = package_version()
    if version != driver_version:
        raise ValueError(f"worker pid {os.getpid()} runs {DISTRIBUTION} {version}, the driver "
                         f"{driver_version}: install the same version everywhere")
    from parity_frontiers.verify.experiments.local import plan_ensembles
    from parity_frontiers.verify.training.device import set_torch_threads
    from parity_frontiers.verify.training.trainer import train_ensemble

    if _worker_threads != threads:
        set_torch_threads(threads)
        _worker_threads = threads
    results: list[RunResult] = []
    for part in plan_ensembles(configs, device, memory_cap_bytes):
        results.extend(train_ensemble(part, device=device, memory_cap_bytes=memory_cap_bytes))
    return results


def ensemble_task_key(configs: Sequence[RunConfig]) -> str:
    """Dask key of the task training ``configs``: a digest of their run keys, in order.

    The same ensemble always gets the same key, so resubmitting it shares the running or
    finished task instead of training the runs again.

    Examples
    --------
    >>> from parity_frontiers.verify.config import RunConfig
    >>> a = [RunConfig(n=6, k=2, width=8, seed=s) for s in range(3)]
    >>> ensemble_task_key(a) == ensemble_task_key(list(a))
    True
    >>> ensemble_task_key(a) == ensemble_task_key(a[:2])
    False
    >>> ensemble_task_key(a).startswith("parity-frontiers-ensemble-")
    True
    """
    digest = hashlib.sha256("\n".join(c.key() for c in configs).encode()).hexdigest()
    return f"parity-frontiers-ensemble-{digest[:32]}"


def _check_device_name(device) -> str:
    # The driver may lack the workers' CUDA: check the name only (workers check the rest).
    from parity_frontiers.verify.training.device import DEVICES

    if not isinstance(device, str) or not (
            device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {device!r}")
    return device


def _ensemble_text(chunk: Sequence[RunConfig]) -> str:
    from parity_frontiers.verify.training.registry import get_init

    def listed(values) -> str:
        values = list(dict.fromkeys(values))
        return values[0] if len(values) == 1 else "{" + ", ".join(values) + "}"

    c = chunk[0]
    ks = listed(str(x.k) for x in sorted(chunk, key=lambda x: x.k))
    samples = listed("online" if x.samples is None else str(x.samples)
                     for x in sorted(chunk, key=lambda x: x.samples or 0))
    inits = listed(get_init(x.init).label(x.s) for x in chunk)
    seeds = sorted(x.seed for x in chunk)
    seed_text = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]}"
    return (f"ensemble of {len(chunk)} run(s) (n={c.n}, k={ks}, width {c.width}, m {samples}, "
            f"{inits}, T {c.max_steps}, seeds {seed_text})")


def _failure_text(exc: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        allowed = getattr(exc, "allowed_failures", None)
        limit = "" if allowed is None else f" = {allowed}"
        return ("the workers running it died more often than the scheduler's allowed-failures"
                f"{limit} (KilledWorker); look for out-of-memory kills in the worker logs")
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


class DaskExecutor(Executor):
    """Train on a Dask cluster: ``dask`` (a running scheduler) or ``dask-local`` (a LocalCluster).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``"tcp://host:8786"``): the ``dask`` executor. None
        starts a ``LocalCluster`` of ``workers`` processes on the loopback interface (no
        dashboard): the ``dask-local`` executor, shut down by :meth:`close`.
    workers : int, optional
        Worker processes of the LocalCluster (default: the CPU count); ``dask-local`` only.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
        Training device on the workers (checked there; see the module docstring for GPUs).
    memory_cap_bytes : int, optional
        Memory cap of one ensemble on a worker (planning: module docstring).
    max_ensemble : int, optional
        Upper bound on the runs of one task.
    threads_per_worker : int, optional
        Torch threads of each worker's training (default 1).
    timeout : float, optional
        Seconds to wait for the scheduler (``dask``) or the LocalCluster to answer (default
        :data:`DEFAULT_CONNECT_TIMEOUT`).

    Raises ValueError on invalid options, an unreachable scheduler, or workers that cannot
    import :mod:`verify` or run another parity-frontiers version than this process.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 device: str = "auto", memory_cap_bytes: int | None = None,
                 max_ensemble: int | None = None, threads_per_worker: int | None = None,
                 timeout: float | None = None):
        timeout = DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout
        self.device = _check_device_name(device)
        self.memory_cap_bytes = (None if memory_cap_bytes is None else
                                 check_int("memory_cap_bytes", memory_cap_bytes, strict=True))
        self.max_ensemble = (None if max_ensemble is None
                             else check_int("max_ensemble", max_ensemble, strict=True))
        self.threads = (1 if threads_per_worker is None
                        else check_int("threads_per_worker", threads_per_worker, strict=True))
        if scheduler is not None and workers is not None:
            raise ValueError("a worker count goes with dask-local only (a scheduler's workers "
                             "are started with it)")
        if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
            raise ValueError(f"scheduler must be an address like tcp://host:8786, got "
                             f"{scheduler!r}")
        self.scheduler = scheduler
        self.name = "dask-local" if scheduler is None else "dask"
        self.n_workers = None
        if scheduler is None:
            self.n_workers = (os.cpu_count() or 1) if workers is None else check_int(
                "workers", workers, strict=True)
        self.driver_version = package_version()
        self._task = _train_ensemble_task
        self.cluster = None
        self.client = None
        try:
            self._connect(timeout)
            self._check_workers()
        except BaseException:
            self.close()
            raise

    # --- connection ----------------------------------------------------------------------

    def _connect(self, timeout: float) -> None:
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            # No dashboard, and the scheduler's HTTP endpoints (health, metrics) on a free
            # loopback port rather than 8787 on every interface. Worker errors reach the
            # driver as exceptions (train's ValueError), so their logs stay quiet.
            try:
                self.cluster = LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL)
            except RuntimeError as exc:  # e.g. "Nanny failed to start"
                raise ValueError(
                    f"could not start a local Dask cluster of {self.n_workers} worker(s) ({exc}); "
                    "in a script, create the executor under `if __name__ == \"__main__\":` "
                    "(worker processes re-import the main module)") from None
            self.client = Client(self.cluster, timeout=timeout, set_as_default=False)
            return
        try:
            self.client = Client(self.scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if len(reason) > 160:
                reason = reason[:157] + "..."
            raise ValueError(f"cannot reach the Dask scheduler at {self.scheduler} within "
                             f"{timeout:g} s ({reason})") from None
        except ValueError as exc:  # a malformed address
            raise ValueError(f"bad scheduler address {self.scheduler!r}: {exc}") from None

    def _worker_infos(self) -> dict[str, dict]:
        infos = self.client.run(_worker_info, self.device, on_error="return")
        problems = []
        for address, info in infos.items():
            if isinstance(info, BaseException):
                problems.append(f"worker {address} cannot run verify "
                                f"({type(info).__name__}: {info}); install parity-frontiers "
                                "there")
            elif info["version"] != self.driver_version:
                problems.append(f"worker {address} runs {DISTRIBUTION} {info['version']}, "
                                f"this driver {self.driver_version}")
            elif "error" in info:
                problems.append(f"worker {address}: {info['error']}")
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ValueError(problems[0] + more)
        return infos

    def _check_workers(self) -> None:
        self._worker_infos()

    # --- training ------------------------------------------------------------------------

    def plan(self, configs: list[RunConfig]) -> list[list[RunConfig]]:
        """The ensembles :meth:`train` submits (memory planning: the module docstring)."""
        from parity_frontiers.verify.experiments.local import plan_ensembles

        if self.device == "cpu":
            return plan_ensembles(configs, "cpu", self.memory_cap_bytes, self.max_ensemble)
        if not self.client.nthreads():
            self.client.wait_for_workers(1)  # a cluster whose workers are still starting
        infos = self._worker_infos()
        cap = self.memory_cap_bytes
        if cap is None:
            # None (the CPU default) if the workers all left since nthreads() answered
            cap = min((info["memory_cap"] for info in infos.values()), default=None)
        worker_types = {info["device"] for info in infos.values()}
        plan_device = "cpu"
        if worker_types == {"cuda"}:
            from parity_frontiers.verify.training.device import resolve_device

            try:
                if resolve_device(self.device).type == "cuda":
                    plan_device = self.device
            except ValueError:  # the driver has no CUDA: estimate for the CPU (docstring)
                pass
        return plan_ensembles(configs, plan_device, cap, self.max_ensemble)

    def train(self, configs, on_result=None, progress=True, _bar=None):
        """Train every config on the cluster; results in the order of the distinct configs.

        ``on_result`` is called in this thread with each result, once per run key, as its
        ensemble completes; ``_bar`` (an open tqdm bar) is advanced by one per result. Raises
        ValueError naming the ensemble when a task fails or exhausts its retries (what is left
        is cancelled; results already handed to ``on_result`` stay with it).
        """
        from distributed import as_completed


        if self.client is None:
            raise ValueError("this DaskExecutor is closed")
        configs = unique_configs(configs)
        if not configs:
            return []
        plan = self.plan(configs)
        futures = {}
        for chunk in plan:
            future = self.client.submit(self._task, chunk, self.device, self.memory_cap_bytes,
                                        self.threads, self.driver_version,
                                        key=ensemble_task_key(chunk), pure=True)
            futures[future] = chunk

        bar = _bar if _bar is not None else progress_bar(len(configs), unit="run", desc="train",
                                                      enabled=progress)
        handoff = ResultHandoff(on_result, bar)
        where = self.scheduler or "the local cluster"
        lost = (f"lost the Dask scheduler ({where}) while training; every run stored so far "
                "is kept: run the same command again to resume")
        # Only the waiting is guarded: an error of on_result (the store) must surface as itself.
        broken = (OSError, asyncio.CancelledError, concurrent.futures.CancelledError)
        try:
            completed = as_completed(futures, loop=self.client.loop)
            while True:
                try:
                    future = next(completed)
                except StopIteration:
                    break
                except broken:  # the connection to the scheduler broke while waiting
                    raise ValueError(lost) from None
                chunk = futures[future]
                if future.status != "finished":
                    exc = future.exception() if future.status == "error" else None
                    if exc is None:  # cancelled or lost: the scheduler went away
                        raise ValueError(f"{lost} ({_ensemble_text(chunk)})") from None
                    raise ValueError(f"{_ensemble_text(chunk)} failed on the Dask cluster: "
                                     f"{_failure_text(exc)}") from None
                try:
                    results = future.result()
                except broken:
                    raise ValueError(lost) from None
                for result in results:
                    handoff(result)
        finally:
            left = [f for f in futures if not f.done()]
            if left:
                try:
                    self.client.cancel(left)
                except (OSError, asyncio.CancelledError, concurrent.futures.CancelledError):
                    pass  # no scheduler left to cancel them on
            if _bar is None:
                bar.close()
        return handoff.in_order(configs, "the cluster")

    def describe(self) -> str:
        if self.client is None:
            return f"{self.name} (closed)"
        count = len(self.client.nthreads())
        where = "local cluster" if self.scheduler is None else self.scheduler
        return (f"{self.name}: {where}, {count} worker(s) x {self.threads} thread(s), "
                f"device {self.device}")

    def close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
