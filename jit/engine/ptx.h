// jit/engine/ptx.h — Level 4: NVPTX modules (codegen::lowerKernels) to PTX text, with libdevice.
#pragma once
#include <string>
#include <vector>

#include "jit/codegen/codegen.h"

namespace llvm {
class Module;
}

namespace epochpp::engine {

struct PtxResult {
  std::string ptx;   // empty when no kernel is left
  std::string llvm;  // the optimised NVPTX module (EPOCHPP_DUMP=ptx writes it beside the PTX)
  double ms = 0;     // libdevice link + optimisation + PTX emission
};

// Links the libdevice functions the kernels call, runs NVVMReflect and O3 for `arch` (sm_XX),
// marks the kernels that still call something with no GPU version (KernelInfo::problem) and
// removes them, then emits PTX.
PtxResult emitPTX(llvm::Module& m, const std::string& arch, std::vector<codegen::KernelInfo>& kernels);

// libdevice.10.bc from $CUDA_HOME, $CUDA_PATH or /usr/local/cuda ("" when none is found).
std::string libdevicePath();

}  // namespace epochpp::engine
