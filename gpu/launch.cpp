// gpu/launch.cpp — ep_rt_gpu_for, Level 4's entry point for compiled code: decide (cost model), move the data
// (launch_plan.cpp), launch, wait while watching for Ctrl-C, then copy results back or fall back exactly.
//
// Return values (runtime/abi.h): EP_OK, the loop ran on the GPU and its results are on the host; EP_DEOPT, it
// did not run there or an iteration raised/deopted, nothing on the host changed, and the caller runs the loop
// on the CPU; EP_ERROR, Ctrl-C (KeyboardInterrupt set in ctx) or a copy-back that failed part-way (RuntimeError:
// the host arrays may then be partly updated, so re-running the loop would not be exact). The GIL is not held.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "gpu/cost_model.h"
#include "gpu/launch_plan.h"
#include "parallel/parallel.h"
#include "profiler/thread_modes.h"
#include "runtime/settings.h"

namespace epochpp::gpu {

GpuState& gpuState() {
  static GpuState* s = new GpuState;
  return *s;
}

void abandonAll(GpuState& s, const std::string& reason) {
  markUnusable(reason);
  s.pool.abandon();
  s.residency.abandon();
  s.stager.abandon();
  s.modules.abandon();
  s.evStart = s.evEnd = nullptr;
}

bool residencyOn() { return settings::get("gpu_residency") != "0"; }

size_t residentBudget(const DeviceInfo& dev) {
  std::string v = settings::get("gpu_resident_bytes");
  if (v.empty() || v == "auto") return (size_t)(dev.total_mem / 2);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || x < 0) return (size_t)(dev.total_mem / 2);
  switch (*end) {
    case 'k': case 'K': x *= 1024; break;
    case 'm': case 'M': x *= 1024.0 * 1024; break;
    case 'g': case 'G': x *= 1024.0 * 1024 * 1024; break;
    default: break;
  }
  return (size_t)x;
}

bool releaseResident() {
  const Handles* h = handles();
  if (!h) return false;
  GpuState& s = gpuState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!unusableReason().empty()) return false;
  ContextScope scope(*h);  // cuMemFree needs the blocks' context current
  if (!scope.ok()) return false;
  s.residency.clear(*h->d, s.pool);
  s.pool.trim(*h->d);
  return true;
}

void residencySummary(size_t& bytes, size_t& spans) {
  bytes = spans = 0;
  if (!handles()) return;
  GpuState& s = gpuState();
  std::lock_guard<std::mutex> lock(s.mu);
  bytes = s.residency.bytes();
  spans = s.residency.size();
}

}  // namespace epochpp::gpu

namespace {
using namespace epochpp;
using namespace epochpp::gpu;

constexpr int kExcRuntime = 100;  // not an EP_EXC_* kind: runtime/boxing.cpp raises RuntimeError for it
constexpr size_t kHeader = 16;    // the device scratch block: [status int32 | pad][vals][partials]

size_t roundUp(size_t x, size_t a) { return (x + a - 1) / a * a; }

struct Call {
  EpCtx* ctx;
  EpGpuLaunch* L;
  std::string kernel;
  KernelStats delta;

  int32_t fallback(const std::string& reason) {
    delta.fallbacks += 1;
    delta.last_reason = (L->line > 0 ? "line " + std::to_string(L->line) + ": " : std::string()) + reason;
    delta.last_line = L->line;
    record(kernel, delta);
    return EP_DEOPT;
  }
  int32_t error(int32_t kind, const std::string& msg) {
    ep_rt_raise(ctx, kind, L->line, msg.c_str());
    record(kernel, delta);
    return EP_ERROR;
  }
};

// Block size: 256 (a power of two), no more than the device and the compiled kernel allow, halved until the
// reductions' shared memory fits. 0 when even 32 threads do not fit.
int pickBlock(const Driver& d, cu::CUfunction f, const DeviceInfo& dev, int nred) {
  int fnMax = 1024, staticShared = 0;
  if (d.cuFuncGetAttribute(&fnMax, cu::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f) != cu::CUDA_SUCCESS) fnMax = 256;
  if (d.cuFuncGetAttribute(&staticShared, cu::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f) != cu::CUDA_SUCCESS)
    staticShared = 0;
  int limit = std::min({256, fnMax, dev.max_threads_per_block});
  int block = 1;
  while (block * 2 <= limit) block *= 2;
  int sharedMax = dev.shared_per_block > 0 ? dev.shared_per_block : 48 * 1024;
  while (block > 32 && staticShared + (int64_t)block * 8 * nred > sharedMax) block /= 2;
  if (block < 32 || staticShared + (int64_t)block * 8 * nred > sharedMax) return 0;
  return block;
}

// Waits for the stream, polling Ctrl-C (ep_rt_check_signals: an atomic load unless a signal is pending, when it
// takes the GIL to run the handlers). The first 2 ms are polled with yields (short kernels), then every 200 us.
cu::CUresult waitStream(const Handles& h, EpCtx* ctx, bool& interrupted, const char** call) {
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    *call = "cuStreamQuery";
    cu::CUresult r = h.d->cuStreamQuery(h.stream);
    if (r != cu::CUDA_ERROR_NOT_READY) return r;
    if (!interrupted && ep_rt_check_signals(ctx)) {
      interrupted = true;
      *call = "cuStreamSynchronize";
      return h.d->cuStreamSynchronize(h.stream);  // the kernel cannot be stopped: let it finish, then discard
    }
    if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2)) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

int32_t runLocked(Call& c, const DeviceInfo& dev, const Handles& h, GpuState& s) {
  EpGpuLaunch& L = *c.L;
  const Driver& d = *h.d;
  if (!s.configured) {
    s.pool.setCacheLimit(std::max<size_t>(size_t(256) << 20, (size_t)dev.total_mem / 8));
    s.pool.onPressure = [&s, &d] {  // out of memory: spans this launch does not use go too
      s.residency.enforceBudget(d, s.pool, 0);
      s.pool.trim(d);
    };
    s.configured = true;
  }
  Plan plan;
  std::string why;
  if (!makePlan(L, plan, &why)) return c.fallback(why);
  bool resOn = residencyOn();
  size_t budget = residentBudget(dev);
  CostInput in;
  in.n = L.n;
  in.work = L.work;
  in.cores = parallel::maxThreads();
  in.sm_count = dev.sm_count;
  planBytes(plan, s.residency, resOn, in.bytes_up, in.bytes_down, in.bytes_hashed);
  CostEstimate est = estimate(in);
  if (!est.offload) return c.fallback(est.why);

  profiler::ModeScope mode(profiler::kModeGpu);
  ContextScope scope(h);
  if (!scope.ok()) return c.fallback(scope.why());
  cu::CUresult r = cu::CUDA_SUCCESS;
  // every CUDA failure ends here: a sticky one ends GPU use in this process, any other falls back this once
  auto cudaFailed = [&](cu::CUresult res, const std::string& reason, DeviceBlock scratch) {
    if (isSticky(res)) {
      abandonAll(s, reason);
    } else {
      s.pool.release(d, scratch);
      finishGroups(s, d, plan, true, budget);
    }
    return c.fallback(reason);
  };
  cu::CUfunction fn = s.modules.function(d, L.ptx, L.kernel, &why, &r);
  if (!fn) return cudaFailed(r, why, {});
  int block = pickBlock(d, fn, dev, L.nred);
  if (block == 0)
    return c.fallback("the loop's " + std::to_string(L.nred) + " reductions need more shared memory than a block has");
  int64_t grid = std::min<int64_t>({(L.n + block - 1) / block, (int64_t)L.max_blocks,
                                    std::max<int64_t>(1, (int64_t)dev.sm_count * dev.max_threads_per_sm / block)});
  if (!s.evStart && ((r = d.cuEventCreate(&s.evStart, cu::CU_EVENT_DEFAULT)) != cu::CUDA_SUCCESS ||
                     (r = d.cuEventCreate(&s.evEnd, cu::CU_EVENT_DEFAULT)) != cu::CUDA_SUCCESS)) {
    s.evStart = s.evEnd = nullptr;
    return cudaFailed(r, failure("cuEventCreate", r), {});
  }

  // the device scratch block: status word, the vals block with data pointers moved to the device, partials
  size_t valsBytes = roundUp((size_t)L.vals_size, 16);
  size_t partialBytes = (size_t)L.nred * (size_t)L.max_blocks * 8;
  size_t scratchBytes = kHeader + valsBytes + partialBytes;
  DeviceBlock scratch = s.pool.alloc(d, scratchBytes, &why, &r);
  if (!scratch) return cudaFailed(r, why, {});
  r = placeGroups(s, h, plan, resOn, budget, c.delta, &why);
  if (r != cu::CUDA_SUCCESS) return cudaFailed(r, why, scratch);
  std::vector<unsigned char> image(scratchBytes, 0);  // status = 0
  if (L.vals_size > 0) std::memcpy(image.data() + kHeader, L.vals, (size_t)L.vals_size);
  for (int32_t j = 0; j < L.narrays; ++j) {
    int gi = plan.groupOf[(size_t)j];
    auto* a = reinterpret_cast<EpArray*>(image.data() + kHeader + L.arrays[j].offset);
    if (gi < 0) {
      a->data = reinterpret_cast<void*>(scratch.ptr);  // no elements: any valid device address
      continue;
    }
    const Group& g = plan.groups[(size_t)gi];
    a->data = reinterpret_cast<void*>(g.block.ptr + (reinterpret_cast<uintptr_t>(a->data) - g.lo));
  }
  auto t0 = std::chrono::steady_clock::now();
  if ((r = s.stager.upload(h, scratch.ptr, image.data(), kHeader + valsBytes, &why)) != cu::CUDA_SUCCESS)
    return cudaFailed(r, why, scratch);
  c.delta.transfer_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  cu::CUdeviceptr dStatus = scratch.ptr, dVals = scratch.ptr + kHeader, dPartials = scratch.ptr + kHeader + valsBytes;
  int64_t n = L.n, start = L.start, step = L.step;
  void* params[6] = {&dVals, &n, &start, &step, &dPartials, &dStatus};
  d.cuEventRecord(s.evStart, h.stream);
  r = d.cuLaunchKernel(fn, (unsigned)grid, 1, 1, (unsigned)block, 1, 1, (unsigned)(block * 8 * L.nred), h.stream, params,
                       nullptr);
  if (r != cu::CUDA_SUCCESS) return cudaFailed(r, failure("cuLaunchKernel", r), scratch);
  c.delta.launches += 1;
  d.cuEventRecord(s.evEnd, h.stream);
  bool interrupted = false;
  const char* call = "";
  r = waitStream(h, c.ctx, interrupted, &call);
  if (r != cu::CUDA_SUCCESS) return cudaFailed(r, failure(call, r), scratch);
  float ms = 0;
  if (d.cuEventElapsedTime(&ms, s.evStart, s.evEnd) == cu::CUDA_SUCCESS) c.delta.kernel_ms += ms;
  if (interrupted) {
    s.pool.release(d, scratch);
    finishGroups(s, d, plan, true, budget);
    return c.error(EP_EXC_KEYBOARD_INTERRUPT, "");
  }
  t0 = std::chrono::steady_clock::now();
  size_t tail = partialBytes ? scratchBytes : kHeader;  // status, and the partials when there are reductions
  if ((r = s.stager.download(h, image.data(), scratch.ptr, tail, &why)) != cu::CUDA_SUCCESS)
    return cudaFailed(r, why, scratch);
  c.delta.transfer_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int32_t status;
  std::memcpy(&status, image.data(), sizeof status);
  if (status != 0) {
    s.pool.release(d, scratch);
    finishGroups(s, d, plan, true, budget);
    return c.fallback("an iteration raised or left the compiled path; re-run on the CPU");
  }
  r = copyBack(s, h, plan, c.delta, &why);
  if (r != cu::CUDA_SUCCESS) {
    std::string msg = "the GPU failed while copying the loop's results back (" + why +
                      "); the arrays the loop writes may be partly updated. Run with EPOCHPP_LEVEL=3 to stay on the CPU";
    if (isSticky(r)) abandonAll(s, why);
    else {
      s.pool.release(d, scratch);
      finishGroups(s, d, plan, true, budget);
    }
    return c.error(kExcRuntime, msg);
  }
  for (int32_t k = 0; k < L.nred; ++k)
    std::memcpy(static_cast<char*>(L.partials) + (size_t)k * L.max_blocks * 8,
                image.data() + kHeader + valsBytes + (size_t)k * L.max_blocks * 8, (size_t)grid * 8);
  L.nblocks = grid;
  s.pool.release(d, scratch);
  finishGroups(s, d, plan, false, budget);
  record(c.kernel, c.delta);
  return EP_OK;
}

}  // namespace

extern "C" int32_t ep_rt_gpu_for(EpCtx* ctx, EpGpuLaunch* launch) {
  Call c{ctx, launch, launch->kernel ? launch->kernel : "?", {}};
  c.delta.calls = 1;
  const DeviceInfo& dev = device();
  if (!dev.available) return c.fallback(dev.reason);
  long minElements = settings::getInt("gpu_min_elements");
  if (launch->n < std::max<long>(1, minElements))
    return c.fallback("too small: " + std::to_string(launch->n) + " iterations, fewer than gpu_min_elements (" +
                      std::to_string(minElements) + ")");
  if (!launch->ptx || !launch->kernel || launch->max_blocks < 1 || launch->nred < 0 || launch->narrays < 0 ||
      (launch->nred > 0 && !launch->partials) || launch->vals_size < 0 || (launch->vals_size > 0 && !launch->vals))
    return c.fallback("malformed launch block: a compiler bug; please report it");
  const Handles* h = handles();
  GpuState& s = gpuState();
  std::lock_guard<std::mutex> lock(s.mu);
  std::string u = unusableReason();  // another thread may have hit a sticky error meanwhile
  if (!u.empty() || !h) return c.fallback(u.empty() ? device().reason : u);
  return runLocked(c, dev, *h, s);
}
