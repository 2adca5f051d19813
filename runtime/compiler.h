// runtime/compiler.h — drives one specialisation: frontend -> passes -> codegen -> engine, for a function and its callees.
#pragma once
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "jit/ir/types.h"

namespace epochpp::runtime {

namespace py = pybind11;

struct GuardRef {
  py::object globals;   // the dict the name lives in
  py::object name;      // str
  py::object expected;  // None-object (null handle) when the name must stay absent
};

struct Specialisation {
  Specialisation() = default;
  Specialisation(const Specialisation&) = delete;
  Specialisation& operator=(const Specialisation&) = delete;
  ~Specialisation();  // frees its native code (held through shared_ptr while any call runs it)
  std::string key;
  std::string entry;             // the entry symbol of `fn` in the JIT
  std::vector<ir::Type> params;
  ir::Type ret;
  void* fn = nullptr;            // int32 (EpCtx*, uint64_t* ret, const uint64_t* args)
  bool snapshot = false;         // copy written array arguments before the call (exact deopt)
  std::string fallback;          // non-empty: why this signature runs in the interpreter
  std::vector<GuardRef> guards;
  // (function, its __code__ when compiled) for the function and every callee: assigning
  // f.__code__ (IPython's autoreload does) makes the specialisation stale
  std::vector<std::pair<py::object, py::object>> code_guards;
  std::vector<std::pair<std::string, std::string>> units;  // (file, function) per compiled function
  std::string text_ir, text_llvm, text_asm;
  int level = 2;                 // the level it was compiled at (3: parallel loops)
  std::string cache_key;         // hash of the code's fingerprint, target and versions
  bool from_cache = false;       // linked from the disk cache (or this process) without compiling
  int parallel_loops = 0;        // loops Level 3 runs on all cores
  int gpu_kernels = 0;           // of those, loops with a GPU kernel (Level 4)
  std::string text_ptx, ptx_arch;  // Level 4: the kernels' PTX and its target (sm_XX)
  std::vector<std::string> kernel_names;  // Level 4: entry names (gpu::stats keys)
  double ms_ptx = 0;             // Level 4: NVPTX lowering + libdevice + optimisation + PTX
  bool ptx_from_cache = false;   // Level 4: the PTX (and which loops have kernels) came from the disk cache
  std::vector<std::string> notes;  // from the passes, for explain (e.g. a prange loop that runs serially)
  double ms_frontend = 0, ms_passes = 0, ms_codegen = 0, ms_optimise = 0, ms_link = 0;
};

// Compiles `pyfunc` for the argument types. Never throws for unsupported code: the result's
// `fallback` says why instead. `want_text` keeps the LLVM and assembly text.
std::unique_ptr<Specialisation> compileSpecialisation(py::handle pyfunc, const std::vector<ir::Type>& params,
                                                      bool want_text, int level = 2);

std::string signatureText(const std::vector<ir::Type>& params);
std::string cacheDirectory();  // "" when the disk cache is off

}  // namespace epochpp::runtime
