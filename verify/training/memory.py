"""Memory of one ensemble, estimated before anything is allocated; evaluation points.

Torch-free at import: grids, stores and executors plan ensembles with
:func:`max_ensemble_size` without loading torch (a CPU device named as ``"cpu"`` never loads
it; ``"auto"`` and CUDA devices ask torch what is there). The trainer (:mod:`.trainer`) checks
:func:`estimate_ensemble_bytes` against its cap before it allocates, and cuts its windows,
staging buffers and evaluation chunks with the same helpers, so the estimate follows the code.
"""

from __future__ import annotations

from collections.abc import Iterator

from parity_frontiers.theory.checks import check_int
from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training.device import default_memory_cap, resolve_device
from parity_frontiers.verify.training.registry import get_activation

__all__ = [
    "packed_width",
    "device_type",
    "DRAW_BYTES_PER_RUN",
    "STAGE_BYTES",
    "EVAL_CHUNK_BYTES",
    "eval_steps",
    "draw_steps",
    "stage_steps",
    "eval_chunk",
    "estimate_ensemble_bytes",
    "estimate_configs_bytes",
    "plan_chunks",
    "max_ensemble_size",
]

#: Largest float32 staging buffer of minibatches unpacked ahead of the steps (bytes).
STAGE_BYTES = 64 * 2**20
#: Largest block of host-drawn minibatches (indices or packed online samples) per run moved to
#: the device at once (bytes): an evaluation window longer than this is drawn in several
#: blocks, so memory does not grow with ``eval_every``. Per run, not per ensemble, so that the
#: cut (and with it the online train-error sample) does not depend on the ensemble's size.
DRAW_BYTES_PER_RUN = 2**20
#: Target size of the temporaries of one evaluation chunk of the test set, by device type
#: (bytes): cache-sized on the CPU (evaluation ran 1.45x faster with 4 MB of activations than
#: with 40 MB), large on a GPU, where small kernels waste the device.
EVAL_CHUNK_BYTES = {"cpu": 8 * 2**20, "cuda": 256 * 2**20}


def packed_width(n: int) -> int:
    """Bytes per packed sample, ceil(n / 8) (the layout of :mod:`.data`)."""
    return (n + 7) // 8


def eval_steps(config: RunConfig) -> Iterator[int]:
    """Evaluation points: every multiple of ``eval_every`` below ``max_steps``, then it.

    A generator: a budget of 1e9 steps evaluated every step must not build a list first.
    """
    yield from range(config.eval_every, config.max_steps, config.eval_every)
    yield config.max_steps


def device_type(device) -> str:
    """"cpu" or "cuda" for a device name or ``torch.device``; "cpu" itself needs no torch."""
    if isinstance(device, str) and device == "cpu":
        return "cpu"
    kind = getattr(device, "type", None)  # a torch.device already
    return kind if isinstance(kind, str) else resolve_device(device).type


def _stage_step_bytes(config: RunConfig, ensemble_size: int) -> int:
    # One step's unpacked minibatch: packed rows, their int32 codes (with the bias column),
    # float32 +-1, labels, index.
    nb, nba = packed_width(config.n), packed_width(config.n + 1)
    return ensemble_size * config.batch_size * (nb + nba * (4 + 32) + 4 + 1 + 8)


def _draw_step_bytes(config: RunConfig) -> int:
    # One run's step of host draws and their device copy: int64 indices, or packed online
    # samples (with their labels and the train-error copy).
    per_sample = 8 if config.samples is not None else 2 * packed_width(config.n) + 2
    return config.batch_size * per_sample


def draw_steps(config: RunConfig) -> int:
    """Steps of host-drawn minibatches moved to the device at once (<= DRAW_BYTES_PER_RUN)."""
    return max(1, min(config.eval_every, DRAW_BYTES_PER_RUN // _draw_step_bytes(config)))


def stage_steps(config: RunConfig, ensemble_size: int) -> int:
    """Steps of minibatches unpacked to float32 at once (<= STAGE_BYTES)."""
    return max(1, min(config.eval_every, STAGE_BYTES // _stage_step_bytes(config, ensemble_size)))


def _eval_sample_bytes(config: RunConfig, ensemble_size: int) -> int:
    nb, nba = packed_width(config.n), packed_width(config.n + 1)
    return ensemble_size * (nb + nba * (4 + 32) + 2 * 4 * config.width + 16)


def eval_chunk(config: RunConfig, ensemble_size: int, device) -> int:
    """Test samples per evaluation chunk (about EVAL_CHUNK_BYTES of the device type)."""
    per = _eval_sample_bytes(config, ensemble_size)
    chunk = EVAL_CHUNK_BYTES[device_type(device)] // per
    return min(config.test_size, max(config.batch_size, chunk))


def _step_floats_per_sample(config: RunConfig) -> int:
    # Activations and backpropagated signals (3 per hidden unit), one pre-activation more per
    # hidden unit when the activation's derivative needs it (registry.Activation), the input.
    kept = 3 if get_activation(config.activation).grad_from_output else 4
    return kept * config.depth * config.width + config.n + 8


def estimate_ensemble_bytes(config: RunConfig, ensemble_size: int, device="auto") -> int:
    """Estimated peak memory (bytes, on the training device) of an ensemble of this shape.

    Sum of: the packed data of every run (test set and, offline, training set: ceil(n/8) + 1
    bytes a sample); three float32 copies of the parameters (the parameters, the copy made when
    they are laid out at the start or compacted when runs end, and a margin for the vector
    gradients); one step's activations and backpropagated signals (about 3 L r + n floats per
    sample, 4 L r + n with an activation whose derivative needs the pre-activations); one
    window of host-drawn minibatches; the staging buffer (<= :data:`STAGE_BYTES`) and one
    evaluation chunk (about :data:`EVAL_CHUNK_BYTES` of the device; ``"auto"`` as in
    :func:`~parity_frontiers.verify.training.trainer.train_ensemble`); plus 15% and 16 MiB for
    allocator slack and temporaries. On the CPU it was 1.2x-1.7x the measured growth of peak
    resident memory on five configs (n 50 to 300, width 256 to 2e4, m 1e3 to 1e6 and online).
    The estimate is affine in the ensemble size except for the two capped buffers.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    e = check_int("ensemble_size", ensemble_size, strict=True)
    return _total(_shared_bytes(config, e, device) + e * _data_bytes(config))


def estimate_configs_bytes(configs, device="auto") -> int:
    """:func:`estimate_ensemble_bytes` of an ensemble of these runs, which may differ in k, m,
    init and s (one :meth:`RunConfig.ensemble_key`): the data term is the sum of each run's
    own (its m training samples, its test set, its parity set), the rest depends only on the
    shared settings and the ensemble size."""
    configs = list(configs)
    if not configs:
        raise ValueError("an ensemble needs at least one run")
    data = sum(_data_bytes(c) for c in configs)
    return _total(_shared_bytes(configs[0], len(configs), device) + data)


def _data_bytes(config: RunConfig) -> int:
    # One run's packed inputs and int8 labels (test set, training set), and its parity set.
    rows = config.test_size + (config.samples or 0)
    return rows * (packed_width(config.n) + 1) + 8 * config.k


def _shared_bytes(config: RunConfig, e: int, device) -> int:
    # Everything but the data: a function of the ensemble key's settings and the size alone.
    params = 3 * 4 * e * _param_count(config)
    step = 4 * e * config.batch_size * _step_floats_per_sample(config)
    window = e * draw_steps(config) * _draw_step_bytes(config)
    stage = stage_steps(config, e) * _stage_step_bytes(config, e)
    evaluation = eval_chunk(config, e, device) * _eval_sample_bytes(config, e)
    return params + step + window + stage + evaluation


def _total(raw: int) -> int:
    # allocator slack, temporaries and library pages touched on the way
    return int(1.15 * raw) + 16 * 2**20


def plan_chunks(configs, memory_cap_bytes: int, device="auto",
                max_ensemble: int | None = None) -> list[list[RunConfig]]:
    """Cut runs of one :meth:`RunConfig.ensemble_key` into consecutive ensembles, in order,
    each as long as :func:`estimate_configs_bytes` stays within the cap (and at most
    ``max_ensemble`` runs). Greedy; each run's data counts once, so a run with a large m
    takes the room of several small ones. ValueError when one run alone does not fit.
    """
    cap = check_cap(memory_cap_bytes)
    chunks: list[list[RunConfig]] = []
    current: list[RunConfig] = []
    data = 0
    shared: dict[int, int] = {}  # by ensemble size: the runs share every setting it reads

    def shared_bytes(config, size):
        if size not in shared:
            shared[size] = _shared_bytes(config, size, device)
        return shared[size]

    key = None
    for config in configs:
        if key is None:
            key = config.ensemble_key()
        elif config.ensemble_key() != key:
            raise ValueError("plan_chunks takes runs of one ensemble key")
        own = _data_bytes(config)
        full = max_ensemble is not None and len(current) >= max_ensemble
        if current and (full or _total(shared_bytes(config, len(current) + 1)
                                       + data + own) > cap):
            chunks.append(current)
            current, data = [], 0
        if not current:
            alone = _total(shared_bytes(config, 1) + own)
            if alone > cap:
                raise ValueError(f"one run needs about {format_bytes(alone)}, over the memory "
                                 f"cap of {format_bytes(cap)}")
        current.append(config)
        data += own
    if current:
        chunks.append(current)
    return chunks


def _param_count(config: RunConfig) -> int:
    # model.param_count without importing torch: r(n + 1) + (L - 1) r(r + 1) + r + 1
    r = config.width
    return r * (config.n + 1) + (config.depth - 1) * r * (r + 1) + r + 1


def max_ensemble_size(config: RunConfig, memory_cap_bytes: int | None = None,
                      device="auto") -> int:
    """Largest ensemble size whose :func:`estimate_ensemble_bytes` is within the cap.

    ``memory_cap_bytes`` defaults to :func:`~parity_frontiers.verify.training.device.
    default_memory_cap` of ``device``. Returns 0 when not even one run fits.
    """
    cap = default_memory_cap(device) if memory_cap_bytes is None else memory_cap_bytes
    cap = check_cap(cap)
    if estimate_ensemble_bytes(config, 1, device) > cap:
        return 0
    lo, hi = 1, 2
    while estimate_ensemble_bytes(config, hi, device) <= cap:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate_ensemble_bytes(config, mid, device) <= cap:
            lo = mid
        else:
            hi = mid
    return lo


def check_cap(cap) -> int:
    """A memory cap in bytes: a positive integer."""
    return check_int("memory_cap_bytes", cap, strict=True)


def format_bytes(value: int) -> str:
    return f"{value / 2**30:.3g} GiB ({value} bytes)"
