"""The local executor's loop: configs grouped by ensemble key, cut into ensembles that fit in
memory, trained one ensemble after another in this process.

:func:`plan_ensembles` is the plan every executor shares (the Dask executor ships the same
chunks to its workers); :func:`train_runs` trains it here.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence

from parity_frontiers.simulate.budget import check_seconds
from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import RunConfig, RunResult, unique_configs
from parity_frontiers.verify.experiments.checkpoints import (
    CheckpointWriter,
    check_checkpoint_options,
)
from parity_frontiers.verify.experiments.grid import describe_point
from parity_frontiers.verify.experiments.handoff import ResultHandoff
from parity_frontiers.verify.experiments.limits import (
    available_memory_bytes,
    check_memory_fits,
    estimate_ensemble_seconds,
    note_estimate,
)
from parity_frontiers.verify.training.device import check_device, default_memory_cap
from parity_frontiers.verify.training.memory import (
    estimate_configs_bytes,
    estimate_ensemble_bytes,
    plan_chunks,
)

__all__ = ["plan_ensembles", "train_runs", "group_by_ensemble"]


def _trainer_module():
    # Imported on first use: torch is slow to import, and `results export`, a fully
    # finished sweep or a Dask driver without a GPU should not pay for it.
    return importlib.import_module("parity_frontiers.verify.training.trainer")


def group_by_ensemble(configs: Sequence[RunConfig]) -> list[list[RunConfig]]:
    """Configs grouped by :meth:`RunConfig.ensemble_key`, first-seen order."""
    groups: dict[str, list[RunConfig]] = {}
    for config in configs:
        groups.setdefault(config.ensemble_key(), []).append(config)
    return list(groups.values())


def plan_ensembles(configs: Sequence[RunConfig], device: str = "auto",
                   memory_cap_bytes: int | None = None,
                   max_ensemble: int | None = None) -> list[list[RunConfig]]:
    """Cut configs into the ensembles :func:`train_runs` trains, in order.

    Configs are grouped by :meth:`RunConfig.ensemble_key` (first-seen order, duplicates
    dropped): runs of different k, m, init, s and seed train together. Each group is cut into
    consecutive ensembles whose :func:`~verify.training.memory.estimate_configs_bytes` (each
    run's own data counted) stays within the memory cap of ``device`` -- and within the memory
    this machine has free now -- with at most ``max_ensemble`` runs. Executors that ship
    ensembles elsewhere (:mod:`verify.executors`) use the same plan. Torch-free.

    Raises ValueError when one run alone does not fit in the memory cap.
    """
    configs = unique_configs(configs)
    if max_ensemble is not None:
        max_ensemble = check_int("max_ensemble", max_ensemble, strict=True)
    if not configs:
        return []
    cap = default_memory_cap(device) if memory_cap_bytes is None else memory_cap_bytes
    available = available_memory_bytes(device)
    plan = []
    for group in group_by_ensemble(configs):
        # Refuse with both numbers: over the cap, or over what this machine has free now.
        # the group shares n and test_size: its largest run has the largest m, then k
        largest = max(group, key=lambda c: (c.samples or 0, c.k))
        one = estimate_ensemble_bytes(largest, 1, device)
        check_memory_fits(one, cap, f"one run of {describe_point(largest.as_dict())}", device)
        limit = cap if available is None else max(min(cap, available), one)
        chunks = plan_chunks(group, limit, device, max_ensemble)
        biggest = max(chunks, key=len)
        note_estimate(estimate_configs_bytes(biggest, device),
                      f"an ensemble of {len(biggest)} run(s) of "
                      f"{describe_point(biggest[0].as_dict())}", device)
        # The longest stretch between two stored results: refused up front past --max-seconds.
        seconds = estimate_ensemble_seconds(biggest[0], len(biggest), device)
        check_seconds(seconds, f"training an ensemble of {len(biggest)} run(s) of "
                               f"{describe_point(biggest[0].as_dict())} for up to "
                               f"{biggest[0].max_steps:,} steps",
                      "estimated worst case, no run stopping early")
        plan.extend(chunks)
    return plan


def train_runs(configs: Sequence[RunConfig], device: str = "auto",
               on_result: Callable[[RunResult], None] | None = None, progress: bool = True,
               memory_cap_bytes: int | None = None, max_ensemble: int | None = None,
               _bar=None, checkpoint_every: int | None = None,
               checkpoint_dir=None) -> list[RunResult]:
    """Train every config, ensemble by ensemble; results in the order of ``configs``.

    The ensembles are :func:`plan_ensembles`' (grouped by :meth:`RunConfig.ensemble_key`,
    within the memory cap and ``max_ensemble``).

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
    checkpoint_every, checkpoint_dir : optional
        Both or neither: write every run's parameters at each evaluation step that is a
        multiple of ``checkpoint_every`` to ``checkpoint_dir`` (:mod:`.checkpoints`:
        ``<dir>/<run key>/step_<step>.npz``, 4 bytes per parameter). Default off.
    """
    check_device(device)
    checkpoint_every = check_checkpoint_options(checkpoint_every, checkpoint_dir)
    checkpoints = {} if checkpoint_every is None else {
        "checkpoint_every": checkpoint_every, "on_checkpoint": CheckpointWriter(checkpoint_dir)}
    configs = unique_configs(configs)
    if not configs:
        return []
    trainer = _trainer_module()
    plan = plan_ensembles(configs, device, memory_cap_bytes, max_ensemble)

    bar = _bar if _bar is not None else progress_bar(len(configs), unit="run", desc="train",
                                                      enabled=progress)
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
                                              progress=tick, memory_cap_bytes=memory_cap_bytes,
                                              **checkpoints)
            for result in returned:  # in case a result was returned but not reported
                finished(result)
    finally:
        if _bar is None:
            bar.close()
    return finished.in_order(configs, "trainer")
