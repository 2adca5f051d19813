#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian and PyPI packages epochpp needs (idempotent; fast when present).
#   scripts/deps.sh            build + test dependencies (dask[distributed]: the Dask backend's tests)
#   scripts/deps.sh --bench    also the peers the benchmarks compare against (numba)
set -euo pipefail
APT_PKGS=(build-essential cmake ninja-build ccache pkg-config git
          llvm-19-dev llvm-19-tools libzstd-dev zlib1g-dev libxml2-dev libffi-dev libedit-dev
          libtbb-dev googletest libgtest-dev libbenchmark-dev)
PIP_PKGS=(numpy pybind11 scikit-build-core pytest ipython "dask[distributed]")
[ "${1:-}" = "--bench" ] && PIP_PKGS+=(numba)

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
need=()
for p in "${PIP_PKGS[@]}"; do
  mod=${p//-/_}
  [ "$p" = "scikit-build-core" ] && mod=scikit_build_core
  [ "$p" = "ipython" ] && mod=IPython
  [ "$p" = "dask[distributed]" ] && mod=distributed  # the extra's module: tests/python/test_dask_backend.py
  "$PY" -c "import $mod" 2>/dev/null || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== pip: installing ${need[*]}"
  "$PY" -m pip install -q --disable-pip-version-check "${need[@]}"
fi
