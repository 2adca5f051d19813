// parallel/scheduler.h — internal to parallel/ (not an interface): the process's one arena and the state that
// fork() handling (fork.cpp) shares with parallelFor (parallel.cpp).
#pragma once
#include <oneapi/tbb/task_arena.h>

#include <chrono>
#include <cstdint>
#include <mutex>

#include "parallel/linger.h"
#include "parallel/tsan.h"

namespace epochpp::parallel::detail {

// The arena and, in a ThreadSanitizer build only, the observer that hides TBB's code on its workers
// (tsan.h). The observer is declared second, so it is destroyed first.
struct Arena {
  explicit Arena(int threads) : tbb(threads), tsanWorkers(tbb) {}
  oneapi::tbb::task_arena tbb;
  tsan::WorkerObserver tsanWorkers;
};

// Every field is guarded by mu. mu is only held for a few instructions, never while a loop body runs,
// except that fork() holds it from its prepare handler to its parent/child handler (fork.cpp).
struct Scheduler {
  std::mutex mu;
  Arena* arena = nullptr;                    // made by the first loop, deleted before a fork(); never at exit
  int threads = 0;                           // the arena's size, fixed by the first loop (EPOCHPP_NUM_THREADS then)
  int64_t linger = 0;                        // the most microseconds workers spin after a loop (EPOCHPP_WORKER_LINGER_US)
  IdleGaps gaps;                             // recent idle gaps between loops (linger.h)
  std::chrono::steady_clock::time_point lastEnd;  // when the last loop in flight ended (epoch: none yet)
  int inFlight = 0;                          // parallelFor calls running now, on any thread, nested ones included
  bool serial = false;                       // a fork child whose TBB workers could not be stopped
  bool forkHandlersInstalled = false;
};

// The one instance. Leaked on purpose: fork handlers and late loops may run after static destructors.
Scheduler& scheduler();

// Registers the pthread_atfork handlers; called once, with mu held, when the first arena is made.
void installForkHandlers();

}  // namespace epochpp::parallel::detail
