// tests/cpp/test_codegen.cpp — lowering to LLVM and running the JIT-compiled entry through the C ABI
// (no Python): module contents, integers, floats and math. The harness is codegen_test_util.h;
// control flow, unions, tuples and arrays are in test_codegen_run.cpp.
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

// ---- module contents ------------------------------------------------------------------------------

TEST(Lowering, PythonIntAdditionChecksOverflow) {
  Compiled c = binop(Op::Add, Kind::Int, Kind::Int);
  EXPECT_NE(c.ll.find("llvm.sadd.with.overflow.i64"), std::string::npos) << c.ll;
}

TEST(Lowering, NumpyInt64AdditionWraps) {
  Compiled c = binop(Op::Add, Kind::NpInt64, Kind::NpInt64);
  EXPECT_EQ(c.ll.find("with.overflow"), std::string::npos) << c.ll;
  EXPECT_NE(c.ll.find("add i64"), std::string::npos) << c.ll;
}

TEST(Lowering, PythonIntMultiplyAndSubtractCheckOverflow) {
  EXPECT_NE(binop(Op::Mul, Kind::Int, Kind::Int).ll.find("llvm.smul.with.overflow.i64"), std::string::npos);
  EXPECT_NE(binop(Op::Sub, Kind::Int, Kind::Int).ll.find("llvm.ssub.with.overflow.i64"), std::string::npos);
}

TEST(Lowering, EntryIsExternalAndImplementationInternal) {
  Fn b("ident", {"x"});
  b.f.body = {mkReturn(b.var("x", 2), 2)};
  Compiled c = compile(b.f, {S(Kind::Float)});
  EXPECT_NE(c.ll.find("define i32 @ep_test_entry_"), std::string::npos) << c.ll;
  size_t at = c.ll.find("@ep.ident.0(");
  ASSERT_NE(at, std::string::npos) << c.ll;
  size_t line = c.ll.rfind('\n', at) + 1;
  EXPECT_EQ(c.ll.compare(line, 16, "define internal "), 0) << c.ll.substr(line, at - line) << " (the typed body is internal)";
}

TEST(Lowering, NoFastMathUnlessAskedFor) {
  // def fsum(n): s = 0.0; for i in range(n): s += i * 0.1; return s
  Fn b("fsum", {"n"});
  int s = b.local("s"), i = b.local("i");
  b.f.body = {mkAssign(s, mkConstFloat(0.0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkAssign(s, inplace(Op::Add, mkVar(s, 4), mkBinary(Op::Mul, mkVar(i, 4), mkConstFloat(0.1, 4), 4), 4), 4)},
                    {}, 3),
              mkReturn(mkVar(s, 5), 5)};
  Compiled c = compile(b.f, {S(Kind::Int)});
  ASSERT_FALSE(c.ll_opt.empty());
  for (const char* flag : {"fadd fast", "fadd reassoc", "fmul fast", "fmul reassoc", "nnan", "ninf"})
    EXPECT_EQ(c.ll_opt.find(flag), std::string::npos) << flag;
  double expect = 0.0;
  for (int k = 0; k < 1000; ++k) expect += k * 0.1;
  EXPECT_EQ(run(c, {I(1000)}).f(), expect) << "summation order is Python's";
}

TEST(Lowering, SlotCount) {
  EXPECT_EQ(slotCount(S(Kind::Int)), 1);
  EXPECT_EQ(slotCount(S(Kind::NpFloat32)), 1);
  EXPECT_EQ(slotCount(Type::none()), 1);
  EXPECT_EQ(slotCount(makeUnion({Kind::Int, Kind::Float})), 2);
  EXPECT_EQ(slotCount(Arr(Kind::NpFloat64, 2)), 8);
  EXPECT_EQ(slotCount(Type::tuple({S(Kind::Int), Arr(Kind::NpInt32, 1), makeUnion({Kind::Int, Kind::Float})})), 11);
  EXPECT_EQ(slotCount(Type::tuple({})), 0);
}

// ---- running: integers ------------------------------------------------------------------------------

TEST(Run, SumOfSquaresLoop) {
  // def sum_squares(n): s = 0; for i in range(n): s += i * i; return s
  Fn b("sum_squares", {"n"});
  int s = b.local("s"), i = b.local("i");
  b.f.body = {mkAssign(s, mkConstInt(0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkAssign(s, inplace(Op::Add, mkVar(s, 4), mkBinary(Op::Mul, mkVar(i, 4), mkVar(i, 4), 4), 4), 4)}, {}, 3),
              mkReturn(mkVar(s, 5), 5)};
  Compiled c = compile(b.f, {S(Kind::Int)});
  for (int64_t n : {0, 1, 2, 10, 1000, 100000}) {
    int64_t expect = 0;
    for (int64_t k = 0; k < n; ++k) expect += k * k;
    Call r = run(c, {I(n)});
    ASSERT_EQ(r.status, EP_OK) << n;
    EXPECT_EQ(r.i(), expect) << n;
  }
  EXPECT_EQ(run(c, {I(-5)}).i(), 0) << "an empty range";
  Call big = run(c, {I(5000000)});
  EXPECT_EQ(big.status, EP_DEOPT) << "the sum passes 2**63: the interpreter must finish it";
}

TEST(Run, RangeWithNegativeAndRuntimeStep) {
  // def f(start, stop, step): s = 0; for i in range(start, stop, step): s += i; return s
  Fn b("rsum", {"start", "stop", "step"});
  int s = b.local("s"), i = b.local("i");
  b.f.body = {mkAssign(s, mkConstInt(0, 2), 2),
              mkFor(i, mkRange(b.var("start", 3), b.var("stop", 3), b.var("step", 3), 3),
                    {mkAssign(s, inplace(Op::Add, mkVar(s, 4), mkVar(i, 4), 4), 4)}, {}, 3),
              mkReturn(mkVar(s, 5), 5)};
  Compiled c = compile(b.f, {S(Kind::Int), S(Kind::Int), S(Kind::Int)});
  auto py = [](int64_t a, int64_t z, int64_t st) {
    __int128 t = 0;  // 128-bit so the reference itself never overflows
    if (st > 0)
      for (__int128 k = a; k < z; k += st) t += k;
    else
      for (__int128 k = a; k > z; k += st) t += k;
    return (int64_t)t;
  };
  for (auto [a, z, st] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {0, 10, 1}, {10, 0, -3}, {-5, 5, 2}, {5, -5, -2}, {3, 3, 1}, {0, 10, -1}, {7, 100, 7}, {-10, -1, 4}, {INT64_MAX - 2, INT64_MAX, 3}}) {
    Call r = run(c, {I(a), I(z), I(st)});
    ASSERT_EQ(r.status, EP_OK) << a << " " << z << " " << st;
    EXPECT_EQ(r.i(), py(a, z, st)) << a << " " << z << " " << st;
  }
  Call r = run(c, {I(0), I(10), I(0)});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_VALUE);
  EXPECT_STREQ(r.ctx.exc_msg, "range() arg 3 must not be zero");
  EXPECT_EQ(r.ctx.exc_line, 3);
}

TEST(Run, PythonFloorDivisionAndModuloSigns) {
  Compiled fd = binop(Op::FloorDiv, Kind::Int, Kind::Int);
  Compiled md = binop(Op::Mod, Kind::Int, Kind::Int);
  struct Case { int64_t a, b, q, m; };
  for (auto c : std::vector<Case>{{-7, 2, -4, 1}, {7, -2, -4, -1}, {-7, -2, 3, -1}, {7, 2, 3, 1}, {-8, 2, -4, 0},
                                  {0, -3, 0, 0}, {INT64_MIN, 1, INT64_MIN, 0}, {INT64_MAX, -1, -INT64_MAX, 0}}) {
    Call q = run(fd, {I(c.a), I(c.b)}), m = run(md, {I(c.a), I(c.b)});
    ASSERT_EQ(q.status, EP_OK);
    ASSERT_EQ(m.status, EP_OK);
    EXPECT_EQ(q.i(), c.q) << c.a << " // " << c.b;
    EXPECT_EQ(m.i(), c.m) << c.a << " % " << c.b;
  }
  Call z = run(fd, {I(7), I(0)});
  EXPECT_EQ(z.status, EP_ERROR);
  EXPECT_EQ(z.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(z.msg(), "integer division or modulo by zero");
  EXPECT_EQ(z.ctx.exc_line, 2);
  Call zm = run(md, {I(7), I(0)});
  EXPECT_EQ(zm.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(zm.msg(), "integer modulo by zero");
  EXPECT_EQ(run(fd, {I(INT64_MIN), I(-1)}).status, EP_DEOPT) << "-2**63 // -1 does not fit int64";
}

TEST(Run, Int64OverflowDeopts) {
  Compiled add = binop(Op::Add, Kind::Int, Kind::Int);
  Compiled mul = binop(Op::Mul, Kind::Int, Kind::Int);
  Compiled sub = binop(Op::Sub, Kind::Int, Kind::Int);
  EXPECT_EQ(run(add, {I(INT64_MAX - 1), I(1)}).i(), INT64_MAX);
  EXPECT_EQ(run(add, {I(INT64_MAX), I(1)}).status, EP_DEOPT);
  EXPECT_EQ(run(mul, {I(1LL << 62), I(4)}).status, EP_DEOPT);
  EXPECT_EQ(run(mul, {I(-(1LL << 31)), I(1LL << 32)}).i(), INT64_MIN);
  EXPECT_EQ(run(sub, {I(INT64_MIN), I(1)}).status, EP_DEOPT);
  Call ok = run(mul, {I(-3), I(5)});
  EXPECT_EQ(ok.status, EP_OK);
  EXPECT_EQ(ok.i(), -15);
  EXPECT_EQ(ok.ctx.exc_kind, EP_EXC_NONE);
}

TEST(Run, NumpyIntegersWrapInsteadOfDeopting) {
  Compiled add64 = binop(Op::Add, Kind::NpInt64, Kind::NpInt64);
  Call r = run(add64, {I(INT64_MAX), I(1)});
  EXPECT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.i(), INT64_MIN);
  Compiled add32 = binop(Op::Add, Kind::NpInt32, Kind::Int);  // np.int32 + Python int -> np.int32
  EXPECT_EQ(add32.ret, S(Kind::NpInt32));
  r = run(add32, {I(INT32_MAX), I(1)});
  EXPECT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.i(), (int64_t)INT32_MIN) << "int32 results are sign-extended into their slot";
  r = run(add32, {I(1), I(1LL << 40)});
  EXPECT_EQ(r.status, EP_ERROR) << "NEP 50: a Python int that does not fit int32 raises OverflowError";
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_OVERFLOW);
  EXPECT_EQ(r.msg(), "Python integer 1099511627776 out of bounds for int32");
  Compiled fd32 = binop(Op::FloorDiv, Kind::NpInt32, Kind::NpInt32);
  EXPECT_EQ(run(fd32, {I(-7), I(2)}).i(), -4);
  EXPECT_EQ(run(fd32, {I(7), I(0)}).status, EP_OK) << "NumPy integer // 0 is 0 with a warning, not an error";
  EXPECT_EQ(run(fd32, {I(7), I(0)}).i(), 0);
}

TEST(Run, PythonIntPowerIsIntOrFloatAtRunTime) {
  Compiled p = binop(Op::Pow, Kind::Int, Kind::Int);
  ASSERT_EQ(p.ret, makeUnion({Kind::Int, Kind::Float}));
  Call r = run(p, {I(2), I(10)});
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Int) << "slot 0 is the union's tag";
  EXPECT_EQ(r.i(1), 1024);
  r = run(p, {I(2), I(-1)});
  ASSERT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Float);
  EXPECT_EQ(r.f(1), 0.5);
  EXPECT_EQ(run(p, {I(3), I(40)}).status, EP_DEOPT) << "3**40 > 2**63";
  EXPECT_EQ(run(p, {I(-2), I(63)}).i(1), INT64_MIN);
  r = run(p, {I(0), I(-1)});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
}

TEST(Run, TrueDivisionOfInts) {
  Compiled d = binop(Op::Div, Kind::Int, Kind::Int);
  EXPECT_EQ(run(d, {I(7), I(2)}).f(), 3.5);
  EXPECT_EQ(run(d, {I(-1), I(3)}).f(), -1.0 / 3.0);
  Call z = run(d, {I(1), I(0)});
  EXPECT_EQ(z.status, EP_ERROR);
  EXPECT_EQ(z.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(z.msg(), "division by zero");
}

TEST(Run, IntFloatComparisonIsExact) {
  Fn b("gt", {"a", "x"});
  b.f.body = {mkReturn(mkCompare(Op::Gt, b.var("a", 2), b.var("x", 2), 2), 2)};
  Compiled gt = compile(b.f, {S(Kind::Int), S(Kind::Float)});
  EXPECT_EQ(run(gt, {I((1LL << 53) + 1), F(9007199254740992.0)}).i(), 1) << "2**53 + 1 > float(2**53) in Python";
  EXPECT_EQ(run(gt, {I(3), F(2.5)}).i(), 1);
  EXPECT_EQ(run(gt, {I(2), F(2.5)}).i(), 0);
  EXPECT_EQ(run(gt, {I(INT64_MAX), F(9223372036854775808.0)}).i(), 0);
  EXPECT_EQ(run(gt, {I(0), F(std::nan(""))}).i(), 0);
}

// ---- running: floats and math ---------------------------------------------------------------------

TEST(Run, FloatDivisionByZeroRaises) {
  Compiled d = binop(Op::Div, Kind::Float, Kind::Float);
  Call r = run(d, {F(1.0), F(4.0)});
  EXPECT_EQ(r.status, EP_OK);
  EXPECT_EQ(r.f(), 0.25);
  r = run(d, {F(1.0), F(0.0)});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(r.msg(), "float division by zero");
  EXPECT_EQ(r.ctx.exc_line, 2);
  EXPECT_EQ(run(d, {F(1.0), F(-0.0)}).ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  Compiled di = binop(Op::Div, Kind::Int, Kind::Float);
  EXPECT_EQ(run(di, {I(3), F(0.0)}).ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  Compiled np = binop(Op::Div, Kind::NpFloat64, Kind::NpFloat64);
  r = run(np, {F(1.0), F(0.0)});
  EXPECT_EQ(r.status, EP_OK) << "NumPy floats follow IEEE";
  EXPECT_TRUE(std::isinf(r.f()));
}

TEST(Run, FloatFloorDivisionAndModulo) {
  Compiled fd = binop(Op::FloorDiv, Kind::Float, Kind::Float);
  Compiled md = binop(Op::Mod, Kind::Float, Kind::Float);
  EXPECT_EQ(run(fd, {F(-7.0), F(2.0)}).f(), -4.0);
  EXPECT_EQ(run(md, {F(-7.0), F(2.0)}).f(), 1.0);
  EXPECT_EQ(run(fd, {F(7.5), F(-2.0)}).f(), -4.0);
  EXPECT_EQ(run(md, {F(7.5), F(-2.0)}).f(), -0.5);
  Call negz = run(md, {F(-4.0), F(2.0)});
  EXPECT_EQ(negz.f(), 0.0);
  EXPECT_FALSE(std::signbit(negz.f())) << "the zero takes the divisor's sign";
  EXPECT_TRUE(std::signbit(run(md, {F(4.0), F(-2.0)}).f()));
  Call z = run(fd, {F(1.0), F(0.0)});
  EXPECT_EQ(z.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(z.msg(), "float floor division by zero");
  EXPECT_EQ(run(md, {F(1.0), F(0.0)}).ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  Compiled mixed = binop(Op::Mod, Kind::Int, Kind::Float);
  EXPECT_EQ(run(mixed, {I(-7), F(2.0)}).f(), 1.0);
}

Compiled mathFn(const std::string& name, Kind arg) {
  Fn b("m", {"x"});
  b.f.body = {mkReturn(mkIntrinsic(name, {b.var("x", 3)}, 3), 3)};
  return compile(b.f, {S(arg)});
}

TEST(Run, MathSqrtDomainError) {
  Compiled c = mathFn("math.sqrt", Kind::Float);
  EXPECT_EQ(run(c, {F(4.0)}).f(), 2.0);
  Call r = run(c, {F(-1.0)});
  EXPECT_EQ(r.status, EP_ERROR);
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_VALUE);
  EXPECT_EQ(r.msg(), "math domain error");
  EXPECT_EQ(r.ctx.exc_line, 3);
  r = run(c, {F(std::nan(""))});
  EXPECT_EQ(r.status, EP_OK) << "sqrt(nan) is nan, not an error";
  EXPECT_TRUE(std::isnan(r.f()));
  Compiled ci = mathFn("math.sqrt", Kind::Int);
  EXPECT_EQ(run(ci, {I(9)}).f(), 3.0);
  EXPECT_EQ(run(ci, {I(-9)}).ctx.exc_kind, EP_EXC_VALUE);
}

TEST(Run, MathLogExpAndFloor) {
  Compiled lg = mathFn("math.log", Kind::Float);
  EXPECT_EQ(run(lg, {F(1.0)}).f(), 0.0);
  EXPECT_EQ(run(lg, {F(0.0)}).ctx.exc_kind, EP_EXC_VALUE);
  Compiled ex = mathFn("math.exp", Kind::Float);
  EXPECT_EQ(run(ex, {F(0.0)}).f(), 1.0);
  Call big = run(ex, {F(1000.0)});
  EXPECT_EQ(big.ctx.exc_kind, EP_EXC_OVERFLOW);
  EXPECT_EQ(big.msg(), "math range error");
  Compiled fl = mathFn("math.floor", Kind::Float);
  EXPECT_EQ(fl.ret, S(Kind::Int));
  EXPECT_EQ(run(fl, {F(-2.5)}).i(), -3);
  EXPECT_EQ(run(fl, {F(std::nan(""))}).ctx.exc_kind, EP_EXC_VALUE) << "cannot convert float NaN to integer";
  EXPECT_EQ(run(fl, {F(INFINITY)}).ctx.exc_kind, EP_EXC_OVERFLOW);
  EXPECT_EQ(run(fl, {F(1e300)}).status, EP_DEOPT) << "an int beyond int64";
}

TEST(Run, Float32ArgumentsAndResults) {
  Compiled c = binop(Op::Mul, Kind::NpFloat32, Kind::Float);  // np.float32 * Python float -> np.float32
  ASSERT_EQ(c.ret, S(Kind::NpFloat32));
  Call r = run(c, {F(0.1), F(3.0)});  // float32 slots carry a double; the callee narrows it
  EXPECT_EQ(r.f(), (double)(0.1f * 3.0f));
}

TEST(Run, FloatEdgeCasesMatchCPython) {
  Compiled fd = binop(Op::FloorDiv, Kind::Float, Kind::Float);
  Compiled md = binop(Op::Mod, Kind::Float, Kind::Float);
  EXPECT_EQ(run(fd, {F(1.0), F(0.1)}).f(), 9.0) << "1.0 // 0.1 is 9.0 in Python (fmod-based)";
  EXPECT_EQ(run(md, {F(1.0), F(0.1)}).f(), 0.09999999999999995);
  Call nz = run(fd, {F(-0.0), F(1.0)});
  EXPECT_EQ(nz.f(), 0.0);
  EXPECT_TRUE(std::signbit(nz.f())) << "-0.0 // 1.0 is -0.0";
  EXPECT_EQ(run(md, {F(5.0), F(INFINITY)}).f(), 5.0);
  EXPECT_EQ(run(md, {F(-5.0), F(INFINITY)}).f(), INFINITY);
  EXPECT_EQ(run(fd, {F(5.0), F(INFINITY)}).f(), 0.0);
  EXPECT_EQ(run(fd, {F(-5.0), F(INFINITY)}).f(), -1.0);

  Compiled pw = binop(Op::Pow, Kind::Float, Kind::Float);
  EXPECT_EQ(run(pw, {F(2.0), F(0.5)}).f(), std::sqrt(2.0));
  EXPECT_EQ(run(pw, {F(-8.0), F(2.0)}).f(), 64.0);
  EXPECT_EQ(run(pw, {F(10.0), F(-400.0)}).f(), 0.0) << "underflow is not an error";
  EXPECT_EQ(run(pw, {F(-8.0), F(1.0 / 3.0)}).status, EP_DEOPT) << "a complex result: the interpreter computes it";
  Call z = run(pw, {F(0.0), F(-1.0)});
  EXPECT_EQ(z.ctx.exc_kind, EP_EXC_ZERO_DIVISION);
  EXPECT_EQ(z.msg(), "0.0 cannot be raised to a negative power");
  Call big = run(pw, {F(10.0), F(400.0)});
  EXPECT_EQ(big.ctx.exc_kind, EP_EXC_OVERFLOW);
  EXPECT_EQ(run(pw, {F(std::nan("")), F(0.0)}).f(), 1.0) << "x ** 0 is 1.0, even for nan";
  EXPECT_EQ(run(pw, {F(1.0), F(std::nan(""))}).f(), 1.0) << "1 ** y is 1.0, even for nan";
}

TEST(Run, NumpyFloatEdgeCasesFollowIeee) {
  Compiled md = binop(Op::Mod, Kind::NpFloat64, Kind::Float);
  Compiled fd = binop(Op::FloorDiv, Kind::NpFloat64, Kind::Float);
  EXPECT_TRUE(std::isnan(run(md, {F(1.0), F(0.0)}).f()));
  EXPECT_EQ(run(fd, {F(1.0), F(0.0)}).f(), INFINITY);
  EXPECT_EQ(run(fd, {F(-1.0), F(0.0)}).f(), -INFINITY);
  EXPECT_EQ(run(md, {F(-7.0), F(2.0)}).f(), 1.0);
  Compiled shr = binop(Op::RShift, Kind::NpInt32, Kind::NpInt32);
  Compiled shl = binop(Op::LShift, Kind::NpInt32, Kind::NpInt32);
  EXPECT_EQ(run(shr, {I(-8), I(40)}).i(), -1);
  EXPECT_EQ(run(shl, {I(1), I(40)}).i(), 0);
  Compiled fd64 = binop(Op::FloorDiv, Kind::NpInt64, Kind::NpInt64);
  EXPECT_EQ(run(fd64, {I(INT64_MIN), I(-1)}).i(), INT64_MIN) << "NumPy wraps (with a warning)";
  Compiled pw = binop(Op::Pow, Kind::NpInt32, Kind::NpInt32);
  EXPECT_EQ(run(pw, {I(3), I(4)}).i(), 81);
  Call r = run(pw, {I(3), I(-1)});
  EXPECT_EQ(r.ctx.exc_kind, EP_EXC_VALUE);
  EXPECT_EQ(r.msg(), "Integers to negative integer powers are not allowed.");
}

TEST(Run, BoolAndShiftArithmetic) {
  Compiled add = binop(Op::Add, Kind::Bool, Kind::Bool);
  ASSERT_EQ(add.ret, S(Kind::Int));
  EXPECT_EQ(run(add, {1, 1}).i(), 2);
  Compiled band = binop(Op::BitAnd, Kind::Bool, Kind::Bool);
  ASSERT_EQ(band.ret, S(Kind::Bool));
  EXPECT_EQ(run(band, {1, 0}).i(), 0);
  EXPECT_EQ(run(band, {1, 1}).i(), 1);
  Compiled shr = binop(Op::RShift, Kind::Int, Kind::Int);
  Compiled shl = binop(Op::LShift, Kind::Int, Kind::Int);
  EXPECT_EQ(run(shr, {I(-8), I(100)}).i(), -1);
  EXPECT_EQ(run(shl, {I(1), I(62)}).i(), 1LL << 62);
  EXPECT_EQ(run(shl, {I(1), I(63)}).status, EP_DEOPT) << "2**63 needs a bigger int";
  EXPECT_EQ(run(shl, {I(3), I(62)}).status, EP_DEOPT);
  Call neg = run(shl, {I(1), I(-1)});
  EXPECT_EQ(neg.ctx.exc_kind, EP_EXC_VALUE);
  EXPECT_EQ(neg.msg(), "negative shift count");
}

TEST(Run, BuiltinsRoundAbsMaxIntAndOr) {
  Compiled rnd = mathFn("round", Kind::Float);
  ASSERT_EQ(rnd.ret, S(Kind::Int));
  EXPECT_EQ(run(rnd, {F(2.5)}).i(), 2) << "round half to even";
  EXPECT_EQ(run(rnd, {F(3.5)}).i(), 4);
  EXPECT_EQ(run(rnd, {F(-2.5)}).i(), -2);
  EXPECT_EQ(run(rnd, {F(-0.5)}).i(), 0);
  EXPECT_EQ(run(rnd, {F(std::nan(""))}).ctx.exc_kind, EP_EXC_VALUE);
  Compiled ab = mathFn("abs", Kind::Int);
  EXPECT_EQ(run(ab, {I(-3)}).i(), 3);
  EXPECT_EQ(run(ab, {I(INT64_MIN)}).status, EP_DEOPT);
  Compiled tr = mathFn("int", Kind::Float);
  EXPECT_EQ(run(tr, {F(-2.7)}).i(), -2);

  Fn b("mx", {"a", "b"});
  b.f.body = {mkReturn(mkIntrinsic("max", {b.var("a", 2), b.var("b", 2)}, 2), 2)};
  Compiled mx = compile(b.f, {S(Kind::Float), S(Kind::Float)});
  EXPECT_TRUE(std::isnan(run(mx, {F(std::nan("")), F(1.0)}).f())) << "max(nan, 1.0) keeps the first";
  EXPECT_EQ(run(mx, {F(1.0), F(std::nan(""))}).f(), 1.0) << "max(1.0, nan) keeps the first";

  Fn m("mx2", {"a", "b"});
  m.f.body = {mkReturn(mkIntrinsic("max", {m.var("a", 2), m.var("b", 2)}, 2), 2)};
  Compiled mixed = compile(m.f, {S(Kind::Int), S(Kind::Float)});
  ASSERT_EQ(mixed.ret, makeUnion({Kind::Int, Kind::Float}));
  Call r = run(mixed, {I(1), F(1.0)});
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Int) << "max(1, 1.0) is the int 1";
  EXPECT_EQ(r.i(1), 1);
  r = run(mixed, {I(1), F(1.5)});
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Float);
  EXPECT_EQ(r.f(1), 1.5);

  Fn o("orr", {"a", "b"});
  o.f.body = {mkReturn(mkBoolOp(Op::Or, o.var("a", 2), o.var("b", 2), 2), 2)};
  Compiled orr = compile(o.f, {S(Kind::Int), S(Kind::Float)});
  r = run(orr, {I(0), F(2.5)});
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Float) << "0 or 2.5 is 2.5";
  EXPECT_EQ(r.f(1), 2.5);
  r = run(orr, {I(3), F(2.5)});
  EXPECT_EQ(r.ret[0], (uint64_t)Kind::Int) << "3 or 2.5 is 3";
  EXPECT_EQ(r.i(1), 3);
}

}  // namespace
}  // namespace epochpp::codegen
