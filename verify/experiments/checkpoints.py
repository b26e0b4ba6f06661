"""Parameter checkpoints of training runs: ``<dir>/<run key>/step_<step>.npz``.

:class:`CheckpointWriter` is the trainer's ``on_checkpoint`` callback
(:func:`~parity_frontiers.verify.training.trainer.train_ensemble` with ``checkpoint_every``):
it writes each run's parameters at a step -- float32 arrays in the model layout (W1, b1, ...,
a, c; :func:`~parity_frontiers.verify.training.model.param_shapes`), so 4 bytes per parameter,
about 4 r (n + 2) bytes for a 2-layer net (52 KB at n = 50, r = 256) -- with the run's config as
JSON. Each file is written to a temporary name in the same folder and renamed into place, so a
reader never sees a partial file, even when the writer is killed. :func:`load_checkpoint` and
:func:`list_checkpoints` read them back by config or key. Torch-free.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from parity_frontiers.verify.config import RunConfig
>>> cfg = RunConfig(n=4, k=2, width=3)
>>> folder = tempfile.mkdtemp()
>>> CheckpointWriter(folder)(cfg, 100, [np.ones((3, 4), np.float32), np.zeros(3, np.float32)])
>>> list_checkpoints(folder, cfg), [p.shape for p in load_checkpoint(folder, cfg.key(), 100)]
([100], [(3, 4), (3,)])
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import RunConfig

__all__ = ["CheckpointWriter", "checkpoint_path", "load_checkpoint", "list_checkpoints",
           "load_checkpoint_config", "check_checkpoint_options"]

_STEP_FILE = re.compile(r"^step_(\d+)\.npz$")


def _key(config_or_key) -> str:
    if isinstance(config_or_key, RunConfig):
        return config_or_key.key()
    if isinstance(config_or_key, str) and re.fullmatch(r"[0-9a-f]{64}", config_or_key):
        return config_or_key
    raise ValueError(f"expected a RunConfig or a run key (64 hex digits), got {config_or_key!r}")


def checkpoint_path(directory, config_or_key, step: int) -> Path:
    """``<directory>/<run key>/step_<step>.npz``."""
    step = check_int("step", step, 0)
    return Path(directory) / _key(config_or_key) / f"step_{step}.npz"


class CheckpointWriter:
    """``on_checkpoint(config, step, params)``: write one run's parameters at one step."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def __call__(self, config: RunConfig, step: int, params) -> None:
        path = checkpoint_path(self.directory, config, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"param_{i}": np.asarray(p, dtype=np.float32) for i, p in enumerate(params)}
        arrays["config"] = np.array(json.dumps(config.as_dict(), sort_keys=True))
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".step_", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def list_checkpoints(directory, config_or_key) -> list[int]:
    """Steps checkpointed for a run, increasing ([] when none)."""
    folder = Path(directory) / _key(config_or_key)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for m in map(_STEP_FILE.match, os.listdir(folder)) if m)


def _read(directory, config_or_key, step: int):
    path = checkpoint_path(directory, config_or_key, step)
    if not path.is_file():
        have = list_checkpoints(directory, config_or_key)
        raise ValueError(f"no checkpoint at step {step} in {path.parent} (steps there: "
                         f"{', '.join(map(str, have)) or 'none'})")
    return np.load(path, allow_pickle=False)


def load_checkpoint(directory, config_or_key, step: int) -> list[np.ndarray]:
    """The run's float32 parameters at ``step`` (model layout); ValueError when absent."""
    with _read(directory, config_or_key, step) as data:
        count = sum(1 for name in data.files if name.startswith("param_"))
        return [data[f"param_{i}"] for i in range(count)]


def load_checkpoint_config(directory, config_or_key, step: int) -> RunConfig:
    """The config stored with a checkpoint."""
    with _read(directory, config_or_key, step) as data:
        return RunConfig.from_dict(json.loads(str(data["config"])))


def check_checkpoint_options(checkpoint_every, checkpoint_dir) -> int | None:
    """``checkpoint_every`` (steps, >= 1) checked; both options or neither."""
    if checkpoint_every is None:
        if checkpoint_dir is not None:
            raise ValueError("a checkpoint folder needs --checkpoint-every K")
        return None
    if checkpoint_dir is None:
        raise ValueError("--checkpoint-every needs a checkpoint folder")
    return check_int("--checkpoint-every", checkpoint_every, 1, strict=True)
