// runtime/settings.cpp — the settings table and its lookups.
#include "runtime/settings.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace epochpp::settings {

const std::vector<Setting>& all() {
  static const std::vector<Setting> table = {
      {"level", "EPOCHPP_LEVEL", "3", "acceleration level 0-4 used by enable() and `epochpp run`"},
      {"jit_level", "EPOCHPP_JIT_LEVEL", "2", "level of @epochpp.jit without level= (enable(level) sets it)"},
      {"disable", "EPOCHPP_DISABLE", "0", "1: epochpp.jit returns functions that always run in the interpreter"},
      {"dump", "EPOCHPP_DUMP", "", "comma list of stages to write at compile time: ir,llvm,asm,ptx"},
      {"dump_dir", "EPOCHPP_DUMP_DIR", "epochpp_dump", "directory for EPOCHPP_DUMP files"},
      {"opt_level", "EPOCHPP_OPT_LEVEL", "3", "LLVM optimisation level (0-3)"},
      {"perf_map", "EPOCHPP_PERF_MAP", "0", "1: name compiled functions for Linux perf in /tmp/perf-<pid>.map (read once)"},
      {"num_threads", "EPOCHPP_NUM_THREADS", "0", "worker threads for Level 3 (0: all cores)"},
      {"worker_linger_us", "EPOCHPP_WORKER_LINGER_US", "5000",
       "Level 3: the most microseconds workers spin after a parallel loop, waiting for the next (0: never)"},
      {"parallel_min_work", "EPOCHPP_PARALLEL_MIN_WORK", "200000",
       "Level 3: estimated operations (iterations x cost) below which a parallel loop runs serially; 0: always parallel (testing)"},
      {"simd_lanes", "EPOCHPP_SIMD_LANES", "auto",
       "SIMD lanes: iterations run side by side in loops around inner loops (2, 4, 8 or 16; 0: off; auto: 16 with AVX-512, else 4)"},
      {"deterministic", "EPOCHPP_DETERMINISTIC", "0", "1: bitwise-reproducible parallel float reductions"},
      {"cache_dir", "EPOCHPP_CACHE_DIR", "", "directory of the on-disk object cache (empty: ~/.cache/epochpp)"},
      {"gpu_min_elements", "EPOCHPP_GPU_MIN_ELEMENTS", "100000", "Level 4: loops with fewer iterations run on the CPU"},
      {"gpu_min_speedup", "EPOCHPP_GPU_MIN_SPEEDUP", "1.5",
       "Level 4: the GPU is used when the cost model expects it this many times faster than the CPU (0: always)"},
      {"gpu_transfer_gbs", "EPOCHPP_GPU_TRANSFER_GBS", "20", "Level 4 cost model: host<->device bandwidth in GB/s"},
      {"gpu_residency", "EPOCHPP_GPU_RESIDENCY", "1", "Level 4: keep unchanged arrays on the GPU between calls (0: off)"},
      {"gpu_resident_bytes", "EPOCHPP_GPU_RESIDENT_BYTES", "auto",
       "Level 4: device memory arrays may stay resident in (bytes, K/M/G suffix; auto: half the GPU's memory)"},
      {"cuda_library", "EPOCHPP_CUDA_LIBRARY", "libcuda.so.1", "the CUDA driver library loaded for Level 4 (read once)"},
      {"gpu_arch", "EPOCHPP_GPU_ARCH", "", "PTX target of Level 4 kernels, e.g. sm_90 (empty: the device's, or sm_90 without one)"},
      {"max_signatures", "EPOCHPP_MAX_SIGNATURES", "64", "specialisations kept per function before falling back"},
      {"parallel_backend", "EPOCHPP_PARALLEL_BACKEND", "local",
       "parallel_map's backend when none is given: local (this machine) or dask (a Dask cluster)"},
      {"dask_address", "EPOCHPP_DASK_ADDRESS", "",
       "the Dask scheduler parallel_map(backend='dask') connects to when given no client (tcp://host:8786)"},
      {"progress", "EPOCHPP_PROGRESS", "", "1: parallel_map on Dask always shows progress on stderr; 0: never; empty: on a terminal"},
      {"cache_max_mb", "EPOCHPP_CACHE_MAX_MB", "256",
       "size of the on-disk object cache in MiB: beyond it the least recently used objects are removed"},
  };
  return table;
}

static std::mutex mu;
static std::map<std::string, std::string>& overrides() {
  static std::map<std::string, std::string> m;
  return m;
}

static const Setting& find(const std::string& name) {
  for (auto& s : all())
    if (name == s.name) return s;
  throw std::out_of_range("unknown epochpp setting '" + name + "'");
}

std::string get(const std::string& name) {
  const Setting& s = find(name);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = overrides().find(name);
    if (it != overrides().end()) return it->second;
  }
  const char* v = std::getenv(s.env);
  return v ? std::string(v) : std::string(s.dflt);
}

long getInt(const std::string& name) {
  std::string v = get(name);
  try {
    return v.empty() ? 0 : std::stol(v);
  } catch (...) {
    return std::stol(find(name).dflt[0] ? find(name).dflt : "0");
  }
}

void set(const std::string& name, const std::string& value) {
  find(name);
  std::lock_guard<std::mutex> lock(mu);
  overrides()[name] = value;
}

bool dumpWants(const std::string& stage) {
  std::stringstream ss(get("dump"));
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == stage || item == "all") return true;
  return false;
}

}  // namespace epochpp::settings
