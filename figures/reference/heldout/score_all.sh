#!/usr/bin/env bash
# Score every pre-registered model on its held-out store with `parity-frontiers model score`.
# Usage: score_all.sh TAG STORE OUT.json   (run from the repository root), e.g.
#   score_all.sh k3 figures/reference/heldout/k3_heldout.db figures/reference/heldout/scores_k3.json
set -euo pipefail
pf=${PF:-.venv/bin/parity-frontiers}   # PF: another parity-frontiers command
tag=$1; store=$2; out=$3
dir=figures/reference/heldout
tmp=$(mktemp -d)
for model in phenomenological lottery sq theorem; do
  $pf model score --model "$dir/models/${tag}_$model.json" --store "$store" --json \
    > "$tmp/$model.json"
done
.venv/bin/python -P - "$tmp" "$out" <<'PY'
import json, sys
tmp, out = sys.argv[1:]
scores = {m: json.load(open(f"{tmp}/{m}.json"))
          for m in ("phenomenological", "lottery", "sq", "theorem")}
with open(out, "w") as fh:
    json.dump(scores, fh, indent=1)
    fh.write("\n")
print("| model | log-lik / run | baseline | cells inside | fraction inside (rule: >=) "
      "| m* coverage (overlap) | m* contains | verdict |")
print("|---|---|---|---|---|---|---|---|")
for m, s in scores.items():
    cov = "-" if s["m_star_coverage"] is None else f"{s['m_star_coverage']:.2f}"
    con = "-" if s["m_star_contains"] is None else f"{s['m_star_contains']:.2f}"
    print(f"| {m} | {s['log_likelihood_per_run']:.4f} | "
          f"{s['baseline_log_likelihood_per_run']:.4f} | {s['cells_inside']}/{len(s['cells'])} "
          f"| {s['fraction_inside']:.3f} (>= {s['inside_threshold'] / len(s['cells']):.3f}) "
          f"| {cov} of {s['m_star_judged']} | {con} | {s['verdict']} |")
PY
rm -r "$tmp"
