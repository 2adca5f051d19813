// parallel/parallel.h — the one interface to oneTBB (Level 3 builds on it): thread count, parallel_for.
#pragma once
#include <cstdint>
#include <functional>

namespace epochpp::parallel {

int maxThreads();  // EPOCHPP_NUM_THREADS or all cores
// Runs body(begin, end) over [0, n) on the arena's workers; grain >= 1.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace epochpp::parallel
