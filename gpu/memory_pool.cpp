// gpu/memory_pool.cpp — size classes, the bounded cache of freed device blocks, out-of-memory retry.
#include "gpu/memory_pool.h"

#include <algorithm>

namespace epochpp::gpu {

size_t MemoryPool::sizeClass(size_t bytes) {
  if (bytes <= 4096) return 4096;
  int top = 63 - __builtin_clzll((unsigned long long)bytes);  // 2^top <= bytes
  size_t quarter = size_t(1) << (top - 2);
  return (bytes + quarter - 1) / quarter * quarter;  // the next multiple of 2^top / 4
}

DeviceBlock MemoryPool::alloc(const Driver& d, size_t bytes, std::string* why, cu::CUresult* err) {
  size_t cap = sizeClass(bytes);
  auto it = free_.find(cap);
  if (it != free_.end() && !it->second.empty()) {
    cu::CUdeviceptr p = it->second.back();
    it->second.pop_back();
    cached_ -= cap;
    order_.erase(std::find(order_.begin(), order_.end(), std::make_pair(cap, p)));
    return {p, cap};
  }
  cu::CUdeviceptr p = 0;
  cu::CUresult r = d.cuMemAlloc(&p, cap);
  if (r == cu::CUDA_ERROR_OUT_OF_MEMORY) {
    trim(d);
    if (onPressure) onPressure();
    r = d.cuMemAlloc(&p, cap);
  }
  if (r != cu::CUDA_SUCCESS) {
    *err = r;
    *why = r == cu::CUDA_ERROR_OUT_OF_MEMORY ? "GPU out of memory" : failure("cuMemAlloc", r);
    return {};
  }
  return {p, cap};
}

void MemoryPool::release(const Driver& d, DeviceBlock b) {
  if (!b) return;
  if (b.cap > limit_) {
    d.cuMemFree(b.ptr);
    return;
  }
  free_[b.cap].push_back(b.ptr);
  order_.push_back({b.cap, b.ptr});
  cached_ += b.cap;
  while (cached_ > limit_ && !order_.empty()) {  // the oldest cached blocks go back to the driver
    auto [cap, p] = order_.front();
    order_.erase(order_.begin());
    auto& v = free_[cap];
    v.erase(std::find(v.begin(), v.end(), p));
    cached_ -= cap;
    d.cuMemFree(p);
  }
}

void MemoryPool::trim(const Driver& d) {
  for (auto& [cap, v] : free_)
    for (cu::CUdeviceptr p : v) d.cuMemFree(p);
  free_.clear();
  order_.clear();
  cached_ = 0;
}

void MemoryPool::abandon() {
  free_.clear();
  order_.clear();
  cached_ = 0;
}

}  // namespace epochpp::gpu
