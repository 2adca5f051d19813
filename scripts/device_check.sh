#!/usr/bin/env bash
# scripts/device_check.sh — what to run on a lent GPU machine, in one call (device minutes are few).
# Needs the wheel scripts/device_bundle.sh put in .device/ (carry it: `carry: [".device"]`).
#
#   bash scripts/device_check.sh [quick|full]
#
# Installs the wheel with pip --no-index into a private folder (nothing else is installed), then,
# each step's output under $OUT (or /tmp/epochpp-device-out):
#   env.txt           nvidia-smi, Python, `epochpp doctor`
#   pytest_gpu.txt    every test marked `gpu` (tests/python/test_level4_real.py, the runtime's PTX test)
#                     and test_level4.py (PTX, ptxas, explain) against the real driver
#   bench_gpu.*       Level 4 vs Levels 2 and 3 on 10M elements, CuPy side by side, bandwidth
#   l3_scaling.*      Level 3 over Level 2 with 1, 2, 4, 8 and all cores; l3_scaling_large.*: larger inputs
#   pytest_all.txt    (full only) the whole Python suite, 8 processes
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-quick}
OUT=${OUT:-/tmp/epochpp-device-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SITE=${EPOCHPP_SITE:-/tmp/epochpp-site}
export PYTHONUNBUFFERED=1 EPOCHPP_CACHE_DIR=/tmp/epochpp-device-cache

step() { echo "== $1 ($(date +%T))"; }

step "install"
whl=$(ls .device/epochpp-*-cp3*.whl 2>/dev/null | head -1)
[ -n "$whl" ] || { echo "no wheel in .device/: run scripts/device_bundle.sh here first" >&2; exit 2; }
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$whl" || exit 2
export PYTHONPATH="$SITE"
"$PY" -c 'import epochpp, sys; print("epochpp from", epochpp.__file__)' || exit 2

step "environment"
{ nvidia-smi 2>&1 | head -15; "$PY" -VV; nproc; "$PY" -m epochpp doctor 2>&1; } > "$OUT/env.txt"
cat "$OUT/env.txt"

step "GPU tests"
"$PY" -m pytest -q -p no:cacheprovider -rs tests/python/test_level4_real.py tests/python/test_level4.py \
  tests/python/test_gpu_runtime.py 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -25
gpu_rc=${PIPESTATUS[0]}

step "bench_gpu (10M elements)"
timeout 240 "$PY" bench/python/bench_gpu.py --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.txt"

step "Level 3 scaling"
cores=$(nproc)
timeout 240 "$PY" bench/python/l3_scaling.py --threads "1,2,4,8,$cores" --rounds 2 --processes 1 --json "$OUT/l3_scaling.json" \
  2>&1 | tee "$OUT/l3_scaling.txt"
# the suite's sizes are made for 2 cores (1-20 ms at Level 2); 8-27x the work shows what 16 cores can do
timeout 240 "$PY" bench/python/l3_scaling.py --threads "1,$cores" --rounds 2 --processes 1 --json "$OUT/l3_scaling_large.json" \
  --size mandelbrot=1200,pairwise_distances=2000,black_scholes=2000000,nbody_step=2000,matmul=384 \
  2>&1 | tee "$OUT/l3_scaling_large.txt"

if [ "$MODE" = full ]; then
  step "the whole Python suite"
  "$PY" -m pytest -q -p no:cacheprovider -x -n 8 tests/python 2>&1 | tee "$OUT/pytest_all.txt" | tail -15
fi
step "done (GPU tests exit status $gpu_rc)"
exit "$gpu_rc"
