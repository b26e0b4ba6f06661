"""Subcommand ``lottery-ticket``: prune, rewind and retrain (the paper's Figure 5).

A thin wrapper over
:func:`parity_frontiers.verify.experiments.lottery_ticket.run_lottery_ticket` and, with ``--out``,
:func:`figures.lottery_ticket.plot_lottery_ticket`; torch is imported only in the handler.
"""

from __future__ import annotations

from pathlib import Path

from parity_frontiers.verify.training.device import DEVICES

from .args import NO_PROGRESS_HELP, add_output_flags, positive_int_arg, size_arg
from .cli_verify import (
    add_sgd_options,
    ci_text,
    median_text,
    path_arg,
    set_threads,
    threads_arg,
)
from .output import dumps_json, format_table

# argparse dest -> LotteryTicketConfig field (only the options given override the base config)
_SETTINGS = {"n": "n", "k": "k", "width": "width", "s": "s", "keep": "keep", "seed": "seed",
             "seeds": "sgd_seeds", "max_steps": "max_steps", "retrain_steps": "retrain_steps",
             "eval_every": "eval_every", "batch_size": "batch_size", "lr": "lr",
             "weight_decay": "weight_decay", "loss": "loss", "test_size": "test_size",
             "success_error": "success_error"}


def register(sub) -> None:
    """Add the ``lottery-ticket`` subcommand to the top-level subparsers ``sub``."""
    p = sub.add_parser(
        "lottery-ticket", help="prune a wide sparse-init MLP to its top-K neurons, rewind and "
                               "retrain (the paper's Figure 5)",
        description="Trains a wide s-sparse-init 2-layer ReLU MLP on online (n, k)-sparse "
                    "parity, keeps its top K neurons by |a_j| * ||w_j||_2, rewinds them to "
                    "their initial weights and retrains them with several SGD seeds, next to K "
                    "random neurons of the same net (rewound) and K fresh random sparse "
                    "neurons. Reports each arm's steps to success, success rate (Wilson 95%) "
                    "and Kaplan-Meier median, and whether the winners' initial supports "
                    "overlap S more than the hypergeometric law of a random support. Default: "
                    "a CPU-sized config, (n, k) = (40, 4); --paper: (50, 5), width 100, s = 2, "
                    "K = 5, batch 32, lr 0.1. Options given explicitly override either.")
    p.add_argument("--paper", action="store_true",
                   help="start from the paper's setting instead of the CPU-sized default")
    g = p.add_argument_group("experiment (defaults: the CPU config, or the paper's with "
                             "--paper)")
    g.add_argument("--n", type=size_arg, help="input dimension (default 40; paper 50)")
    g.add_argument("--k", type=size_arg, help="parity degree (default 4; paper 5)")
    g.add_argument("--width", type=size_arg, help="width of the wide net (default 100)")
    g.add_argument("--s", type=size_arg, help="sparse-init support size (default 2)")
    g.add_argument("--keep", type=size_arg, help="neurons kept, K (default 5)")
    g.add_argument("--seed", type=size_arg,
                   help="seed of the wide run (S, test set, init) and of every derived seed "
                        "(default 0)")
    g.add_argument("--seeds", type=positive_int_arg,
                   help="SGD seeds per retrained arm (default 10)")
    g.add_argument("--max-steps", type=size_arg,
                   help="step budget of the wide run (default 20000; paper 1e5)")
    g.add_argument("--retrain-steps", type=size_arg,
                   help="steps of each retrain run (default 10000; paper 20000)")
    add_sgd_options(g)
    e = p.add_argument_group("execution and output")
    e.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto (CUDA if available), cpu or cuda (default auto)")
    e.add_argument("--threads", type=threads_arg,
                   help="CPU threads for torch (default: torch's choice)")
    e.add_argument("--out", metavar="DIR", type=path_arg,
                   help="write the figure lottery_ticket.png and .pdf into this folder")
    e.add_argument("--no-progress", action="store_true",
                   help=NO_PROGRESS_HELP)
    add_output_flags(p, latex=False)
    p.set_defaults(handler=_cmd_lottery_ticket)


def _config(args):
    from parity_frontiers.verify.experiments.lottery_ticket import LotteryTicketConfig

    given = {field: getattr(args, dest) for dest, field in _SETTINGS.items()
             if getattr(args, dest) is not None}
    return LotteryTicketConfig.paper(**given) if args.paper else LotteryTicketConfig(**given)


def _check_out(out) -> None:
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out!r} exists and is not a folder")


def _check_time(config, device) -> None:
    """Refuse past --max-seconds: the wide run, then 3 arms x SGD seeds of K-neuron retrains
    (worst case: no run stops early; verify.experiments.limits.estimate_ensemble_seconds)."""
    from types import SimpleNamespace

    from parity_frontiers.simulate.budget import check_seconds
    from parity_frontiers.verify.experiments.limits import estimate_ensemble_seconds

    common = dict(n=config.n, depth=1, batch_size=config.batch_size, test_size=config.test_size,
                  eval_every=config.eval_every)
    wide = SimpleNamespace(width=config.width, max_steps=config.max_steps, **common)
    arm = SimpleNamespace(width=config.keep, max_steps=config.retrain_steps, **common)
    seconds = (estimate_ensemble_seconds(wide, 1, device if device != "auto" else "cpu")
               + estimate_ensemble_seconds(arm, 3 * config.sgd_seeds, "cpu"))
    check_seconds(seconds, f"the lottery-ticket experiment (a width-{config.width} run of up to "
                           f"{config.max_steps:,} steps, then {3 * config.sgd_seeds} retrains of "
                           f"{config.retrain_steps:,})", "estimated worst case")


def _cmd_lottery_ticket(args) -> str:
    config = _config(args)  # every bad value is refused here, before anything is trained
    _check_out(args.out)
    _check_time(config, args.device)
    set_threads(args)
    from parity_frontiers.verify.experiments.lottery_ticket import run_lottery_ticket

    result = run_lottery_ticket(config, device=args.device, progress=not args.no_progress)
    out = {**result.as_dict(), "figures": []}
    if args.out is not None:
        from parity_frontiers.figures.lottery_ticket import plot_lottery_ticket

        out["figures"] = [str(path) for path in plot_lottery_ticket(result, args.out)]
    if args.json:
        return dumps_json(out)
    return _text(out)


def _p_text(value: float) -> str:
    return f"{value:.3g}"


def _text(out: dict) -> str:
    cfg, wide, winners = out["config"], out["wide"], out["winners"]
    title = (f"Lottery tickets: online ({cfg['n']}, {cfg['k']})-parity, width {cfg['width']}, "
             f"s = {cfg['s']}, keep K = {cfg['keep']} by {out['score']}; seed {cfg['seed']}, "
             f"lr {cfg['lr']:g}, wd {cfg['weight_decay']:g}, batch {cfg['batch_size']}, "
             f"{cfg['loss']} loss")
    if wide["success"]:
        outcome = (f"succeeded at step {wide['steps_to_success']} (test error "
                   f"{wide['test_error']:.4f})")
    else:
        outcome = (f"did NOT succeed within {cfg['max_steps']} steps (test error "
                   f"{wide['test_error']:.4f}, {wide['end_reason']}): its top neurons are "
                   "not a trained solution's")
    parts = [title, f"wide net: {outcome}; S = {out['parity_set']}"]
    rows = []
    for arm, entry in out["arms"].items():
        runs = entry["runs"]
        rows.append([arm, entry["label"], len(runs), entry["successes"],
                     ci_text(entry["success_rate"], entry["ci_low"], entry["ci_high"]),
                     median_text(entry["median_steps_to_success"], cfg["retrain_steps"]),
                     " ".join("-" if r["steps_to_success"] is None else str(r["steps_to_success"])
                              for r in runs),
                     f"{sum(r['test_error'] for r in runs) / len(runs):.3f}",
                     f"{entry['mean_overlap']:.2f}"])
    parts.append(format_table(
        ["arm", "label", "runs", "successes", "success rate [ci low, ci high]",
         "median steps to success", "steps to success (per SGD seed)", "test error (mean)",
         "mean overlap"], rows,
        title=f"Retrained width-{cfg['keep']} nets, {cfg['retrain_steps']} steps each"))
    parts.append(format_table(
        ["neurons", "scores", "initial scores", "supports", "overlaps"],
        [[j, f"{score:.4g}", f"{init:.4g}", str(support), overlap]
         for j, score, init, support, overlap in zip(
             winners["neurons"], winners["scores"], winners["initial_scores"],
             winners["supports"], winners["overlaps"], strict=True)],
        title="The winners (best first)"))
    test, sel = winners["test"], winners["selection_test"]
    lucky = "U inside S" if cfg["s"] < cfg["k"] else "S inside U"
    parts.append(format_table(
        ["test (one-sided: winners overlap S more than chance)", "observed", "expected",
         "p value"],
        [["overlap sum vs K i.i.d. hypergeometric draws (exact)", test["overlap_sum"],
          f"{test['expected_sum']:.3g}", _p_text(test["p_value"])],
         [f"lucky winners ({lucky}) vs Bin(K, P(lucky)) (exact)", test["lucky"],
          f"{test['expected_lucky']:.3g}", _p_text(test["lucky_p_value"])],
         [f"lucky winners given the net's {sel['lucky_in_net']} lucky neurons "
          "(hypergeometric)", sel["lucky_chosen"], f"{sel['expected_lucky_chosen']:.3g}",
          _p_text(sel["p_value"])]],
        title=f"Winners' initial supports vs S (theory: overlap law of a random s-subset; "
              f"the net has {wide['lucky_neurons']} lucky neurons, "
              f"{wide['expected_lucky_neurons']:.2f} expected)"))
    footer = ("success rate: Wilson 95% interval; supports: initial supports U; overlaps: "
              "|U n S|; mean overlap: its mean over the retrained neurons.\n"
              "median steps to success: Kaplan-Meier median over the SGD seeds, a run that never "
              "reached the threshold counting as censored at the budget ('> T': fewer than "
              "half succeeded). Success rates and their Wilson intervals are over the SGD "
              "seeds of one wide run and its one set of winners: they measure SGD noise, not "
              f"the luck of the wide init (rerun with other --seed for that). Done in "
              f"{out['wall_seconds']:.1f} s.")
    if out["figures"]:
        footer += "\nfigures: " + ", ".join(out["figures"])
    parts.append(footer)
    return "\n\n".join(parts)
