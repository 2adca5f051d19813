#!/usr/bin/env bash
# test.sh — installs what the tests need, builds, then runs every test: C++ (GoogleTest via CTest) and Python (pytest).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
scripts/build.sh
echo "== C++ tests (CTest)"
# EPOCHPP_TSAN_TESTS: the parallel suite again under ThreadSanitizer (parallel_tsan*, a few seconds)
cmake -S . -B build/tests -G Ninja -DEPOCHPP_BUILD_PYTHON=OFF -DEPOCHPP_BUILD_TESTS=ON -DEPOCHPP_TSAN_TESTS=ON >/dev/null
cmake --build build/tests -j "$(nproc)"
ctest --test-dir build/tests --output-on-failure
echo "== Python tests (pytest)"
python3 -m pytest tests/python -q -p no:cacheprovider
