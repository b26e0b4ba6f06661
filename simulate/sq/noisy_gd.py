"""Gradient descent with a tau-tolerant oracle (Prop. 3's noisy GD): the probability that the
run leaves the target-free trajectory within T steps, against 2 r T / (tau^2 C(n, k))
(docs/theory.md §2).
"""

from __future__ import annotations

import math

import numpy as np

from parity_frontiers.simulate._config import (
    check_kernel_size,
    check_memory,
    check_seed,
    check_threads,
    check_trials,
    numba_threads,
    run_in_chunks,
)
from parity_frontiers.simulate._sq_kernels import (
    subset_masks,
)
from parity_frontiers.simulate.budget import SECONDS_PER_NOISY_GD_OP, parallel_speedup
from parity_frontiers.simulate.sq.networks import (
    MAX_GD_N,
    MAX_NETS,
    MAX_WORK_PER_NET,
    check_init,
    check_nk,
    check_taus,
    check_total_work,
    check_work,
    draw,
    exact_net,
    fractions_above,
    net_mean_estimate,
    parseval_energy_bound,
    sq_binomial,
)
from parity_frontiers.theory.checks import check_positive
from parity_frontiers.theory.sq_bound import sq_max_success_probability, two_layer_param_count

__all__ = [
    "all_inputs", "simulate_sq_noisy_gd",
]


def all_inputs(n):
    """All 2^n inputs as a (2^n, n) +-1 float matrix, row x having -1 where bit i of x is 1."""
    codes = np.arange(2**n, dtype=np.int64)[:, None]
    return 1.0 - 2.0 * ((codes >> np.arange(n)) & 1).astype(np.float64)


def _target_free_gradient(inputs, weights, biases, outputs, output_bias):
    r"""Population gradient of the half square loss against the zero target:
    :math:`\mathbb{E}_x[h(x) \nabla_\theta h(x)]` (every input equally likely)."""
    pre = inputs @ weights.T + biases
    active = pre > 0.0
    relu = np.where(active, pre, 0.0)
    h = relu @ outputs + output_bias
    size = inputs.shape[0]
    back = (h[:, None] * active) * outputs  # dL/dpre, per input and neuron
    return (back.T @ inputs / size, back.mean(axis=0), relu.T @ h / size, float(h.mean()))


_DIVERGED = "gradient descent diverged (non-finite weights); use a smaller lr"


def simulate_sq_noisy_gd(n, k, width, taus, steps, lr=0.1, weight_decay=0.0, init="dense",
                         s=None, trials=20, seed=0, threads=None, progress=False,
                         memory_cap_bytes=None) -> dict:
    r"""P(noisy GD leaves the target-free trajectory within T steps), against Prop. 3's delta*.

    Prop. 3's noisy GD on a 2-layer ReLU net with the half square loss and full-batch population
    gradients (all 2^n inputs):
    :math:`\theta_{t+1} = \theta_t - \eta(\nabla L_D(h_{\theta_t}, y) + \lambda\theta_t + \xi_t)`,
    where the tau-tolerant oracle returns the target-free gradient
    :math:`\nabla L_D(h, 0)` whenever every coordinate of the true one is within tau of it,
    i.e. while :math:`\|g_S(\theta_t)\|_\infty \le \tau`. Until then the run follows the
    target-free trajectory :math:`\theta^0_t`, which does not depend on S, so (derived here)

    .. math:: \Pr[\text{leave within } T] = \Pr_{\theta_0, S}\bigl[\exists t < T :
              \|g_S(\theta^0_t)\|_\infty > \tau\bigr]
              \le \sum_{t<T} \frac{\sum_i \sum_S \widehat{\partial_i h_{\theta^0_t}}(S)^2}
              {\tau^2 \binom{n}{k}} \le \frac{r T}{\tau^2 \binom{n}{k}} \le \delta^*
              = \frac{2 r T}{\tau^2 \binom{n}{k}}

    (the middle inequality under the normalisation of the module docstring). Per drawn
    initialisation the fraction of all C(n, k) parities that leave is computed exactly; the
    ``estimate`` is its mean over ``trials`` initialisations with Student's t interval.

    Parameters
    ----------
    n, k : int
        Input dimension (at most :data:`MAX_GD_N`) and parity degree.
    width : int
        Hidden width.
    taus : float or sequence of float
        Oracle tolerances tau > 0.
    steps : int
        Number of steps T.
    lr, weight_decay : float
        Learning rate eta > 0 and weight decay lambda >= 0.
    init, s
        As in :func:`simulate_sq_visible` (one initialisation).
    trials, seed, threads, progress, memory_cap_bytes
        As in :func:`simulate.lottery.simulate_lottery`; ``trials`` >= 2.

    Returns
    -------
    dict
        ``rows``: per tau, ``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials``,
        ``seed``; ``bound`` (delta* from theory.sq_bound), ``energy_bound`` (mean over runs of
        the union Parseval bound above, capped at 1), ``by_step`` (mean fraction left within
        1..T steps) and ``normalised`` (fraction of runs normalised at every step). A single
        row's keys are also at the top level.

    Examples
    --------
    >>> out = simulate_sq_noisy_gd(6, 2, width=4, taus=0.02, steps=3, trials=3, seed=0)
    >>> out["estimate"] <= out["energy_bound"] <= out["bound"]
    True
    """
    n, k = check_nk(n, k, MAX_GD_N, "for noisy GD (it enumerates all 2^n inputs each step)")
    width = check_kernel_size("width", width)
    init, s = check_init(init, s, n)
    tau_list = check_taus(taus)
    tau_arr = np.asarray(tau_list)
    steps = check_kernel_size("steps", steps)
    if steps > 10**5:
        raise ValueError(f"steps must be <= 100000, got {steps}")
    lr = float(check_positive("lr", lr))
    weight_decay = float(np.asarray(weight_decay, dtype=float))
    if not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay!r}")
    trials = check_trials(trials)
    if trials < 2:
        raise ValueError("simulate_sq_noisy_gd needs trials >= 2 (its means need a spread)")
    seed = check_seed(seed)
    threads = check_threads(threads)
    masks = subset_masks(n, k)
    count = masks.shape[0]
    step_work = width * (4 * n + 2) * 2**n + width * count * (n + 2)
    check_work(step_work, f"noisy GD (n={n}, width={width})")
    if steps * step_work > 16 * MAX_WORK_PER_NET:
        raise ValueError(f"noisy GD with steps={steps}, width={width}, n={n} would run for "
                         "over a quarter of an hour per net; use fewer steps or a smaller net")
    check_total_work(trials, steps * step_work, "noisy GD", MAX_NETS)
    check_memory(8 * (2**n * (n + 4 * width + 2) + threads * 2 * 2**n + (threads + 4) * count),
                 memory_cap_bytes, f"noisy GD (n={n}, width={width})")
    binomial, log_binomial = sq_binomial(n, k)
    inputs = all_inputs(n)
    params = two_layer_param_count(n, width)

    fractions, curves, energy_bounds = [], [], []
    tally = {"normalised": 0}

    def step(start, stop):
        for trial in range(start, stop):
            weights, biases, outputs, output_bias = draw(n, width, init == "sparse", s, seed,
                                                          trial)
            running = np.zeros(count)
            curve = np.empty((steps, len(tau_list)))
            energy_total = 0.0
            normalised = True
            for t in range(steps):
                net = exact_net(n, masks, weights, biases, outputs)
                np.maximum(running, net["sup_norm"], out=running)
                curve[t] = fractions_above(running, tau_arr)
                energy_total += net["energy"]
                normalised &= net["second_moment"] <= 1.0
                if not math.isfinite(net["energy"]):
                    raise ValueError(_DIVERGED)
                if t + 1 < steps:
                    # A divergent step overflows; stop at the first one, quietly, with one error
                    # instead of a warning per later step.
                    with np.errstate(all="ignore"):
                        g_w, g_b, g_a, g_c = _target_free_gradient(inputs, weights, biases,
                                                                   outputs, output_bias)
                        weights = weights - lr * (g_w + weight_decay * weights)
                        biases = biases - lr * (g_b + weight_decay * biases)
                        outputs = outputs - lr * (g_a + weight_decay * outputs)
                        output_bias -= lr * (g_c + weight_decay * output_bias)
                    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(biases))
                            and np.all(np.isfinite(outputs)) and math.isfinite(output_bias)):
                        raise ValueError(_DIVERGED)
            fractions.append(curve[-1])
            curves.append(curve)
            energy_bounds.append([parseval_energy_bound(energy_total, tau, binomial, log_binomial)
                                  for tau in tau_list])
            tally["normalised"] += normalised

    with numba_threads(threads):
        run_in_chunks(step, trials, progress, "sq noisy-gd",
                      seconds_per_trial=SECONDS_PER_NOISY_GD_OP * (1 + 0.25 * max(0, n - 10))
                      * steps * step_work / parallel_speedup(threads, width))

    rows = []
    mean_curve = np.mean(np.asarray(curves), axis=0)
    for index, tau in enumerate(tau_list):
        est = net_mean_estimate([f[index] for f in fractions], seed)
        rows.append({"tau": tau, **est,
                     "bound": float(sq_max_success_probability(n, k, params, steps, tau=tau)),
                     "energy_bound": float(np.mean([e[index] for e in energy_bounds])),
                     "by_step": mean_curve[:, index].tolist()})
    out = {"n": n, "k": k, "binomial": binomial, "init": init,
           "s": s if init == "sparse" else None, "width": width, "params": params,
           "steps": steps, "lr": lr, "weight_decay": weight_decay, "trials": trials,
           "seed": seed, "normalised": tally["normalised"] / trials, "rows": rows}
    if len(rows) == 1:
        out.update(rows[0])
    return out
