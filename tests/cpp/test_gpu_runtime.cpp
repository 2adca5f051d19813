// tests/cpp/test_gpu_runtime.cpp — ep_rt_gpu_for against the fake CUDA driver: uploads, residency by digest,
// copy-back, pointer rewriting, partials, fallbacks (status, OOM, launch and module errors), Ctrl-C, fork.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "gpu/device.h"
#include "gpu/gpu_state.h"
#include "gpu/memory_pool.h"
#include "gpu/stats.h"
#include "gpu_test_util.h"
#include "runtime/settings.h"

using namespace gputest;
namespace gpu = epochpp::gpu;
namespace settings = epochpp::settings;

namespace {

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    settings::set("gpu_min_elements", "1000");
    settings::set("gpu_min_speedup", "0");  // the cost model says yes to everything; tested on its own below
    settings::set("gpu_residency", "1");
    settings::set("gpu_resident_bytes", "auto");
    ASSERT_TRUE(gpu::device().available) << gpu::device().reason;
    ASSERT_TRUE(gpu::releaseResident());
    fake().fail("");
    fake().memLimit(0);
    fake().busy(0);
    fake().hook(emulateDouble, nullptr);
    fake().reset();
    gpu::resetStats();
    g_emu = Emu{};
    g_signalAfter = -1;
  }
  const FakeCudaCounters& c() { return *fake().counters(); }
  static std::vector<double> ramp(size_t n) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = 0.5 + (double)i;
    return v;
  }
  static size_t residentSpans() {
    size_t b, s;
    gpu::residencySummary(b, s);
    return s;
  }
};

constexpr int64_t N = 20000;

TEST_F(Gpu, DeviceInfoFromTheDriver) {
  const gpu::DeviceInfo& d = gpu::device();
  EXPECT_EQ(d.name, "epochpp fake CUDA device");
  EXPECT_EQ(d.cc_major, 9);
  EXPECT_EQ(d.cc_minor, 0);
  EXPECT_EQ(d.sm_count, 4);
  EXPECT_EQ(d.max_threads_per_sm, 2048);
  EXPECT_EQ(d.max_threads_per_block, 1024);
  EXPECT_EQ(d.total_mem, int64_t(1) << 30);
  EXPECT_NEAR(d.mem_bandwidth_gbs, 3352.3, 0.1);  // 2 x 2619 MHz x 640 bytes
  EXPECT_TRUE(d.reason.empty());
}

TEST_F(Gpu, RunsUploadsOnceThenStaysResident) {
  auto in = ramp(N);
  std::vector<double> out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[i], 2 * in[i]) << i;
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.launches, 1);
  EXPECT_EQ(s.fallbacks, 0);
  EXPECT_EQ(s.bytes_up, 2 * N * 8);  // both arrays: the written one must start equal to the host too
  EXPECT_EQ(s.bytes_down, N * 8);    // only the written one comes back
  EXPECT_EQ(s.resident_misses, 2);
  EXPECT_EQ(s.resident_hits, 0);
  EXPECT_EQ(c().module_loads, 1);
  EXPECT_EQ(residentSpans(), 2u);

  // second call, nothing changed on the host (out was copied back and its digest refreshed): no upload at all
  gpu::resetStats();
  int64_t h2d = c().h2d_bytes;
  ASSERT_EQ(a.run(), EP_OK);
  s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_hits, 2);
  EXPECT_EQ(s.resident_misses, 0);
  EXPECT_EQ(s.bytes_up, 0);
  EXPECT_EQ(c().h2d_bytes - h2d, (int64_t)(16 + (sizeof(DoubleLaunch::Vals) + 15) / 16 * 16));  // the vals block only
  EXPECT_EQ(c().module_loads, 1);  // the module is cached
  // the host writes `out`: it alone is uploaded again
  std::fill(out.begin(), out.end(), 0.0);
  gpu::resetStats();
  ASSERT_EQ(a.run(), EP_OK);
  s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_hits, 1);
  EXPECT_EQ(s.resident_misses, 1);
  EXPECT_EQ(s.bytes_up, N * 8);
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[i], 2 * in[i]);
}

TEST_F(Gpu, OneChangedByteIsSeen) {
  auto in = ramp(N);
  std::vector<double> out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  ASSERT_EQ(a.run(), EP_OK);
  reinterpret_cast<unsigned char*>(in.data())[N * 8 / 2 + 3] ^= 0x10;  // one bit of one byte in the middle
  gpu::resetStats();
  ASSERT_EQ(a.run(), EP_OK);
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_misses, 1);
  EXPECT_EQ(s.resident_hits, 1);
  EXPECT_EQ(s.bytes_up, N * 8);
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[i], 2 * in[i]) << i;  // computed from the new bytes
}

TEST_F(Gpu, ResidencyOffUploadsEveryTime) {
  settings::set("gpu_residency", "0");
  auto in = ramp(N);
  std::vector<double> out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  ASSERT_EQ(a.run(), EP_OK);
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.bytes_up, 4 * N * 8);
  EXPECT_EQ(s.resident_hits, 0);
  EXPECT_EQ(residentSpans(), 0u);
  EXPECT_EQ(s.hash_ms, 0.0);  // no hashing when off
}

TEST_F(Gpu, ValsBlockPointsIntoDeviceCopies) {
  // in: every 3rd element backwards (negative stride), out: every 2nd element
  std::vector<double> base = ramp(3 * N), out(2 * N, 0.0);
  double* inData = base.data() + 3 * (N - 1);  // the view's first element is the highest address
  DoubleLaunch a(inData, N, -3, out.data(), N, 2, N);
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  EXPECT_TRUE(g_emu.pointersOnDevice);
  auto* dv = reinterpret_cast<DoubleLaunch::Vals*>(c().last_params[0]);
  ASSERT_NE(fake().allocBase((uint64_t)(uintptr_t)dv, sizeof *dv), 0u);
  uint64_t inDev = (uint64_t)(uintptr_t)dv->in.data, outDev = (uint64_t)(uintptr_t)dv->out.data;
  // the span of `in` starts at base[0]: the device pointer sits at the same offset into its copy
  EXPECT_EQ(inDev - fake().allocBase(inDev, 8), (uint64_t)((char*)inData - (char*)base.data()));
  EXPECT_EQ(outDev - fake().allocBase(outDev, 8), 0u);
  EXPECT_EQ(dv->in.strides[0], -24);  // everything else is the host block as it was
  EXPECT_EQ(dv->in.shape[0], N);
  EXPECT_EQ(dv->in.owner, reinterpret_cast<void*>(0x1234));
  EXPECT_EQ(dv->scalar, 77);
  EXPECT_EQ(a.vals.in.data, inData);  // the caller's block is untouched
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[2 * i], 2 * inData[-3 * i]) << i;
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[2 * i + 1], 0.0);  // the gaps are what they were
  EXPECT_EQ(c().last_params[1], (uint64_t)N);
}

TEST_F(Gpu, OverlappingArraysShareOneCopy) {
  // in = x[0:N], out = y; then in = x[5:N+5] (a different span overlapping the resident x[0:N])
  std::vector<double> x = ramp(N + 5), out(N, 0.0);
  DoubleLaunch a(x.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  EXPECT_EQ(residentSpans(), 2u);
  DoubleLaunch b(x.data() + 5, N, 1, out.data(), N, 1, N);
  gpu::resetStats();
  ASSERT_EQ(b.run(), EP_OK);
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_misses, 1);  // x[5:] uploaded, x[0:N] evicted
  EXPECT_EQ(s.resident_hits, 1);    // out
  EXPECT_EQ(residentSpans(), 2u);
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out[i], 2 * x[i + 5]);
  gpu::resetStats();
  ASSERT_EQ(a.run(), EP_OK);  // x[0:N] again: its entry was dropped, so it is uploaded
  EXPECT_EQ(gpu::stats("ep_test_double").resident_misses, 1);
  EXPECT_EQ(residentSpans(), 2u);
}

TEST_F(Gpu, OverlappingArraysInOneLaunchAreOneGroup) {
  // in = x[0:N] (read), out = x[N/2 : N/2 + N]... written arrays overlapping read ones only come from prange;
  // here both are read-and-written views of one buffer: one device copy covering both
  std::vector<double> x = ramp(N + N / 2);
  std::vector<double> expect = x;
  for (int64_t i = 0; i < N; ++i) expect[N / 2 + i] = 2 * expect[i];  // the fake runs iterations in order
  DoubleLaunch a(x.data(), N, 1, x.data() + N / 2, N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_misses, 1);
  EXPECT_EQ(s.bytes_up, (N + N / 2) * 8);
  EXPECT_EQ(s.bytes_down, (N + N / 2) * 8);
  auto* dv = reinterpret_cast<DoubleLaunch::Vals*>(c().last_params[0]);
  EXPECT_EQ((char*)dv->out.data - (char*)dv->in.data, (int64_t)(N / 2 * 8));
  EXPECT_EQ(fake().allocBase((uint64_t)(uintptr_t)dv->in.data, 8), fake().allocBase((uint64_t)(uintptr_t)dv->out.data, 8));
  EXPECT_EQ(x, expect);
}

TEST_F(Gpu, LruBudgetIsRespected) {
  // each 20000-double span takes a 163840-byte block; the budget holds three
  settings::set("gpu_resident_bytes", std::to_string(3 * gpu::MemoryPool::sizeClass(N * 8)));
  std::vector<std::vector<double>> ins(3, ramp(N));
  std::vector<double> out(N);
  for (auto& v : ins) {
    DoubleLaunch a(v.data(), N, 1, out.data(), N, 1, N);
    ASSERT_EQ(a.run(), EP_OK);
    size_t bytes, spans;
    gpu::residencySummary(bytes, spans);
    EXPECT_LE(bytes, 3 * gpu::MemoryPool::sizeClass(N * 8));
  }
  EXPECT_EQ(residentSpans(), 3u);  // out, ins[1], ins[2]: ins[0] was the least recently used
  gpu::resetStats();
  DoubleLaunch again2(ins[2].data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(again2.run(), EP_OK);
  EXPECT_EQ(gpu::stats("ep_test_double").resident_hits, 2);
  gpu::resetStats();
  DoubleLaunch again0(ins[0].data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(again0.run(), EP_OK);
  EXPECT_EQ(gpu::stats("ep_test_double").resident_misses, 1);  // evicted earlier: uploaded again
  EXPECT_EQ(gpu::stats("ep_test_double").resident_hits, 1);
}

TEST_F(Gpu, PartialsCopiedForTheBlocksLaunched) {
  auto in = ramp(N);
  std::vector<double> out(N);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N, /*nred=*/2, /*maxBlocks=*/64);
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  // grid = min(ceil(20000 / 256) = 79, max_blocks 64, 4 SMs x 2048 threads / 256 = 32)
  EXPECT_EQ(a.L.nblocks, 32);
  EXPECT_EQ(c().last_grid, 32u);
  EXPECT_EQ(c().last_block, 256u);
  EXPECT_EQ(c().last_shmem, 256u * 8 * 2);
  for (int r = 0; r < 2; ++r)
    for (int b = 0; b < 64; ++b)
      EXPECT_EQ(a.partials[(size_t)r * 64 + b], b < 32 ? 1000.0 * r + b : -1.0) << r << " " << b;
}

TEST_F(Gpu, GridIsBoundedByIterations) {
  auto in = ramp(N);
  std::vector<double> out(N);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, 1000, 1, 1024);  // 1000 iterations: 4 blocks of 256
  ASSERT_EQ(a.run(), EP_OK);
  EXPECT_EQ(a.L.nblocks, 4);
}

TEST_F(Gpu, FailedIterationFallsBackAndDropsWrittenCopies) {
  auto in = ramp(N);
  std::vector<double> out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N, 1, 64);
  ASSERT_EQ(a.run(), EP_OK);  // both resident now
  std::fill(out.begin(), out.end(), 0.0);
  ASSERT_EQ(a.run(), EP_OK);  // out resident with its zeros... now make the kernel fail
  std::vector<double> before = out;
  g_emu.status = 1;
  a.L.nblocks = -7;
  gpu::resetStats();
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_EQ(g_emu.runs, 3);  // the kernel ran (and wrote the device copy of out)
  EXPECT_EQ(out, before);    // but nothing came back to the host
  EXPECT_EQ(a.L.nblocks, -7);
  EXPECT_EQ(a.reason(), "line 42: an iteration raised or left the compiled path; re-run on the CPU");
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.fallbacks, 1);
  EXPECT_EQ(s.launches, 1);
  EXPECT_EQ(residentSpans(), 1u);  // out's device copy was dirty: dropped; in stays
  g_emu.status = 0;
  gpu::resetStats();
  ASSERT_EQ(a.run(), EP_OK);
  s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_hits, 1);
  EXPECT_EQ(s.resident_misses, 1);
  EXPECT_EQ(s.bytes_up, N * 8);
}

TEST_F(Gpu, TooSmallAndNotWorthIt) {
  auto in = ramp(N);
  std::vector<double> out(N);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, 999);
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_EQ(a.reason(), "line 42: too small: 999 iterations, fewer than gpu_min_elements (1000)");
  settings::set("gpu_min_speedup", "1e9");
  DoubleLaunch b(in.data(), N, 1, out.data(), N, 1, N);
  EXPECT_EQ(b.run(), EP_DEOPT);
  EXPECT_NE(b.reason().find("not worth it"), std::string::npos) << b.reason();
  EXPECT_EQ(c().launches, 0);
  EXPECT_EQ(c().h2d_bytes, 0);
  EXPECT_EQ(gpu::stats("ep_test_double").fallbacks, 2);
  EXPECT_EQ(gpu::totals().fallbacks, 2);
}

TEST_F(Gpu, OutOfMemoryEmptiesThePoolAndRetries) {
  auto x = ramp(N), y = ramp(N);
  std::vector<double> out(N), out2(N);
  DoubleLaunch a(x.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);  // x and out resident, the scratch block cached in the pool
  int64_t live = c().live_bytes;
  int64_t block = (int64_t)gpu::MemoryPool::sizeClass(N * 8);
  fake().memLimit((uint64_t)(live + block));  // room for one more span, not two
  int64_t frees = c().frees;
  DoubleLaunch b(y.data(), N, 1, out2.data(), N, 1, N);
  ASSERT_EQ(b.run(), EP_OK) << b.reason();
  EXPECT_GT(c().frees, frees);  // the cache and the other launch's spans went back to the driver
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out2[i], 2 * y[i]);
  EXPECT_EQ(residentSpans(), 2u);

  fake().fail("alloc_oom");
  std::vector<double> z = ramp(N), out3(N, 5.0);
  int64_t calls = c().alloc_calls;
  DoubleLaunch d(z.data(), N, 1, out3.data(), N, 1, N);
  EXPECT_EQ(d.run(), EP_DEOPT);
  EXPECT_EQ(d.reason(), "line 42: GPU out of memory");
  EXPECT_EQ(c().alloc_calls - calls, 2);  // tried, emptied the cache, retried once
  EXPECT_EQ(residentSpans(), 0u);         // every resident span was given back to the driver,
  EXPECT_EQ(c().live_bytes, 4096);        // and every cached block but this launch's own scratch block
  EXPECT_EQ(out3, std::vector<double>(N, 5.0));
  fake().fail("");
  ASSERT_EQ(d.run(), EP_OK);  // not sticky
}

TEST_F(Gpu, LaunchErrorFallsBackWithTheDriversMessage) {
  auto in = ramp(N);
  std::vector<double> out(N, 3.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  fake().fail("launch");
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_EQ(a.reason(), "line 42: cuLaunchKernel failed: too many resources requested for launch");
  EXPECT_EQ(out, std::vector<double>(N, 3.0));
  EXPECT_EQ(residentSpans(), 1u);  // the written span is dropped, the read one kept
  EXPECT_TRUE(gpu::device().available);
  fake().fail("");
  ASSERT_EQ(a.run(), EP_OK);
}

TEST_F(Gpu, ModuleErrorIsRememberedAndMissingKernelNamed) {
  static const char kOtherPtx[] = ".version 7.8\n.visible .entry other_kernel(.param .u64 a)\n{ ret; }\n";
  auto in = ramp(N);
  std::vector<double> out(N);
  fake().fail("module");
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N, 0, 64, kOtherPtx, "other_kernel");
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_EQ(a.reason(),
            "line 42: cuModuleLoadDataEx failed: a PTX JIT compilation failed (the PTX JIT says: ptxas fatal   : fake "
            "PTX failure)");
  fake().fail("");
  EXPECT_EQ(a.run(), EP_DEOPT);  // the same text: not loaded again
  EXPECT_EQ(c().module_loads, 0);
  DoubleLaunch b(in.data(), N, 1, out.data(), N, 1, N, 0, 64, kPtx, "no_such_kernel");
  EXPECT_EQ(b.run(), EP_DEOPT);
  EXPECT_EQ(b.reason(), "line 42: cuModuleGetFunction failed: named symbol not found (kernel 'no_such_kernel')");
}

TEST_F(Gpu, CtrlCWaitsForTheKernelThenRaises) {
  auto in = ramp(N);
  std::vector<double> out(N, 1.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  fake().busy(1000);
  g_signalAfter = 3;
  EXPECT_EQ(a.run(), EP_ERROR);
  EXPECT_EQ(a.ctx.exc_kind, EP_EXC_KEYBOARD_INTERRUPT);
  EXPECT_EQ(g_emu.runs, 1);                        // the kernel finished before the call returned
  EXPECT_EQ(out, std::vector<double>(N, 1.0));     // its results were discarded
  EXPECT_EQ(residentSpans(), 1u);                  // and the written span's device copy dropped
  EXPECT_GE(c().queries, 3);
  g_signalAfter = -1;
  fake().busy(0);
  DoubleLaunch b(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(b.run(), EP_OK);
  EXPECT_EQ(gpu::stats("ep_test_double").resident_hits, 1);
}

TEST_F(Gpu, LargeTransfersGoThroughPinnedStaging) {
  const int64_t big = 3 * (int64_t(8) << 20) / 8 + 1234;  // a little over three 8 MiB chunks per array
  auto in = ramp((size_t)big);
  std::vector<double> out((size_t)big, 0.0);
  DoubleLaunch a(in.data(), big, 1, out.data(), big, 1, big);
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  EXPECT_GE(c().pinned_copies, 12);  // 4 chunks x (in up, out up, out down)
  EXPECT_GE(c().host_allocs, 2);
  for (int64_t i = 0; i < big; ++i) ASSERT_EQ(out[i], 2 * in[i]) << i;
  in[big - 1] = -1;  // the last chunk changed: the whole span is uploaded again, correctly
  ASSERT_EQ(a.run(), EP_OK);
  EXPECT_EQ(out[big - 1], -2.0);
  EXPECT_EQ(out[0], 1.0);
}

TEST_F(Gpu, EmptyArrayGetsADevicePointerAndNoCopy) {
  auto in = ramp(N);
  std::vector<double> out(1);
  DoubleLaunch a(in.data(), N, 1, out.data(), 0, 1, N);
  g_emu.pointersOnDevice = true;
  fake().hook(nullptr, nullptr);  // the kernel would raise IndexError on out: nothing to play
  ASSERT_EQ(a.run(), EP_OK);
  auto* dv = reinterpret_cast<DoubleLaunch::Vals*>(c().last_params[0]);
  EXPECT_NE(fake().allocBase((uint64_t)(uintptr_t)dv->out.data, 1), 0u);
  EXPECT_EQ(gpu::stats("ep_test_double").bytes_up, N * 8);
  EXPECT_EQ(gpu::stats("ep_test_double").bytes_down, 0);
}

TEST_F(Gpu, MalformedLaunchBlockFallsBack) {
  auto in = ramp(N);
  std::vector<double> out(N);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  a.arrays[1].offset = sizeof(DoubleLaunch::Vals);  // past the end of vals
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_NE(a.reason().find("malformed launch block"), std::string::npos);
  EXPECT_EQ(c().launches, 0);
}

TEST_F(Gpu, StatsPerKernelAndTotals) {
  auto in = ramp(N);
  std::vector<double> out(N);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  DoubleLaunch b(in.data(), N, 1, out.data(), N, 1, 10);  // too small, under its own kernel name
  b.L.kernel = "other_loop";
  b.L.line = 7;
  EXPECT_EQ(b.run(), EP_DEOPT);
  EXPECT_EQ(gpu::stats("ep_test_double").launches, 1);
  EXPECT_EQ(gpu::stats("ep_test_double").fallbacks, 0);
  EXPECT_EQ(gpu::stats("other_loop").fallbacks, 1);
  EXPECT_EQ(gpu::stats("other_loop").last_line, 7);
  EXPECT_EQ(gpu::stats("never_seen").calls, 0);
  gpu::KernelStats t = gpu::totals();
  EXPECT_EQ(t.calls, 2);
  EXPECT_EQ(t.launches, 1);
  EXPECT_EQ(t.fallbacks, 1);
  EXPECT_EQ(t.last_reason.rfind("line 7: too small", 0), 0u) << t.last_reason;
  EXPECT_GT(t.transfer_ms, 0.0);
  EXPECT_EQ(gpu::allStats().size(), 2u);
}

TEST_F(Gpu, ForkChildFallsBackWithTheReason) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 0;
    if (gpu::device().available) rc |= 1;
    if (gpu::device().reason.find("fork()") == std::string::npos) rc |= 2;
    std::vector<double> in(N, 1.0), out(N, 0.0);
    DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
    if (a.run() != EP_DEOPT) rc |= 4;
    if (a.reason().find("fork()") == std::string::npos) rc |= 8;
    _exit(rc);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(gpu::device().available);  // the parent goes on using it
}

TEST(MemoryPoolSizes, ClassesWasteAtMostAQuarter) {
  EXPECT_EQ(gpu::MemoryPool::sizeClass(1), 4096u);
  EXPECT_EQ(gpu::MemoryPool::sizeClass(4097), 5120u);
  EXPECT_EQ(gpu::MemoryPool::sizeClass(1 << 20), size_t(1) << 20);
  for (size_t n : {size_t(5000), size_t(123457), size_t(1) << 30, (size_t(1) << 30) + 1})
    EXPECT_LE(gpu::MemoryPool::sizeClass(n), n + n / 4) << n;
}

}  // namespace
