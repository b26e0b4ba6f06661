"""Fixtures shared by the test modules, and the Hypothesis profile of every test run."""

import pytest
from hypothesis import settings

# Property tests draw their examples from a fixed seed and keep no example database: a test
# run is reproducible, and CI cannot fail on a case that the last run did not try.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.load_profile("reproducible")


@pytest.fixture
def fresh_python():
    """Run Python source in a fresh interpreter (what a module pulls in at import shows only
    there) and return its stdout split into words; a failing script fails the test."""
    import subprocess
    import sys

    def run(code: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        return out.stdout.split()

    return run


@pytest.fixture
def one_torch_thread():
    """Torch on one CPU thread for the test, restored after.

    Tests that train many small ensembles use it: on a shared 2-core machine, OpenMP barriers
    waiting for a descheduled second thread made them 7x to 50x slower (seen here).
    """
    import torch  # here, not at module level: collecting the CLI tests must not load torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
