// tests/cpp/fake_cuda/fake_libcuda.cpp — a fake CUDA driver (libfakecuda.so) for the GPU runtime's tests: the
// subset of the driver API epochpp loads, with "device" memory in host memory.
//
// What it checks rather than assumes: device pointers must fall inside live allocations; async copies and
// launches are queued on the stream and run only at a synchronisation (cuStreamSynchronize, cuEventSynchronize,
// cuStreamQuery), and a copy from or to pinned memory (cuMemHostAlloc) touches the host bytes only then, as DMA
// does, so a runtime that reuses a staging buffer too early copies the wrong bytes. Pageable host memory is
// staged at the call, as the real driver does. Kernels do nothing unless a test sets a hook that plays them.
// The kernel parameters are copied as six 8-byte values (epochpp's kernel ABI, runtime/abi.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_cuda.h"

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;
enum : int {
  OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, NO_DEVICE = 100, INVALID_PTX = 218,
  INVALID_HANDLE = 400, NOT_FOUND = 500, NOT_READY = 600, ILLEGAL_ADDRESS = 700, LAUNCH_OUT_OF_RESOURCES = 701,
  SYSTEM_DRIVER_MISMATCH = 803,
};

const char* errorString(int e) {
  switch (e) {
    case OK: return "no error";
    case INVALID_VALUE: return "invalid argument";
    case OUT_OF_MEMORY: return "out of memory";
    case NOT_INITIALIZED: return "initialization error";
    case NO_DEVICE: return "no CUDA-capable device is detected";
    case INVALID_PTX: return "a PTX JIT compilation failed";
    case INVALID_HANDLE: return "invalid resource handle";
    case NOT_FOUND: return "named symbol not found";
    case NOT_READY: return "device not ready";
    case ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
    case LAUNCH_OUT_OF_RESOURCES: return "too many resources requested for launch";
    case SYSTEM_DRIVER_MISMATCH: return "system has unsupported display driver / cuda driver combination";
    default: return nullptr;
  }
}

struct Module {
  std::string text;
};
struct Function {
  Module* mod;
  std::string name;
};
struct Event {
  bool pending = false;  // recorded, not yet reached by the stream
};
struct Op {
  enum Kind { kCopy, kLaunch, kEvent } kind;
  void* dst = nullptr;
  const void* src = nullptr;
  size_t n = 0;
  std::vector<unsigned char> staged;  // pageable source copied at the call
  Event* event = nullptr;
  Function* fn = nullptr;
  uint64_t params[6] = {0};
  uint32_t grid = 0, block = 0, shmem = 0;
};

struct State {
  std::recursive_mutex mu;
  FakeCudaCounters c{};
  std::string fail;
  bool failRead = false;
  bool sticky = false;        // a sticky error happened: everything fails with ILLEGAL_ADDRESS
  bool stickyArmed = false;   // the next launch "faults"
  uint64_t limit = 0;
  int busy = 0;
  std::map<uintptr_t, size_t> device, pinned;
  std::deque<Op> ops;
  std::vector<void*> handles;  // events, modules, functions: owned by the "driver", like the real one's
  FakeLaunchHook hook = nullptr;
  void* hookUser = nullptr;
  double kernelSleepMs = 0;
};

State& st() {
  static State* s = new State;
  return *s;
}

const std::string& failMode() {
  State& s = st();
  if (!s.failRead) {
    const char* e = std::getenv("FAKE_CUDA_FAIL");
    s.fail = e ? e : "";
    const char* k = std::getenv("FAKE_CUDA_KERNEL_SLEEP_MS");
    s.kernelSleepMs = k ? std::atof(k) : 0;
    s.failRead = true;
  }
  return s.fail;
}

bool within(const std::map<uintptr_t, size_t>& m, uintptr_t p, size_t n) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

void runOne(State& s, Op& op) {
  if (op.kind == Op::kCopy) {
    std::memcpy(op.dst, op.staged.empty() ? op.src : op.staged.data(), op.n);
  } else if (op.kind == Op::kEvent) {
    op.event->pending = false;
  } else {
    s.c.launches_run += 1;
    if (s.kernelSleepMs > 0) std::this_thread::sleep_for(std::chrono::microseconds((long)(s.kernelSleepMs * 1000)));
    if (s.hook) s.hook(op.fn->name.c_str(), op.params, op.grid, op.block, op.shmem, s.hookUser);
  }
}

// Runs queued work up to and including the record of `until` (all of it when null).
void drain(State& s, Event* until = nullptr) {
  while (!s.ops.empty()) {
    Op op = std::move(s.ops.front());
    s.ops.pop_front();
    runOne(s, op);
    if (until && op.kind == Op::kEvent && op.event == until) return;
  }
}

CUresult syncResult(State& s) {
  if (s.stickyArmed) {
    s.stickyArmed = false;
    s.sticky = true;
  }
  return s.sticky ? ILLEGAL_ADDRESS : OK;
}

#define FAKE_GUARD             \
  State& s = st();             \
  std::lock_guard<std::recursive_mutex> lock(s.mu); \
  if (s.sticky) return ILLEGAL_ADDRESS;

}  // namespace

extern "C" {

// ---- control API (fake_cuda.h) ------------------------------------------------------------------------------
const FakeCudaCounters* fake_cuda_counters(void) { return &st().c; }
void fake_cuda_reset_counters(void) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  int64_t live = s.c.live_bytes;
  s.c = FakeCudaCounters{};
  s.c.live_bytes = s.c.peak_bytes = live;
}
void fake_cuda_fail(const char* mode) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  failMode();
  s.fail = mode ? mode : "";
}
void fake_cuda_set_mem_limit(uint64_t bytes) { st().limit = bytes; }
void fake_cuda_set_busy_queries(int n) { st().busy = n; }
void fake_cuda_set_launch_hook(FakeLaunchHook hook, void* user) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  s.hook = hook;
  s.hookUser = user;
}
uint64_t fake_cuda_alloc_base(uint64_t p, uint64_t n) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  if (!within(s.device, (uintptr_t)p, (size_t)n)) return 0;
  return (--s.device.upper_bound((uintptr_t)p))->first;
}

// ---- the driver API subset ------------------------------------------------------------------------------------
CUresult cuInit(unsigned) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  s.c.inits += 1;
  if (failMode() == "init") return SYSTEM_DRIVER_MISMATCH;
  return OK;
}
CUresult cuDriverGetVersion(int* v) {
  *v = 12040;
  return OK;
}
CUresult cuGetErrorString(CUresult e, const char** str) {
  *str = errorString(e);
  return *str ? OK : INVALID_VALUE;
}
CUresult cuGetErrorName(CUresult e, const char** str) {
  *str = errorString(e) ? "CUDA_ERROR_FAKE" : nullptr;
  return *str ? OK : INVALID_VALUE;
}
CUresult cuDeviceGetCount(int* n) {
  *n = failMode() == "nodevice" ? 0 : 1;
  return OK;
}
CUresult cuDeviceGet(int* dev, int ordinal) {
  if (ordinal != 0) return INVALID_VALUE;
  *dev = 0;
  return OK;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int) {
  switch (attr) {
    case 1: *v = 1024; break;     // max threads per block
    case 8: *v = 49152; break;    // shared memory per block
    case 16: *v = 4; break;       // multiprocessors
    case 36: *v = 2619000; break; // memory clock, kHz
    case 37: *v = 5120; break;    // bus width, bits
    case 39: *v = 2048; break;    // threads per multiprocessor
    case 75: *v = 9; break;       // compute capability
    case 76: *v = 0; break;
    default: return INVALID_VALUE;
  }
  return OK;
}
CUresult cuDeviceGetName(char* name, int len, int) {
  std::snprintf(name, (size_t)len, "%s", "epochpp fake CUDA device");
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int) {
  *bytes = size_t(1) << 30;
  return OK;
}
CUresult cuDevicePrimaryCtxRetain(void** ctx, int) {
  static int token;
  *ctx = &token;
  return OK;
}
CUresult cuCtxSetCurrent(void*) { return OK; }
CUresult cuCtxPushCurrent_v2(void*) {
  FAKE_GUARD
  s.c.ctx_pushes += 1;
  return OK;
}
CUresult cuCtxPopCurrent_v2(void** ctx) {
  FAKE_GUARD
  s.c.ctx_pops += 1;
  if (ctx) *ctx = nullptr;
  return OK;
}
CUresult cuMemGetInfo_v2(size_t* freeb, size_t* total) {
  FAKE_GUARD
  *total = size_t(1) << 30;
  *freeb = *total - (size_t)s.c.live_bytes;
  return OK;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  FAKE_GUARD
  s.c.alloc_calls += 1;
  uint64_t limit = s.limit ? s.limit : (uint64_t(1) << 30);
  if (failMode() == "alloc_oom" || (uint64_t)s.c.live_bytes + n > limit) return OUT_OF_MEMORY;
  void* m = std::aligned_alloc(256, (n + 255) / 256 * 256);
  if (!m) return OUT_OF_MEMORY;
  s.device[(uintptr_t)m] = n;
  s.c.allocs += 1;
  s.c.live_bytes += (int64_t)n;
  if (s.c.live_bytes > s.c.peak_bytes) s.c.peak_bytes = s.c.live_bytes;
  *p = (CUdeviceptr)(uintptr_t)m;
  return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  FAKE_GUARD
  auto it = s.device.find((uintptr_t)p);
  if (it == s.device.end()) return INVALID_VALUE;
  s.c.frees += 1;
  s.c.live_bytes -= (int64_t)it->second;
  std::free((void*)it->first);
  s.device.erase(it);
  return OK;
}
CUresult cuMemHostAlloc(void** p, size_t n, unsigned) {
  FAKE_GUARD
  void* m = std::aligned_alloc(4096, (n + 4095) / 4096 * 4096);
  if (!m) return OUT_OF_MEMORY;
  s.pinned[(uintptr_t)m] = n;
  s.c.host_allocs += 1;
  *p = m;
  return OK;
}
CUresult cuMemFreeHost(void* p) {
  FAKE_GUARD
  if (!s.pinned.erase((uintptr_t)p)) return INVALID_VALUE;
  std::free(p);
  return OK;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void*) {
  FAKE_GUARD
  if (!within(s.device, (uintptr_t)dst, n)) return INVALID_VALUE;
  Op op{Op::kCopy};
  op.dst = (void*)(uintptr_t)dst;
  op.src = src;
  op.n = n;
  if (within(s.pinned, (uintptr_t)src, n)) s.c.pinned_copies += 1;
  else op.staged.assign((const unsigned char*)src, (const unsigned char*)src + n);  // pageable: staged now
  s.c.h2d_bytes += (int64_t)n;
  s.c.h2d_copies += 1;
  s.ops.push_back(std::move(op));
  return OK;
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void*) {
  FAKE_GUARD
  if (!within(s.device, (uintptr_t)src, n)) return INVALID_VALUE;
  s.c.d2h_bytes += (int64_t)n;
  s.c.d2h_copies += 1;
  Op op{Op::kCopy};
  op.dst = dst;
  op.src = (const void*)(uintptr_t)src;
  op.n = n;
  if (within(s.pinned, (uintptr_t)dst, n)) {
    s.c.pinned_copies += 1;
    s.ops.push_back(std::move(op));
  } else {  // pageable destination: the real driver returns only once the copy is done
    drain(s);
    runOne(s, op);
  }
  return OK;
}
CUresult cuStreamCreate(void** stream, unsigned) {
  static int token;
  *stream = &token;
  return OK;
}
CUresult cuStreamSynchronize(void*) {
  FAKE_GUARD
  drain(s);
  return syncResult(s);
}
CUresult cuStreamQuery(void*) {
  FAKE_GUARD
  s.c.queries += 1;
  if (s.busy > 0 && !s.ops.empty()) {
    s.busy -= 1;
    return NOT_READY;
  }
  drain(s);
  return syncResult(s);
}
CUresult cuEventCreate(void** e, unsigned) {
  FAKE_GUARD
  *e = new Event;
  s.handles.push_back(*e);
  return OK;
}
CUresult cuEventRecord(void* e, void*) {
  FAKE_GUARD
  Op op{Op::kEvent};
  op.event = static_cast<Event*>(e);
  op.event->pending = true;
  s.ops.push_back(std::move(op));
  return OK;
}
CUresult cuEventSynchronize(void* e) {
  FAKE_GUARD
  if (static_cast<Event*>(e)->pending) drain(s, static_cast<Event*>(e));
  return syncResult(s);
}
CUresult cuEventElapsedTime_v2(float* ms, void*, void*) {
  FAKE_GUARD
  *ms = (float)s.kernelSleepMs;
  return OK;
}
CUresult cuModuleLoadDataEx(void** mod, const void* image, unsigned nopts, int* opts, void** vals) {
  FAKE_GUARD
  if (failMode() == "module") {
    for (unsigned i = 0; i < nopts; ++i)
      if (opts[i] == 5) std::snprintf((char*)vals[i], 64, "%s", "ptxas fatal   : fake PTX failure");
    return INVALID_PTX;
  }
  s.c.module_loads += 1;
  *mod = new Module{static_cast<const char*>(image)};
  s.handles.push_back(*mod);
  return OK;
}
CUresult cuModuleUnload(void* mod) {
  FAKE_GUARD
  auto it = std::find(s.handles.begin(), s.handles.end(), mod);
  if (it == s.handles.end()) return INVALID_HANDLE;
  s.handles.erase(it);
  delete static_cast<Module*>(mod);  // (its functions stay in `handles`, unusable, as with the real driver)
  return OK;
}
CUresult cuModuleGetFunction(void** fn, void* mod, const char* name) {
  FAKE_GUARD
  auto* m = static_cast<Module*>(mod);
  if (m->text.find(std::string(".entry ") + name + "(") == std::string::npos) return NOT_FOUND;
  *fn = new Function{m, name};
  s.handles.push_back(*fn);
  return OK;
}
CUresult cuFuncGetAttribute(int* v, int attr, void*) {
  if (attr == 0) *v = 1024;
  else if (attr == 1) *v = 0;
  else return INVALID_VALUE;
  return OK;
}
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void*, void** params, void** extra) {
  FAKE_GUARD
  if (failMode() == "launch") return LAUNCH_OUT_OF_RESOURCES;
  if (!f || !params || extra || gy != 1 || gz != 1 || by != 1 || bz != 1 || gx == 0 || bx == 0 || bx > 1024)
    return INVALID_VALUE;
  Op op{Op::kLaunch};
  op.fn = static_cast<Function*>(f);
  for (int i = 0; i < 6; ++i) std::memcpy(&op.params[i], params[i], 8);
  op.grid = gx;
  op.block = bx;
  op.shmem = shmem;
  s.c.launches += 1;
  std::memcpy(s.c.last_params, op.params, sizeof op.params);
  s.c.last_grid = gx;
  s.c.last_block = bx;
  s.c.last_shmem = shmem;
  std::snprintf(s.c.last_kernel, sizeof s.c.last_kernel, "%s", op.fn->name.c_str());
  if (failMode() == "sticky") s.stickyArmed = true;
  s.ops.push_back(std::move(op));
  return OK;
}

}  // extern "C"
