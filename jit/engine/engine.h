// jit/engine/engine.h — the ORC LLJIT wrapper: optimise a module at O3 for the host CPU, link, look up.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llvm {
class Module;
class LLVMContext;
}  // namespace llvm

namespace epochpp::engine {

struct StageText {
  std::string llvm_unoptimised, llvm, asm_;
};

struct Timings {
  double optimise_ms = 0, codegen_link_ms = 0;
};

class Engine {
 public:
  static Engine& instance();
  // Optimises and adds the module; returns the address of `entry`. Fills `text` when asked.
  void* compile(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx, const std::string& entry,
                bool want_text, StageText* text, Timings* t, int opt_level = 3);
  // With a cache file path: if it exists, its object is linked instead of compiling the
  // module (`*hit` is set); else the module is compiled to an object, written there (atomically:
  // concurrent processes are safe) and linked. An entry already linked in this process is reused.
  void* compileCached(std::unique_ptr<llvm::Module> m, std::unique_ptr<llvm::LLVMContext> ctx,
                      const std::string& entry, const std::string& cache_file, Timings* t, int opt_level, bool* hit);
  std::string hostCPU() const;
  std::vector<std::string> hostFeatures() const;
  std::string triple() const;
  std::string dataLayout() const;
  // Registers a runtime symbol (the C ABI compiled code calls).
  void defineSymbol(const std::string& name, void* addr);
  // Each compile/compileCached of `entry` holds one reference to its linked code; the last
  // release frees that code. The caller guarantees that no thread runs it any more.
  void release(const std::string& entry);
  // Entries linked now (for tests: compiled code no longer used is freed).
  size_t linkedCount();

 private:
  Engine();
  void prepareForHost(llvm::Module& m);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace epochpp::engine
