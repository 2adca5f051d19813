#!/usr/bin/env bash
# scripts/device_bundle.sh — builds what the GPU machine needs into .device/ (ignored by git):
# a self-contained cp312 wheel (LLVM linked statically, libtbb.so.12 inside, RPATH $ORIGIN).
#
# The lent GPU machines run Python 3.12 with NumPy, CuPy and pytest, reach no package index and
# have no LLVM or oneTBB, so epochpp cannot be built there. scripts/device_check.sh installs the
# wheel there with `pip --no-index` and runs the GPU tests and benchmarks (docs/gpu.md, "Running on
# a GPU machine").
#
#   scripts/device_bundle.sh            # needs Python 3.12 (PYTHON312=..., else pyenv's 3.12)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON312:-}
if [ -z "$PY" ]; then
  for c in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then PY=$c; break; fi
  done
fi
[ -n "$PY" ] || { echo "device_bundle.sh: no Python 3.12 (set PYTHON312)" >&2; exit 2; }
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' || exit 2

export CMAKE_GENERATOR=Ninja
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
rm -rf .device && mkdir -p .device
echo "== building the cp312 wheel with $PY (LLVM static, oneTBB bundled)"
"$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w .device \
  -C cmake.define.EPOCHPP_BUNDLE_TBB=ON .
whl=$(ls .device/epochpp-*-cp312-*.whl)
echo "== $whl: $(du -h "$whl" | cut -f1)"
unzip -l "$whl" | grep -E '_core|libtbb' || { echo "wheel lacks _core or libtbb" >&2; exit 1; }

# The working tree travels too (tests/, bench/): the whole carry must stay under 64 MiB.
total=$(du -sm .device | cut -f1)
echo "== .device/ is ${total} MiB (limit for everything that travels: 64 MiB)"
[ "$total" -lt 56 ] || { echo "too large to carry" >&2; exit 1; }
