"""Command-line options choosing where runs are trained
(:mod:`parity_frontiers.verify.experiments.executors`).

:func:`add_executor_options` adds an "executor" argument group (``--executor``,
``--scheduler``, ``--workers``, ``--threads-per-worker``) to a subcommand that trains runs, and
:func:`executor_from_args` builds the executor from the parsed arguments with
:func:`parity_frontiers.verify.experiments.executors.make_executor`, together with the
subcommand's ``--device``, ``--memory-cap`` and ``--max-ensemble``. Nothing here imports dask,
torch or numba: the executor imports them when it is built.
"""

from __future__ import annotations

from parity_frontiers.verify.experiments.executors import EXECUTORS, make_executor
from parity_frontiers.verify.experiments.handoff import Executor

from .args import positive_int_arg

__all__ = ["add_executor_options", "executor_from_args"]


def add_executor_options(parser) -> None:
    """Add the "executor" argument group to ``parser`` (a subcommand's parser).

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_executor_options(p)
    >>> args = p.parse_args(["--executor", "dask", "--scheduler", "tcp://10.0.0.1:8786"])
    >>> args.executor, args.scheduler, args.workers, args.threads_per_worker
    ('dask', 'tcp://10.0.0.1:8786', None, None)
    >>> p.parse_args([]).executor
    'local'
    """
    g = parser.add_argument_group(
        "executor", "where runs are trained; only this process writes the results store")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: in this process (default); dask: a running Dask scheduler "
                        "(--scheduler); dask-local: a Dask cluster of --workers processes on "
                        'this machine (both need pip install "parity-frontiers[distributed]")')
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.1:8786 (--executor dask)")
    g.add_argument("--workers", type=positive_int_arg, metavar="N",
                   help="worker processes of --executor dask-local (default: the CPU count)")
    g.add_argument("--threads-per-worker", type=positive_int_arg, metavar="N",
                   help="torch threads of each Dask worker's training (default 1)")


def executor_from_args(args) -> Executor:
    """The executor the parsed arguments ask for (a context manager: close it when done).

    Uses ``args.executor``, ``args.scheduler``, ``args.workers``, ``args.threads_per_worker``
    (from :func:`add_executor_options`) and ``args.device``, ``args.memory_cap``,
    ``args.max_ensemble`` (the subcommand's execution options). Raises ValueError (one line,
    which the CLI turns into exit status 2) on options that do not go together, dask missing, or
    an unreachable scheduler.

    Examples
    --------
    >>> import argparse
    >>> args = argparse.Namespace(executor="local", scheduler=None, workers=None,
    ...                           threads_per_worker=None, device="cpu", memory_cap=None,
    ...                           max_ensemble=None)
    >>> with executor_from_args(args) as executor:
    ...     executor.describe()
    'local (cpu)'
    """
    return make_executor(args.executor, device=args.device, memory_cap_bytes=args.memory_cap,
                         max_ensemble=args.max_ensemble, scheduler=args.scheduler,
                         workers=args.workers, threads_per_worker=args.threads_per_worker)
