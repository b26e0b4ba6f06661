"""Sweeps: every run of a grid not yet stored, trained and stored as it finishes.

:func:`run_sweep` skips every config already in the
:class:`~parity_frontiers.verify.experiments.store.ResultsStore`, hands the rest to an executor
(:class:`~parity_frontiers.verify.experiments.executors.LocalExecutor` by default, which groups
them by ensemble key -- across cells of k, m, init and s -- into ensembles that fit in
memory), and stores each run the moment it finishes. Killing a sweep loses no finished run;
running it again trains only what is missing. Grids come from
:mod:`parity_frontiers.verify.experiments.grid`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.verify.analysis.summaries import summarize
from parity_frontiers.verify.config import RunConfig, unique_configs
from parity_frontiers.verify.experiments.executors import LocalExecutor
from parity_frontiers.verify.experiments.leases import Claims
from parity_frontiers.verify.experiments.store import ResultsStore

__all__ = ["run_sweep", "SweepSummary"]


def _train_claimed(todo, store, executor, claims, progress, bar) -> int:
    """Train the runs of ``todo`` this process can claim; wait for the others' (leases)."""
    pending = {c.key(): c for c in todo}
    poll = min(1.0, claims.lease / 10)
    trained = 0

    def finished(result):
        store.add(result)
        claims.release(result.config.key())

    while pending:
        mine = claims.claim(list(pending))
        if mine:
            batch = [c for key, c in pending.items() if key in mine]
            executor.train(batch, on_result=finished, progress=progress, _bar=bar)
            trained += len(batch)
            for key in mine:
                pending.pop(key, None)
        done = claims.stored(list(pending))  # stored meanwhile by another sweep
        for key in done:
            pending.pop(key)
        if done:
            bar.update(len(done))
        if pending and not mine:
            time.sleep(poll)  # held by a live claimant: look again (Ctrl-C works here)
    return trained


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
              max_ensemble: int | None = None, executor=None,
              lease_seconds: float | None = None, checkpoint_every: int | None = None,
              checkpoint_dir=None) -> SweepSummary:
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

    lease_seconds : float, optional
        Claims on the runs about to be trained (:mod:`verify.experiments.leases`): a sweep
        sharing runs with another one running on the same store skips the runs the other
        claimed, trains the rest, then waits for the claimed ones -- stored by the other, or
        claimed and trained here once the other's lease lapses (it died). Default
        :func:`~verify.experiments.leases.lease_seconds_from_env` (600 s).

    checkpoint_every, checkpoint_dir : optional
        Both or neither: every run's parameters at each evaluation step that is a multiple of
        ``checkpoint_every``, written to ``checkpoint_dir/<run key>/step_<step>.npz``
        (:mod:`verify.experiments.checkpoints`; 4 bytes per parameter and checkpoint). Local
        executor only (given to it by this call). Default off.

    Returns
    -------
    SweepSummary

    Interrupting (Ctrl-C, a kill) keeps every run stored so far; calling again resumes.
    """
    start = time.perf_counter()
    if executor is None:
        executor = LocalExecutor(device, memory_cap_bytes, max_ensemble, checkpoint_every,
                                 checkpoint_dir)
    elif device != "auto" or memory_cap_bytes is not None or max_ensemble is not None:
        raise ValueError("give device, memory_cap_bytes and max_ensemble to the executor, not "
                         "to run_sweep (the executor carries its own)")
    elif checkpoint_every is not None or checkpoint_dir is not None:
        raise ValueError("--checkpoint-every goes with the local executor only")
    configs = unique_configs(configs)
    stored = store.completed_keys()
    todo = [c for c in configs if c.key() not in stored]
    trained = 0
    if todo:
        # Read every page and try a write now: a damaged or unwritable store must fail here,
        # not at the first store.add after a run has been trained.
        store.check()
        with Claims(store.path, lease_seconds) as claims, \
                progress_bar(len(configs), unit="run", desc="sweep", enabled=progress,
                             initial=len(configs) - len(todo)) as bar:
            trained = _train_claimed(todo, store, executor, claims, progress, bar)
    skipped = len(configs) - trained
    results = store.results(keys=[c.key() for c in configs])
    return SweepSummary(total=len(configs), skipped=skipped, trained=trained,
                        successes=sum(r.success for r in results),
                        wall_seconds=time.perf_counter() - start, points=summarize(results))




