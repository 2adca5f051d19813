// jit/codegen/codegen.h — lowers typed IR functions to one LLVM module (the one lowering; CPU target here).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jit/ir/nodes.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace epochpp::codegen {

// A set of specialised functions compiled together. functions[0] is the entry; a CallFunc in
// functions[i] with callee index c calls functions[callee_map[i][c]].
struct LoweringInput {
  std::vector<const ir::Function*> functions;
  std::vector<std::vector<int>> callee_map;
  // per function: (callee, argument signature) -> the specialisation a call with those argument
  // types runs (one callee may be called with several signatures from one function)
  std::vector<std::map<std::pair<int, std::string>, int>> call_targets;
  std::string entry_name;  // symbol of the C-ABI wrapper: int32 (EpCtx*, uint64_t* ret, const uint64_t* args)
  int64_t parallel_min_work = 200000;  // Level 3: estimated operations below which a parallel loop runs serially
  // Level 4: parallel loops that have a GPU kernel (their entry name in `ptx`); the host code
  // tries ep_rt_gpu_for before the CPU parallel run
  std::map<const ir::Stmt*, std::string> gpu_kernels;
  std::string ptx;
  std::string data_layout;  // the host's (engine::Engine::dataLayout()); offsets in vals blocks depend on it
  // np.where(c, int_array, python_int): the installed NumPy casts an out-of-range Python int C-style
  // (NumPy 2.4 does, with no warning) rather than raising OverflowError as arithmetic does (NEP 50)
  bool np_where_wraps_py_int = true;
  // loops marked Stmt::lanes run this many iterations at a time (lower_lanes.cpp); < 2: never
  int simd_lanes = 4;
};

// Level 4: one parallel loop lowered for NVPTX (lowerKernels), then checked (engine::emitPTX).
struct KernelInfo {
  int function = 0;             // index in LoweringInput::functions
  const ir::Stmt* loop = nullptr;
  std::string name;             // the kernel's entry symbol
  int line = 0;
  std::string problem;          // why it cannot run on a GPU (empty: it can)
};

// Blocks a kernel launch may use at most: reduction partials are kGpuMaxBlocks slots each.
constexpr int kGpuMaxBlocks = 2048;

// The NVPTX module of every parallel loop of `in` (one kernel each; functions they call
// are lowered too). `prefix` makes kernel names unique in the process.
std::unique_ptr<llvm::Module> lowerKernels(llvm::LLVMContext& ctx, const LoweringInput& in, const std::string& prefix,
                                           std::vector<KernelInfo>& kernels);

std::unique_ptr<llvm::Module> lowerToLLVM(llvm::LLVMContext& ctx, const LoweringInput& in);

// Flattened 8-byte slots a value of type t occupies at the C ABI (arguments and results).
int slotCount(const ir::Type& t);

}  // namespace epochpp::codegen
