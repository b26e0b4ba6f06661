r"""Lottery-ticket experiment: prune a wide sparse-init MLP, rewind, retrain (docs/theory.md §5).

The paper's Figure 5: train a width-100, s = 2 sparse-init 2-layer ReLU MLP on online
(n = 50, k = 5)-sparse parity (batch 32, learning rate 0.1); keep its top K = 5 neurons by
weight norm, *rewind* them to their initial weights and retrain that K-neuron net with several
SGD seeds: it learns fast, while K neurons of a fresh random init do not.

Protocol (:func:`run_lottery_ticket`)
-------------------------------------
1. **Wide run.** One run of :meth:`LotteryTicketConfig.wide_config` (seed ``seed``: S, test set,
   init and batches) trained by :func:`verify.trainer.train_ensemble`, stopped at its first
   evaluation with test error <= ``success_error`` (else at ``max_steps``).
2. **Ranking.** Neuron j of the trained net scores

   .. math:: \mathrm{score}_j = |a_j| \, \lVert w_j \rVert_2,

   its trained output weight times the Euclidean norm of its trained input weights (bias
   excluded): the size of the neuron's contribution :math:`a_j \mathrm{ReLU}(w_j \cdot x + b_j)`
   on inputs :math:`x \in \{-1, +1\}^n` (the paper says "weight norm" without saying which;
   this is our choice). The *winners* are the ``keep`` highest scores (ties: lower index first).
3. **Arms**, each a width-``keep`` net (first-layer rows, biases and output weights of the
   chosen neurons; output bias c), retrained once per SGD seed i = 0 .. ``sgd_seeds`` - 1:

   * ``winners``: the winners, rewound to their initial weights (bit for bit, and the initial
     c): the same net for every SGD seed;
   * ``random_rewound``: ``keep`` neurons of the same wide net chosen uniformly at random
     (without replacement, a fresh choice per SGD seed), rewound likewise;
   * ``fresh``: ``keep`` neurons chosen uniformly from a fresh wide init (same law: s-sparse,
     output weights :math:`U(\pm 1/\sqrt{\mathrm{width}})`, a fresh draw per SGD seed), so the
     three arms differ only in *which* neurons they hold, not in the law of their weights.

   SGD seed i gives the same minibatch stream to all three arms (a paired comparison), and a
   different one from the wide run's. Every retrain run keeps the wide run's S and test set and
   trains for ``retrain_steps`` steps without early stopping, its test error recorded at every
   evaluation (the curves); steps-to-success is its first evaluation at or below
   ``success_error``.
4. **Winners vs S.** A neuron's initial support U (the s inputs it is connected to) overlaps S
   in :math:`|U \cap S|` coordinates; over the init law this is hypergeometric
   (:func:`theory.lottery.overlap_pmf`). If training picked winners regardless of their
   supports, the K winners' overlaps would be i.i.d. from that law; :func:`overlap_test` gives
   the exact one-sided p-value of their sum and a binomial test of how many are *lucky*
   (overlap min(s, k): U inside S for s < k, S inside U for s >= k; :func:`theory.lottery.p_lucky`),
   and :func:`selection_test` the test conditional on the wide net's realised supports.

Seeds derived from ``seed`` (:func:`derived_seed`) fix the SGD streams, the random neuron
choices and the fresh inits, so the whole experiment is a function of its config.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from parity_frontiers.simulate.progress import progress_bar
from parity_frontiers.theory.checks import check_int
from parity_frontiers.theory.lottery import overlap_pmf, p_lucky
from parity_frontiers.verify.analysis.summaries import summarize
from parity_frontiers.verify.analysis.ticket_overlaps import (
    overlap_test,
    selection_test,
    support_overlaps,
)
from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.experiments.pruning import (
    SCORE_RULE,
    check_two_layer,
    neuron_scores,
    subnetwork,
    top_neurons,
)
from parity_frontiers.verify.training.data import hidden_set
from parity_frontiers.verify.training.device import check_device
from parity_frontiers.verify.training.memory import max_ensemble_size
from parity_frontiers.verify.training.model import init_params, init_supports
from parity_frontiers.verify.training.trainer import train_ensemble

__all__ = [
    "ARMS",
    "ARM_LABELS",
    "PAPER_SETTINGS",
    "LotteryTicketConfig",
    "LotteryTicketResult",
    "derived_seed",
    "build_arms",
    "run_lottery_ticket",
]

#: The three retrained arms, in reporting order.
ARMS = ("winners", "random_rewound", "fresh")
ARM_LABELS = {
    "winners": "top-K by |a|*||w||, rewound",
    "random_rewound": "K random neurons, rewound",
    "fresh": "K fresh random sparse neurons",
}

#: The paper's Figure 5 (docs/theory.md §5); step budgets, seeds and test size are ours.
PAPER_SETTINGS = {"n": 50, "k": 5, "width": 100, "s": 2, "keep": 5, "batch_size": 32,
                  "lr": 0.1, "weight_decay": 0.01, "max_steps": 100_000,
                  "retrain_steps": 20_000, "eval_every": 100, "sgd_seeds": 10,
                  "test_size": 10_000}

# Purposes of the seeds derived from the experiment's seed.
_SGD_STREAM, _RANDOM_NEURONS, _FRESH_INIT = 1, 2, 3
#: Most SGD seeds per arm (more is a typo, not an experiment).
MAX_SGD_SEEDS = 10_000


def derived_seed(seed: int, purpose: int, index: int) -> int:
    """A run seed in [0, 2**63) derived from ``(seed, purpose, index)`` by numpy's SeedSequence.

    Distinct triples give independent-looking seeds (SeedSequence hashes its entropy), so the
    SGD streams, random neuron choices and fresh inits of an experiment never reuse the wide
    run's seed or one another's.

    Examples
    --------
    >>> derived_seed(0, 1, 0) == derived_seed(0, 1, 0) != derived_seed(0, 1, 1)
    True
    >>> 0 <= derived_seed(2**63 - 1, 3, 9) < 2**63
    True
    """
    words = np.random.SeedSequence((int(seed), int(purpose), int(index))).generate_state(
        2, np.uint32)
    return (int(words[0]) << 31) | (int(words[1]) >> 1)


@dataclass(frozen=True)
class LotteryTicketConfig:
    """Settings of one lottery-ticket experiment.

    Parameters
    ----------
    n, k : int
        Online (n, k)-sparse parity.
    width, s : int
        Width and support size of the wide s-sparse-init 2-layer MLP.
    keep : int
        Neurons kept, K (1 <= K <= width).
    seed : int
        The wide run's seed (S, test set, its init and batches) and the root of every derived
        seed.
    sgd_seeds : int
        Retrain runs per arm.
    max_steps, retrain_steps : int
        Step budgets of the wide run and of each retrain run.
    eval_every, batch_size, lr, weight_decay, loss, test_size, success_error
        As in :class:`verify.config.RunConfig`, shared by every run.

    The defaults take 15-70 s on a 2-core CPU (more when it is busy): (n, k) = (40, 4), where
    the wide net succeeds within about 4000 steps and, over seeds 0-2, the rewound winners
    succeeded in 5-8 of 10 SGD seeds within 10000 steps against 1-3 of 10 for either random arm.
    :meth:`paper` gives the paper's setting (n, k) = (50, 5) (about 1-3 minutes on 2 cores;
    seeds 0-4: the wide net succeeded for seeds 1 and 3 only, the two whose init held a lucky
    neuron among the winners).

    Examples
    --------
    >>> cfg = LotteryTicketConfig(n=12, k=3, width=32, keep=4)
    >>> cfg.wide_config().width, cfg.retrain_config().width, cfg.retrain_config().seed
    (32, 4, 0)
    >>> LotteryTicketConfig.paper().n
    50
    """

    n: int = 40
    k: int = 4
    width: int = 100
    s: int = 2
    keep: int = 5
    seed: int = 0
    sgd_seeds: int = 10
    max_steps: int = RunConfig.max_steps
    retrain_steps: int = 10_000
    # The SGD and evaluation settings default to RunConfig's (the paper's, section 5).
    eval_every: int = RunConfig.eval_every
    batch_size: int = RunConfig.batch_size
    lr: float = RunConfig.lr
    weight_decay: float = RunConfig.weight_decay
    loss: str = RunConfig.loss
    test_size: int = RunConfig.test_size
    success_error: float = RunConfig.success_error

    def __post_init__(self):
        for name in ("keep", "sgd_seeds", "retrain_steps"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1, strict=True))
        # RunConfig checks (and normalises) everything the runs share.
        wide = self.wide_config()
        for name in ("n", "k", "width", "s", "seed", "max_steps", "eval_every", "batch_size",
                     "lr", "weight_decay", "test_size", "success_error"):
            object.__setattr__(self, name, getattr(wide, name))
        self.retrain_config()
        if self.keep > self.width:
            raise ValueError(f"keep must be <= width ({self.width}), got {self.keep}")
        if self.sgd_seeds > MAX_SGD_SEEDS:
            raise ValueError(f"sgd_seeds must be <= {MAX_SGD_SEEDS}, got {self.sgd_seeds}")

    @classmethod
    def paper(cls, **overrides) -> LotteryTicketConfig:
        """The paper's setting (:data:`PAPER_SETTINGS`), with ``overrides`` on top."""
        return cls(**{**PAPER_SETTINGS, **overrides})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def _run(self, width: int, max_steps: int) -> RunConfig:
        return RunConfig(n=self.n, k=self.k, width=width, samples=None, init="sparse", s=self.s,
                         seed=self.seed, max_steps=max_steps, eval_every=self.eval_every,
                         batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                         loss=self.loss, test_size=self.test_size,
                         success_error=self.success_error)

    def wide_config(self) -> RunConfig:
        """The wide run: online, s-sparse init, width ``width``, budget ``max_steps``."""
        return self._run(self.width, self.max_steps)

    def retrain_config(self) -> RunConfig:
        """Shape of every retrain run: width ``keep``, budget ``retrain_steps``, the wide run's
        seed (hence its S and test set; init and batches are given to the trainer)."""
        return self._run(self.keep, self.retrain_steps)


# --- neurons ---------------------------------------------------------------------------------











# --- overlap statistics ------------------------------------------------------------------------







# --- the experiment ----------------------------------------------------------------------------

def _member(params, supports, neurons) -> dict:
    neurons = np.asarray(neurons, dtype=np.int64)
    return {"neurons": neurons, "params": subnetwork(params, neurons),
            "supports": np.asarray(supports)[neurons]}


def build_arms(config: LotteryTicketConfig, initial_params, final_params) -> dict:
    """The retrain nets of every arm and SGD seed (see the module docstring, step 3).

    Parameters
    ----------
    config : LotteryTicketConfig
    initial_params, final_params : sequence of arrays
        The wide run's parameters at initialisation and after training (model layout).

    Returns
    -------
    dict
        ``{arm: [member for each SGD seed]}``, a member being a dict with ``neurons`` (indices
        into the wide net, or into the fresh wide init for ``fresh``), ``params`` (the
        width-``keep`` net's initial parameters) and ``supports`` (their initial supports,
        ``[keep, s]``); ``fresh`` members also carry ``init_seed``.

    Examples
    --------
    >>> cfg = LotteryTicketConfig(n=10, k=2, width=8, keep=3, sgd_seeds=2)
    >>> init = init_params(cfg.wide_config())
    >>> arms = build_arms(cfg, init, init)
    >>> [len(arms[a]) for a in ARMS], arms["winners"][0]["params"][0].shape
    ([2, 2, 2], (3, 10))
    """
    if not isinstance(config, LotteryTicketConfig):
        raise ValueError(f"config must be a LotteryTicketConfig, got {type(config).__name__}")
    wide = config.wide_config()
    supports = init_supports(wide)
    initial_params = check_two_layer(initial_params)
    if initial_params[0].shape != (config.width, config.n):
        raise ValueError(f"initial_params must be a width-{config.width} net on n = "
                         f"{config.n} inputs, got W1 of shape {initial_params[0].shape}")
    winners = top_neurons(final_params, config.keep)
    arms: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for i in range(config.sgd_seeds):
        arms["winners"].append(_member(initial_params, supports, winners))
        rng = np.random.default_rng(derived_seed(config.seed, _RANDOM_NEURONS, i))
        arms["random_rewound"].append(_member(
            initial_params, supports, rng.choice(config.width, config.keep, replace=False)))
        fresh = dataclasses.replace(wide, seed=derived_seed(config.seed, _FRESH_INIT, i))
        member = _member(init_params(fresh), init_supports(fresh),
                         rng.choice(config.width, config.keep, replace=False))
        member["init_seed"] = fresh.seed
        arms["fresh"].append(member)
    return arms


@dataclass
class LotteryTicketResult:
    """Everything :func:`run_lottery_ticket` measured; :meth:`as_dict` is the CLI's JSON.

    Attributes
    ----------
    config : dict
        The :class:`LotteryTicketConfig` fields.
    parity_set : list of int
        S.
    wide : dict
        The wide run: ``success``, ``steps_to_success``, ``test_error``, ``end_reason``,
        ``steps_run``, ``curve_steps``, ``curve_test_error``; the overlaps of all its neurons'
        supports with S as ``overlap_counts`` (how many neurons have overlap j) next to
        ``expected_overlap_counts`` (width times theory's law), ``lucky_neurons`` and
        ``expected_lucky_neurons``.
    winners : dict
        ``neurons`` (best first), ``scores`` (trained), ``initial_scores`` (the same rule at
        initialisation), ``supports``, ``overlaps``, ``test`` (:func:`overlap_test`) and
        ``selection_test`` (:func:`selection_test`).
    arms : dict
        Per arm: ``label``, ``runs`` (per SGD seed: ``sgd_seed``, ``batch_seed``, ``neurons``,
        ``supports``, ``overlaps``, ``overlap_p_value``, ``success``, ``steps_to_success``,
        ``test_error``, ``end_reason``), ``successes``, ``success_rate``, ``ci_low``,
        ``ci_high`` (Wilson 95%), ``median_steps_to_success`` (Kaplan-Meier, None when fewer
        than half succeed), ``mean_overlap``, ``curve_steps`` and ``curve_test_error`` (one
        list per SGD seed).
    wall_seconds : float
    """

    config: dict
    parity_set: list
    wide: dict
    winners: dict
    arms: dict
    wall_seconds: float

    def as_dict(self) -> dict:
        return {"score": SCORE_RULE, **dataclasses.asdict(self)}



def run_lottery_ticket(config: LotteryTicketConfig, device: str = "auto",
                       progress: bool = False) -> LotteryTicketResult:
    r"""Train the wide net, rank its neurons, retrain the three arms (module docstring).

    Parameters
    ----------
    config : LotteryTicketConfig
    device : {"auto", "cpu", "cuda"} or "cuda:N"
        Where to train; results do not depend on it beyond float rounding.
    progress : bool
        A progress bar of SGD steps on stderr (never when stderr is not a terminal).

    Returns
    -------
    LotteryTicketResult

    Examples
    --------
    >>> cfg = LotteryTicketConfig(n=8, k=2, width=16, keep=3, sgd_seeds=2, max_steps=200,
    ...                           retrain_steps=100, eval_every=50, test_size=200)
    >>> out = run_lottery_ticket(cfg, device="cpu")
    >>> sorted(out.arms), len(out.arms["fresh"]["curve_test_error"])
    (['fresh', 'random_rewound', 'winners'], 2)
    """
    if not isinstance(config, LotteryTicketConfig):
        raise ValueError(f"config must be a LotteryTicketConfig, got {type(config).__name__}")
    check_device(device)
    start = time.perf_counter()
    wide_cfg, retrain_cfg = config.wide_config(), config.retrain_config()
    count = len(ARMS) * config.sgd_seeds
    per_call = max(1, int(max_ensemble_size(retrain_cfg, device=device)))
    calls = -(-count // per_call)
    with progress_bar(config.max_steps + calls * config.retrain_steps, unit="step",
                      desc="lottery-ticket", enabled=progress) as bar:
        (wide,) = train_ensemble([wide_cfg], device=device, progress=bar.update,
                                 record_curve=True, return_params=True)
        bar.update(config.max_steps - wide.steps_run)  # stopped early at success
        initial = init_params(wide_cfg)
        arms = build_arms(config, initial, wide.extra["final_params"])
        members = [(arm, i, m) for arm in ARMS for i, m in enumerate(arms[arm])]
        batch_seeds = [derived_seed(config.seed, _SGD_STREAM, i) for _, i, _ in members]
        results = []
        for lo in range(0, count, per_call):
            chunk = members[lo:lo + per_call]
            results += train_ensemble([retrain_cfg] * len(chunk), device=device,
                                      progress=bar.update, early_stop=False,
                                      initial_params=[m["params"] for _, _, m in chunk],
                                      batch_seeds=batch_seeds[lo:lo + per_call],
                                      record_curve=True)
    return _assemble(config, wide, initial, arms, members, batch_seeds, results,
                     time.perf_counter() - start)


def _assemble(config, wide, initial, arms, members, batch_seeds, results,
              wall_seconds) -> LotteryTicketResult:
    n, k, s = config.n, config.k, config.s
    wide_cfg = config.wide_config()
    parity_set = hidden_set(wide_cfg)
    supports = init_supports(wide_cfg)
    all_overlaps = support_overlaps(supports, parity_set)
    law = np.atleast_1d(overlap_pmf(n, k, s))
    lucky_overlap = min(s, k)
    final = wide.extra["final_params"]
    winners = arms["winners"][0]["neurons"]
    scores = neuron_scores(final)
    winner_overlaps = all_overlaps[winners]
    wide_out = {
        "success": wide.success, "steps_to_success": wide.steps_to_success,
        "test_error": wide.test_error, "end_reason": wide.end_reason,
        "steps_run": wide.steps_run, "curve_steps": wide.extra["curve_steps"],
        "curve_test_error": wide.extra["curve_test_error"],
        "overlap_counts": np.bincount(all_overlaps, minlength=len(law)).tolist(),
        "expected_overlap_counts": (config.width * law).tolist(),
        "lucky_neurons": int((all_overlaps == lucky_overlap).sum()),
        "expected_lucky_neurons": config.width * float(p_lucky(n, k, s)),
    }
    winners_out = {
        "neurons": winners.tolist(), "scores": scores[winners].tolist(),
        "supports": supports[winners].tolist(), "overlaps": winner_overlaps.tolist(),
        "initial_scores": neuron_scores(initial)[winners].tolist(),
        "test": overlap_test(winner_overlaps, n, k, s),
        "selection_test": selection_test(all_overlaps, winners, lucky_overlap),
    }
    arms_out = {}
    for arm in ARMS:
        picked = [(i, m, batch_seeds[j], results[j])
                  for j, (name, i, m) in enumerate(members) if name == arm]
        runs = []
        for i, member, batch_seed, result in picked:
            overlaps = support_overlaps(member["supports"], parity_set)
            run = {"sgd_seed": i, "batch_seed": batch_seed,
                   "neurons": member["neurons"].tolist(),
                   "supports": member["supports"].tolist(), "overlaps": overlaps.tolist(),
                   "overlap_p_value": overlap_test(overlaps, n, k, s)["p_value"],
                   "success": result.success, "steps_to_success": result.steps_to_success,
                   "test_error": result.test_error, "end_reason": result.end_reason}
            if "init_seed" in member:
                run["init_seed"] = member["init_seed"]
            runs.append(run)
        group = [result for *_, result in picked]
        (point,) = summarize(group)  # every run of an arm has the retraining config
        arms_out[arm] = {
            "label": ARM_LABELS[arm], "runs": runs,
            **{name: point[name] for name in ("successes", "success_rate", "ci_low", "ci_high",
                                              "median_steps_to_success")},
            "mean_overlap": float(np.mean([r["overlaps"] for r in runs])),
            "curve_steps": group[0].extra["curve_steps"],
            "curve_test_error": [r.extra["curve_test_error"] for r in group],
        }
    return LotteryTicketResult(config=config.as_dict(), parity_set=parity_set.tolist(),
                               wide=wide_out, winners=winners_out, arms=arms_out,
                               wall_seconds=wall_seconds)
