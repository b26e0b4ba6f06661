"""Throughput of the vectorised theory formulas on a million-point grid.

Baseline: the same formula evaluated point by point in a plain Python loop with the ``math``
module (written here, ``math.lgamma`` for binomials), timed on a 20,000-point slice of the
same grid. Prints points/s for both and their ratio, side by side in one run.

    python benchmarks/bench_theory.py [--points 1000000] [--baseline-points 20000]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from parity_frontiers import theory


def _lcomb(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _scalar_max_success(n, k, r, t, m):
    return min(1.0, math.exp(math.log(2 * r * t * m) - _lcomb(n, k)))


def _scalar_p_lucky(n, k, s):
    lo, hi = min(s, k), max(s, k)
    return math.exp(_lcomb(hi, lo) - _lcomb(n, lo))


def _scalar_at_least_one(n, k, s, w):
    return -math.expm1(w * math.log1p(-_scalar_p_lucky(n, k, s)))


def _scalar_width_needed(n, k, s, delta):
    p = _scalar_p_lucky(n, k, s)
    return max(1, math.ceil(math.log(delta) / math.log1p(-p))) if p < 1 else 1


def _scalar_overlap(n, k, s, j):
    return math.exp(_lcomb(k, j) + _lcomb(n - k, s - j) - _lcomb(n, s))


def _scalar_kappa(s, b, d):
    total = 0
    for h in range(s + 1):
        if s - 2 * h + b > 0:
            total += sum((-1) ** q * math.comb(d, q) * math.comb(s - d, h - q)
                         for q in range(max(0, h - (s - d)), min(d, h) + 1))
    return total / 2**s


def _grid(points: int, rng: np.random.Generator) -> dict:
    n = rng.integers(50, 1_000_000, points).astype(float)
    k = rng.integers(1, 8, points).astype(float)
    s = rng.integers(1, 40, points).astype(float)
    return {
        "n": n, "k": k, "s": s,
        "r": np.ceil(10.0 ** rng.uniform(2, 9, points)),
        "t": np.ceil(10.0 ** rng.uniform(1, 6, points)),
        "m": np.ceil(10.0 ** rng.uniform(1, 7, points)),
        "w": np.floor(10.0 ** rng.uniform(0, 6, points)),
        "delta": rng.uniform(0.01, 0.99, points),
        "j": np.minimum(s, k) * (rng.random(points) < 0.5),
        "ks": rng.integers(1, 13, points).astype(float),
        "b": rng.integers(-2, 3, points).astype(float),
    }


def _cases(g):
    kd = np.floor(g["ks"] / 2)  # a kappa degree d <= s
    return [
        ("log_comb", lambda sl: theory.log_comb(g["n"][sl], g["k"][sl]),
         lambda i: _lcomb(g["n"][i], g["k"][i])),
        ("sq_max_success_probability",
         lambda sl: theory.sq_max_success_probability(g["n"][sl], g["k"][sl], g["r"][sl],
                                                      g["t"][sl], samples=g["m"][sl]),
         lambda i: _scalar_max_success(g["n"][i], g["k"][i], g["r"][i], g["t"][i],
                                       g["m"][i])),
        ("sq_log10_min_resource(samples)",
         lambda sl: theory.sq_log10_min_resource(g["n"][sl], g["k"][sl], "samples",
                                                 params=g["r"][sl],
                                                 steps=g["t"][sl],
                                                 delta=g["delta"][sl]),
         lambda i: (math.log(g["delta"][i]) + _lcomb(g["n"][i], g["k"][i]) - math.log(2)
                    - math.log(g["r"][i]) - math.log(g["t"][i]))),
        ("p_lucky", lambda sl: theory.p_lucky(g["n"][sl], g["k"][sl], g["s"][sl]),
         lambda i: _scalar_p_lucky(g["n"][i], g["k"][i], g["s"][i])),
        ("overlap_pmf", lambda sl: theory.overlap_pmf(g["n"][sl], g["k"][sl], g["s"][sl],
                                                      g["j"][sl]),
         lambda i: _scalar_overlap(g["n"][i], g["k"][i], g["s"][i], g["j"][i])),
        ("p_at_least_one_lucky",
         lambda sl: theory.p_at_least_one_lucky(g["n"][sl], g["k"][sl], g["s"][sl], g["w"][sl]),
         lambda i: _scalar_at_least_one(g["n"][i], g["k"][i], g["s"][i], g["w"][i])),
        ("width_needed",
         lambda sl: theory.width_needed(g["n"][sl], g["k"][sl], g["s"][sl], g["delta"][sl]),
         lambda i: _scalar_width_needed(g["n"][i], g["k"][i], g["s"][i], g["delta"][i])),
        ("kappa (s<=12 grid)",
         lambda sl: theory.kappa(g["ks"][sl], g["b"][sl], kd[sl]),
         lambda i: _scalar_kappa(int(g["ks"][i]), g["b"][i], int(kd[i]))),
        ("thm4_log10_width",
         lambda sl: theory.thm4_log10_width(g["n"][sl], g["k"][sl],
                                            np.maximum(g["s"][sl], g["k"][sl])),
         lambda i: math.log10((g["n"][i] / max(g["s"][i], g["k"][i])) ** g["k"][i])),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--baseline-points", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    grid = _grid(args.points, np.random.default_rng(args.seed))
    print(f"grid: {args.points:,} points; baseline (scalar Python loop, math module) on the "
          f"first {args.baseline_points:,}")
    header = f"{'formula':34s} {'vectorised s':>13s} {'points/s':>12s} {'baseline pts/s':>15s} "\
             f"{'ratio':>8s}"
    print(header)
    print("-" * len(header))
    everything = slice(None)
    for name, vectorised, scalar in _cases(grid):
        vectorised(slice(0, 1000))  # warm-up (imports, caches)
        start = time.perf_counter()
        out = vectorised(everything)
        elapsed = time.perf_counter() - start
        assert np.all(np.isfinite(out)), name
        start = time.perf_counter()
        for i in range(args.baseline_points):
            scalar(i)
        base = args.baseline_points / (time.perf_counter() - start)
        rate = args.points / elapsed
        print(f"{name:34s} {elapsed:13.3f} {rate:12.3g} {base:15.3g} {rate / base:8.1f}x")


if __name__ == "__main__":
    main()
