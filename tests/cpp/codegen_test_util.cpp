// tests/cpp/codegen_test_util.cpp — the codegen tests' harness (see codegen_test_util.h).
#include "tests/cpp/codegen_test_util.h"

#include <gtest/gtest.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "jit/engine/engine.h"
#include "jit/passes/passes.h"

namespace epochpp::codegen::testing_util {

std::atomic<int> g_signal_countdown{-1};
std::atomic<int> g_polls{0};

namespace {

// ---- the runtime, reduced to what these tests need ------------------------------------------------

std::vector<void*> g_scratch;

extern "C" void test_rt_raise(EpCtx* ctx, int32_t kind, int32_t line, const char* msg) {
  if (ctx->exc_kind != EP_EXC_NONE) return;  // keep the first error, as the runtime does
  ctx->exc_kind = kind;
  ctx->exc_line = line;
  std::snprintf(ctx->exc_msg, sizeof ctx->exc_msg, "%s", msg ? msg : "");
}
extern "C" void test_rt_raise_index(EpCtx* ctx, int32_t line, int64_t index, int32_t axis, int64_t size) {
  char msg[200];
  std::snprintf(msg, sizeof msg, "index %lld is out of bounds for axis %d with size %lld", (long long)index, axis,
                (long long)size);
  test_rt_raise(ctx, EP_EXC_INDEX, line, msg);
}
extern "C" void test_rt_raise_int_bounds(EpCtx* ctx, int32_t line, int64_t value, int32_t bits) {
  char msg[200];
  std::snprintf(msg, sizeof msg, "Python integer %lld out of bounds for int%d", (long long)value, bits);
  test_rt_raise(ctx, EP_EXC_OVERFLOW, line, msg);
}
extern "C" int32_t test_rt_alloc(EpCtx* ctx, int32_t, int32_t, const int64_t*, int32_t, int32_t, EpArray*) {
  test_rt_raise(ctx, EP_EXC_MEMORY, 0, "ep_rt_alloc needs Python (not available in this test)");
  return EP_ERROR;
}
extern "C" int32_t test_rt_numpy_dot(EpCtx* ctx, int32_t, const EpArray*, const EpArray*, double*) {
  test_rt_raise(ctx, EP_EXC_VALUE, 0, "ep_rt_numpy_dot needs Python");
  return EP_ERROR;
}
extern "C" int32_t test_rt_round_ndigits(EpCtx* ctx, double, int64_t, double*) {
  test_rt_raise(ctx, EP_EXC_VALUE, 0, "ep_rt_round_ndigits is not in this test");
  return EP_ERROR;
}
extern "C" int32_t test_rt_reduce(EpCtx* ctx, int32_t, int32_t, int32_t, const EpArray*, const EpArray*, int32_t line,
                                  void*) {
  test_rt_raise(ctx, EP_EXC_VALUE, line, "ep_rt_reduce is not in this test");
  return EP_ERROR;
}
extern "C" void* test_rt_scratch(EpCtx*, int64_t bytes) {
  void* p = std::malloc(bytes > 0 ? (size_t)bytes : 1);
  g_scratch.push_back(p);
  return p;
}
extern "C" void test_rt_scratch_free(EpCtx*, void* p) {
  for (auto& q : g_scratch)
    if (q == p) {
      std::free(q);
      q = nullptr;
    }
}
extern "C" double test_rt_int_truediv(int64_t a, int64_t b) { return (double)((long double)a / (long double)b); }
extern "C" int32_t test_rt_math_hypot(EpCtx*, double x, double y, double* out) {
  *out = std::hypot(x, y);
  return EP_OK;
}
extern "C" int32_t test_rt_check_signals(EpCtx*) {
  ++g_polls;
  int left = g_signal_countdown.load();
  if (left < 0) return 0;
  if (left == 0) return 1;
  g_signal_countdown = left - 1;
  return 0;
}

void registerRuntimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& e = engine::Engine::instance();
    e.defineSymbol("ep_rt_raise", reinterpret_cast<void*>(&test_rt_raise));
    e.defineSymbol("ep_rt_math_hypot", reinterpret_cast<void*>(&test_rt_math_hypot));
    e.defineSymbol("ep_rt_raise_index", reinterpret_cast<void*>(&test_rt_raise_index));
    e.defineSymbol("ep_rt_raise_int_bounds", reinterpret_cast<void*>(&test_rt_raise_int_bounds));
    e.defineSymbol("ep_rt_alloc", reinterpret_cast<void*>(&test_rt_alloc));
    e.defineSymbol("ep_rt_numpy_dot", reinterpret_cast<void*>(&test_rt_numpy_dot));
    e.defineSymbol("ep_rt_round_ndigits", reinterpret_cast<void*>(&test_rt_round_ndigits));
    e.defineSymbol("ep_rt_reduce", reinterpret_cast<void*>(&test_rt_reduce));
    e.defineSymbol("ep_rt_scratch", reinterpret_cast<void*>(&test_rt_scratch));
    e.defineSymbol("ep_rt_scratch_free", reinterpret_cast<void*>(&test_rt_scratch_free));
    e.defineSymbol("ep_rt_int_truediv", reinterpret_cast<void*>(&test_rt_int_truediv));
    e.defineSymbol("ep_rt_check_signals", reinterpret_cast<void*>(&test_rt_check_signals));
  });
}

std::string moduleText(llvm::Module& m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os, nullptr);
  return os.str();
}

}  // namespace

// Types `f` (recursive calls resolve to f itself), lowers it alone and JIT-compiles it.
Compiled compile(Function& f, const std::vector<Type>& params) {
  registerRuntimeOnce();
  passes::CalleeTyper self = [&f](int, const std::vector<Type>&, int) { return f.return_type; };
  try {
    passes::runPipeline(f, params, self);
  } catch (Unsupported& u) {
    ADD_FAILURE() << "typing " << f.name << " failed at line " << u.line << ": " << u.what;
    throw;
  }
  static std::atomic<int> counter{0};
  LoweringInput in;
  in.functions = {&f};
  in.callee_map = {std::vector<int>(f.callees.size(), 0)};
  in.entry_name = "ep_test_entry_" + std::to_string(counter++);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> mod;
  try {
    mod = lowerToLLVM(*ctx, in);
  } catch (Unsupported& u) {
    ADD_FAILURE() << "lowering " << f.name << " failed at line " << u.line << ": " << u.what;
    throw;
  }
  Compiled c;
  c.ret = f.return_type;
  std::string err;
  llvm::raw_string_ostream es(err);
  EXPECT_FALSE(llvm::verifyModule(*mod, &es)) << es.str();
  c.ll = moduleText(*mod);
  engine::StageText text;
  c.fn = reinterpret_cast<Entry>(
      engine::Engine::instance().compile(std::move(mod), std::move(ctx), in.entry_name, true, &text, nullptr));
  c.ll_opt = text.llvm;
  if (const char* d = std::getenv("EPOCHPP_TEST_DUMP"); d && std::string(d) == "1")
    std::cerr << "---- " << f.name << " (lowered)\n" << c.ll << "---- " << f.name << " (O3)\n" << c.ll_opt;
  return c;
}

Call run(const Compiled& c, const std::vector<uint64_t>& args) {
  Call r;
  r.ret.assign(slotCount(c.ret) + 1, 0xdeadbeefdeadbeefull);
  r.status = c.fn(&r.ctx, r.ret.data(), args.data());
  r.ret.resize(slotCount(c.ret));
  for (auto& p : g_scratch) std::free(p);
  g_scratch.clear();
  return r;
}

// def binop(a, b): return a <op> b    (line 2)
Compiled binop(Op op, Kind ka, Kind kb) {
  Fn b("binop", {"a", "b"});
  b.f.body = {mkReturn(mkBinary(op, b.var("a", 2), b.var("b", 2), 2), 2)};
  return compile(b.f, {S(ka), S(kb)});
}

}  // namespace epochpp::codegen::testing_util
