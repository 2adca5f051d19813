// tests/cpp/gpu_test_util.cpp — the helpers of gpu_test_util.h, and ep_rt_raise / ep_rt_check_signals as the
// GPU runtime sees them in _core (runtime/rt_abi.cpp), without Python.
#include "gpu_test_util.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stddef.h>

#include "gpu/stats.h"

extern "C" void ep_rt_raise(EpCtx* ctx, int32_t kind, int32_t line, const char* msg) {
  if (ctx->exc_kind != EP_EXC_NONE) return;
  ctx->exc_kind = kind;
  ctx->exc_line = line;
  std::snprintf(ctx->exc_msg, sizeof ctx->exc_msg, "%s", msg ? msg : "");
}

std::atomic<int> gputest::g_signalAfter{-1};

extern "C" int32_t ep_rt_check_signals(EpCtx*) {
  int n = gputest::g_signalAfter.load();
  if (n < 0) return 0;
  if (n <= 1) return 1;
  gputest::g_signalAfter.store(n - 1);
  return 0;
}

namespace gputest {

Emu g_emu;

const char kPtx[] =
    "// fake module\n.version 7.8\n.target sm_90\n.address_size 64\n"
    ".visible .entry ep_test_double(.param .u64 a, .param .u64 b, .param .u64 c, .param .u64 d, .param .u64 e, "
    ".param .u64 f)\n{ ret; }\n";

Fake& fake() {
  static Fake f = [] {
    const char* path = std::getenv("EPOCHPP_CUDA_LIBRARY");
    void* h = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : nullptr;
    if (!h) {
      std::fprintf(stderr, "the fake CUDA driver is not loaded (EPOCHPP_CUDA_LIBRARY=%s)\n", path ? path : "");
      std::abort();
    }
    Fake x;
    x.counters = (decltype(x.counters))dlsym(h, "fake_cuda_counters");
    x.reset = (decltype(x.reset))dlsym(h, "fake_cuda_reset_counters");
    x.fail = (decltype(x.fail))dlsym(h, "fake_cuda_fail");
    x.memLimit = (decltype(x.memLimit))dlsym(h, "fake_cuda_set_mem_limit");
    x.busy = (decltype(x.busy))dlsym(h, "fake_cuda_set_busy_queries");
    x.hook = (decltype(x.hook))dlsym(h, "fake_cuda_set_launch_hook");
    x.allocBase = (decltype(x.allocBase))dlsym(h, "fake_cuda_alloc_base");
    return x;
  }();
  return f;
}

void emulateDouble(const char* kernel, const uint64_t* params, uint32_t grid, uint32_t, uint32_t, void*) {
  if (std::strcmp(kernel, "ep_test_double") != 0) return;
  g_emu.runs += 1;
  auto* v = reinterpret_cast<DoubleLaunch::Vals*>(params[0]);
  int64_t n = (int64_t)params[1], start = (int64_t)params[2], step = (int64_t)params[3];
  for (const EpArray* a : {&v->in, &v->out})
    if (a->shape[0] > 0 && !fake().allocBase((uint64_t)(uintptr_t)a->data, 8)) g_emu.pointersOnDevice = false;
  if (g_emu.pointersOnDevice)
    for (int64_t k = 0; k < n; ++k) {
      int64_t i = start + k * step;
      double x;
      std::memcpy(&x, static_cast<char*>(v->in.data) + i * v->in.strides[0], 8);
      x *= 2;
      std::memcpy(static_cast<char*>(v->out.data) + i * v->out.strides[0], &x, 8);
    }
  auto* partials = reinterpret_cast<double*>(params[4]);
  for (int r = 0; r < g_emu.nred; ++r)
    for (uint32_t b = 0; b < grid; ++b) partials[(size_t)r * g_emu.maxBlocks + b] = 1000.0 * r + b;
  *reinterpret_cast<int32_t*>(params[5]) = g_emu.status;
}

DoubleLaunch::DoubleLaunch(double* in, int64_t inLen, int64_t inStride, double* out, int64_t outLen,
                           int64_t outStride, int64_t n, int nred, int maxBlocks, const char* ptx, const char* kernel) {
  std::memset(&vals, 0, sizeof vals);
  vals.in.data = in;
  vals.in.shape[0] = inLen;
  vals.in.strides[0] = inStride * 8;
  vals.in.owner = reinterpret_cast<void*>(0x1234);
  vals.out.data = out;
  vals.out.shape[0] = outLen;
  vals.out.strides[0] = outStride * 8;
  vals.scalar = 77;
  arrays[0] = EpGpuArray{(int64_t)offsetof(Vals, in), 0, 8, 1, 0};
  arrays[1] = EpGpuArray{(int64_t)offsetof(Vals, out), 1, 8, 1, 0};
  partials.assign((size_t)nred * maxBlocks, -1.0);
  std::memset(&L, 0, sizeof L);
  L.ptx = ptx;
  L.kernel = kernel;
  L.n = n;
  L.start = 0;
  L.step = 1;
  L.work = 10;
  L.vals = &vals;
  L.vals_size = sizeof vals;
  L.arrays = arrays;
  L.narrays = 2;
  L.nred = nred;
  L.partials = partials.empty() ? nullptr : partials.data();
  L.max_blocks = maxBlocks;
  L.line = 42;
  std::memset(&ctx, 0, sizeof ctx);
}

int32_t DoubleLaunch::run() {
  g_emu.nred = L.nred;
  g_emu.maxBlocks = L.max_blocks;
  return ep_rt_gpu_for(&ctx, &L);
}

std::string DoubleLaunch::reason() const { return epochpp::gpu::stats(L.kernel).last_reason; }

}  // namespace gputest
