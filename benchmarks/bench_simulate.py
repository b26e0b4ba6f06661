"""Benchmark: simulate/'s Numba kernels against straightforward numpy-vectorised versions.

Baseline (named): the same computation written with numpy arrays of +-1 samples, float32
matmuls (BLAS) for the correlation sums, and numpy's PCG64 generator; vectorised over the
samples, coordinates and neurons of a trial (and over a batch of trials where that is natural).
Both sides do the same work: same n, k, s, r, m and number of trials. Timings are best of
``--repeat`` runs, measured side by side in one process; the ratio is numpy time / Numba time.

JIT compile time of each kernel is measured separately in a subprocess with an empty Numba
cache directory (first call), against a second subprocess that loads the on-disk cache.

Run:  .venv/bin/python benchmarks/bench_simulate.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numba
import numpy as np
from _timing import best_of

from parity_frontiers.simulate._bits import correlation_counts, sample_parity_bits
from parity_frontiers.simulate._neurons import activation_bits
from parity_frontiers.simulate._rng import next_u64, trial_state
from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.simulate.lottery import simulate_lottery
from parity_frontiers.simulate.onestep import simulate_onestep

# --- numpy baselines -----------------------------------------------------------------------

def numpy_supports(rng, shape, n, s):
    """Uniform s-subsets of [n] for every index of ``shape``: the s smallest of n uniforms."""
    return np.argpartition(rng.random(shape + (n,)), s - 1, axis=-1)[..., :s]


def numpy_lottery(n, k, s, width, trials, seed, batch=256):
    rng = np.random.default_rng(seed)
    lucky = 0
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        overlap = (numpy_supports(rng, (b, width), n, s) < k).sum(-1)
        lucky += int(((overlap == k) if s >= k else (overlap == s)).sum())
    return lucky


def numpy_gradient(n, k, s, m, trials, seed, batch=16):
    """One lucky +-1 neuron per trial (U = first s coords of a random s-set containing S when
    s >= k), its m-sample correlations and selection gap, batched over trials."""
    rng = np.random.default_rng(seed)
    selects = 0
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        x = rng.integers(0, 2, size=(b, m, n), dtype=np.int8) * np.int8(2) - np.int8(1)
        xf = x.astype(np.float32)
        y = xf[:, :, :k].prod(-1)
        # support: S plus s - k uniform off-S coordinates (or s coords of S when s < k)
        if s >= k:
            extra = k + numpy_supports(rng, (b,), n - k, s - k)
            support = np.concatenate([np.broadcast_to(np.arange(k), (b, k)), extra], axis=1)
        else:
            support = np.broadcast_to(np.arange(s), (b, s))
        w = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(b, s))
        pre = np.take_along_axis(xf, support[:, None, :], axis=2) @ w[:, :, None]
        g = (pre[..., 0] > 0).astype(np.float32)
        corr = np.einsum("bm,bmn->bn", g * y, xf) / m
        on = np.abs(corr[:, :k]).min(1)
        off = np.abs(corr[:, k:]).max(1)
        selects += int((on > off).sum())
    return selects


def numpy_onestep(n, k, s, width, m, trials, seed):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        x = (rng.integers(0, 2, size=(m, n), dtype=np.int8) * np.int8(2)
             - np.int8(1)).astype(np.float32)
        y = x[:, :k].prod(1)
        support = numpy_supports(rng, (width,), n, s)
        w = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(width, s))
        pre = (x[:, support] * w).sum(-1)  # (m, width)
        g = (pre > 0).astype(np.float32)
        corr = np.abs((g * y[:, None]).T @ x)  # (width, n), one BLAS matmul
        if s >= k:
            chosen = corr[:, :k].min(1) > corr[:, k:].max(1)
        else:
            inside = (support < k).sum(1) == s
            missing = np.ones((width, n), dtype=bool)
            np.put_along_axis(missing, support, False, axis=1)
            on = np.where(missing[:, :k], corr[:, :k], np.inf).min(1)
            off = np.where(missing[:, k:], corr[:, k:], -np.inf).max(1)
            chosen = inside & (on > off)
        hits += bool(chosen.any())
    return hits


# --- bit-packed against byte arrays, both in Numba ------------------------------------------

@numba.njit(cache=True)
def _bytes_correlations(n, k, s, m, trials, seed):
    """The m-sample correlations of one +-1 neuron per trial with int8 samples: what the
    bit-packed kernel computes, written over byte arrays (same random bits, same output)."""
    x = np.empty((m, n), dtype=np.int8)
    corr = np.empty(n, dtype=np.int64)
    checksum = 0
    for trial in range(trials):
        state = trial_state(seed, trial)
        for t in range(m):
            for i0 in range(0, n, 64):
                word = next_u64(state)
                for i in range(i0, min(n, i0 + 64)):
                    x[t, i] = 1 - 2 * np.int8((word >> np.uint64(i - i0)) & np.uint64(1))
        corr[:] = 0
        for t in range(m):
            y = 1
            for i in range(k):
                y *= x[t, i]
            pre = 0
            for q in range(s):
                pre += x[t, q]
            if pre > 0:
                for i in range(n):
                    corr[i] += y * x[t, i]
        checksum += corr[0]
    return checksum


@numba.njit(cache=True)
def _packed_correlations(n, k, s, m, trials, seed):
    nwords = (m + 63) // 64
    bits = np.empty((n, nwords), dtype=np.uint64)
    label = np.empty(nwords, dtype=np.uint64)
    active = np.empty(nwords, dtype=np.uint64)
    corr = np.empty(n, dtype=np.int64)
    support = np.arange(s)
    weights = np.ones(s)
    checksum = 0
    for trial in range(trials):
        sample_parity_bits(trial_state(seed, trial), n, k, m, bits, label)
        total = activation_bits(support, weights, 0.0, bits, m, active)
        correlation_counts(active, label, bits, total, corr)
        checksum += corr[0]
    return checksum


def bits_versus_bytes(repeat, trials):
    n, k, s, m = 50, 3, 4, 1000
    _bytes_correlations(n, k, s, m, 2, 0)
    _packed_correlations(n, k, s, m, 2, 0)
    t_bytes = best_of(lambda: _bytes_correlations(n, k, s, m, trials, 1), repeat)
    t_bits = best_of(lambda: _packed_correlations(n, k, s, m, trials, 1), repeat)
    work = trials * m
    print(f"\nbit-packed vs int8 byte arrays (both Numba, one thread), n={n} k={k} s={s} "
          f"m={m}, {trials} neurons: sampling + activation + n correlations")
    print(f"  bytes {work / t_bytes:.3g} neuron-samples/s, bits {work / t_bits:.3g} "
          f"neuron-samples/s: {t_bytes / t_bits:.1f}x")


# --- JIT compile time ------------------------------------------------------------------------

_COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
from parity_frontiers.simulate.lottery import simulate_lottery
from parity_frontiers.simulate._bits import correlation_counts, sample_parity_bits
from parity_frontiers.simulate._neurons import activation_bits
from parity_frontiers.simulate._rng import next_u64, trial_state
from parity_frontiers.simulate.gradients import simulate_gradient
from parity_frontiers.simulate.onestep import simulate_onestep
simulate_lottery(10, 2, 3, trials=2)
simulate_gradient(10, 2, 3, samples=64, trials=2)
simulate_onestep(10, 2, 2, widths=2, samples=64, trials=2)
print(time.perf_counter() - t0)
"""


def compile_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    scale = 10 if args.quick else 1

    n, k = 50, 3
    cases = [
        ("lottery", "n=50 k=3 s=5 r=100", 20000 // scale, 100 * 1,
         lambda t: simulate_lottery(n, k, 5, width=100, trials=t, seed=1),
         lambda t: numpy_lottery(n, k, 5, 100, t, 1), "neuron-draws/s"),
        ("gradient", "n=50 k=3 s=4 m=1000", 10000 // scale, 1000,
         lambda t: simulate_gradient(n, k, 4, samples=1000, trials=t, seed=1),
         lambda t: numpy_gradient(n, k, 4, 1000, t, 1), "neuron-samples/s"),
        ("one-step", "n=50 k=3 s=2 r=256 m=1000", 1024 // scale, 256 * 1000,
         lambda t: simulate_onestep(n, k, 2, widths=256, samples=1000, trials=t, seed=1),
         lambda t: numpy_onestep(n, k, 2, 256, 1000, t, 1), "neuron-samples/s"),
        ("one-step", "n=50 k=3 s=4 r=256 m=1000", 1024 // scale, 256 * 1000,
         lambda t: simulate_onestep(n, k, 4, widths=256, samples=1000, trials=t, seed=1),
         lambda t: numpy_onestep(n, k, 4, 256, 1000, t, 1), "neuron-samples/s"),
    ]
    print(f"numba threads: {numba.get_num_threads()}, numpy {np.__version__}, "
          f"numba {numba.__version__}; best of {repeat}")
    header = f"{'kernel':9} {'config':28} {'trials':>6} {'numba s':>8} {'numpy s':>8} " \
             f"{'numba rate':>11} {'numpy rate':>11}  {'ratio':>6}  unit"
    print(header)
    print("-" * len(header))
    for name, config, trials, work, fast, slow, unit in cases:
        fast(2)  # JIT warm-up (cache load), not timed
        t_fast = best_of(lambda f=fast, t=trials: f(t), repeat)
        t_slow = best_of(lambda f=slow, t=trials: f(t), repeat)
        rate_fast, rate_slow = trials * work / t_fast, trials * work / t_slow
        print(f"{name:9} {config:28} {trials:>6} {t_fast:8.3f} {t_slow:8.3f} "
              f"{rate_fast:11.3g} {rate_slow:11.3g}  {t_slow / t_fast:5.1f}x  {unit}")

    bits_versus_bytes(repeat, 2000 // scale)

    with tempfile.TemporaryDirectory() as cache:
        cold = compile_seconds(cache)
        warm = compile_seconds(cache)
    print(f"\nJIT: first call with an empty cache {cold:.1f} s (all kernels); "
          f"with the on-disk cache {warm:.1f} s")


if __name__ == "__main__":
    main()
