// runtime/build_info.cpp — what `epochpp doctor` reports from the native side.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <llvm/Config/llvm-config.h>
#include <oneapi/tbb/version.h>

#include "jit/engine/engine.h"
#include "parallel/parallel.h"

namespace py = pybind11;

namespace epochpp::runtime {

void registerRuntimeSymbols();

py::dict buildInfo() {
  registerRuntimeSymbols();
  auto& e = engine::Engine::instance();
  py::dict d;
  d["llvm_version"] = LLVM_VERSION_STRING;
  d["tbb_version"] = std::to_string(TBB_VERSION_MAJOR) + "." + std::to_string(TBB_VERSION_MINOR);
  d["host_cpu"] = e.hostCPU();
  d["cpu_features"] = e.hostFeatures();
  d["target_triple"] = e.triple();
  d["threads"] = parallel::maxThreads();
  return d;
}

}  // namespace epochpp::runtime
