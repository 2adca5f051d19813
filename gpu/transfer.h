// gpu/transfer.h — host <-> device copies: small ones directly, large ones through two reused pinned buffers,
// double-buffered so the host's copy of one chunk overlaps the DMA of the previous one.
#pragma once
#include <cstddef>
#include <string>

#include "gpu/device.h"

namespace epochpp::gpu {

// Not thread-safe: used under the launch lock, with the primary context current.
class Stager {
 public:
  static constexpr size_t kDirectMax = size_t(1) << 20;  // up to 1 MiB: one copy from the user's memory
  static constexpr size_t kChunk = size_t(8) << 20;      // pinned buffer size (two of them)

  // Both return when the bytes are at their destination: CUDA_SUCCESS, or the failing call's result with *why.
  cu::CUresult upload(const Handles& h, cu::CUdeviceptr dst, const void* src, size_t n, std::string* why);
  cu::CUresult download(const Handles& h, void* dst, cu::CUdeviceptr src, size_t n, std::string* why);
  void abandon();  // forget the buffers without calling the driver (sticky error)

 private:
  bool ensure(const Handles& h);  // the pinned buffers and their events; false: copy directly instead
  void* buf_[2] = {nullptr, nullptr};
  cu::CUevent ev_[2] = {nullptr, nullptr};
  bool ready_ = false, failed_ = false;
};

}  // namespace epochpp::gpu
