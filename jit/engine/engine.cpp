// jit/engine/engine.cpp — LLJIT with the host's CPU and features, the new-PM O3 pipeline, and asm dumps.
#include "jit/engine/engine.h"
#include "jit/engine/nan_guard.h"
#include "jit/engine/perf_map.h"

#include <llvm/Analysis/TargetTransformInfo.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/Scalar/DCE.h>
#include <llvm/Transforms/Scalar/InstSimplifyPass.h>
#include <llvm/Transforms/Scalar/LowerConstantIntrinsics.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>

namespace epochpp::engine {

using namespace llvm;
using namespace llvm::orc;

struct Engine::Impl {
  std::unique_ptr<LLJIT> jit;
  std::unique_ptr<TargetMachine> tm;
  std::mutex mu;
  std::vector<std::pair<std::string, void*>> pending;
  // entry -> (the tracker owning its code, references): freed by release()
  std::map<std::string, std::pair<ResourceTrackerSP, int>> linked;

  // The address of `entry` just added under `rt`, now held once more; a failed lookup unlinks it.
  void* holdLinked(const ResourceTrackerSP& rt, const std::string& entry) {
    auto sym = jit->lookup(entry);
    if (!sym) {
      consumeError(rt->remove());
      throw std::runtime_error(toString(sym.takeError()));
    }
    auto& held = linked[entry];
    held.first = rt;
    held.second++;
    return sym->toPtr<void*>();
  }
};

static void check(Error e) {
  if (e) throw std::runtime_error(toString(std::move(e)));
}

Engine& Engine::instance() {
  static Engine e;
  return e;
}

Engine::Engine() : impl_(new Impl) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  auto jtmb = JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw std::runtime_error(toString(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(CodeGenOptLevel::Aggressive);
  // What LLJIT sets on its own copy of the builder for JITLink on x86-64 (small code model, PIC).
  // Our TargetMachine emits the disk cache's objects and the asm dumps: without these it would use
  // the JIT default, the large code model (.ltext, movabs for every address), which made cached
  // code slower than the same IR compiled in memory (fib(32) 5.1 vs 4.5 ms) and the asm dump
  // differ from the code that runs.
  jtmb->setRelocationModel(Reloc::PIC_);
  jtmb->setCodeModel(CodeModel::Small);
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw std::runtime_error(toString(tm.takeError()));
  impl_->tm = std::move(*tm);
  auto jit = LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit) throw std::runtime_error(toString(jit.takeError()));
  impl_->jit = std::move(*jit);
  enablePerfMap(*impl_->jit);  // EPOCHPP_PERF_MAP=1: perf names compiled functions
  // libm and the rest of the process (exp, sin, ...) resolve from the running process.
  auto gen = DynamicLibrarySearchGenerator::GetForCurrentProcess(impl_->jit->getDataLayout().getGlobalPrefix());
  if (!gen) throw std::runtime_error(toString(gen.takeError()));
  impl_->jit->getMainJITDylib().addGenerator(std::move(*gen));
}

std::string Engine::dataLayout() const { return impl_->jit->getDataLayout().getStringRepresentation(); }

void Engine::defineSymbol(const std::string& name, void* addr) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& jd = impl_->jit->getMainJITDylib();
  SymbolMap m;
  m[impl_->jit->mangleAndIntern(name)] = {ExecutorAddr::fromPtr(addr), JITSymbolFlags::Exported | JITSymbolFlags::Callable};
  check(jd.define(absoluteSymbols(std::move(m))));
}

static std::string printModule(Module& m) {
  std::string s;
  raw_string_ostream os(s);
  m.print(os, nullptr);
  return os.str();
}

// The host's data layout, triple, CPU and features on every function (so loops vectorise).
void Engine::prepareForHost(Module& m) {
  TargetMachine& tm = *impl_->tm;
  m.setDataLayout(impl_->jit->getDataLayout());
  m.setTargetTriple(impl_->jit->getTargetTriple().str());
  for (auto& f : m) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", tm.getTargetCPU());
    f.addFnAttr("target-features", tm.getTargetFeatureString());
  }
}

static void optimise(Module& m, TargetMachine& tm, int opt_level) {
  int guards = guardFoldedNaNs(m);  // folded NaNs get the CPU's sign (nan_guard.h)
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  PassBuilder pb(&tm, pto);
  // What is left of the NaN guards once llvm.is.constant became false (LowerConstantIntrinsics,
  // just before this extension point) is dead code; the loop vectoriser must not see it.
  if (guards)
    pb.registerVectorizerStartEPCallback([](FunctionPassManager& fpm, OptimizationLevel) { fpm.addPass(DCEPass()); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  static const OptimizationLevel levels[] = {OptimizationLevel::O0, OptimizationLevel::O1, OptimizationLevel::O2,
                                             OptimizationLevel::O3};
  int lvl = opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level;
  ModulePassManager mpm = lvl == 0 ? pb.buildO0DefaultPipeline(OptimizationLevel::O0)
                                   : pb.buildPerModuleDefaultPipeline(levels[lvl]);
  if (lvl == 0 && guards) {
    // At O0 the code generator folds an operation on constants itself, after the guards are
    // gone; fold them here first, where the guards see it, then resolve and drop the guards.
    FunctionPassManager fpm;
    fpm.addPass(InstSimplifyPass());
    fpm.addPass(LowerConstantIntrinsicsPass());
    fpm.addPass(DCEPass());
    mpm.addPass(createModuleToFunctionPassAdaptor(std::move(fpm)));
  }
  mpm.run(m, mam);
}

void* Engine::compile(std::unique_ptr<Module> m, std::unique_ptr<LLVMContext> ctx, const std::string& entry,
                      bool want_text, StageText* text, Timings* t, int opt_level) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto t0 = std::chrono::steady_clock::now();
  TargetMachine& tm = *impl_->tm;
  prepareForHost(*m);
  if (want_text && text) text->llvm_unoptimised = printModule(*m);
  optimise(*m, tm, opt_level);
  auto t1 = std::chrono::steady_clock::now();
  if (want_text && text) {
    text->llvm = printModule(*m);
    SmallVector<char, 0> buf;
    raw_svector_ostream os(buf);
    legacy::PassManager pm;
    auto clone = CloneModule(*m);  // codegen passes rewrite IR: print asm from a copy
    if (!tm.addPassesToEmitFile(pm, os, nullptr, CodeGenFileType::AssemblyFile)) {
      pm.run(*clone);
      text->asm_ = std::string(buf.begin(), buf.end());
    }
  }
  auto& jd = impl_->jit->getMainJITDylib();
  auto rt = jd.createResourceTracker();
  check(impl_->jit->addIRModule(rt, ThreadSafeModule(std::move(m), std::move(ctx))));
  void* addr = impl_->holdLinked(rt, entry);
  auto t2 = std::chrono::steady_clock::now();
  if (t) {
    t->optimise_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    t->codegen_link_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
  return addr;
}

void* Engine::compileCached(std::unique_ptr<Module> m, std::unique_ptr<LLVMContext> ctx, const std::string& entry,
                            const std::string& cache_file, Timings* t, int opt_level, bool* hit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto t0 = std::chrono::steady_clock::now();
  *hit = false;
  auto known = impl_->linked.find(entry);
  if (known != impl_->linked.end()) {  // the same code is already linked in this process
    if (auto sym = impl_->jit->lookup(entry)) {
      *hit = true;
      known->second.second++;
      return sym->toPtr<void*>();
    } else {
      consumeError(sym.takeError());
    }
  }
  auto& jd = impl_->jit->getMainJITDylib();
  auto linkObject = [&](std::unique_ptr<MemoryBuffer> buf) -> void* {
    auto rt = jd.createResourceTracker();
    check(impl_->jit->addObjectFile(rt, std::move(buf)));
    return impl_->holdLinked(rt, entry);
  };
  if (auto buf = MemoryBuffer::getFile(cache_file, /*IsText=*/false, /*RequiresNullTerminator=*/false)) {
    *hit = true;
    void* p = linkObject(std::move(*buf));
    if (t) t->codegen_link_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return p;
  }
  TargetMachine& tm = *impl_->tm;
  prepareForHost(*m);
  optimise(*m, tm, opt_level);
  auto t1 = std::chrono::steady_clock::now();
  SmallVector<char, 0> obj;
  {
    raw_svector_ostream os(obj);
    legacy::PassManager pm;
    if (tm.addPassesToEmitFile(pm, os, nullptr, CodeGenFileType::ObjectFile))
      throw std::runtime_error("the target cannot emit object files");
    pm.run(*m);
  }
  // write the cache entry atomically: a temporary file renamed into place
  std::string tmp = cache_file + ".tmp." + std::to_string(::getpid());
  {
    std::error_code ec;
    raw_fd_ostream out(tmp, ec, sys::fs::OF_None);
    if (!ec) {
      out.write(obj.data(), obj.size());
      out.close();
      if (!out.has_error()) sys::fs::rename(tmp, cache_file);
      else sys::fs::remove(tmp);
    }
  }
  (void)ctx;
  void* p = linkObject(MemoryBuffer::getMemBufferCopy(StringRef(obj.data(), obj.size()), entry));
  auto t2 = std::chrono::steady_clock::now();
  if (t) {
    t->optimise_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    t->codegen_link_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
  return p;
}

void Engine::release(const std::string& entry) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->linked.find(entry);
  if (it == impl_->linked.end() || --it->second.second > 0) return;
  ResourceTrackerSP rt = std::move(it->second.first);
  impl_->linked.erase(it);
  consumeError(rt->remove());  // frees the code and data of that module
}

size_t Engine::linkedCount() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->linked.size();
}

std::string Engine::hostCPU() const { return sys::getHostCPUName().str(); }

std::vector<std::string> Engine::hostFeatures() const {
  std::vector<std::string> out;
  for (auto& f : sys::getHostCPUFeatures())
    if (f.second) out.push_back(f.first().str());
  std::sort(out.begin(), out.end());
  return out;
}

std::string Engine::triple() const { return impl_->jit->getTargetTriple().str(); }

}  // namespace epochpp::engine
