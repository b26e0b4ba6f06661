"""``parity-frontiers simulate {lottery,gradient,onestep,sq}``: the Monte Carlo of :mod:`simulate`.

Each prints a table with the estimate, its standard error and Wilson/t 95% interval, next
to theory's value where one exists; ``--json`` prints one object whose keys always include
``estimate``, ``stderr``, ``ci_low``, ``ci_high``, ``trials`` and ``seed`` (and ``exact`` for
``lottery``). A grid of widths or sample sizes in ``onestep`` gives ``rows`` of such objects.
``sq {visible,guess,noisy-gd}`` (the statistical-query game, :mod:`simulate.sq`) adds
``bound``, the theory value, to every row.
"""

from __future__ import annotations

from .args import (
    NO_PROGRESS_HELP,
    add_output_flags,
    add_renamed,
    emit,
    memory_gib_arg,
    positive_int_arg,
    rational_arg,
    real_arg,
    seed_arg,
    size_arg,
)
from .output import format_number, format_table


def _common(p, trials: int) -> None:
    p.add_argument("--trials", type=positive_int_arg, default=trials,
                   help=f"independent Monte Carlo trials (default {trials})")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="random seed; the same seed gives the same numbers (default 0)")
    p.add_argument("--threads", type=positive_int_arg,
                   help="Numba worker threads (default: all cores)")
    p.add_argument("--memory-cap", type=memory_gib_arg, metavar="GIB",
                   help="refuse runs estimated to need more memory than this (default 4 GiB)")
    p.add_argument("--no-progress", action="store_true",
                   help=NO_PROGRESS_HELP)
    add_output_flags(p, latex=False)


def _problem(p) -> None:
    p.add_argument("--n", type=size_arg, required=True, help="input dimension")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--s", type=size_arg, required=True, help="support size of each neuron")


def _neuron(p) -> None:
    p.add_argument("--bias", type=rational_arg, default=0, help="neuron bias b (default 0)")
    p.add_argument("--weights", choices=("pm1", "gaussian"), default="pm1",
                   help="weight law on the support (default pm1)")


def _run_options(args) -> dict:
    return {"trials": args.trials, "seed": args.seed, "threads": args.threads,
            "progress": not args.no_progress, "memory_cap_bytes": args.memory_cap}


def register(sub) -> None:
    """Add ``simulate`` and its three Monte Carlo subcommands."""
    sim = sub.add_parser("simulate", help="Monte Carlo estimates (Numba) of lottery, gradient "
                         "and one-step selection probabilities",
                         description="Monte Carlo of the idealised mechanisms; every estimate "
                         "comes with its standard error and 95% interval.")
    kinds = sim.add_subparsers(dest="kind", metavar="KIND", required=True)

    p = kinds.add_parser("lottery", help="lucky neurons among r random s-sparse supports",
                         description="Estimates P(lucky) per neuron, P(>= 1 lucky among r) and "
                         "the overlap law, next to theory's exact values.")
    _problem(p)
    p.add_argument("--width", type=size_arg, default=1, help="neurons r per trial (default 1)")
    _common(p, 10_000)
    p.set_defaults(handler=_cmd_lottery)

    p = kinds.add_parser("gradient", help="population and m-sample gradients of one sparse "
                         "neuron; P(its gradient selects S)",
                         description="Per coordinate class: mean gradient magnitude vs exact "
                         "kappa; the selection gap; P(gap > 0) from m samples.")
    _problem(p)
    p.add_argument("--samples", type=size_arg, required=True, help="sample size m")
    p.add_argument("--overlap", type=size_arg,
                   help="|U n S| of the neuron (default min(s, k), the lucky one)")
    _neuron(p)
    _common(p, 1000)
    p.set_defaults(handler=_cmd_gradient)

    p = kinds.add_parser("onestep", help="P(some neuron of r selects S after one gradient "
                         "step on m samples): the simulated frontier",
                         description="Grid over widths and sample sizes; neurons share the "
                         "samples. Needs s >= k - 1.")
    _problem(p)
    p.add_argument("--width", type=size_arg, nargs="+", required=True,
                   help="one or more widths r")
    p.add_argument("--samples", type=size_arg, nargs="+", required=True,
                   help="one or more sample sizes m")
    _neuron(p)
    _common(p, 1000)
    p.set_defaults(handler=_cmd_onestep)

    _register_sq(kinds)


def _register_sq(kinds) -> None:
    sq = kinds.add_parser("sq", help="the statistical-query game of Prop. 3: visible parities, "
                          "lucky guesses, noisy GD",
                          description="Monte Carlo of the SQ lower bound, each estimate next "
                          "to its theory bound.")
    games = sq.add_subparsers(dest="action", metavar="GAME", required=True)

    p = games.add_parser("visible", help="fraction of parities a gradient step of a 2-layer "
                         "ReLU net at init can see, vs the Parseval bound",
                         description="||g_S||_inf = max over parameters of |E[chi_S dh/dtheta]|;"
                         " exact over all S for n <= 20, else from m samples and random S.")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--width", type=size_arg, nargs="+", required=True, help="hidden widths")
    p.add_argument("--tau", type=real_arg, nargs="+", required=True, help="tolerances tau > 0")
    p.add_argument("--init", choices=("dense", "sparse"), nargs="+", default=["dense"],
                   help="initialisations (default dense)")
    p.add_argument("--s", type=size_arg, help="support size of sparse init")
    p.add_argument("--method", choices=("auto", "exact", "sample"), default="auto",
                   help="exact enumeration (n <= 20) or sampling (default auto)")
    p.add_argument("--samples", type=size_arg, help="m for --method sample (default 2^14)")
    p.add_argument("--parities", type=size_arg, default=32,
                   help="random S per net for --method sample (default 32)")
    add_renamed(p, p, "--out", "--plot", metavar="DIR",
                help="also write the figure (PNG + PDF) into DIR")
    _common(p, 20)
    p.set_defaults(handler=_cmd_sq_visible)

    p = games.add_parser("guess", help="lucky-guess learner with q correlation queries",
                         description="Success probability vs exact value and the SQ bound "
                         "2 q / (tau^2 C(n, k)). Needs tau <= 1: correlations lie in [-1, 1], "
                         "so a larger tolerance answers nothing, while the learner's output "
                         "still wins with 1 / C(n, k).")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension (<= 62)")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--queries", type=size_arg, nargs="+", required=True,
                   help="numbers of queries q")
    p.add_argument("--tau", type=real_arg, required=True,
                   help="oracle tolerance, 0 < tau <= 1")
    p.add_argument("--oracle", choices=("random", "adversarial"), default="random",
                   help="how answers are perturbed within tau (default random)")
    _common(p, 10_000)
    p.set_defaults(handler=_cmd_sq_guess)

    p = games.add_parser("noisy-gd", help="P(noisy GD leaves the target-free trajectory "
                         "within T steps) vs delta* = 2 r T / (tau^2 C(n, k))",
                         description="Full-batch GD (half square loss, all 2^n inputs, n <= 16)"
                         " with a tau-tolerant oracle.")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension (<= 16)")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--width", type=size_arg, required=True, help="hidden width")
    p.add_argument("--tau", type=real_arg, nargs="+", required=True, help="tolerances tau > 0")
    p.add_argument("--steps", type=size_arg, required=True, help="steps T")
    p.add_argument("--lr", type=real_arg, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--weight-decay", type=real_arg, default=0.0,
                   help="weight decay (default 0)")
    p.add_argument("--init", choices=("dense", "sparse"), default="dense",
                   help="initialisation (default dense)")
    p.add_argument("--s", type=size_arg, help="support size of sparse init")
    _common(p, 20)
    p.set_defaults(handler=_cmd_sq_noisy_gd)


#: Headers of an estimate's cells: its JSON keys (the interval is the 95% one).
_ESTIMATE_HEADERS = ["estimate", "stderr", "[ci low, ci high]"]


def _interval(row: dict) -> str:
    return f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"


def _estimate_cells(row: dict) -> list[str]:
    return [format_number(row["estimate"]), format_number(row["stderr"]), _interval(row)]


def _cmd_lottery(args) -> str:
    from parity_frontiers.simulate.lottery import simulate_lottery

    out = simulate_lottery(args.n, args.k, args.s, width=args.width, **_run_options(args))
    rows = [[f"P(>= 1 lucky among {out['width']})"] + _estimate_cells(out)
            + [format_number(out["exact"])],
            ["per neuron: P(lucky)"] + _estimate_cells(out["per_neuron"])
            + [format_number(out["per_neuron"]["exact"])]]
    rows += [[f"overlap: P(|U n S| = {o['j']})"] + _estimate_cells(o)
             + [format_number(o["exact"])] for o in out["overlap"]]
    title = (f"Lottery Monte Carlo, n = {out['n']}, k = {out['k']}, s = {out['s']} "
             f"({out['regime']}), {out['trials']} trials, seed {out['seed']}; 95% intervals")
    table = format_table(["quantity", *_ESTIMATE_HEADERS, "exact"], rows, title=title)
    return emit(args, out, table)


def _cmd_gradient(args) -> str:
    from parity_frontiers.simulate.gradients import simulate_gradient

    out = simulate_gradient(args.n, args.k, args.s, args.samples, bias=args.bias,
                            overlap=args.overlap, weights=args.weights, **_run_options(args))
    rows = [["P(m-sample gradient selects S)"] + _estimate_cells(out) + ["-"],
            ["gap (selection gap, m-sample mean)"] + _estimate_cells(out["gap"]) + ["-"]]
    if out["population_gap"] is not None or out["exact_gap"] is not None:
        rows.append(["population gap", format_number(out["population_gap"]), "",
                     "", format_number(out["exact_gap"])])
    for name, c in out["classes"].items():
        # sign(G_i) x m-sample G_i estimates |G_i| without bias, but noise can make it < 0.
        label = f"sign(G) G {name} ({c['coordinates']} coords)"
        cells = _estimate_cells(c) if "estimate" in c else ["-", "-", "-"]
        rows.append([label] + cells
                    + [format_number(c["exact"]) if c["exact"] is not None else "-"])
    title = (f"Gradient Monte Carlo, n = {out['n']}, k = {out['k']}, s = {out['s']}, "
             f"m = {out['samples']}, b = {out['bias']}, overlap {out['overlap']}, "
             f"{out['weights']} weights, {out['trials']} trials, seed {out['seed']}")
    table = format_table(["quantity", *_ESTIMATE_HEADERS, "exact"], rows, title=title)
    table += ("\nsign(G) G: the m-sample gradient of each coordinate of the class, times the "
              "sign of its population value G: an unbiased estimate of |G| (exact: |G|), "
              "negative when noise outweighs a small |G|")
    return emit(args, out, table)


def _cmd_onestep(args) -> str:
    from parity_frontiers.simulate.onestep import simulate_onestep

    out = simulate_onestep(args.n, args.k, args.s, args.width, args.samples, bias=args.bias,
                           weights=args.weights, **_run_options(args))
    rows = []
    for r in out["rows"]:
        given = r["p_select_given_lucky"]
        rows.append([r["width"], r["samples"]] + _estimate_cells(r)
                    + [format_number(r["mean_selecting"]),
                       format_number(r["p_lucky_selects"]["estimate"]),
                       format_number(given["estimate"]) if given else "-",
                       format_number(r["p_at_least_one_lucky"])])
    title = (f"One-step selection Monte Carlo, n = {out['n']}, k = {out['k']}, s = {out['s']}, "
             f"b = {out['bias']}, {out['weights']} weights, {out['trials']} trials, "
             f"seed {out['seed']}; estimate: P(some neuron selects S), 95% interval")
    table = format_table(["width", "samples", *_ESTIMATE_HEADERS, "mean selecting",
                          "p lucky selects", "p select given lucky", "p at least one lucky"],
                         rows, title=title)
    return emit(args, out, table)


def _short(value) -> str:
    """Four significant digits: the visible-parity tables must fit in 100 columns."""
    return f"{value:.4g}" if isinstance(value, float) else format_number(value)


def _cmd_sq_visible(args) -> str:
    from parity_frontiers.simulate.sq import simulate_sq_visible

    if args.s is not None and "sparse" not in args.init:
        raise ValueError("--s applies to sparse init only (add --init sparse)")
    if args.out is not None:
        from parity_frontiers.figures.sq_visible import check_plot_dir

        try:
            check_plot_dir(args.out)
        except ValueError as exc:  # the library says "plot directory": name the flag
            raise ValueError(f"--out: {exc}") from None
    out = simulate_sq_visible(args.n, args.k, args.width, args.tau, init=args.init, s=args.s,
                              method=args.method, samples=args.samples,
                              parities=args.parities, **_run_options(args))
    out["figures"] = []
    if args.out is not None:
        from parity_frontiers.figures.sq_visible import plot_sq_visible

        out["figures"] = [str(path) for path in plot_sq_visible(out, args.out)]
    return emit(args, out, _visible_tables(out))


def _visible_tables(out: dict) -> str:
    """Two tables of at most ~100 columns: the visible fraction per (net, tau) against its
    bounds, and the tolerance scale per net (the rest of every row is in --json)."""
    def net(r):
        return r["init"] + (f" s={r['s']}" if r["s"] is not None else "")

    title = (f"Visible parities at init, n = {out['n']}, k = {out['k']}, "
             f"C(n,k) = {format_number(out['binomial'], out['log10_binomial'])}, "
             f"{out['method']}, {out['trials']} nets, seed {out['seed']}")
    sup_label = ""
    if out["method"] == "sample":
        first = out["rows"][0]
        title += (f"\nm = {first['samples']}, {first['parities']} S per net, Hoeffding "
                  f"eps ~ {_short(first['eps'])}; sup-norms are sampled, biased up "
                  "(noise floor ~ eps)")
        sup_label = " (sampled)"
    fractions = format_table(
        ["init", "width", "tau", "estimate", "stderr", "[ci low, ci high]", "energy bound",
         "bound", "ratio"],
        [[net(r), r["width"], _short(r["tau"]), _short(r["estimate"]), _short(r["stderr"]),
          f"[{_short(r['ci_low'])}, {_short(r['ci_high'])}]", _short(r["energy_bound"]),
          _bound_cell(r), _short(r["ratio"])] for r in out["rows"]],
        title=title + "\nestimate: fraction of parities visible beyond tau (95% interval); "
                      "ratio = estimate / bound")
    scales = {}
    for r in out["rows"]:  # one row per net: tau_half and the sup-norms do not depend on tau
        scales.setdefault((net(r), r["width"]), [
            net(r), r["width"], r["params"], _short(r["tau_half"]), _short(r["tau_bound"]),
            _short(r["tau_ratio"]), _short(r["sup_norm"]["max"])])
    tolerances = format_table(
        ["init", "width", "params", "tau half" + sup_label, "tau bound", "tau ratio",
         "sup norm max" + sup_label], list(scales.values()),
        title="Tolerance scale: tau half = median of ||g_S||_inf over parities (visible "
              "fraction 1/2);\ntau bound = sqrt(2 r / C(n,k)) (bound 1/2); tau ratio = tau half "
              "/ tau bound")
    text = fractions + "\n\n" + tolerances
    if out["figures"]:
        text += "\nfigures: " + ", ".join(out["figures"])
    return text


def _bound_cell(row: dict) -> str:
    # A bound that underflows a float prints as a power of ten, not 0.
    if row["bound"] == 0.0:
        return format_number(None, row["log10_bound"])
    return _short(row["bound"])


def _cmd_sq_guess(args) -> str:
    from parity_frontiers.simulate.sq import simulate_sq_guess

    out = simulate_sq_guess(args.n, args.k, args.queries, args.tau, oracle=args.oracle,
                            **_run_options(args))
    rows = [[r["queries"]] + _estimate_cells(r)
            + [format_number(r["exact"]), format_number(r["asked"]["exact"]),
               format_number(r["bound"])] for r in out["rows"]]
    title = (f"Lucky-guess SQ learner, n = {out['n']}, k = {out['k']}, C(n,k) = "
             f"{out['binomial']}, tau = {format_number(out['tau'])}, {out['oracle']} oracle, "
             f"{out['trials']} trials, seed {out['seed']}")
    title += "\nestimate: P(success), 95% interval; asked: q / C(n,k), the chance S was queried"
    table = format_table(["queries", *_ESTIMATE_HEADERS, "exact", "asked", "bound"], rows,
                         title=title)
    return emit(args, out, table)


def _cmd_sq_noisy_gd(args) -> str:
    from parity_frontiers.simulate.sq import simulate_sq_noisy_gd

    if args.s is not None and args.init != "sparse":
        raise ValueError("--s applies to sparse init only (add --init sparse)")
    out = simulate_sq_noisy_gd(args.n, args.k, args.width, args.tau, args.steps, lr=args.lr,
                               weight_decay=args.weight_decay, init=args.init, s=args.s,
                               **_run_options(args))
    rows = [[format_number(r["tau"])] + _estimate_cells(r)
            + [format_number(r["energy_bound"]), format_number(r["bound"])]
            for r in out["rows"]]
    title = (f"Noisy GD leaving the target-free trajectory within T = {out['steps']} steps, "
             f"n = {out['n']}, k = {out['k']}, {out['init']} width {out['width']} "
             f"(r = {out['params']}), lr {format_number(out['lr'])}, {out['trials']} runs, "
             f"seed {out['seed']}")
    title += "\nestimate: P(leave), 95% interval; bound: delta* = 2 r T / (tau^2 C(n, k))"
    table = format_table(["tau", *_ESTIMATE_HEADERS, "energy bound", "bound"], rows,
                         title=title)
    return emit(args, out, table)


__all__ = ["register"]
