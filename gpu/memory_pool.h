// gpu/memory_pool.h — device memory blocks reused by size class, so repeated launches do not pay cuMemAlloc.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gpu/device.h"

namespace epochpp::gpu {

struct DeviceBlock {
  cu::CUdeviceptr ptr = 0;
  size_t cap = 0;  // the size class the block was allocated with
  explicit operator bool() const { return ptr != 0; }
};

// Not thread-safe: used under the launch lock (launch.cpp). Freed blocks are kept per size class (sizes
// rounded up to 4 classes per power of two, at most 25% waste) up to a bound; past it the oldest go back to
// the driver. On CUDA_ERROR_OUT_OF_MEMORY, alloc() frees every cached block, asks `onPressure` to release
// more (the residency table drops entries the current launch does not use), and retries once.
class MemoryPool {
 public:
  static size_t sizeClass(size_t bytes);
  // A block of at least `bytes`; on failure an empty block, *why ("GPU out of memory" or the driver's
  // reason) and *err (the driver's result).
  DeviceBlock alloc(const Driver& d, size_t bytes, std::string* why, cu::CUresult* err);
  void release(const Driver& d, DeviceBlock b);  // back to the cache (or the driver, past the bound)
  void trim(const Driver& d);                    // every cached block back to the driver
  void abandon();                                // forget everything without calling the driver (sticky error)
  void setCacheLimit(size_t bytes) { limit_ = bytes; }
  size_t cachedBytes() const { return cached_; }
  std::function<void()> onPressure;

 private:
  std::map<size_t, std::vector<cu::CUdeviceptr>> free_;
  std::vector<std::pair<size_t, cu::CUdeviceptr>> order_;  // cached blocks, oldest first
  size_t cached_ = 0;
  size_t limit_ = size_t(256) << 20;
};

}  // namespace epochpp::gpu
