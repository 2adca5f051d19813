#!/usr/bin/env bash
# scripts/build.sh — builds and installs the epochpp package (incremental: CMake build tree in build/, ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export CMAKE_GENERATOR=Ninja
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
echo "== building epochpp (pip install .)"
"$PY" -m pip install -q --disable-pip-version-check --no-build-isolation .
