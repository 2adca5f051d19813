// gpu/stats.h — what Level 4 did, per kernel and for the whole process: launches, fallbacks and the last
// reason, kernel and transfer time, bytes moved, residency hits. Read by gpu_stats() and the profiler.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace epochpp::gpu {

struct KernelStats {
  int64_t calls = 0;            // ep_rt_gpu_for calls
  int64_t launches = 0;         // kernels launched on the device
  int64_t fallbacks = 0;        // calls that returned EP_DEOPT (the loop ran on the CPU)
  int64_t resident_hits = 0;    // spans found on the device unchanged (not uploaded)
  int64_t resident_misses = 0;  // spans uploaded
  int64_t bytes_up = 0, bytes_down = 0;
  double kernel_ms = 0;    // device time of the kernels (CUDA events)
  double transfer_ms = 0;  // host-side time of uploads and downloads
  double hash_ms = 0;      // host-side time spent hashing spans for residency
  std::string last_reason;  // the last fallback's reason, "line N: ..." when the loop's line is known
  int last_line = 0;
};

KernelStats stats(const std::string& kernel);  // zeros for a kernel never seen
KernelStats totals();                          // the whole process
std::map<std::string, KernelStats> allStats();
void resetStats();
// Adds `delta` (counters and times) to `kernel` and the totals; a non-empty delta.last_reason replaces theirs.
void record(const std::string& kernel, const KernelStats& delta);

}  // namespace epochpp::gpu
