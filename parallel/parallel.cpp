// parallel/parallel.cpp — oneTBB behind parallel.h: one arena sized by EPOCHPP_NUM_THREADS, made on first use.
// What happens around fork() is in fork.cpp; the state both share is in scheduler.h.
#include "parallel/parallel.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "parallel/guided.h"
#include "parallel/linger.h"
#include "parallel/scheduler.h"
#include "parallel/tsan.h"

namespace epochpp::parallel {

int maxThreads() {
  const char* env = std::getenv("EPOCHPP_NUM_THREADS");  // the registry's variable (parallel/ has no Python)
  int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : oneapi::tbb::info::default_concurrency();
}

namespace detail {

Scheduler& scheduler() {
  static Scheduler* s = new Scheduler;
  return *s;
}
}  // namespace detail

namespace {

// The most a worker spins after a loop, in microseconds (linger.h); read with the thread count.
int64_t lingerCap() {
  const char* env = std::getenv("EPOCHPP_WORKER_LINGER_US");  // the registry's variable, read here as above
  if (!env || !*env) return 5000;
  long long v = std::atoll(env);
  return v > 0 ? (int64_t)v : 0;
}

// The arena this call runs on, counted as in flight; nullptr when this process must run loops serially.
detail::Arena* enter() {
  detail::Scheduler& s = detail::scheduler();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.serial) return nullptr;
  if (!s.arena) {
    // The size is read once: an arena remade after a fork() keeps it, as docs/levels.md promises.
    if (s.threads == 0) {
      s.threads = maxThreads();
      s.linger = lingerCap();
    }
    // Leaked at exit: destroying it then would race TBB's own teardown, and in a serial fork child it
    // would touch workers that do not exist.
    s.arena = new detail::Arena(s.threads);
    if (!s.forkHandlersInstalled) {
      detail::installForkHandlers();
      s.forkHandlersInstalled = true;
    }
  }
  detail::lingerLoopStarts(s);
  ++s.inFlight;
  return s.arena;
}

void leave() {
  detail::Scheduler& s = detail::scheduler();
  std::lock_guard<std::mutex> lock(s.mu);
  if (--s.inFlight == 0) detail::lingerLoopEnded(s);  // workers spin a while for the next loop
}

}  // namespace

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  detail::Arena* arena = enter();
  if (!arena) {
    body(0, n);  // one chunk on the caller: a single chunk [0, n) meets every promise parallel.h makes
    return;
  }
  struct Leave {
    ~Leave() { leave(); }  // also when body throws through parallel_for
  } guard;
  tsan::Loop loop;  // empty unless built with -fsanitize=thread (tsan.h)
  if (grain < 1) {
    // Guided (guided.h): one task per thread, each taking the next piece of what is left, 1/(2P)
    // of it, so pieces shrink as the loop runs out (few calls, and the threads finish within one
    // item of each other). oneTBB's auto partitioner with grain 1 splits down to single items, a
    // task each, and a larger grain leaves a whole piece of imbalance at the end. Spinning workers
    // join the offered loop directly.
    const int64_t P = arena->tbb.max_concurrency();
    detail::Guided guided(n, P, body, loop);
    guided.offer();
    detail::lingerWake();
    arena->tbb.execute([&] {
      oneapi::tbb::parallel_for(
          oneapi::tbb::blocked_range<int64_t>(0, P, 1), [&](const oneapi::tbb::blocked_range<int64_t>&) { guided.run(); },
          oneapi::tbb::simple_partitioner());
    });
    guided.withdraw();
    guided.rethrow();
    return;
  }
  detail::lingerWake();
  arena->tbb.execute([&] {
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int64_t>(0, n, grain),
                              [&](const oneapi::tbb::blocked_range<int64_t>& r) {
                                tsan::Chunk chunk(loop);
                                body(r.begin(), r.end());
                              });
  });
}

SchedulerState schedulerState() {
  detail::Scheduler& s = detail::scheduler();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.serial) return SchedulerState::kSerialAfterFork;
  return s.arena ? SchedulerState::kParallel : SchedulerState::kIdle;
}

}  // namespace epochpp::parallel
