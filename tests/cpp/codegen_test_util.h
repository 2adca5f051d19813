// tests/cpp/codegen_test_util.h — the harness of the codegen tests (test_codegen.cpp,
// test_codegen_run.cpp): type a hand-built function with the pass pipeline, lower it with
// codegen::lowerToLLVM, compile it with the engine and call
//   int32 entry(EpCtx*, uint64_t* ret_slots, const uint64_t* arg_slots)
// The runtime symbols compiled code calls are small C functions (codegen_test_util.cpp).
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "jit/codegen/codegen.h"
#include "runtime/abi.h"
#include "tests/cpp/pass_test_util.h"

namespace epochpp::codegen::testing_util {

using namespace ir;
using passes::testing_util::Arr;
using passes::testing_util::Fn;
using passes::testing_util::inplace;
using passes::testing_util::range0;
using passes::testing_util::S;

extern std::atomic<int> g_signal_countdown;  // > 0: polls left before a pending "Ctrl-C"
extern std::atomic<int> g_polls;

using Entry = int32_t (*)(EpCtx*, uint64_t*, const uint64_t*);

struct Compiled {
  Entry fn = nullptr;
  std::string ll;       // the module as lowered (before optimisation)
  std::string ll_opt;   // after the engine's O3 pipeline
  Type ret;
};

// Types `f` (recursive calls resolve to f itself), lowers it alone and JIT-compiles it.
Compiled compile(Function& f, const std::vector<Type>& params);

inline uint64_t I(int64_t v) { return (uint64_t)v; }
inline uint64_t F(double v) {
  uint64_t u;
  std::memcpy(&u, &v, 8);
  return u;
}
inline double asF(uint64_t u) {
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

// A context as the dispatcher makes it: zeroed, with the recursion limit it reads from CPython.
inline EpCtx makeCtx() {
  EpCtx c{};
  c.depth_limit = 2000;
  return c;
}

struct Call {
  int32_t status = -1;
  EpCtx ctx = makeCtx();
  std::vector<uint64_t> ret;
  int64_t i(size_t k = 0) const { return (int64_t)ret.at(k); }
  double f(size_t k = 0) const { return asF(ret.at(k)); }
  std::string msg() const { return ctx.exc_msg; }
};

// Calls the compiled entry; frees the scratch memory the call asked for.
Call run(const Compiled& c, const std::vector<uint64_t>& args);

// An array argument: 8 slots (data, shape[3], strides[3] in bytes, owner).
template <class T>
std::vector<uint64_t> arraySlots(T* data, std::vector<int64_t> shape, std::vector<int64_t> strides, void* owner = nullptr) {
  std::vector<uint64_t> s(8, 0);
  s[0] = (uint64_t)(uintptr_t)data;
  for (size_t d = 0; d < 3; ++d) {
    s[1 + d] = (uint64_t)(d < shape.size() ? shape[d] : 1);
    s[4 + d] = (uint64_t)(d < strides.size() ? strides[d] : 0);
  }
  s[7] = (uint64_t)(uintptr_t)owner;
  return s;
}

inline std::vector<uint64_t> cat(std::vector<uint64_t> a, const std::vector<uint64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// def binop(a, b): return a <op> b    (line 2)
Compiled binop(Op op, Kind ka, Kind kb);

}  // namespace epochpp::codegen::testing_util
