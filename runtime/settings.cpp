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
      {"dump", "EPOCHPP_DUMP", "", "comma list of stages to write at compile time: ir,llvm,asm"},
      {"dump_dir", "EPOCHPP_DUMP_DIR", "epochpp_dump", "directory for EPOCHPP_DUMP files"},
      {"opt_level", "EPOCHPP_OPT_LEVEL", "3", "LLVM optimisation level (0-3)"},
      {"num_threads", "EPOCHPP_NUM_THREADS", "0", "worker threads for Level 3 (0: all cores)"},
      {"parallel_min_work", "EPOCHPP_PARALLEL_MIN_WORK", "200000",
       "Level 3: estimated operations (iterations x cost) below which a parallel loop runs serially; 0: always parallel (testing)"},
      {"deterministic", "EPOCHPP_DETERMINISTIC", "0", "1: bitwise-reproducible parallel float reductions"},
      {"cache_dir", "EPOCHPP_CACHE_DIR", "", "directory of the on-disk object cache (empty: ~/.cache/epochpp)"},
      {"gpu_min_elements", "EPOCHPP_GPU_MIN_ELEMENTS", "100000", "smallest array work offloaded to a GPU at Level 4"},
      {"max_signatures", "EPOCHPP_MAX_SIGNATURES", "64", "specialisations kept per function before falling back"},
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
