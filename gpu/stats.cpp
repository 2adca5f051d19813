// gpu/stats.cpp — the statistics table behind gpu/stats.h (one mutex; updated once per ep_rt_gpu_for call).
#include "gpu/stats.h"

#include <mutex>

namespace epochpp::gpu {
namespace {

struct Table {
  std::mutex mu;
  std::map<std::string, KernelStats> perKernel;
  KernelStats total;
};

Table& table() {
  static Table* t = new Table;  // never destroyed: launches may run while the process exits
  return *t;
}

void add(KernelStats& into, const KernelStats& d) {
  into.calls += d.calls;
  into.launches += d.launches;
  into.fallbacks += d.fallbacks;
  into.resident_hits += d.resident_hits;
  into.resident_misses += d.resident_misses;
  into.bytes_up += d.bytes_up;
  into.bytes_down += d.bytes_down;
  into.kernel_ms += d.kernel_ms;
  into.transfer_ms += d.transfer_ms;
  into.hash_ms += d.hash_ms;
  if (!d.last_reason.empty()) {
    into.last_reason = d.last_reason;
    into.last_line = d.last_line;
  }
}

}  // namespace

KernelStats stats(const std::string& kernel) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.perKernel.find(kernel);
  return it == t.perKernel.end() ? KernelStats{} : it->second;
}

KernelStats totals() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.total;
}

std::map<std::string, KernelStats> allStats() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.perKernel;
}

void resetStats() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.perKernel.clear();
  t.total = KernelStats{};
}

void record(const std::string& kernel, const KernelStats& delta) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  add(t.perKernel[kernel], delta);
  add(t.total, delta);
}

}  // namespace epochpp::gpu
