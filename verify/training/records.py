"""What the trainer records of one run while it trains: its learning curve and compute share.

:class:`RunRecord` collects, at each evaluation point, the step, the test error (exact when the
count was complete; the fraction over the samples counted when it stopped early, with that
number), the cheap train error of :class:`~.ensemble.Ensemble` (minibatch mistakes of the last
:data:`~.ensemble.TRACE_TRAIN_STEPS` steps of the window), the first successful step, and the
run's share of the wall time: each stretch between two evaluation points (training window,
evaluation, checkpoints) divided equally among the runs active in it (derived here).
"""

from __future__ import annotations

import numpy as np

from parity_frontiers.verify.config import RunTrace

__all__ = ["RunRecord"]


class RunRecord:
    """The running record of one run of an ensemble (see the module docstring)."""

    def __init__(self):
        self.steps: list[int] = []
        self.test_error: list[float] = []
        self.test_samples: list[int] = []
        self.train_error: list[float] = []
        self.first_success: int | None = None
        self.compute_seconds = 0.0

    def add(self, step: int, errors: int, counted: int, train_error: float) -> None:
        self.steps.append(int(step))
        self.test_error.append(float(errors) / int(counted))
        self.test_samples.append(int(counted))
        self.train_error.append(float(train_error))

    def trace(self) -> RunTrace:
        return RunTrace(steps=np.array(self.steps, dtype=np.int64),
                        test_error=np.array(self.test_error, dtype=np.float64),
                        test_samples=np.array(self.test_samples, dtype=np.int64),
                        train_error=np.array(self.train_error, dtype=np.float64))
