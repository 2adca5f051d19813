// tests/cpp/gpu_test_util.h — shared by the GPU runtime tests: the fake driver's control API, the runtime
// functions compiled code would find in _core (defined in gpu_test_util.cpp), and a launch of a test kernel.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "fake_cuda.h"
#include "runtime/abi.h"

namespace gputest {

struct Fake {
  const FakeCudaCounters* (*counters)();
  void (*reset)();
  void (*fail)(const char*);
  void (*memLimit)(uint64_t);
  void (*busy)(int);
  void (*hook)(FakeLaunchHook, void*);
  uint64_t (*allocBase)(uint64_t, uint64_t);
};
// The fake driver the runtime loaded (EPOCHPP_CUDA_LIBRARY); aborts the test when it is not loaded.
Fake& fake();

// ep_rt_check_signals answers 1 ("Ctrl-C") from its n-th call on; -1: never.
extern std::atomic<int> g_signalAfter;

// How the fake plays the test kernel "ep_test_double": out[i] = 2 * in[i] for i = start + k * step, k < n.
struct Emu {
  int32_t status = 0;       // written to the status word
  int nred = 0, maxBlocks = 0;
  bool pointersOnDevice = true;  // every data pointer the kernel saw was inside a device allocation
  int64_t runs = 0;
};
extern Emu g_emu;
void emulateDouble(const char* kernel, const uint64_t* params, uint32_t grid, uint32_t block, uint32_t shmem, void*);

extern const char kPtx[];  // PTX text holding ".entry ep_test_double(" (the fake only looks for the entry)

// A launch of ep_test_double over two 1-D float64 views: in (read) and out (written).
struct DoubleLaunch {
  struct Vals {
    EpArray in;
    EpArray out;
    int64_t scalar;
  } vals;
  EpGpuArray arrays[2];
  std::vector<double> partials;
  EpGpuLaunch L;
  EpCtx ctx;
  DoubleLaunch(double* in, int64_t inLen, int64_t inStride, double* out, int64_t outLen, int64_t outStride, int64_t n,
               int nred = 0, int maxBlocks = 64, const char* ptx = kPtx, const char* kernel = "ep_test_double");
  int32_t run();
  std::string reason() const;  // the kernel's last fallback reason (gpu::stats)
};

}  // namespace gputest
