#!/usr/bin/env bash
# Pre-registered predictions of every fitted model for the held-out cells, with
# `parity-frontiers model predict --json`, merged into one JSON file.
# Usage: predict_all.sh TAG K "N1 N2" "M1 M2 ..." OUT.json   (run from the repository root)
#   e.g. predict_all.sh k3 3 "40 70" "100 200 300 500 700 1000 2000 3000 10000 online" \
#        figures/reference/heldout/predictions.json
set -euo pipefail
pf=${PF:-.venv/bin/parity-frontiers}   # PF: another parity-frontiers command
tag=$1; k=$2; ns=$3; grid=$4; out=$5
dir=figures/reference/heldout
tmp=$(mktemp -d)
for model in phenomenological lottery sq theorem; do
  for n in $ns; do
    for width in 16 64 256 1024; do
      for init in dense sparse; do
        extra=(); [ "$init" = sparse ] && extra=(--s 2)
        $pf model predict --model "$dir/models/${tag}_$model.json" \
          --n "$n" --k "$k" --width "$width" --init "$init" "${extra[@]}" \
          --samples $grid --max-steps 20000 --json > "$tmp/$model-$n-$width-$init.json"
      done
    done
  done
done
.venv/bin/python -P - "$tmp" "$out" "$tag" <<'PY'
import glob, json, sys
from parity_frontiers.verify.analysis.models import VERDICT_RULE
tmp, out, tag = sys.argv[1:]
preds = [json.load(open(p)) for p in sorted(glob.glob(f"{tmp}/*.json"))]
doc = {"pre_registration": f"predictions of the {tag} models for the held-out cells, "
                           "committed before any held-out run was trained",
       "verdict_rule": VERDICT_RULE,
       "models": sorted({p["model"] for p in preds}),
       "predictions": preds}
with open(out, "w") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")
print(f"{out}: {len(preds)} curves")
PY
rm -r "$tmp"
