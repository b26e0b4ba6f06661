r"""Sparse-parity data, deterministic per run seed (docs/theory.md §1 and §5).

The task: a hidden set :math:`S \subset \{0, \dots, n-1\}` of :math:`k` coordinates, drawn
uniformly; inputs :math:`x` uniform on :math:`\{-1, +1\}^n`; label
:math:`y = \chi_S(x) = \prod_{i \in S} x_i`.

Randomness
----------
Every random quantity of a run comes from numpy's PCG64, seeded by
``SeedSequence(config.seed, spawn_key=(stream,))`` -- the children that
``SeedSequence(seed).spawn`` would give -- with one independent stream per purpose:
``STREAM_PARITY_SET`` (S), ``STREAM_TRAIN`` (the m training samples), ``STREAM_TEST`` (the
held-out set), ``STREAM_INIT`` (the weights, :mod:`verify.model`) and ``STREAM_BATCHES`` (the
minibatch indices, or the online samples). So a run's data and trajectory are a function of its
own config alone: they do not depend on which runs share its ensemble, nor on the device (all
draws are made on the host and moved to the device in chunks, between evaluation points). S is
drawn from its own stream, so for a given seed and (n, k) the hidden set is the same at every m,
width and init, and so is the test set.

The batch stream is *step-addressable*: each minibatch index consumes exactly one 64-bit word
of the stream (and each online sample a fixed number of words), so the batch of step t does not
depend on how the steps are cut into windows (``eval_every``).

Minibatches
-----------
Offline (``samples = m``): a fixed training set of m samples; each SGD step draws
``batch_size`` indices uniformly *with replacement* from the m samples, independently of every
other step. This is our reading of the paper's "batch size 32" with resampled batches: no
epochs, no shuffling, so m need not be a multiple of the batch size and m < 32 is allowed.
Online (``samples=None``): every step gets ``batch_size`` fresh samples, never reused.

Storage
-------
Inputs are stored bit-packed, 8 coordinates per byte (``uint8 [..., ceil(n/8)]``, little-endian
bit order: bit j of byte b is coordinate 8b + j; a set bit means :math:`x_i = -1`). A million
samples at n = 300 take 38 MB instead of 1.2 GB as float32. :func:`unpack_pm1` turns a chunk
into float32 +-1 on the device just before use. Padding bits (when 8 does not divide n) are
zero, so equal samples have equal packed rows. Labels are int8 +-1.

Examples
--------
>>> from parity_frontiers.verify.config import RunConfig
>>> cfg = RunConfig(n=10, k=3, width=8, samples=5, seed=1, test_size=4)
>>> data = make_run_data(cfg)
>>> data.train_packed.shape, data.test_packed.shape, len(data.parity_set)
((5, 2), (4, 2), 3)
>>> x = unpack_pm1(torch.from_numpy(data.train_packed), cfg.n)
>>> y = torch.from_numpy(data.train_y).float()
>>> bool((x[:, data.parity_set].prod(1) == y).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.training.memory import packed_width  # torch-free, shared

__all__ = [
    "STREAM_PARITY_SET",
    "STREAM_TRAIN",
    "STREAM_TEST",
    "STREAM_INIT",
    "STREAM_BATCHES",
    "stream_rng",
    "packed_width",
    "random_packed",
    "pack_pm1",
    "unpack_pm1",
    "pm1_table",
    "parity_labels",
    "hidden_set",
    "RunData",
    "make_run_data",
    "BatchStream",
]

STREAM_PARITY_SET, STREAM_TRAIN, STREAM_TEST, STREAM_INIT, STREAM_BATCHES = range(5)


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """PCG64 generator of one stream of one run: ``SeedSequence(seed, spawn_key=(stream,))``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,))))


def _words_per_sample(n: int) -> int:
    return (packed_width(n) + 7) // 8


def random_packed(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    """``count`` uniform samples of {-1, +1}^n, packed: ``uint8 [count, ceil(n/8)]``.

    Each sample consumes exactly ceil(ceil(n/8) / 8) raw 64-bit words of ``rng`` (so a stream
    cut into pieces gives the same samples as in one piece); the padding bits are zeroed.
    """
    nb = packed_width(n)
    words = _words_per_sample(n)
    raw = rng.bit_generator.random_raw(count * words).astype("<u8", copy=False)
    packed = raw.view(np.uint8).reshape(count, words * 8)[:, :nb].copy()
    if n % 8:
        packed[:, -1] &= (1 << (n % 8)) - 1
    return packed


def pack_pm1(x) -> np.ndarray:
    """Pack +-1 values ``[..., n]`` into ``uint8 [..., ceil(n/8)]`` (-1 -> set bit)."""
    bits = np.asarray(x) < 0
    return np.packbits(bits, axis=-1, bitorder="little")


_LUT_CACHE: dict[torch.device, torch.Tensor] = {}


def pm1_table(device: torch.device) -> torch.Tensor:
    """float32 [256, 8]: row b holds the 8 coordinates (+-1) of packed byte b."""
    table = _LUT_CACHE.get(device)
    if table is None:
        bits = (torch.arange(256)[:, None] >> torch.arange(8)) & 1
        table = (1 - 2 * bits).to(torch.float32).to(device)
        _LUT_CACHE[device] = table
    return table


def unpack_pm1(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Float32 +-1 inputs ``[..., n]`` from packed ``uint8 [..., ceil(n/8)]``, on its device.

    The result is a view that drops the padding coordinates, hence not contiguous in its last
    two dimensions when 8 does not divide n (batched matmuls accept that stride).
    """
    if packed.dtype != torch.uint8:
        raise ValueError(f"packed must be uint8, got {packed.dtype}")
    if packed.shape[-1] != packed_width(n):
        raise ValueError(f"packed last dimension must be ceil(n/8) = {packed_width(n)}, "
                         f"got {packed.shape[-1]}")
    table = pm1_table(packed.device)
    # index_select of 32-byte table rows: about 4x faster than advanced indexing on the CPU
    x = torch.index_select(table, 0, packed.reshape(-1).to(torch.int32))
    return x.view(*packed.shape[:-1], -1)[..., :n]


def parity_labels(packed: torch.Tensor, parity_set: torch.Tensor,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Labels :math:`\chi_S(x) = \prod_{i \in S} x_i` of packed samples, as int8 +-1.

    Parameters
    ----------
    packed : uint8 tensor [..., N, ceil(n/8)]
    parity_set : int64 tensor [..., k]
        S, with the same leading dimensions as ``packed`` (one S per run of an ensemble).
    mask : uint8 tensor [..., k], optional
        1 for the entries of ``parity_set`` that belong to S, 0 for padding: runs of one
        ensemble with different k share a ``[E, max k]`` parity set, padded and masked.

    Reads only the k bits of S: :math:`\chi_S(x) = (-1)^{\#\{i \in S : x_i = -1\}}`.
    """
    lead = packed.shape[:-1]
    k = parity_set.shape[-1]
    byte = (parity_set // 8).unsqueeze(-2).expand(*lead, k)
    bit = (parity_set % 8).to(torch.uint8).unsqueeze(-2)
    chosen = torch.gather(packed, -1, byte)
    bits = (chosen >> bit) & 1
    if mask is not None:
        bits &= mask.unsqueeze(-2)
    ones = bits.sum(-1, dtype=torch.int32)
    return (1 - 2 * (ones & 1)).to(torch.int8)


def hidden_set(config: RunConfig) -> np.ndarray:
    """The hidden parity set S of the run: k of n coordinates, uniformly, sorted (int64)."""
    rng = stream_rng(config.seed, STREAM_PARITY_SET)
    return np.sort(rng.choice(config.n, size=config.k, replace=False)).astype(np.int64)


@dataclass
class RunData:
    """The fixed data of one run (host arrays).

    Attributes
    ----------
    parity_set : int64 [k]
    train_packed, train_y : uint8 [m, ceil(n/8)] and int8 [m], or None when online
    test_packed, test_y : uint8 [test_size, ceil(n/8)] and int8 [test_size]
    """

    parity_set: np.ndarray
    train_packed: np.ndarray | None
    train_y: np.ndarray | None
    test_packed: np.ndarray
    test_y: np.ndarray


def _labels_np(packed: np.ndarray, parity_set: np.ndarray) -> np.ndarray:
    return parity_labels(torch.from_numpy(packed), torch.from_numpy(parity_set)).numpy()


def make_run_data(config: RunConfig) -> RunData:
    """S, the training set (offline) and the held-out test set of a run, from its seed."""
    parity_set = hidden_set(config)
    train_packed = train_y = None
    if config.samples is not None:
        train_packed = random_packed(stream_rng(config.seed, STREAM_TRAIN), config.samples,
                                     config.n)
        train_y = _labels_np(train_packed, parity_set)
    test_packed = random_packed(stream_rng(config.seed, STREAM_TEST), config.test_size, config.n)
    return RunData(parity_set, train_packed, train_y, test_packed,
                   _labels_np(test_packed, parity_set))


class BatchStream:
    """The minibatch stream of one run (``STREAM_BATCHES``).

    ``next(steps)`` returns the next ``steps`` minibatches: offline, int64 indices
    ``[steps, batch_size]`` into the training set, uniform with replacement; online, fresh
    packed samples ``uint8 [steps, batch_size, ceil(n/8)]``. Consecutive calls continue the
    stream, and the cut into calls does not matter (each index takes one 64-bit word, index =
    floor(u m) with u the word's top 53 bits as a fraction: bias below m / 2^53).
    """

    def __init__(self, config: RunConfig):
        self.config = config
        self.rng = stream_rng(config.seed, STREAM_BATCHES)

    def next(self, steps: int) -> np.ndarray:
        cfg = self.config
        count = steps * cfg.batch_size
        if cfg.samples is None:
            return random_packed(self.rng, count, cfg.n).reshape(steps, cfg.batch_size, -1)
        raw = self.rng.bit_generator.random_raw(count)
        u = (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53
        idx = np.minimum((u * cfg.samples).astype(np.int64), cfg.samples - 1)
        return idx.reshape(steps, cfg.batch_size)
