"""What every executor shares: the :class:`Executor` interface and :class:`ResultHandoff`, which
hands each result to the caller exactly once per run key, in the caller's thread (so only the
driver writes the results store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parity_frontiers.verify.config import RunConfig, RunResult

__all__ = ["Executor", "ResultHandoff"]


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
