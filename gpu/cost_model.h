// gpu/cost_model.h — whether a loop is worth running on the GPU: estimated CPU time vs launch + transfers +
// device time (docs/gpu.md, "When the GPU is used", gives the formula and the settings that tune it).
#pragma once
#include <cstdint>
#include <string>

namespace epochpp::gpu {

struct CostInput {
  int64_t n = 0, work = 1;   // iterations and operations per iteration (EpGpuLaunch)
  int64_t bytes_up = 0;      // spans not resident on the device
  int64_t bytes_down = 0;    // spans the loop writes (copied back)
  int64_t bytes_hashed = 0;  // resident spans whose host bytes are hashed to check them
  int cores = 1;             // CPU threads the loop would otherwise run on
  int sm_count = 1;
};

struct CostEstimate {
  double cpu_s = 0, gpu_s = 0, transfer_s = 0;
  bool offload = false;
  std::string why;  // when !offload: the figures, for the fallback reason
};

// Constants of the model (per second); the settings gpu_min_speedup and gpu_transfer_gbs tune the rest.
constexpr double kCpuOpsPerCore = 1e9;
constexpr double kGpuOpsPerSm = 1e11;
constexpr double kLaunchSeconds = 10e-6;
constexpr double kHashBytesPerCore = 8e9;  // gpu/content_hash.cpp on one core; at most 4 cores' worth counted

CostEstimate estimate(const CostInput& in);

// A setting read as a number (the default when empty or not a number).
double settingNumber(const char* name, double dflt);

}  // namespace epochpp::gpu
