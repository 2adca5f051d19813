// tests/cpp/test_codegen_run.cpp — JIT-compiled code run through the C ABI (no Python): control flow,
// unions, tuples, locals, recursion and arrays passed in by the caller (harness: codegen_test_util.h).
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "tests/cpp/codegen_test_util.h"

namespace epochpp::codegen {
namespace {

using namespace ir;
using namespace testing_util;

// ---- running: control flow, unions, tuples, locals ---------------------------------------------------

TEST(Run, UnionLocalReturnsIntOrFloat) {
  // def acc(n): s = 0; for i in range(n): s += 0.5 * i; return s
  Fn b("acc", {"n"});
  int s = b.local("s"), i = b.local("i");
  b.f.body = {mkAssign(s, mkConstInt(0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkAssign(s, inplace(Op::Add, mkVar(s, 4), mkBinary(Op::Mul, mkConstFloat(0.5, 4), mkVar(i, 4), 4), 4), 4)},
                    {}, 3),
              mkReturn(mkVar(s, 5), 5)};
  Compiled c = compile(b.f, {S(Kind::Int)});
  Call r = run(c, {I(0)});
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Int) << "no iteration: s is still the int 0";
  EXPECT_EQ(r.i(1), 0);
  r = run(c, {I(4)});
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Float);
  EXPECT_EQ(r.f(1), 3.0);
}

TEST(Run, TupleReturnFlattensIntoSlots) {
  // def divmod_check(a, b): return a // b, a % b, a > b, 0.5
  Fn b("dm", {"a", "b"});
  b.f.body = {mkReturn(mkTuple({mkBinary(Op::FloorDiv, b.var("a", 2), b.var("b", 2), 2),
                                mkBinary(Op::Mod, b.var("a", 2), b.var("b", 2), 2),
                                mkCompare(Op::Gt, b.var("a", 2), b.var("b", 2), 2), mkConstFloat(0.5, 2)}, 2), 2)};
  Compiled c = compile(b.f, {S(Kind::Int), S(Kind::Int)});
  ASSERT_EQ(slotCount(c.ret), 4);
  Call r = run(c, {I(-7), I(2)});
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.i(0), -4);
  EXPECT_EQ(r.i(1), 1);
  EXPECT_EQ(r.ret[2], 0u) << "bools are 0/1";
  EXPECT_EQ(r.f(3), 0.5);
}

TEST(Run, WhileWithBreakAndElse) {
  // def first_square_above(n):
  //     i = 0
  //     while i < 1000:
  //         if i * i > n: break
  //         i += 1
  //     else:
  //         return -1
  //     return i
  Fn b("fsa", {"n"});
  int i = b.local("i");
  b.f.body = {mkAssign(i, mkConstInt(0, 2), 2),
              mkWhile(mkCompare(Op::Lt, mkVar(i, 3), mkConstInt(1000, 3), 3),
                      {mkIf(mkCompare(Op::Gt, mkBinary(Op::Mul, mkVar(i, 4), mkVar(i, 4), 4), b.var("n", 4), 4), {mkBreak(4)}, {}, 4),
                       mkAssign(i, inplace(Op::Add, mkVar(i, 5), mkConstInt(1, 5), 5), 5)},
                      {mkReturn(mkConstInt(-1, 7), 7)}, 3),
              mkReturn(mkVar(i, 8), 8)};
  Compiled c = compile(b.f, {S(Kind::Int)});
  EXPECT_EQ(run(c, {I(10)}).i(), 4);
  EXPECT_EQ(run(c, {I(-1)}).i(), 0);
  EXPECT_EQ(run(c, {I(10000000)}).i(), -1);
}

TEST(Run, UnboundLocalRaises) {
  // def f(flag): if flag: y = 1.5; return y
  Fn b("f", {"flag"});
  int y = b.local("y");
  b.f.body = {mkIf(b.var("flag", 2), {mkAssign(y, mkConstFloat(1.5, 3), 3)}, {}, 2), mkReturn(mkVar(y, 4), 4)};
  Compiled c = compile(b.f, {S(Kind::Bool)});
  EXPECT_EQ(run(c, {1}).f(), 1.5);
  Call r = run(c, {0});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_UNBOUND_LOCAL);
  EXPECT_EQ(r.ctx.exc_line, 4);
  EXPECT_NE(r.msg().find("'y'"), std::string::npos) << r.msg();
}

TEST(Run, PendingSignalStopsAnEndlessLoop) {
  // def spin(): i = 0; while True: i += 1
  Fn b("spin", {});
  int i = b.local("i");
  b.f.body = {mkAssign(i, mkConstInt(0, 2), 2),
              mkWhile(mkConstBool(true, 3), {mkAssign(i, inplace(Op::Add, mkVar(i, 4), mkConstInt(1, 4), 4), 4)}, {}, 3)};
  Compiled c = compile(b.f, {});
  g_signal_countdown = 1000;
  Call r = run(c, {});
  g_signal_countdown = -1;
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_KEYBOARD_INTERRUPT);
  EXPECT_EQ(r.ctx.exc_line, 3);
}

TEST(Run, RecursionAndRecursionLimit) {
  // def fib(n): if n < 2: return n;  return fib(n - 1) + fib(n - 2)
  Fn b("fib", {"n"});
  b.f.callees.push_back({"fib", nullptr, 0});
  b.f.body = {mkIf(mkCompare(Op::Lt, b.var("n", 2), mkConstInt(2, 2), 2), {mkReturn(b.var("n", 3), 3)}, {}, 2),
              mkReturn(mkBinary(Op::Add, mkCallFunc(0, "fib", {mkBinary(Op::Sub, b.var("n", 4), mkConstInt(1, 4), 4)}, 4),
                                mkCallFunc(0, "fib", {mkBinary(Op::Sub, b.var("n", 4), mkConstInt(2, 4), 4)}, 4), 4),
                       4)};
  Compiled fib = compile(b.f, {S(Kind::Int)});
  Call r = run(fib, {I(20)});
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.i(), 6765);

  // def depth(n): if n == 0: return 0;  return depth(n - 1) + 1
  Fn d("depth", {"n"});
  d.f.callees.push_back({"depth", nullptr, 0});
  d.f.body = {mkIf(mkCompare(Op::Eq, d.var("n", 2), mkConstInt(0, 2), 2), {mkReturn(mkConstInt(0, 3), 3)}, {}, 2),
              mkReturn(mkBinary(Op::Add, mkCallFunc(0, "depth", {mkBinary(Op::Sub, d.var("n", 4), mkConstInt(1, 4), 4)}, 4),
                                mkConstInt(1, 4), 4), 4)};
  Compiled dep = compile(d.f, {S(Kind::Int)});
  EXPECT_EQ(run(dep, {I(500)}).i(), 500);
  r = run(dep, {I(100000)});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_RECURSION);
  EXPECT_EQ(r.ctx.depth_limit, 2000) << "the limit is read, never written";
}

// ---- running: arrays passed in by the caller -------------------------------------------------------

TEST(Run, SumOverArrayArgument) {
  // def total(a): t = 0.0; for i in range(len(a)): t += a[i]; return t
  Fn b("total", {"a"});
  int t = b.local("t"), i = b.local("i");
  b.f.body = {mkAssign(t, mkConstFloat(0.0, 2), 2),
              mkFor(i, range0(mkIntrinsic("len", {b.var("a", 3)}, 3), 3),
                    {mkAssign(t, inplace(Op::Add, mkVar(t, 4), mkIndex(b.var("a", 4), {mkVar(i, 4)}, 4), 4), 4)}, {}, 3),
              mkReturn(mkVar(t, 5), 5)};
  Compiled c = compile(b.f, {Arr(Kind::NpFloat64, 1, Layout::A)});
  ASSERT_EQ(c.ret, makeUnion({Kind::Float, Kind::NpFloat64})) << "0.0 + np.float64 is np.float64; no iteration: 0.0";
  std::vector<double> v(101);
  for (size_t k = 0; k < v.size(); ++k) v[k] = 0.25 * (double)k;
  double all = 0, even = 0;
  for (size_t k = 0; k < v.size(); ++k) all += v[k];
  for (size_t k = 0; k < v.size(); k += 2) even += v[k];
  Call r = run(c, arraySlots(v.data(), {101}, {8}));
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::NpFloat64);
  EXPECT_EQ(r.f(1), all);
  EXPECT_EQ(run(c, arraySlots(v.data(), {51}, {16})).f(1), even) << "a strided view: v[::2]";
  EXPECT_EQ(run(c, arraySlots(v.data() + 100, {101}, {-8})).f(1), all) << "a reversed view: v[::-1]";
  r = run(c, arraySlots(v.data(), {0}, {8}));
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Float);
  EXPECT_EQ(r.f(1), 0.0);
}

TEST(Run, IndexErrorAndNegativeIndices) {
  // def at(a, i, j): return a[i, j]
  Fn b("at", {"a", "i", "j"});
  b.f.body = {mkReturn(mkIndex(b.var("a", 6), {b.var("i", 6), b.var("j", 6)}, 6), 6)};
  Compiled c = compile(b.f, {Arr(Kind::NpInt32, 2), S(Kind::Int), S(Kind::Int)});
  ASSERT_EQ(c.ret, S(Kind::NpInt32));
  std::vector<int32_t> m = {1, 2, 3, 4, 5, -6};  // 2 x 3, C order
  auto arr = arraySlots(m.data(), {2, 3}, {12, 4});
  EXPECT_EQ(run(c, cat(arr, {I(1), I(0)})).i(), 4);
  EXPECT_EQ(run(c, cat(arr, {I(-1), I(-1)})).i(), -6);
  EXPECT_EQ(run(c, cat(arr, {I(-2), I(2)})).i(), 3);
  Call r = run(c, cat(arr, {I(0), I(3)}));
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_INDEX);
  EXPECT_EQ(r.ctx.exc_line, 6);
  EXPECT_EQ(r.msg(), "index 3 is out of bounds for axis 1 with size 3");
  r = run(c, cat(arr, {I(-3), I(0)}));
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_INDEX);
  EXPECT_EQ(r.msg(), "index -3 is out of bounds for axis 0 with size 2");
}

TEST(Run, StoresIntoArgumentAndSliceAssignment) {
  // def fill(a, v):            a: float64[:] C
  //     for i in range(len(a)):
  //         a[i] = v * i
  //     a[1:3] = 0.5
  Fn b("fill", {"a", "v"});
  int i = b.local("i");
  int a = 0;
  b.f.body = {mkFor(i, range0(mkIntrinsic("len", {mkVar(a, 2)}, 2), 2),
                    {mkStore(mkVar(a, 3), {mkVar(i, 3)}, mkBinary(Op::Mul, b.var("v", 3), mkVar(i, 3), 3), 3)}, {}, 2),
              mkStore(mkVar(a, 4), {mkSlice(mkConstInt(1, 4), mkConstInt(3, 4), mkConstNone(4), 4)}, mkConstFloat(0.5, 4), 4)};
  Compiled c = compile(b.f, {Arr(Kind::NpFloat64, 1), S(Kind::Float)});
  EXPECT_TRUE(b.f.writes_args);
  EXPECT_EQ(c.ret, Type::none());
  std::vector<double> v(5, -1.0);
  Call r = run(c, cat(arraySlots(v.data(), {5}, {8}), {F(1.5)}));
  ASSERT_EQ(r.status, EP_OK) << r.msg();
  EXPECT_EQ(v, (std::vector<double>{0.0, 0.5, 0.5, 4.5, 6.0}));
}

TEST(Run, HoistedBoundsChecksStayExact) {
  // def shift(a, out, n):
  //     for i in range(n):
  //         out[i] = a[i + 1]
  Fn b("shift", {"a", "out", "n"});
  int i = b.local("i");
  b.f.body = {mkFor(i, range0(b.var("n", 2), 2),
                    {mkStore(b.var("out", 3), {mkVar(i, 3)},
                             mkIndex(b.var("a", 3), {mkBinary(Op::Add, mkVar(i, 3), mkConstInt(1, 3), 3)}, 3), 3)},
                    {}, 2)};
  Compiled c = compile(b.f, {Arr(Kind::NpInt64, 1), Arr(Kind::NpInt64, 1), S(Kind::Int)});
  EXPECT_FALSE(b.f.body[0]->hoisted.empty()) << "the accesses are affine in i";
  std::vector<int64_t> a = {10, 11, 12, 13, 14};
  auto args = [&](std::vector<int64_t>& out, int64_t n) {
    return cat(cat(arraySlots(a.data(), {5}, {8}), arraySlots(out.data(), {(int64_t)out.size()}, {8})), {I(n)});
  };
  std::vector<int64_t> out(5, -1);
  Call r = run(c, args(out, 4));
  ASSERT_EQ(r.status, EP_OK) << r.msg();
  EXPECT_EQ(out, (std::vector<int64_t>{11, 12, 13, 14, -1}));
  out.assign(5, -1);
  r = run(c, args(out, 5));  // a[5] is out of range in the last iteration
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_INDEX);
  EXPECT_EQ(r.msg(), "index 5 is out of bounds for axis 0 with size 5");
  EXPECT_EQ(r.ctx.exc_line, 3);
  EXPECT_EQ(out, (std::vector<int64_t>{11, 12, 13, 14, -1})) << "the iterations before the error ran, as in CPython";
  std::vector<int64_t> small(2, -1);
  r = run(c, args(small, 4));  // out[2] fails first, at i == 2
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_INDEX);
  EXPECT_EQ(r.msg(), "index 2 is out of bounds for axis 0 with size 2");
  EXPECT_EQ(small, (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(run(c, args(out, -3)).status, EP_OK) << "an empty range checks nothing";
}

// A deopt after a write into an argument must be announced by the effects pass (writes_args && may_deopt), so that
// the runtime snapshots the arguments before the call; otherwise the interpreter re-applies the writes.
// Both functions below deopt after writing a[0], but analyseEffects reports may_deopt == false.
// Disabled until the effects pass counts these deopt sites (float -> int stores, float ** float).
TEST(Run, DeoptAfterWriteIsAnnouncedByEffects) {
  // def scale(a, k):              a: int64[:], k: float
  //     for i in range(len(a)):
  //         a[i] = a[i] * k        # float result stored into an int array: beyond int64 deopts
  Fn b("scale", {"a", "k"});
  int i = b.local("i");
  b.f.body = {mkFor(i, range0(mkIntrinsic("len", {b.var("a", 2)}, 2), 2),
                    {mkStore(b.var("a", 3), {mkVar(i, 3)}, mkBinary(Op::Mul, mkIndex(b.var("a", 3), {mkVar(i, 3)}, 3), b.var("k", 3), 3), 3)},
                    {}, 2)};
  Compiled c = compile(b.f, {Arr(Kind::NpInt64, 1), S(Kind::Float)});
  std::vector<int64_t> a = {1, 1LL << 62};
  Call r = run(c, cat(arraySlots(a.data(), {2}, {8}), {F(4.0)}));
  EXPECT_EQ(r.status, EP_DEOPT);
  EXPECT_EQ(a[0], 4) << "written before the deopt";
  EXPECT_TRUE(b.f.writes_args);
  EXPECT_TRUE(b.f.may_deopt) << "float -> int conversion in a store deopts beyond int64";

  // def roots(a, y):              a: float64[:], y: float
  //     t = 0.0
  //     for i in range(len(a)):
  //         a[i] = a[i] + 1.0
  //         t += (float(a[i]) - 3.0) ** y    # negative ** fractional is complex: deopts
  //     return t
  Fn g("roots", {"a", "y"});
  int j = g.local("i"), t = g.local("t");
  g.f.body = {mkAssign(t, mkConstFloat(0.0, 2), 2),
              mkFor(j, range0(mkIntrinsic("len", {g.var("a", 3)}, 3), 3),
                    {mkStore(g.var("a", 4), {mkVar(j, 4)}, mkBinary(Op::Add, mkIndex(g.var("a", 4), {mkVar(j, 4)}, 4), mkConstFloat(1.0, 4), 4), 4),
                     mkAssign(t, inplace(Op::Add, mkVar(t, 5),
                                         mkBinary(Op::Pow, mkBinary(Op::Sub, mkIntrinsic("float", {mkIndex(g.var("a", 5), {mkVar(j, 5)}, 5)}, 5),
                                                                    mkConstFloat(3.0, 5), 5),
                                                  g.var("y", 5), 5), 5), 5)},
                    {}, 3),
              mkReturn(mkVar(t, 6), 6)};
  Compiled cg = compile(g.f, {Arr(Kind::NpFloat64, 1), S(Kind::Float)});
  std::vector<double> v = {1.0, 0.0};
  r = run(cg, cat(arraySlots(v.data(), {2}, {8}), {F(0.5)}));
  EXPECT_EQ(r.status, EP_DEOPT);
  EXPECT_EQ(v[0], 2.0) << "written before the deopt";
  EXPECT_TRUE(g.f.writes_args);
  EXPECT_TRUE(g.f.may_deopt) << "float ** float deopts for a negative base and a fractional exponent";
}

TEST(Run, StoreOfTooLargeIntIntoInt32ArrayRaises) {
  // def put(a, x): a[0] = x     a: int32[:]
  Fn b("put", {"a", "x"});
  b.f.body = {mkStore(b.var("a", 2), {mkConstInt(0, 2)}, b.var("x", 2), 2)};
  Compiled c = compile(b.f, {Arr(Kind::NpInt32, 1), S(Kind::Int)});
  std::vector<int32_t> v(2, 0);
  EXPECT_EQ(run(c, cat(arraySlots(v.data(), {2}, {4}), {I(-123)})).status, EP_OK);
  EXPECT_EQ(v[0], -123);
  Call r = run(c, cat(arraySlots(v.data(), {2}, {4}), {I(1LL << 31)}));
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_OVERFLOW);
  EXPECT_EQ(v[0], -123) << "nothing is written when the store raises";
}

TEST(Run, ReturnedViewSharesMemoryAndIsMarkedDerived) {
  // def tail(a): return a[1:]
  Fn b("tail", {"a"});
  b.f.body = {mkReturn(mkIndex(b.var("a", 2), {mkSlice(mkConstInt(1, 2), mkConstNone(2), mkConstNone(2), 2)}, 2), 2)};
  Compiled c = compile(b.f, {Arr(Kind::NpFloat64, 1)});
  ASSERT_EQ(slotCount(c.ret), 8);
  std::vector<double> v = {1, 2, 3, 4};
  alignas(8) static char owner[16];
  Call r = run(c, arraySlots(v.data(), {4}, {8}, owner));
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.ret[0], (uint64_t)(uintptr_t)(v.data() + 1));
  EXPECT_EQ(r.ret[1], 3u);
  EXPECT_EQ(r.ret[4], 8u);
  EXPECT_EQ(r.ret[7], (uint64_t)(uintptr_t)owner | 1u) << "bit 0 of owner marks a new view";
  r = run(c, arraySlots(v.data(), {0}, {8}, owner));
  EXPECT_EQ(r.ret[1], 0u) << "an empty slice of an empty array";
}

// ---- NaNs: a NaN LLVM folds has the sign the CPU gives (jit/engine/nan_guard.cpp) --------------------

TEST(Run, AFoldedNaNHasTheSignTheCpuGives) {
  // def f(): x = inf; return x - x       (LLVM folds inf - inf to its own, positive, NaN)
  Fn b("f", {});
  int x = b.local("x");
  b.f.body = {mkAssign(x, mkConstFloat(INFINITY, 2), 2),
              mkReturn(mkBinary(Op::Sub, mkVar(x, 3), mkVar(x, 3), 3), 3)};
  Compiled c = compile(b.f, {});
  Call r = run(c, {});
  ASSERT_EQ(r.status, EP_OK);
  volatile double inf = INFINITY;  // the same operation, done by this CPU
  double cpu = inf - inf;
  EXPECT_TRUE(std::isnan(r.f(0)));
  EXPECT_EQ(r.ret.at(0), F(cpu)) << std::hex << r.ret.at(0) << " vs " << F(cpu);
  EXPECT_EQ(c.ll_opt.find("llvm.is.constant"), std::string::npos) << "every guard is gone after O3";
}

TEST(Run, NaNGuardsLeaveRuntimeOperationsAlone) {
  // def binop(a, b): return a - b    (floats from the caller: nothing to fold)
  Compiled c = binop(Op::Sub, Kind::Float, Kind::Float);
  EXPECT_EQ(c.ll_opt.find("llvm.is.constant"), std::string::npos);
  EXPECT_EQ(c.ll_opt.find("select"), std::string::npos) << c.ll_opt;
  Call r = run(c, {F(INFINITY), F(INFINITY)});
  ASSERT_EQ(r.status, EP_OK);
  volatile double inf = INFINITY;
  EXPECT_EQ(r.ret.at(0), F(inf - inf));
  r = run(c, {F(NAN), F(1.0)});  // a NaN operand comes through as it is, sign and all
  EXPECT_EQ(r.ret.at(0), F(NAN));
  r = run(c, {F(-NAN), F(1.0)});
  EXPECT_EQ(r.ret.at(0), F(-NAN));
  r = run(c, {F(1.0), F(3.0)});
  EXPECT_EQ(r.f(0), -2.0);
}

}  // namespace
}  // namespace epochpp::codegen
