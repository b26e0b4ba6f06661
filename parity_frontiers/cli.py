"""The ``parity-frontiers`` console command: argument parsing and printing only.

Each subcommand calls one documented library function (``theory.summaries`` and friends) and
prints a readable table, or with ``--json`` one JSON object on stdout. Bad input exits with
status 2 and a single line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from parity_frontiers.theory import symbolic
from parity_frontiers.theory.sq_bound import RESOURCES
from parity_frontiers.theory.summaries import (
    demo_summary,
    gap_summary,
    lottery_summary,
    sq_bound_summary,
)
from parity_frontiers.theory.upper_bounds import upper_bound_frontier

from . import (
    __version__,
    cli_figures,
    cli_frontier,
    cli_lottery_ticket,
    cli_model,
    cli_results,
    cli_simulate,
    cli_tabular,
    cli_verify,
)
from .args import (
    PROG,
    Parser,
    add_output_flags,
    add_safety_options,
    emit,
    probability_arg,
    rational_arg,
    real_arg,
    size_arg,
)
from .guard import run_command
from .output import dumps_json, format_fraction, format_number, format_table


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=(
        "Pareto frontiers of neural feature learning on sparse parity: bounds, lottery "
        "probabilities, Fourier gaps and upper-bound curves (Edelman et al., NeurIPS 2023)."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("bound", help="SQ lower bound (Prop. 3): largest success probability, "
                       "or solve for one resource", description=(
                           "Prop. 3: success probability <= min(1, 2 r T / (tau^2 C(n,k))), "
                           "tau = 1/sqrt(m)."))
    p.add_argument("--n", type=size_arg, required=True, help="input dimension")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--params", type=size_arg, help="number of model parameters r")
    size.add_argument("--width", type=size_arg, help="2-layer MLP width w (r = w(n+2)+1)")
    p.add_argument("--steps", type=size_arg, help="iterations T")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--samples", type=size_arg, help="sample size m (tau = 1/sqrt(m))")
    prec.add_argument("--tau", type=real_arg, help="gradient tolerance tau")
    p.add_argument("--delta", type=probability_arg,
                   help="target success probability, in (0, 1); read exactly (0.1 or 1/10)")
    p.add_argument("--solve-for", choices=RESOURCES,
                   help="solve the frontier for this resource (needs --delta unless delta)")
    add_output_flags(p)
    p.set_defaults(handler=_cmd_bound)

    p = sub.add_parser("lottery", help="lucky-neuron probabilities of s-sparse init",
                       description="P(lucky) = C(s,k)/C(n,k) (s >= k) or C(k,s)/C(n,s) (s < k).")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--s", type=size_arg, required=True, help="support size of each neuron")
    p.add_argument("--width", type=size_arg, help="number of neurons r")
    p.add_argument("--delta", type=real_arg, help="failure probability for width_needed")
    add_output_flags(p)
    p.set_defaults(handler=_cmd_lottery)

    p = sub.add_parser("gap", help="exact Fourier coefficients and gap of sparse neurons",
                       description="kappa(s, b, d) exactly; per-class gradients; the gap; "
                                   "Hoeffding sample size 8 ln(2n/delta)/gap^2.")
    p.add_argument("--s", type=size_arg, required=True, help="support size")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--bias", type=rational_arg, default=Fraction(0),
                   help="neuron bias b (number or fraction like 1/2; default 0)")
    p.add_argument("--n", type=size_arg, help="input dimension (for samples_needed)")
    p.add_argument("--delta", type=real_arg, default=0.01,
                   help="failure probability for samples_needed (default 0.01)")
    add_output_flags(p)
    p.set_defaults(handler=_cmd_gap)

    p = sub.add_parser("upper", help="upper-bound frontier (Thm. 4, 5) over sparsity s",
                       description="Thm 4 (s >= k): r = c2 (n/s)^k, m = c3 (s/k)^(k-1) n^2 ln n;"
                                   " Thm 5 (s < k): r = c2 (n/k)^s, m = c3 (n/k)^(k-s-1).")
    p.add_argument("--n", type=size_arg, required=True, help="input dimension (>= 2)")
    p.add_argument("--k", type=size_arg, required=True, help="parity degree")
    p.add_argument("--s", type=size_arg, nargs="+", help="support sizes (default 1, 2, 4, ..., n)")
    p.add_argument("--c2", type=real_arg, default=1.0, help="width constant (default 1)")
    p.add_argument("--c3", type=real_arg, default=1.0, help="sample constant (default 1)")
    p.add_argument("--c4", type=real_arg, default=1.0, help="step constant (default 1)")
    p.add_argument("--epsilon", type=real_arg, default=0.1, help="target loss (default 0.1)")
    add_output_flags(p)
    p.set_defaults(handler=_cmd_upper)

    p = sub.add_parser("demo", help="theory tables, then a small sweep and its frontier figure",
                       description="Prints the SQ, lottery, gap and upper-bound tables for "
                                   "(n, k), then trains the 'smoke' grid of reproduce "
                                   "((20, 3)-sparse parity, 120 small MLPs, about a minute on a "
                                   "laptop CPU) and draws its success heatmap with the measured "
                                   "and predicted frontiers, plus the full report.")
    p.add_argument("--n", type=size_arg, default=50, help="input dimension (default 50)")
    p.add_argument("--k", type=size_arg, default=3, help="parity degree (default 3)")
    p.add_argument("--out", metavar="DIR", default="parity-frontiers-demo",
                   help="where the demo sweep, its figures and report go "
                        "(default parity-frontiers-demo)")
    p.add_argument("--no-train", action="store_true",
                   help="only the theory tables: skip the demo sweep and its frontier figure")
    add_output_flags(p, latex=False)
    p.set_defaults(handler=_cmd_demo)

    cli_simulate.register(sub)
    cli_verify.register(sub)
    cli_results.register(sub)
    cli_frontier.register(sub)
    cli_figures.register(sub)
    cli_lottery_ticket.register(sub)
    cli_tabular.register(sub)
    cli_model.register(sub)
    add_safety_options(parser)  # --new-store, --max-seconds where they apply
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Every way out is one line on stderr and a status (0, 2, 130; 1 for a bug): guard.py.
    # From the console (argv None) even a bug is one line; called with a list, it propagates.
    return run_command(args, catch_all=argv is None)


# --- subcommands ---------------------------------------------------------------------------

#: Documented ``--json`` keys (docs/cli.md): each is always present, null when not computed.
BOUND_KEYS = ("n", "k", "binomial", "log10_binomial", "log10_threshold", "params", "width",
              "steps", "samples", "tau", "delta", "delta_exact", "max_success_probability",
              "log10_max_success_probability", "log10_cost", "forbidden", "solved_for",
              "solved_value", "log10_solved_value", "exact", "solved_width")
LOTTERY_KEYS = ("n", "k", "s", "regime", "p_lucky", "log10_p_lucky", "overlap_pmf",
                "log10_overlap_pmf", "width", "p_at_least_one", "expected_lucky",
                "log10_expected_lucky", "delta", "width_needed", "log10_width_needed")
GAP_KEYS = ("s", "k", "bias", "kappa", "kappa_exact", "gap", "gap_exact", "gap_kind",
            "gradients", "n", "delta", "samples_needed", "log10_samples_needed")
#: Coordinate classes of ``gap``'s gradients; a class a neuron of that overlap lacks is null.
GRADIENT_CLASSES = ("in_S_in_U", "in_S_off_U", "in_U_off_S", "outside")


def _all_keys(out: dict, keys) -> dict:
    """``out`` with every key of ``keys`` present (None where the summary did not compute it)."""
    return {**{key: None for key in keys}, **out}


def _integral(value):
    """A float that is a whole number of steps or samples, as an int (JSON ``100``, not
    ``100.0``); anything else unchanged."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _cmd_bound(args) -> str:
    out = _all_keys(sq_bound_summary(args.n, args.k, params=args.params, width=args.width,
                                     steps=args.steps, samples=args.samples, tau=args.tau,
                                     delta=args.delta, solve_for=args.solve_for), BOUND_KEYS)
    rows = [["binomial C(n, k)", format_number(out["binomial"], out["log10_binomial"])],
            ["log10 threshold (log10 C(n,k)/2)", f"{out['log10_threshold']:.4f}"]]
    if out["params"] is not None:
        extra = f" (width {out['width']})" if out["width"] is not None else ""
        rows.append(["params", format_number(out["params"]) + extra])
    for key in ("steps", "samples", "tau", "delta"):
        if out[key] is not None:
            rows.append([key, format_number(out[key])])
    if out["solved_for"] is not None:
        rows.append([f"solved value (smallest {out['solved_for']})"
                     if out["solved_for"] != "delta" else "solved value (delta)",
                     format_number(out["solved_value"], out["log10_solved_value"])])
        if out["solved_width"] is not None:
            rows.append(["solved width (as a 2-layer MLP)", format_number(out["solved_width"])])
    if out["max_success_probability"] is not None:
        rows.append(["max success probability",
                     format_number(out["max_success_probability"])
                     + f" (log10 {out['log10_max_success_probability']:.4f})"])
        precision = "r T / tau^2" if out["tau"] is not None else "r T m"
        label = f"log10 cost (log10 {precision}" + (" / delta)" if out["delta"] is not None
                                                     else ")")
        rows.append([label, f"{out['log10_cost']:.4f}"])
    if out["forbidden"] is not None:
        rows.append(["forbidden (success >= delta ruled out)", format_number(out["forbidden"])])
    table = format_table(["quantity", "value"], rows,
                         title=f"SQ lower bound (Prop. 3), n = {out['n']}, k = {out['k']}")
    formulas = {"max_success_probability":
                symbolic.sq_max_success_expr(in_samples=args.tau is None)}
    if args.solve_for:
        frontier = symbolic.sq_min_resource_expr(args.solve_for)
        if args.tau is not None:
            m, tau = symbolic.SYMBOLS["m"], symbolic.SYMBOLS["tau"]
            frontier = frontier.subs(m, 1 / tau**2)
        formulas[f"frontier_{args.solve_for}"] = frontier
    return emit(args, out, table, formulas)


def _cmd_lottery(args) -> str:
    out = _all_keys(lottery_summary(args.n, args.k, args.s, width=args.width,
                                    delta=args.delta), LOTTERY_KEYS)
    lucky = "S inside U" if out["regime"] == "over-sparse" else "U inside S"
    rows = [["regime", f"{out['regime']} ({lucky})"],
            ["p lucky (per neuron)", format_number(out["p_lucky"])],
            ["log10 p lucky", f"{out['log10_p_lucky']:.4f}"]]
    if out["p_at_least_one"] is not None:
        rows += [[f"p at least one (lucky among {out['width']})",
                  format_number(out["p_at_least_one"])],
                 ["expected lucky (neurons)", format_number(out["expected_lucky"])]]
    if out["log10_width_needed"] is not None:
        rows.append([f"width needed (P >= 1 - {format_number(out['delta'])})",
                     format_number(out["width_needed"], out["log10_width_needed"])])
    table = format_table(["quantity", "value"], rows,
                         title=f"Lottery tickets, n = {out['n']}, k = {out['k']}, s = {out['s']}")
    if out["overlap_pmf"] is None:
        pmf = (f"overlap law: {min(out['s'], out['k']) + 1} entries, not shown (ask "
               "theory.overlap_pmf for the overlaps j you need)")
    else:
        pmf = format_table(["overlap j", "overlap pmf"],
                           [[j, format_number(v)] for j, v in enumerate(out["overlap_pmf"])])
    formulas = {"overlap_pmf": symbolic.overlap_pmf_expr(), "p_lucky": symbolic.p_lucky_expr(),
                "p_at_least_one": symbolic.p_at_least_one_expr(),
                "width_needed": symbolic.width_needed_expr()}
    return emit(args, out, table + "\n\n" + pmf, formulas)


def _cmd_gap(args) -> str:
    out = _all_keys(_exact_strings(gap_summary(args.s, args.k, args.bias, n=args.n,
                                               delta=args.delta)), GAP_KEYS)
    pairs = zip(out["kappa_exact"], out["kappa"], strict=True)
    kappa_rows = [[d, format_fraction(exact), format_number(value)]
                  for d, (exact, value) in enumerate(pairs)]
    title = f"Fourier coefficients kappa(s={out['s']}, b={out['bias']}, d)"
    parts = [format_table(["d", "exact", "float"], kappa_rows, title=title)]
    grad_rows = [[g["overlap"]] + [format_fraction(g[c]) if g[c] is not None else "n/a"
                                   for c in GRADIENT_CLASSES] for g in out["gradients"]]
    parts.append(format_table(["overlap"] + list(GRADIENT_CLASSES), grad_rows,
                              title="|population gradient| per coordinate class (a = 1); "
                                    "overlap j = |U n S|; n/a: no such coordinate"))
    rows = [["gap (" + out["gap_kind"] + ")", _fraction_and_float(out["gap_exact"], out["gap"])]]
    if out["n"] is not None:
        if out["log10_samples_needed"] is not None:
            needed = format_number(out["samples_needed"], out["log10_samples_needed"])
        else:
            needed = "none (gap <= 0: the gradient cannot separate S)"
        rows.append([f"samples needed (P >= 1 - {format_number(out['delta'])}, n = {out['n']})",
                     needed])
    parts.append(format_table(["quantity", "value"], rows, title="Luckiest neuron"))
    formulas = {"kappa": symbolic.kappa_expr(), "samples_needed": symbolic.hoeffding_expr()}
    return emit(args, out, "\n\n".join(parts), formulas)


def _exact(text: str) -> str:
    """A "p/q" string in lowest terms, an integer without its "/1" ("0", not "0/1")."""
    return str(Fraction(text))


def _exact_strings(out: dict) -> dict:
    """gap_summary's exact values with integers written as integers; every coordinate class
    in every gradient row (null where a neuron of that overlap has no such coordinate)."""
    gradients = [{"overlap": g["overlap"],
                  **{c: _exact(g[c]) if c in g else None for c in GRADIENT_CLASSES}}
                 for g in out["gradients"]]
    return {**out, "kappa_exact": [_exact(v) for v in out["kappa_exact"]],
            "gap_exact": _exact(out["gap_exact"]), "gradients": gradients}


def _fraction_and_float(exact: str, value: float) -> str:
    shown = format_fraction(exact)
    return shown if "/" not in shown or shown.startswith("~") else (
        f"{shown} = {format_number(value)}")


def _cmd_upper(args) -> str:
    rows = [{**r, "steps": _integral(r["steps"])}
            for r in upper_bound_frontier(args.n, args.k, args.s, c2=args.c2, c3=args.c3,
                                          c4=args.c4, epsilon=args.epsilon)]
    out = {"n": args.n, "k": args.k, "c2": args.c2, "c3": args.c3, "c4": args.c4,
           "epsilon": args.epsilon, "rows": rows}
    table = format_table(
        ["s", "theorem", "applies", "log10 width", "log10 samples", "steps",
         "log10 cost", "log10 cost over threshold"],
        [[r["s"], r["theorem"], format_number(r["applies"]), f"{r['log10_width']:.3f}",
          f"{r['log10_samples']:.3f}", format_number(r["steps"], r["log10_steps"]),
          f"{r['log10_cost']:.3f}",
          f"{r['log10_cost_over_threshold']:+.3f}"] for r in rows],
        title=(f"Upper-bound frontier, n = {args.n}, k = {args.k} (c2 = {args.c2:g}, "
               f"c3 = {args.c3:g}, c4 = {args.c4:g}, epsilon = {args.epsilon:g})\n"
               "applies: the theorem's parity conditions hold (k even; Thm. 5 also s even); "
               "cost = params x steps x samples; threshold = C(n, k) / 2"))
    formulas = {"thm4_width": symbolic.thm4_width_expr(),
                "thm4_samples": symbolic.thm4_samples_expr(),
                "thm4_steps": symbolic.thm4_steps_expr(),
                "thm5_width": symbolic.thm5_width_expr(),
                "thm5_samples": symbolic.thm5_samples_expr()}
    return emit(args, out, table, formulas)


def _demo_sweep(out_dir: str) -> dict:
    """Train the smoke grid into OUT/runs.db and write its report; the frontier figure path."""
    from parity_frontiers.figures.reproduce import reproduce

    print(f"{PROG} demo: training the 'smoke' grid (120 small MLPs on (20, 3)-sparse parity) "
          f"into {out_dir}/runs.db ...", file=sys.stderr)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    result = reproduce("smoke", Path(out_dir) / "runs.db", out_dir,
                       command=f"{PROG} demo --out {out_dir}")
    heatmap = next(p for p in result["figures"] if p.name.startswith("success_heatmap")
                   and p.suffix == ".png")
    return {"figure": str(heatmap), "report": str(result["report"]),
            "findings": result["findings"]}


def _cmd_demo(args) -> str:
    out = demo_summary(args.n, args.k)
    out["upper"] = [{**r, "steps": _integral(r["steps"])} for r in out["upper"]]
    sweep = None if args.no_train else _demo_sweep(args.out)
    if args.json:
        return dumps_json({**out, "sweep": sweep})
    n, k = out["n"], out["k"]
    parts = [f"parity-frontiers demo: ({n}, {k})-sparse parity, C(n, k) / 2 = "
             f"10^{out['log10_threshold']:.3f}"]
    parts.append(format_table(
        ["width", "params", "steps times samples", f"samples at steps (T = {out['steps']:g})"],
        [[r["width"], r["params"],
          format_number(r["steps_times_samples"], r["log10_steps_times_samples"]),
          format_number(r["samples_at_steps"], r["log10_samples_at_steps"])]
         for r in out["sq"]],
        title=f"SQ lower bound (Prop. 3): least resources for success probability "
              f"{out['delta']:g} (below them the bound rules it out)"))
    if out["log10_threshold"] < 12:
        parts[-1] += ("\nA lower bound, and a weak one while C(n, k) is small: it bites once "
                      "C(n, k) outgrows r T m (try --n 1000 --k 8).")
    lot = out["lottery"]
    width = lot[0]["width"] if lot else 0
    parts.append(format_table(
        ["s", "regime", "p lucky", f"p at least one (of {width})", "width needed (99%)"],
        [[r["s"], r["regime"], format_number(r["p_lucky"]), format_number(r["p_at_least_one"]),
          format_number(r["width_needed"], r["log10_width_needed"])] for r in lot],
        title="Lottery tickets of s-sparse initialisation"))
    gaps = out["gaps"]
    biases = gaps[0]["biases"] if gaps else []
    parts.append(format_table(
        ["s"] + [f"gaps (b = {b})" for b in biases] + ["best samples needed (99%)"],
        [[r["s"]] + [_fraction_and_float(e, g)
                     for e, g in zip(r["gaps_exact"], r["gaps"], strict=True)]
         + [format_number(r["best_samples_needed"]) if r["best_samples_needed"] is not None
            else "none: gap <= 0"] for r in gaps],
        title="Fourier gap of the luckiest +-1 sparse ReLU neuron (exact) and Hoeffding "
              "sample size"))
    parts.append(format_table(
        ["s", "theorem", "applies", "log10 width", "log10 samples",
         "log10 cost over threshold"],
        [[r["s"], r["theorem"], format_number(r["applies"]), f"{r['log10_width']:.2f}",
          f"{r['log10_samples']:.2f}", f"{r['log10_cost_over_threshold']:+.2f}"]
         for r in out["upper"]],
        title="Upper-bound frontier (Thm. 4 for s >= k, Thm. 5 for s < k; constants = 1)"))
    if sweep is not None:
        parts.append(cli_figures.findings_table(
            sweep["findings"],
            title="The paper's findings on the demo sweep (a smoke-size grid: 6 seeds per "
                  "cell; `parity-frontiers reproduce --scale cpu` for real numbers)"))
        parts.append(f"frontier figure: {sweep['figure']}\nreport with every figure: "
                     f"{sweep['report']}")
    return "\n\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
