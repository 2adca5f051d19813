// gpu/cuda_driver.cpp — loads libcuda with dlopen, resolves the entry points, calls cuInit once; keeps the
// process-wide "GPU unusable" verdict (sticky CUDA errors, fork() children).
//
// fork(): a CUDA context does not survive fork(); a child that touched the parent's context, streams or
// device pointers would fail or hang. A pthread_atfork child handler (installed before cuInit) marks a child
// of a process that had initialised CUDA unusable, so its GPU loops run on the CPU with a reason saying so.
// A child of a process that never initialised CUDA loads the driver itself as usual.
#include "gpu/cuda_driver.h"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "runtime/settings.h"

namespace epochpp::gpu {
namespace {

std::once_flag g_once;
Driver g_driver;
const Driver* g_ready = nullptr;  // set once inside g_once
std::string g_why;                // why g_ready is null
std::atomic<bool> g_initialised{false};
std::atomic<bool> g_forkChild{false};
std::atomic<const std::string*> g_unusable{nullptr};  // leaked on purpose: references stay valid

const char* const kForkReason =
    "this process was fork()ed from one that had already used CUDA, and a CUDA context does not survive "
    "fork(): its GPU loops run on the CPU (start worker processes with multiprocessing's 'spawn' or "
    "'forkserver' method to use the GPU in them)";

void onForkChild() {
  if (g_initialised.load(std::memory_order_relaxed)) g_forkChild.store(true, std::memory_order_relaxed);
}

struct Sym {
  const char* name;
  const char* alt;  // tried when `name` is missing (older or newer drivers), or nullptr
  void** slot;
};

std::string load() {
  pthread_atfork(nullptr, nullptr, onForkChild);
  std::string lib = settings::get("cuda_library");
  if (lib.empty()) lib = "libcuda.so.1";
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* err = dlerror();
    std::string e = err ? err : "";
    if (e.find("No such file") != std::string::npos || e.find("cannot open") != std::string::npos)
      return "no CUDA driver (" + lib + " not found)";
    return "no CUDA driver (" + lib + " could not be loaded: " + e + ")";
  }
  Driver& d = g_driver;
  const Sym syms[] = {
      {"cuInit", nullptr, (void**)&d.cuInit},
      {"cuDriverGetVersion", nullptr, (void**)&d.cuDriverGetVersion},
      {"cuGetErrorString", nullptr, (void**)&d.cuGetErrorString},
      {"cuGetErrorName", nullptr, (void**)&d.cuGetErrorName},
      {"cuDeviceGetCount", nullptr, (void**)&d.cuDeviceGetCount},
      {"cuDeviceGet", nullptr, (void**)&d.cuDeviceGet},
      {"cuDeviceGetAttribute", nullptr, (void**)&d.cuDeviceGetAttribute},
      {"cuDeviceGetName", nullptr, (void**)&d.cuDeviceGetName},
      {"cuDeviceTotalMem_v2", nullptr, (void**)&d.cuDeviceTotalMem},
      {"cuDevicePrimaryCtxRetain", nullptr, (void**)&d.cuDevicePrimaryCtxRetain},
      {"cuCtxSetCurrent", nullptr, (void**)&d.cuCtxSetCurrent},
      {"cuCtxPushCurrent_v2", nullptr, (void**)&d.cuCtxPushCurrent},
      {"cuCtxPopCurrent_v2", nullptr, (void**)&d.cuCtxPopCurrent},
      {"cuMemGetInfo_v2", nullptr, (void**)&d.cuMemGetInfo},
      {"cuMemAlloc_v2", nullptr, (void**)&d.cuMemAlloc},
      {"cuMemFree_v2", nullptr, (void**)&d.cuMemFree},
      {"cuMemHostAlloc", nullptr, (void**)&d.cuMemHostAlloc},
      {"cuMemFreeHost", nullptr, (void**)&d.cuMemFreeHost},
      {"cuMemcpyHtoDAsync_v2", nullptr, (void**)&d.cuMemcpyHtoDAsync},
      {"cuMemcpyDtoHAsync_v2", nullptr, (void**)&d.cuMemcpyDtoHAsync},
      {"cuStreamCreate", nullptr, (void**)&d.cuStreamCreate},
      {"cuStreamSynchronize", nullptr, (void**)&d.cuStreamSynchronize},
      {"cuStreamQuery", nullptr, (void**)&d.cuStreamQuery},
      {"cuEventCreate", nullptr, (void**)&d.cuEventCreate},
      {"cuEventRecord", nullptr, (void**)&d.cuEventRecord},
      {"cuEventSynchronize", nullptr, (void**)&d.cuEventSynchronize},
      {"cuEventElapsedTime_v2", "cuEventElapsedTime", (void**)&d.cuEventElapsedTime},  // _v2: CUDA 12.8+
      {"cuModuleLoadDataEx", nullptr, (void**)&d.cuModuleLoadDataEx},
      {"cuModuleUnload", nullptr, (void**)&d.cuModuleUnload},
      {"cuModuleGetFunction", nullptr, (void**)&d.cuModuleGetFunction},
      {"cuFuncGetAttribute", nullptr, (void**)&d.cuFuncGetAttribute},
      {"cuLaunchKernel", nullptr, (void**)&d.cuLaunchKernel},
  };
  for (const Sym& s : syms) {
    void* p = dlsym(h, s.name);
    if (!p && s.alt) p = dlsym(h, s.alt);
    if (!p) return "no usable CUDA driver (" + lib + " lacks " + s.name + "; update the NVIDIA driver)";
    *s.slot = p;
  }
  cu::CUresult r = d.cuInit(0);
  if (r == cu::CUDA_ERROR_NO_DEVICE) return "no CUDA device";
  if (r != cu::CUDA_SUCCESS) {
    g_ready = &d;  // failure() needs the error strings
    std::string why = failure("cuInit", r);
    g_ready = nullptr;
    return why;
  }
  if (d.cuDriverGetVersion(&d.version) != cu::CUDA_SUCCESS) d.version = 0;
  g_initialised.store(true);
  g_ready = &d;
  return "";
}

}  // namespace

const Driver* driver(std::string* why) {
  std::string u = unusableReason();
  if (!u.empty()) {
    if (why) *why = u;
    return nullptr;
  }
  std::call_once(g_once, [] { g_why = load(); });
  if (!g_ready && why) *why = g_why;
  return g_ready;
}

std::string failure(const char* call, cu::CUresult r) {
  const char* s = nullptr;
  if (g_ready && g_ready->cuGetErrorString) g_ready->cuGetErrorString(r, &s);
  std::string out = std::string(call) + " failed: ";
  return out + (s ? s : "CUDA error " + std::to_string(r));
}

bool isSticky(cu::CUresult r) {
  switch (r) {
    case cu::CUDA_ERROR_ECC_UNCORRECTABLE:
    case cu::CUDA_ERROR_CONTAINED:
    case cu::CUDA_ERROR_ILLEGAL_ADDRESS:
    case cu::CUDA_ERROR_LAUNCH_TIMEOUT:
    case cu::CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case cu::CUDA_ERROR_ASSERT:
    case cu::CUDA_ERROR_HARDWARE_STACK_ERROR:
    case cu::CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case cu::CUDA_ERROR_MISALIGNED_ADDRESS:
    case cu::CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case cu::CUDA_ERROR_INVALID_PC:
    case cu::CUDA_ERROR_LAUNCH_FAILED:
    case cu::CUDA_ERROR_TENSOR_MEMORY_LEAK:
    case cu::CUDA_ERROR_MPS_CLIENT_TERMINATED:
    case cu::CUDA_ERROR_DEINITIALIZED:
    case cu::CUDA_ERROR_UNKNOWN:
      return true;
    default:
      return false;
  }
}

void markUnusable(const std::string& reason) {
  const std::string* expected = nullptr;
  auto* s = new std::string("the GPU is unusable for the rest of this process: " + reason);
  if (!g_unusable.compare_exchange_strong(expected, s)) delete s;  // the first reason stays
}

std::string unusableReason() {
  if (g_forkChild.load(std::memory_order_relaxed)) return kForkReason;
  const std::string* s = g_unusable.load(std::memory_order_acquire);
  return s ? *s : std::string();
}

}  // namespace epochpp::gpu
