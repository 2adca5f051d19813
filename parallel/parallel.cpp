// parallel/parallel.cpp — oneTBB behind parallel.h: one arena sized by EPOCHPP_NUM_THREADS.
#include "parallel/parallel.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdlib>

namespace epochpp::parallel {

int maxThreads() {
  const char* env = std::getenv("EPOCHPP_NUM_THREADS");  // the registry's variable (parallel/ has no Python)
  int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : oneapi::tbb::info::default_concurrency();
}

static oneapi::tbb::task_arena& arena() {
  static oneapi::tbb::task_arena a(maxThreads());
  return a;
}

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  arena().execute([&] {
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int64_t>(0, n, grain > 0 ? grain : 1),
                              [&](const oneapi::tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
  });
}

}  // namespace epochpp::parallel
