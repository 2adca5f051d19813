// tests/cpp/test_gpu_runtime_errors.cpp — ep_rt_gpu_for where the driver is missing, fails to start, has no
// device, or hits a sticky error (each its own process, see CMakeLists.txt), and on a real GPU when there is one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "gpu/device.h"
#include "gpu/stats.h"
#include "gpu_test_util.h"
#include "runtime/settings.h"

using namespace gputest;
namespace gpu = epochpp::gpu;
namespace settings = epochpp::settings;

namespace {

constexpr int64_t N = 20000;

void expectFallback(const std::string& reason) {
  settings::set("gpu_min_speedup", "0");
  std::vector<double> in(N, 1.0), out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  EXPECT_EQ(a.run(), EP_DEOPT);
  EXPECT_EQ(a.reason(), "line 42: " + reason);
  EXPECT_EQ(out, std::vector<double>(N, 0.0));
  EXPECT_EQ(gpu::totals().fallbacks, 1);
  EXPECT_EQ(gpu::totals().launches, 0);
}

TEST(NoDriver, FallsBackWithTheReason) {
  const gpu::DeviceInfo& d = gpu::device();
  EXPECT_FALSE(d.available);
  EXPECT_EQ(d.reason, "no CUDA driver (libepochpp-no-such-driver.so.1 not found)");
  expectFallback(d.reason);
}

TEST(InitFails, FallsBackWithTheReason) {
  EXPECT_FALSE(gpu::device().available);
  EXPECT_EQ(gpu::device().reason,
            "cuInit failed: system has unsupported display driver / cuda driver combination");
  expectFallback(gpu::device().reason);
}

TEST(NoDevice, FallsBackWithTheReason) {
  EXPECT_FALSE(gpu::device().available);
  EXPECT_EQ(gpu::device().reason, "no CUDA device");
  expectFallback("no CUDA device");
}

TEST(Sticky, AStickyErrorEndsGpuUseForTheProcess) {
  settings::set("gpu_min_elements", "1000");
  settings::set("gpu_min_speedup", "0");
  ASSERT_TRUE(gpu::device().available) << gpu::device().reason;
  fake().hook(emulateDouble, nullptr);
  std::vector<double> in(N, 1.0), out(N, 0.0);
  DoubleLaunch a(in.data(), N, 1, out.data(), N, 1, N);
  ASSERT_EQ(a.run(), EP_OK);
  fake().fail("sticky");
  EXPECT_EQ(a.run(), EP_DEOPT);
  const std::string why = "cuStreamQuery failed: an illegal memory access was encountered";
  EXPECT_EQ(a.reason(), "line 42: " + why);
  EXPECT_FALSE(gpu::device().available);
  EXPECT_EQ(gpu::device().reason, "the GPU is unusable for the rest of this process: " + why);
  EXPECT_EQ(gpu::device().name, "epochpp fake CUDA device");  // the figures stay for gpu_info()
  int64_t launches = fake().counters()->launches;
  fake().fail("");
  EXPECT_EQ(a.run(), EP_DEOPT);  // at once: no driver call
  EXPECT_EQ(a.reason(), "line 42: " + gpu::device().reason);
  EXPECT_EQ(fake().counters()->launches, launches);
}

// A real device: out[i] = 2 * in[i] through hand-written PTX (runtime/abi.h's kernel signature). Skipped
// without a GPU; EPOCHPP_CUDA_LIBRARY must not point at the fake.
const char kRealPtx[] =
    ".version 7.8\n"
    ".target sm_80\n"
    ".address_size 64\n"
    "\n"
    "// out[i] = 2 * in[i] (float64) for i = start + k * step, k in [0, n); the status word is left alone.\n"
    "// vals: EpArray in at byte 0 (data +0, strides[0] +32), EpArray out at byte 64 (data +64, strides[0] +96).\n"
    ".visible .entry ep_test_double(\n"
    "    .param .u64 p_vals, .param .u64 p_n, .param .u64 p_start, .param .u64 p_step,\n"
    "    .param .u64 p_partials, .param .u64 p_status)\n"
    "{\n"
    "    .reg .pred %p<2>;\n"
    "    .reg .b32 %r<5>;\n"
    "    .reg .b64 %rd<24>;\n"
    "    .reg .f64 %fd<3>;\n"
    "\n"
    "    ld.param.u64 %rd1, [p_vals];\n"
    "    ld.param.u64 %rd2, [p_n];\n"
    "    ld.param.u64 %rd3, [p_start];\n"
    "    ld.param.u64 %rd4, [p_step];\n"
    "    cvta.to.global.u64 %rd5, %rd1;\n"
    "    ld.global.u64 %rd6, [%rd5];\n"
    "    cvta.to.global.u64 %rd6, %rd6;\n"
    "    ld.global.u64 %rd7, [%rd5+32];\n"
    "    ld.global.u64 %rd8, [%rd5+64];\n"
    "    cvta.to.global.u64 %rd8, %rd8;\n"
    "    ld.global.u64 %rd9, [%rd5+96];\n"
    "    mov.u32 %r1, %ctaid.x;\n"
    "    mov.u32 %r2, %ntid.x;\n"
    "    mov.u32 %r3, %tid.x;\n"
    "    mov.u32 %r4, %nctaid.x;\n"
    "    mul.wide.u32 %rd10, %r1, %r2;\n"
    "    cvt.u64.u32 %rd11, %r3;\n"
    "    add.s64 %rd12, %rd10, %rd11;\n"
    "    mul.wide.u32 %rd13, %r4, %r2;\n"
    "$L_loop:\n"
    "    setp.ge.s64 %p1, %rd12, %rd2;\n"
    "    @%p1 bra $L_done;\n"
    "    mul.lo.s64 %rd14, %rd12, %rd4;\n"
    "    add.s64 %rd15, %rd3, %rd14;\n"
    "    mul.lo.s64 %rd16, %rd15, %rd7;\n"
    "    add.s64 %rd17, %rd6, %rd16;\n"
    "    ld.global.f64 %fd1, [%rd17];\n"
    "    add.f64 %fd2, %fd1, %fd1;\n"
    "    mul.lo.s64 %rd18, %rd15, %rd9;\n"
    "    add.s64 %rd19, %rd8, %rd18;\n"
    "    st.global.f64 [%rd19], %fd2;\n"
    "    add.s64 %rd12, %rd12, %rd13;\n"
    "    bra.uni $L_loop;\n"
    "$L_done:\n"
    "    ret;\n"
    "}\n";

TEST(RealGpu, DoubleKernelRunsAndStaysResident) {
  if (!gpu::device().available) GTEST_SKIP() << "no GPU: " << gpu::device().reason;
  ASSERT_EQ(std::getenv("EPOCHPP_CUDA_LIBRARY"), nullptr) << "this test needs the real driver";
  settings::set("gpu_min_elements", "1000");
  settings::set("gpu_min_speedup", "0");
  const int64_t n = int64_t(1) << 22;  // 32 MiB per array: the pinned staging path
  std::vector<double> in((size_t)n), out((size_t)n, 0.0);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  for (auto& x : in) x = u(rng);
  DoubleLaunch a(in.data(), n, 1, out.data(), n, 1, n, 0, 1024, kRealPtx, "ep_test_double");
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[(size_t)i], 2 * in[(size_t)i]) << i;
  EXPECT_GT(a.L.nblocks, 0);
  gpu::resetStats();
  std::fill(out.begin(), out.end(), 0.0);
  a.L.start = n - 1;  // odd elements only (n is even), backwards: i = n - 1 - 2k
  a.L.step = -2;
  a.L.n = n / 2;
  ASSERT_EQ(a.run(), EP_OK) << a.reason();
  gpu::KernelStats s = gpu::stats("ep_test_double");
  EXPECT_EQ(s.resident_hits, 1);  // in did not change
  EXPECT_EQ(s.bytes_up, n * 8);   // out did
  EXPECT_GT(s.kernel_ms, 0.0);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[(size_t)i], (i % 2 == 1) ? 2 * in[(size_t)i] : 0.0) << i;
}

}  // namespace
