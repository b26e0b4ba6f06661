"""Benchmark: the exact visible-fraction kernel of simulate.sq against a numpy baseline.

Baseline (named): "numpy matmul" -- every parameter's gradient at every input as a dense
(2^n, r) float64 matrix, times the explicit (C(n, k), 2^n) matrix of parities chi_S (BLAS), then
the max over parameters. The Numba kernel instead does two Walsh-Hadamard transforms per neuron
(O(n 2^n)) and reads each parameter's coefficient on S from them. Both compute the same
C(n, k) sup-norms for the same net (checked equal to 1e-12 in the run). Timings are the best of
``--repeat`` runs measured side by side in one process, after one warm-up call (JIT compile);
the ratio is numpy time / Numba time.

Run:  .venv/bin/python benchmarks/bench_sq.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from _timing import best_of

from parity_frontiers.simulate.sq import (
    draw_init_network,
    gradient_fourier_sup_norms,
)
from parity_frontiers.simulate.sq.noisy_gd import all_inputs


def numpy_sup_norms(n, k, weights, biases, outputs):
    """The baseline: dense gradient matrix and explicit parity matrix, one BLAS product."""
    inputs = all_inputs(n)
    pre = inputs @ weights.T + biases
    active = (pre > 0).astype(float)
    size = inputs.shape[0]
    width = weights.shape[0]
    d_w = ((active * outputs)[:, :, None] * inputs[:, None, :]).reshape(size, width * n)
    grads = np.concatenate([d_w, active * outputs, np.maximum(pre, 0.0)], axis=1)
    sets = list(itertools.combinations(range(n), k))
    masks = np.array([sum(1 << i for i in c) for c in sets])
    chi = np.stack([np.prod(inputs[:, list(c)], axis=1) for c in sets])
    sup = np.max(np.abs(chi @ grads), axis=1) / size
    return sup[np.argsort(masks)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cases = [(10, 3, 8), (12, 3, 16)] if args.quick else [(10, 3, 8), (12, 3, 32), (14, 3, 32),
                                                            (14, 4, 64)]
    print(f"{'n':>3} {'k':>2} {'width':>5} {'C(n,k)':>7} {'numpy matmul s':>15} "
          f"{'numba WHT s':>12} {'ratio':>7}")
    for n, k, width in cases:
        w, b, a, _ = draw_init_network(n, width, "dense", seed=0)
        ours = gradient_fourier_sup_norms(n, k, w, b, a)["sup_norm"]  # also compiles
        baseline = numpy_sup_norms(n, k, w, b, a)
        if not np.allclose(ours, baseline, rtol=1e-12, atol=1e-15):
            raise SystemExit(f"mismatch at n={n}, k={k}, width={width}")
        t_numpy = best_of(lambda n=n, k=k, w=w, b=b, a=a: numpy_sup_norms(n, k, w, b, a),
                          args.repeat)
        t_numba = best_of(lambda n=n, k=k, w=w, b=b, a=a: gradient_fourier_sup_norms(n, k, w, b,
                                                                                     a),
                          args.repeat)
        count = len(ours)
        print(f"{n:>3} {k:>2} {width:>5} {count:>7} {t_numpy:>15.4f} {t_numba:>12.4f} "
              f"{t_numpy / t_numba:>7.1f}")


if __name__ == "__main__":
    main()
