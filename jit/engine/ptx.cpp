// jit/engine/ptx.cpp — Level 4: NVPTX module -> PTX (libdevice linked, NVVMReflect, O3, checks).
#include "jit/engine/ptx.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Linker/Linker.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/Transforms/IPO/GlobalDCE.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <unistd.h>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

namespace epochpp::engine {

using namespace llvm;

std::string libdevicePath() {
  std::vector<std::string> roots;
  for (const char* v : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* r = std::getenv(v); r && *r) roots.push_back(r);
  roots.push_back("/usr/local/cuda");
  for (auto& r : roots) {
    std::string p = r + "/nvvm/libdevice/libdevice.10.bc";
    if (::access(p.c_str(), R_OK) == 0) return p;
  }
  return "";
}

// What a runtime function that has no GPU version is, in the user's words.
static std::string describe(const std::string& name) {
  static const std::map<std::string, std::string> words = {
      {"ep_rt_alloc", "allocates an array"},
      {"ep_rt_scratch", "makes a temporary array"},
      {"ep_rt_reduce", "reduces a whole array (np.sum, np.min, ...)"},
      {"ep_rt_numpy_dot", "calls np.dot"},
      {"ep_rt_round_ndigits", "calls round(x, ndigits)"},
      {"ep_rt_math_hypot", "calls math.hypot"},
      {"ep_rt_parallel_for", "runs a parallel loop"},
  };
  auto it = words.find(name);
  if (it != words.end()) return it->second;
  if (name.rfind("__nv_", 0) == 0) return "calls " + name.substr(5) + ", which libdevice lacks or was not found (set CUDA_HOME)";
  return "calls " + name + ", which has no GPU version";
}

// Why kernel k cannot run on a GPU after optimisation ("" if it can): a call to a function
// without a body, or recursion (GPU threads have small stacks).
static std::string problemOf(Function& k) {
  std::set<Function*> seen, onPath;
  std::string why;
  std::function<void(Function&)> visit = [&](Function& f) {
    if (!why.empty()) return;
    seen.insert(&f);
    onPath.insert(&f);
    for (auto& bb : f)
      for (auto& in : bb)
        if (auto* call = dyn_cast<CallBase>(&in)) {
          if (call->isInlineAsm()) continue;
          Function* callee = call->getCalledFunction();
          if (!callee) {
            why = "makes an indirect call";
          } else if (callee->isIntrinsic()) {
            continue;
          } else if (callee->isDeclaration()) {
            why = describe(callee->getName().str());
          } else if (onPath.count(callee)) {
            why = "is recursive (a GPU thread's stack is small)";
          } else if (!seen.count(callee)) {
            visit(*callee);
          }
          if (!why.empty()) return;
        }
    onPath.erase(&f);
  };
  visit(k);
  return why;
}

static std::unique_ptr<TargetMachine> targetMachine(const std::string& arch) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  std::string err;
  const Target* t = TargetRegistry::lookupTarget("nvptx64-nvidia-cuda", err);
  if (!t) throw std::runtime_error("no NVPTX target in this LLVM: " + err);
  TargetOptions opts;  // no fast-math: IEEE results, as on the CPU
  return std::unique_ptr<TargetMachine>(
      t->createTargetMachine("nvptx64-nvidia-cuda", arch, "", opts, std::nullopt, std::nullopt, CodeGenOptLevel::Aggressive));
}

static std::unique_ptr<Module> loadLibdevice(LLVMContext& ctx, std::string& why) {
  std::string path = libdevicePath();
  if (path.empty()) {
    why = "libdevice.10.bc not found (set CUDA_HOME to the CUDA toolkit)";
    return nullptr;
  }
  auto buf = MemoryBuffer::getFile(path);
  if (!buf) {
    why = "cannot read " + path;
    return nullptr;
  }
  auto mod = parseBitcodeFile((*buf)->getMemBufferRef(), ctx);
  if (!mod) {
    why = "cannot parse " + path + ": " + toString(mod.takeError());
    return nullptr;
  }
  return std::move(*mod);
}

PtxResult emitPTX(Module& m, const std::string& arch, std::vector<codegen::KernelInfo>& kernels) {
  auto t0 = std::chrono::steady_clock::now();
  PtxResult out;
  auto tm = targetMachine(arch);
  m.setDataLayout(tm->createDataLayout());
  bool needsLibdevice = false;
  for (auto& f : m)
    if (f.isDeclaration() && f.getName().starts_with("__nv_")) needsLibdevice = true;
  if (needsLibdevice) {
    std::string why;
    if (auto lib = loadLibdevice(m.getContext(), why)) {
      lib->setTargetTriple(m.getTargetTriple());
      lib->setDataLayout(m.getDataLayout());
      if (Linker::linkModules(m, std::move(lib), Linker::Flags::LinkOnlyNeeded))
        throw std::runtime_error("linking libdevice failed");
    }
  }
  // NVVMReflect answers __nvvm_reflect("__CUDA_FTZ") from this flag: no flush-to-zero
  m.addModuleFlag(Module::Override, "nvvm-reflect-ftz", (uint32_t)0);
  std::set<std::string> kernelNames;
  for (auto& k : kernels)
    if (k.problem.empty()) kernelNames.insert(k.name);
  for (auto& f : m)
    if (!f.isDeclaration() && !kernelNames.count(f.getName().str())) f.setLinkage(GlobalValue::InternalLinkage);
  for (auto& g : m.globals())
    if (!g.isDeclaration() && g.getAddressSpace() != 3) g.setLinkage(GlobalValue::InternalLinkage);

  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder pb(tm.get());  // the NVPTX target adds NVVMReflect and its own passes
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(OptimizationLevel::O3).run(m, mam);

  bool dropped = false;
  int left = 0;
  for (auto& k : kernels) {
    if (!k.problem.empty()) continue;
    Function* f = m.getFunction(k.name);
    k.problem = f ? problemOf(*f) : "was optimised away";
    if (!k.problem.empty() && f) {
      f->eraseFromParent();
      dropped = true;
    }
    left += k.problem.empty();
  }
  if (NamedMDNode* ann = m.getNamedMetadata("nvvm.annotations")) {  // forget the dropped kernels
    std::vector<MDNode*> keep;
    for (MDNode* op : ann->operands())
      if (op->getNumOperands() && op->getOperand(0)) keep.push_back(op);
    ann->clearOperands();
    for (MDNode* op : keep) ann->addOperand(op);
  }
  if (dropped) {
    ModulePassManager dce;
    dce.addPass(GlobalDCEPass());
    dce.run(m, mam);
  }
  if (left == 0) return out;
  {
    raw_string_ostream os(out.llvm);
    m.print(os, nullptr);
  }
  SmallVector<char, 0> buf;
  raw_svector_ostream os(buf);
  legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr, CodeGenFileType::AssemblyFile))
    throw std::runtime_error("the NVPTX target cannot emit PTX");
  pm.run(m);
  out.ptx.assign(buf.begin(), buf.end());
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace epochpp::engine
