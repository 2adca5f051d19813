// gpu/transfer.cpp — the pinned double-buffered staging of gpu/transfer.h.
//
// Upload of chunk i: wait until the DMA that last read buffer i%2 (chunk i-2) is done, copy the host bytes
// into it (on the oneTBB workers: one core's memcpy is slower than PCIe), queue its DMA and an event. So the
// host copy of chunk i+1 runs while chunk i crosses the bus. Download mirrors it: chunks i and i+1 are in
// flight while the host copies chunk i-1 out. Pageable memory would make the driver stage through its own
// small pinned buffer without overlap; pinning the user's arrays (cuMemHostRegister) costs more than it
// saves for a one-off copy. Every copy, small ones included, is queued on the runtime's stream: a synchronous
// cuMemcpyHtoD runs on the legacy default stream, which a non-blocking stream does not wait for, and may
// return before its DMA has landed.
#include "gpu/transfer.h"

#include <algorithm>
#include <cstring>

#include "parallel/parallel.h"

namespace epochpp::gpu {
namespace {

void copyParallel(void* dst, const void* src, size_t n) {
  constexpr size_t kPiece = size_t(1) << 20;
  size_t pieces = (n + kPiece - 1) / kPiece;
  if (pieces < 2) {
    std::memcpy(dst, src, n);
    return;
  }
  parallel::parallelFor((int64_t)pieces, 1, [&](int64_t b, int64_t e) {
    size_t lo = (size_t)b * kPiece, hi = std::min(n, (size_t)e * kPiece);
    std::memcpy(static_cast<char*>(dst) + lo, static_cast<const char*>(src) + lo, hi - lo);
  });
}

}  // namespace

bool Stager::ensure(const Handles& h) {
  if (ready_) return true;
  if (failed_) return false;
  for (int b = 0; b < 2; ++b) {
    if (h.d->cuMemHostAlloc(&buf_[b], kChunk, cu::CU_MEMHOSTALLOC_PORTABLE) != cu::CUDA_SUCCESS ||
        h.d->cuEventCreate(&ev_[b], cu::CU_EVENT_DISABLE_TIMING) != cu::CUDA_SUCCESS) {
      for (int k = 0; k < 2; ++k) {  // no pinned memory to spare: every copy goes directly (slower, correct)
        if (buf_[k]) h.d->cuMemFreeHost(buf_[k]);
        buf_[k] = nullptr;
      }
      failed_ = true;
      return false;
    }
  }
  ready_ = true;
  return true;
}

cu::CUresult Stager::upload(const Handles& h, cu::CUdeviceptr dst, const void* src, size_t n, std::string* why) {
  const Driver& d = *h.d;
  cu::CUresult r = cu::CUDA_SUCCESS;
  if (n <= kDirectMax || !ensure(h)) {  // the driver stages pageable memory itself; ordered on our stream
    if ((r = d.cuMemcpyHtoDAsync(dst, src, n, h.stream)) != cu::CUDA_SUCCESS) *why = failure("cuMemcpyHtoDAsync", r);
    else if ((r = d.cuStreamSynchronize(h.stream)) != cu::CUDA_SUCCESS) *why = failure("cuStreamSynchronize", r);
    return r;
  }
  size_t chunks = (n + kChunk - 1) / kChunk;
  for (size_t i = 0; i < chunks; ++i) {
    int b = (int)(i & 1);
    size_t off = i * kChunk, len = std::min(kChunk, n - off);
    if (i >= 2 && (r = d.cuEventSynchronize(ev_[b])) != cu::CUDA_SUCCESS) {
      *why = failure("cuEventSynchronize", r);
      break;
    }
    copyParallel(buf_[b], static_cast<const char*>(src) + off, len);
    if ((r = d.cuMemcpyHtoDAsync(dst + off, buf_[b], len, h.stream)) != cu::CUDA_SUCCESS) {
      *why = failure("cuMemcpyHtoDAsync", r);
      break;
    }
    if ((r = d.cuEventRecord(ev_[b], h.stream)) != cu::CUDA_SUCCESS) {
      *why = failure("cuEventRecord", r);
      break;
    }
  }
  cu::CUresult s = d.cuStreamSynchronize(h.stream);  // also after an error: the buffers must be idle again
  if (r == cu::CUDA_SUCCESS && s != cu::CUDA_SUCCESS) {
    r = s;
    *why = failure("cuStreamSynchronize", s);
  }
  return r;
}

cu::CUresult Stager::download(const Handles& h, void* dst, cu::CUdeviceptr src, size_t n, std::string* why) {
  const Driver& d = *h.d;
  cu::CUresult r = cu::CUDA_SUCCESS;
  if (n <= kDirectMax || !ensure(h)) {
    if ((r = d.cuMemcpyDtoHAsync(dst, src, n, h.stream)) != cu::CUDA_SUCCESS) *why = failure("cuMemcpyDtoHAsync", r);
    else if ((r = d.cuStreamSynchronize(h.stream)) != cu::CUDA_SUCCESS) *why = failure("cuStreamSynchronize", r);
    return r;
  }
  size_t chunks = (n + kChunk - 1) / kChunk;
  auto issue = [&](size_t i) {
    int b = (int)(i & 1);
    size_t off = i * kChunk, len = std::min(kChunk, n - off);
    cu::CUresult e = d.cuMemcpyDtoHAsync(buf_[b], src + off, len, h.stream);
    if (e != cu::CUDA_SUCCESS) {
      *why = failure("cuMemcpyDtoHAsync", e);
      return e;
    }
    if ((e = d.cuEventRecord(ev_[b], h.stream)) != cu::CUDA_SUCCESS) *why = failure("cuEventRecord", e);
    return e;
  };
  r = issue(0);
  if (r == cu::CUDA_SUCCESS && chunks > 1) r = issue(1);
  for (size_t i = 0; i < chunks && r == cu::CUDA_SUCCESS; ++i) {
    int b = (int)(i & 1);
    if ((r = d.cuEventSynchronize(ev_[b])) != cu::CUDA_SUCCESS) {
      *why = failure("cuEventSynchronize", r);
      break;
    }
    size_t off = i * kChunk, len = std::min(kChunk, n - off);
    copyParallel(static_cast<char*>(dst) + off, buf_[b], len);
    if (i + 2 < chunks) r = issue(i + 2);
  }
  cu::CUresult s = d.cuStreamSynchronize(h.stream);
  if (r == cu::CUDA_SUCCESS && s != cu::CUDA_SUCCESS) {
    r = s;
    *why = failure("cuStreamSynchronize", s);
  }
  return r;
}

void Stager::abandon() {
  buf_[0] = buf_[1] = nullptr;
  ev_[0] = ev_[1] = nullptr;
  ready_ = false;
  failed_ = true;
}

}  // namespace epochpp::gpu
