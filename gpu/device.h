// gpu/device.h — device 0 as epochpp sees it (the codegen reads device() to pick the PTX target sm_<cc>),
// and the runtime's handles on it: the primary context, pushed on whichever thread launches, and one stream.
#pragma once
#include <cstdint>
#include <string>

#include "gpu/cuda_driver.h"

namespace epochpp::gpu {

struct DeviceInfo {
  bool available = false;
  std::string reason;  // why not available ("no CUDA driver (libcuda.so.1 not found)", ...); empty when it is
  std::string name;
  int cc_major = 0, cc_minor = 0, sm_count = 0, max_threads_per_sm = 0, max_threads_per_block = 0;
  int64_t total_mem = 0;
  double mem_bandwidth_gbs = 0;  // 2 x memory clock x bus width (0 when the driver does not report them)
  int shared_per_block = 0;      // bytes of shared memory a block may use without opting in
};

// Probes device 0 once per process (thread-safe). Later, when the GPU is marked unusable (a sticky error,
// a fork() child), it returns a copy with available = false and that reason. The reference stays valid.
const DeviceInfo& device();

// The runtime's handles, valid while device().available. Streams and events belong to the primary context.
struct Handles {
  const Driver* d = nullptr;
  cu::CUcontext ctx = nullptr;
  cu::CUstream stream = nullptr;
};
const Handles* handles();

// RAII: the primary context is current on this thread for the scope (pushed, then popped: a context another
// library made current on this thread is current again afterwards).
class ContextScope {
 public:
  explicit ContextScope(const Handles& h);
  ~ContextScope();
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }

 private:
  const Handles& h_;
  bool ok_ = false;
  std::string why_;
};

}  // namespace epochpp::gpu
