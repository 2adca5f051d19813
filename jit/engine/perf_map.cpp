// jit/engine/perf_map.cpp — a JITLink plugin that writes perf's map of JIT code (see perf_map.h).
//
// perf's convention (tools/perf/Documentation/jit-interface.txt): a process that generates code
// appends "START SIZE symbolname" lines (hex, no 0x) to /tmp/perf-PID.map. Each linked graph's
// named functions (local ones too: a parallel loop's chunk function) are written once their final
// addresses are known (a post-fixup pass). Code freed later (Engine::release) keeps its line: if
// new code is linked at the same addresses, perf may name samples there after either function.
#include "jit/engine/perf_map.h"
#include "runtime/settings.h"

#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace epochpp::engine {

using namespace llvm;
using namespace llvm::orc;

namespace {

class PerfMapPlugin : public ObjectLinkingLayer::Plugin {
 public:
  void modifyPassConfig(MaterializationResponsibility&, jitlink::LinkGraph&, jitlink::PassConfiguration& c) override {
    // Local functions (a parallel loop's chunk function) are dropped from the graph by the
    // pruning pass (nothing looks them up by name) while their code stays: note the names first.
    auto names = std::make_shared<std::map<const jitlink::Block*, std::vector<Named>>>();
    c.PrePrunePasses.push_back([names](jitlink::LinkGraph& g) {
      for (auto* sym : g.defined_symbols())
        if (sym->hasName() && sym->getSize() != 0 &&
            (sym->getBlock().getSection().getMemProt() & MemProt::Exec) != MemProt::None)
          (*names)[&sym->getBlock()].push_back({sym->getName().str(), sym->getOffset(), sym->getSize()});
      return Error::success();
    });
    c.PostFixupPasses.push_back([this, names](jitlink::LinkGraph& g) {
      write(g, *names);
      return Error::success();
    });
  }
  Error notifyFailed(MaterializationResponsibility&) override { return Error::success(); }
  Error notifyRemovingResources(JITDylib&, ResourceKey) override { return Error::success(); }
  void notifyTransferringResources(JITDylib&, ResourceKey, ResourceKey) override {}

 private:
  struct Named {
    std::string name;
    uint64_t offset, size;
  };
  std::mutex mu_;

  void write(jitlink::LinkGraph& g, const std::map<const jitlink::Block*, std::vector<Named>>& names) {
    std::string lines;
    for (auto* block : g.blocks()) {  // the blocks still here after pruning, at their final addresses
      auto it = names.find(block);
      if (it == names.end()) continue;
      for (const Named& n : it->second) {
        char head[64];
        std::snprintf(head, sizeof head, "%llx %llx ", (unsigned long long)(block->getAddress().getValue() + n.offset),
                      (unsigned long long)n.size);
        lines += head;
        lines += n.name;
        lines += '\n';
      }
    }
    if (lines.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";  // getpid(): right after fork() too
    if (FILE* f = std::fopen(path.c_str(), "a")) {
      std::fwrite(lines.data(), 1, lines.size(), f);
      std::fclose(f);
    }
  }
};

}  // namespace

bool enablePerfMap(LLJIT& jit) {
  std::string v = settings::get("perf_map");
  if (v.empty() || v == "0") return false;
  auto* layer = dyn_cast<ObjectLinkingLayer>(&jit.getObjLinkingLayer());
  if (!layer) return false;  // not JITLink (not the case on x86-64 Linux)
  layer->addPlugin(std::make_unique<PerfMapPlugin>());
  return true;
}

}  // namespace epochpp::engine
