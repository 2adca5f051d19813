// jit/engine/perf_map.h — EPOCHPP_PERF_MAP=1: name compiled code for Linux perf (/tmp/perf-<pid>.map).
#pragma once

namespace llvm::orc {
class LLJIT;
}

namespace epochpp::engine {

// When the perf_map setting (EPOCHPP_PERF_MAP) is set and not "0", every function the JIT links from now on is appended
// to /tmp/perf-<pid>.map as "<address> <size> <name>", the file `perf report` and `perf top`
// read to name code that no ELF file on disk describes. Returns whether it is on.
bool enablePerfMap(llvm::orc::LLJIT& jit);

}  // namespace epochpp::engine
