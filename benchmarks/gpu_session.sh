#!/usr/bin/env bash
# One prepared session on a CUDA machine: the CUDA paths checked and the numbers the README and
# the issue notes quote, measured. Run from the repository root:
#     OUT=gpu-out bash benchmarks/gpu_session.sh
# Needs torch with CUDA, numpy, scipy, numba, sympy, matplotlib, tqdm, pytest; Dask wheels in
# .whl/ (pip download dask distributed tornado zict tblib partd locket) are installed to
# /tmp/site when present, for the dask-local part. Each step has its own time limit, and every
# result lands in $OUT as it is made, so a step that runs out of time loses only itself.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
step() { echo; echo "=== $1 ($(date -u +%T))"; }

step "device"
nvidia-smi -L
python3 -c "import torch, numba, scipy; print('torch', torch.__version__, torch.cuda.get_device_name(), '| numba', numba.__version__, '| scipy', scipy.__version__)"

step "GPU tests (pytest -m gpu) and the trainer tests with CUDA present"
timeout 100 python3 -m pytest -q -p no:cacheprovider -m "gpu or not slow" \
    tests/test_verify_trainer.py tests/test_tabular_estimator.py 2>&1 | tail -15 | tee "$OUT/tests.txt"

step "throughput of paper-grid cells and the paper grid's device-hours"
timeout 130 python3 benchmarks/bench_grid_cost.py --device cuda --steps 300 2>&1 | tee "$OUT/grid_cost.txt"

step "live adaptive frontier search, (50, 3) as in figures/scales/cpu.toml, dask-local x 8 on one GPU"
timeout 240 python3 -m parity_frontiers frontier --n 50 --k 3 --widths 16 64 256 1024 \
    --init dense sparse --s 2 --m-min 100 --m-max 10000 --max-steps 20000 --eval-every 200 \
    --test-size 4000 --tol 0.07 --seed-start 16 --store "$OUT/frontier_n50.db" --device cuda \
    --executor dask-local --workers 8 --no-progress --plot "$OUT" 2>&1 | tee "$OUT/frontier_n50.txt"
echo "exit status $?"
step "done"
