// gpu/device.cpp — probes device 0 (attributes, name, memory), retains its primary context, makes the stream.
#include "gpu/device.h"

#include <atomic>
#include <mutex>

namespace epochpp::gpu {
namespace {

std::once_flag g_once;
DeviceInfo g_info;
Handles g_handles;
std::atomic<const DeviceInfo*> g_disabled{nullptr};  // leaked copy for the unusable state

std::string probe() {
  std::string why;
  const Driver* d = driver(&why);
  if (!d) return why;
  int count = 0;
  cu::CUresult r = d->cuDeviceGetCount(&count);
  if (r != cu::CUDA_SUCCESS) return failure("cuDeviceGetCount", r);
  if (count < 1) return "no CUDA device";
  cu::CUdevice dev = 0;
  if ((r = d->cuDeviceGet(&dev, 0)) != cu::CUDA_SUCCESS) return failure("cuDeviceGet", r);
  struct {
    int attr;
    int* out;
  } attrs[] = {
      {cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &g_info.cc_major},
      {cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &g_info.cc_minor},
      {cu::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &g_info.sm_count},
      {cu::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, &g_info.max_threads_per_sm},
      {cu::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &g_info.max_threads_per_block},
      {cu::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &g_info.shared_per_block},
  };
  for (auto& a : attrs)
    if ((r = d->cuDeviceGetAttribute(a.out, a.attr, dev)) != cu::CUDA_SUCCESS)
      return failure("cuDeviceGetAttribute", r);
  int clockKhz = 0, busBits = 0;  // deprecated in recent drivers: 0 or an error just means "unknown"
  if (d->cuDeviceGetAttribute(&clockKhz, cu::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, dev) != cu::CUDA_SUCCESS) clockKhz = 0;
  if (d->cuDeviceGetAttribute(&busBits, cu::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, dev) != cu::CUDA_SUCCESS) busBits = 0;
  g_info.mem_bandwidth_gbs = 2.0 * clockKhz * 1e3 * (busBits / 8.0) / 1e9;  // double data rate
  char name[256] = {0};
  if ((r = d->cuDeviceGetName(name, sizeof name - 1, dev)) != cu::CUDA_SUCCESS) return failure("cuDeviceGetName", r);
  g_info.name = name;
  size_t total = 0;
  if ((r = d->cuDeviceTotalMem(&total, dev)) != cu::CUDA_SUCCESS) return failure("cuDeviceTotalMem", r);
  g_info.total_mem = (int64_t)total;
  if (g_info.sm_count < 1 || g_info.max_threads_per_block < 32 || g_info.max_threads_per_sm < 32)
    return "CUDA device 0 reports no usable multiprocessors";
  cu::CUcontext ctx = nullptr;
  if ((r = d->cuDevicePrimaryCtxRetain(&ctx, dev)) != cu::CUDA_SUCCESS) return failure("cuDevicePrimaryCtxRetain", r);
  if ((r = d->cuCtxPushCurrent(ctx)) != cu::CUDA_SUCCESS) return failure("cuCtxPushCurrent", r);
  cu::CUstream stream = nullptr;
  r = d->cuStreamCreate(&stream, cu::CU_STREAM_NON_BLOCKING);
  cu::CUcontext popped = nullptr;
  d->cuCtxPopCurrent(&popped);
  if (r != cu::CUDA_SUCCESS) return failure("cuStreamCreate", r);
  g_handles = Handles{d, ctx, stream};
  return "";
}

}  // namespace

const DeviceInfo& device() {
  std::string u = unusableReason();
  if (!u.empty()) {
    const DeviceInfo* p = g_disabled.load(std::memory_order_acquire);
    if (p && p->reason == u) return *p;
    auto* info = new DeviceInfo(g_info);  // keeps the name and figures for gpu_info()
    info->available = false;
    info->reason = u;
    if (g_disabled.compare_exchange_strong(p, info)) return *info;
    delete info;  // another thread installed one first
    return *g_disabled.load(std::memory_order_acquire);
  }
  std::call_once(g_once, [] {
    std::string why = probe();
    g_info.available = why.empty();
    g_info.reason = why;
  });
  return g_info;
}

const Handles* handles() { return device().available ? &g_handles : nullptr; }

ContextScope::ContextScope(const Handles& h) : h_(h) {
  cu::CUresult r = h.d->cuCtxPushCurrent(h.ctx);
  ok_ = r == cu::CUDA_SUCCESS;
  if (!ok_) why_ = failure("cuCtxPushCurrent", r);
}

ContextScope::~ContextScope() {
  if (!ok_) return;
  cu::CUcontext popped = nullptr;
  h_.d->cuCtxPopCurrent(&popped);
}

}  // namespace epochpp::gpu
