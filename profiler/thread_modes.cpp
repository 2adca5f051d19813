// profiler/thread_modes.cpp — the registry behind thread_modes.h.
#include "profiler/thread_modes.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <deque>
#include <mutex>

namespace epochpp::profiler {

static std::mutex g_mu;
static std::deque<ThreadMode>& registry() {
  static std::deque<ThreadMode> r;  // deque: element addresses stay valid as it grows
  return r;
}

ThreadMode& currentThreadMode() {
  thread_local ThreadMode* slot = nullptr;
  if (!slot) {
    std::lock_guard<std::mutex> lock(g_mu);
    long tid = (long)syscall(SYS_gettid);
    for (auto& t : registry())
      if (t.tid == tid) slot = &t;  // a recycled thread id reuses its slot
    if (!slot) {
      registry().emplace_back();
      slot = &registry().back();
      slot->tid = tid;
    }
  }
  return *slot;
}

std::vector<std::pair<long, int>> threadModes() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<std::pair<long, int>> out;
  for (auto& t : registry()) out.push_back({t.tid, t.mode.load(std::memory_order_relaxed)});
  return out;
}

}  // namespace epochpp::profiler
