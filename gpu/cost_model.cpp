// gpu/cost_model.cpp — the offload estimate of gpu/cost_model.h.
#include "gpu/cost_model.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "runtime/settings.h"

namespace epochpp::gpu {

double settingNumber(const char* name, double dflt) {
  std::string v = settings::get(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  return (v.empty() || end == v.c_str() || *end != '\0') ? dflt : x;
}

CostEstimate estimate(const CostInput& in) {
  CostEstimate e;
  double ops = (double)in.n * (double)std::max<int64_t>(1, in.work);
  double gbs = settingNumber("gpu_transfer_gbs", 20.0);
  if (gbs <= 0) gbs = 20.0;
  double minSpeedup = settingNumber("gpu_min_speedup", 1.5);
  e.cpu_s = ops / (std::max(1, in.cores) * kCpuOpsPerCore);
  e.transfer_s = (double)(in.bytes_up + in.bytes_down) / (gbs * 1e9);
  double hash_s = (double)in.bytes_hashed / (std::min(std::max(1, in.cores), 4) * kHashBytesPerCore);
  e.gpu_s = kLaunchSeconds + e.transfer_s + hash_s + ops / (std::max(1, in.sm_count) * kGpuOpsPerSm);
  e.offload = e.cpu_s >= minSpeedup * e.gpu_s;
  if (!e.offload) {
    char buf[300];
    std::snprintf(buf, sizeof buf,
                  "not worth it: the CPU estimate is %.3g ms, the GPU's %.3g ms (%.3g ms of it moving %.3g MB); "
                  "the GPU is used when it is %.3gx faster (gpu_min_speedup)",
                  e.cpu_s * 1e3, e.gpu_s * 1e3, e.transfer_s * 1e3, (in.bytes_up + in.bytes_down) / 1e6, minSpeedup);
    e.why = buf;
  }
  return e;
}

}  // namespace epochpp::gpu
