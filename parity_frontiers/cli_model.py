"""The ``model`` subcommand: fit, predict with and score the frontier models.

``parity-frontiers model fit --store runs.db --model lottery --out lottery.json`` fits one of
the models of :mod:`verify.analysis.models` (docs/theory.md §6) by maximum likelihood with a
seed-cluster bootstrap; ``model predict --model lottery.json --n 40 --k 3 --width 64 --init
dense`` gives P(success) per m and m* with 95% intervals; ``model score --model lottery.json
--store heldout.db`` judges the model on other runs by the rule fixed in
:data:`verify.analysis.models.VERDICT_RULE`.
"""

from __future__ import annotations

import json
import os

from parity_frontiers.verify.config import INITS
from parity_frontiers.verify.training.registry import get_init

from .args import add_output_flags, positive_int_arg, real_arg, size_arg
from .cli_figures import add_where_option, filtered_runs
from .cli_verify import path_arg, samples_arg
from .output import dumps_json, format_number, format_table

#: Default m grid of ``model predict``: 100 .. 1e5 at 1, 2, 5 per decade, then online.
DEFAULT_SAMPLES = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, None]


def register(sub) -> None:
    """Add the ``model`` subcommand to the top-level subparsers ``sub``."""
    from parity_frontiers.verify.analysis.models import MODEL_NAMES

    p = sub.add_parser("model", help="frontier models: fit to stored runs, predict, score",
                       description="Models of P(success | n, k, width, init, s, m, T) "
                                   "(docs/theory.md §6): fitted by maximum likelihood to "
                                   "the runs of a results store, intervals from a bootstrap "
                                   "over seeds, scored on held-out runs by a fixed rule.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    f = actions.add_parser("fit", help="fit a model to a results store",
                           description="Maximum-likelihood fit of one model to every run of "
                                       "--store, with --bootstrap refits on seeds resampled "
                                       "with replacement; writes the model file --out.")
    f.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store (SQLite) to fit on")
    f.add_argument("--model", choices=MODEL_NAMES, required=True, help="model family")
    f.add_argument("--out", metavar="MODEL.json", type=path_arg, required=True,
                   help="model file to write")
    f.add_argument("--bootstrap", type=size_arg, default=200,
                   help="seed-cluster bootstrap refits (default 200; 0: no intervals)")
    f.add_argument("--seed", type=size_arg, default=0, help="bootstrap seed (default 0)")
    add_where_option(f)
    add_output_flags(f, latex=False)
    f.set_defaults(handler=_cmd_fit)

    q = actions.add_parser("predict", help="P(success) per m and m* for one curve",
                           description="P(success) with its 95% bootstrap band for each "
                                       "--samples, and m* (P = --target) with its interval.")
    q.add_argument("--model", metavar="MODEL.json", type=path_arg, required=True,
                   help="model file from `model fit`")
    q.add_argument("--n", type=size_arg, required=True, help="input dimension")
    q.add_argument("--k", type=size_arg, required=True, help="parity degree")
    q.add_argument("--width", type=size_arg, required=True, help="hidden width r")
    q.add_argument("--init", choices=INITS, required=True, help="first-layer init")
    q.add_argument("--s", type=size_arg,
                   help="sparse-init support size (with --init sparse or sparse-gaussian)")
    q.add_argument("--samples", type=samples_arg, nargs="+",
                   help="training-set sizes, 'online' for fresh data (default 100 .. 1e5 "
                        "and online)")
    q.add_argument("--max-steps", type=positive_int_arg,
                   help="step budget T (default: the fitted runs')")
    q.add_argument("--batch-size", type=positive_int_arg,
                   help="batch size, for online runs' m = T x batch (default: the fitted "
                        "runs')")
    q.add_argument("--target", type=real_arg, default=0.5,
                   help="success probability that defines m* (default 0.5)")
    add_output_flags(q, latex=False)
    q.set_defaults(handler=_cmd_predict)

    s = actions.add_parser("score", help="score a model on the runs of a results store",
                           description="Held-out log-likelihood against a constant-rate "
                                       "baseline, predictive-band coverage per cell, m* "
                                       "coverage against Firth fits, and the verdict.")
    s.add_argument("--model", metavar="MODEL.json", type=path_arg, required=True,
                   help="model file from `model fit`")
    s.add_argument("--store", metavar="PATH", type=path_arg, required=True,
                   help="results store with the runs to score")
    add_where_option(s)
    add_output_flags(s, latex=False)
    s.set_defaults(handler=_cmd_score)


# --- helpers ---------------------------------------------------------------------------------

def _load_results(path: str, where=None) -> tuple[list, str]:
    """The runs of a store that pass ``--where``, and the filter as one line ('' for none)."""
    from parity_frontiers.verify.experiments.store import ResultsStore

    if not os.path.isfile(path):
        raise ValueError(f"results store {path} does not exist")
    with ResultsStore(path, readonly=True) as store:
        results = store.results()
    if not results:
        raise ValueError(f"results store {path} holds no runs")
    return filtered_runs(results, where, path)


def load_model(path: str):
    """The :class:`FittedModel` in ``path``; ValueError (one line) for anything else."""
    from parity_frontiers.verify.analysis.models import FittedModel

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ValueError(f"model file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read model file {path}: {exc}") from None
    try:
        return FittedModel.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _fmt(value, digits=3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) < 1e4:
        return f"{value:.{digits}g}"
    return format_number(round(value))


# --- fit ---------------------------------------------------------------------------------------

def _cmd_fit(args) -> str:
    from parity_frontiers.verify.analysis.models import fit_model

    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ValueError(f"cannot write {args.out}: directory {out_dir} does not exist")
    if os.path.isdir(args.out) or os.path.isdir(args.out + ".tmp"):
        raise ValueError(f"cannot write {args.out}: it is a directory")
    results, where = _load_results(args.store, args.where)
    # the model file names the runs it was fitted on: the store, and the filter if any
    source = f"{args.store} --where {where}" if where else args.store
    fitted = fit_model(args.model, results, bootstrap=args.bootstrap, seed=args.seed,
                       source=source)
    text = dumps_json(fitted.as_dict())
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    os.replace(tmp, args.out)
    summary = {"model": fitted.model, "out": args.out, "store": args.store,
               "runs": fitted.data["runs"], "nk": fitted.data["nk"],
               "n_range": fitted.data["n_range"], "bootstrap": len(fitted.draws),
               "log_likelihood": fitted.log_likelihood_fit,
               "parameters": dict(zip(fitted.names, map(float, fitted.theta), strict=True))}
    if where:
        summary["where"] = where
    if args.json:
        return dumps_json(summary)
    rows = []
    for i, name in enumerate(fitted.names):
        if len(fitted.draws):
            low, high = (float(v) for v in _percentiles(fitted.draws[:, i]))
            band = f"[{low:.3g}, {high:.3g}]"
        else:
            band = "-"
        rows.append([name, f"{fitted.theta[i]:.4g}", band])
    title = (f"{fitted.model} model fitted on {source}: {fitted.data['runs']} runs, "
             f"(n, k) = {', '.join(f'({n}, {k})' for n, k in fitted.data['nk'])}; "
             f"log-likelihood {fitted.log_likelihood_fit:.2f}; written to {args.out}")
    return format_table(["parameter", "MLE", f"95% ({len(fitted.draws)} seed bootstraps)"],
                        rows, title=title) + "\n\nformula: " + fitted.family.summary + \
        " (docs/theory.md §6)"


def _percentiles(values):
    import numpy as np

    return np.percentile(values, [2.5, 97.5])


# --- predict -----------------------------------------------------------------------------------

def _extrapolation(fitted, n: int, width: int) -> dict:
    from parity_frontiers.verify.analysis.models.scoring import NEAR_FACTOR

    n_low, n_high = fitted.data["n_range"]
    widths = fitted.data["widths"]
    notes, far = [], False
    for name, value, low, high in (("n", n, n_low, n_high),
                                   ("width", width, min(widths), max(widths))):
        if not low <= value <= high:
            beyond = value / high if value > high else low / value
            far = far or beyond > NEAR_FACTOR
            notes.append(f"{name} = {value} is outside the fitted range {low}..{high} "
                         f"(by a factor {beyond:.2f})")
    warning = None
    if notes:
        warning = "; ".join(notes) + (": far outside, treat as a guess" if far
                                      else ": extrapolated")
    return {"extrapolation": bool(notes), "far": far, "warning": warning}


def _cmd_predict(args) -> str:
    fitted = load_model(args.model)
    sparse = get_init(args.init).sparse
    if sparse and args.s is None:
        raise ValueError(f"--init {args.init} needs --s")
    if not sparse and args.s is not None:
        raise ValueError(f"--s applies to a sparse --init only, not --init {args.init}")
    if not 0 < args.target < 1:
        raise ValueError(f"--target must be in (0, 1), got {args.target:g}")
    if args.k > args.n:
        raise ValueError(f"--k must be <= --n, got --k {args.k} > --n {args.n}")
    if args.s is not None and args.s > args.n:
        raise ValueError(f"--s must be <= --n, got --s {args.s} > --n {args.n}")
    samples = DEFAULT_SAMPLES if args.samples is None else args.samples
    max_steps = args.max_steps or fitted.data["max_steps"][0]
    batch = args.batch_size or fitted.data["batch_size"][0]
    rows = fitted.predict(args.n, args.k, args.width, args.init, args.s, samples, max_steps,
                          batch)
    star = fitted.m_star(args.n, args.k, args.width, args.init, args.s, max_steps, batch,
                         args.target)
    star.pop("m_star_raw")
    extra = _extrapolation(fitted, args.n, args.width)
    out = {"model": fitted.model, "model_file": args.model,
           "curve": {"n": args.n, "k": args.k, "width": args.width, "init": args.init,
                     "s": args.s, "max_steps": max_steps, "batch_size": batch},
           "rows": rows, **star, **extra,
           "fitted_on": {f: fitted.data[f] for f in ("store", "runs", "nk", "n_range")}}
    if args.json:
        return dumps_json(out)
    table = format_table(
        ["m", "P(success)", "95% band"],
        [["online" if r["samples"] is None else r["samples"], f"{r['p_success']:.3f}",
          "-" if r["p_low"] is None else f"[{r['p_low']:.3f}, {r['p_high']:.3f}]"]
         for r in rows],
        title=(f"{fitted.model} model ({args.model}): n = {args.n}, k = {args.k}, width = "
               f"{args.width}, {args.init}" + (f" s = {args.s}" if args.s else "")
               + f", T = {max_steps}"))
    notes = [f"m* (P = {args.target:g}): {_fmt(star['m_star'])} [95%: "
             f"{_fmt(star['m_star_low'])}, {_fmt(star['m_star_high'])}] "
             "('-': outside 1 .. 1e12)"]
    if extra["warning"]:
        notes.append("warning: " + extra["warning"])
    return table + "\n\n" + "\n".join(notes)


# --- score -------------------------------------------------------------------------------------

def _cmd_score(args) -> str:
    from parity_frontiers.verify.analysis.models import score_model

    fitted = load_model(args.model)
    results, where = _load_results(args.store, args.where)
    out = score_model(fitted, results)
    out = {"model_file": args.model, "store": args.store, **({"where": where} if where else {}),
           **out}
    if args.json:
        return dumps_json(out)
    rows = [[c["n"], c["width"], c["init"] + (f" s={c['s']}" if c["s"] else ""),
             "online" if c["samples"] is None else c["samples"], f"{c['observed']}/{c['runs']}",
             f"{c['p_success']:.3f}", f"[{c['band_low']}, {c['band_high']}]",
             "yes" if c["inside"] else "NO"] for c in out["cells"]]
    table = format_table(["n", "width", "init", "m", "observed", "P model",
                          "95% predictive", "inside"], rows,
                         title=f"{fitted.model} model ({args.model}) scored on {args.store}"
                               + (f" --where {where}" if where else "")
                               + f": {out['runs']} runs")
    cov = out["m_star_coverage"]
    notes = [
        f"log-likelihood per run: {out['log_likelihood_per_run']:.4f} (baseline, a constant "
        f"rate per (width, init) fitted on these runs: "
        f"{out['baseline_log_likelihood_per_run']:.4f})",
        f"cells inside their 95% predictive band: {out['cells_inside']} of "
        f"{len(out['cells'])} ({out['fraction_inside']:.3f}; the rule needs >= "
        f"{out['inside_threshold']})",
        f"m* coverage (model interval overlaps the Firth interval): "
        f"{'-' if cov is None else f'{cov:.3f}'} of {out['m_star_judged']} fitted curves",
        f"verdict: {out['verdict'].upper()}" + (f" ({'; '.join(out['reasons'])})"
                                                if out["reasons"] else ""),
        f"rule: {out['verdict_rule']}",
    ]
    return table + "\n\n" + "\n".join(notes)

