// profiler/thread_modes.h — what each thread is doing that the sampler cannot see from Python:
// running epochpp compiled code (serial or parallel), GPU work. Set by the runtime, read by the sampler.
#pragma once
#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace epochpp::profiler {

enum Mode : int { kNone = 0, kModeCompiled = 1, kModeParallel = 2, kModeGpu = 3 };

struct ThreadMode {
  std::atomic<int> mode{kNone};
  long tid = 0;  // the OS thread id (gettid)
};

// This thread's slot (registered on first use; never freed, threads are few).
ThreadMode& currentThreadMode();
// Snapshot of (tid, mode) for every registered thread.
std::vector<std::pair<long, int>> threadModes();

// RAII: marks the calling thread as being in `m` for the scope.
class ModeScope {
 public:
  explicit ModeScope(Mode m) : slot_(currentThreadMode()), prev_(slot_.mode.exchange(m, std::memory_order_relaxed)) {}
  ~ModeScope() { slot_.mode.store(prev_, std::memory_order_relaxed); }

 private:
  ThreadMode& slot_;
  int prev_;
};

}  // namespace epochpp::profiler
