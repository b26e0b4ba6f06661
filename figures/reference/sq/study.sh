#!/usr/bin/env bash
# Tolerance-scale study: how loose is the Parseval bound for real
# 2-layer ReLU nets at initialisation, dense vs 2-sparse, as the width grows?
# Run from the repository root:  bash figures/reference/sq/study.sh
# (about 1 minute of one core; exact enumeration of every k-set, 16 nets per point, seed 0).
set -euo pipefail
OUT=figures/reference/sq
PF=${PF:-.venv/bin/parity-frontiers}
for nk in "14 3" "14 4" "16 3" "16 4"; do
  set -- $nk
  dir="$OUT/n$1_k$2"
  mkdir -p "$dir"
  "$PF" simulate sq visible --n "$1" --k "$2" --width 4 16 64 256 \
    --tau 0.0001 0.0003 0.001 0.003 0.01 0.03 0.1 0.3 1 3 10 \
    --init dense sparse --s 2 --trials 16 --seed 0 --threads 1 --no-progress \
    --plot "$dir" --json > "$dir/result.json"
done
PY=${PY:-.venv/bin/python}
"$PY" - "$OUT" <<'PYEOF'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
lines = [
    "| n | k | init | width | r | tau_half | tau_bound | tau_half / tau_bound "
    "| energy / bound (tau = 10) | V(0.01) | bound(0.01) | normalised |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
for path in sorted(out.glob("n*_k*/result.json")):
    res = json.loads(path.read_text())
    for init in ("dense", "sparse"):
        for width in sorted({r["width"] for r in res["rows"]}):
            rows = {r["tau"]: r for r in res["rows"]
                    if r["init"] == init and r["width"] == width}
            top, mid = rows[max(rows)], rows[0.01]
            energy = top["energy_ratio"] if top["bound"] < 1 and top["energy_bound"] < 1 else None
            name = init if init == "dense" else f"sparse s={top['s']}"
            lines.append(
                f"| {res['n']} | {res['k']} | {name} | {width} | {top['params']} "
                f"| {top['tau_half']:.3g} | {top['tau_bound']:.3g} | {top['tau_ratio']:.3g} "
                f"| {'-' if energy is None else f'{energy:.3g}'} "
                f"| {mid['estimate']:.3g} [{mid['ci_low']:.2g}, {mid['ci_high']:.2g}] "
                f"| {mid['bound']:.3g} | {top['normalised']:.2g} |")
(out / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
