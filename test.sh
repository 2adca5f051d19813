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
# The same suites again with our code built with AddressSanitizer (+ LeakSanitizer) and UBSan; LLVM, oneTBB,
# GoogleTest and the JIT's output are not instrumented. -fno-sanitize-recover=all: a UBSan report aborts the
# test. -O1 -g without NDEBUG: readable stacks, and LLVM's inline asserts check our use of its API.
# _GLIBCXX_ASSERTIONS: bounds checks in std::vector etc. Options and lsan.supp: tests/cpp/CMakeLists.txt.
# Cost on 2 cores: ~2.5 min to build with a cold ccache (~20 s warm), ~3 s to run.
if [ "${EPOCHPP_ASAN_TESTS:-1}" = 0 ]; then
  echo "== C++ tests under ASan+UBSan: skipped (EPOCHPP_ASAN_TESTS=0)"
else
  echo "== C++ tests under ASan+UBSan (CTest, build/asan)"
  cmake -S . -B build/asan -G Ninja -DEPOCHPP_BUILD_PYTHON=OFF -DEPOCHPP_BUILD_TESTS=ON -DEPOCHPP_TSAN_TESTS=OFF \
    -DEPOCHPP_SANITIZE=address,undefined,float-cast-overflow -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" "-DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all -D_GLIBCXX_ASSERTIONS" >/dev/null
  cmake --build build/asan -j "$(nproc)"
  ctest --test-dir build/asan --output-on-failure
fi
echo "== Python tests (pytest)"
python3 -m pytest tests/python -q -p no:cacheprovider
