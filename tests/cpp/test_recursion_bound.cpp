// tests/cpp/test_recursion_bound.cpp — recursion_bound.cpp: which self-recursive functions get a
// measure (a parameter bounding their recursion depth) and which must keep the check per call.
#include <gtest/gtest.h>

#include "jit/ir/nodes.h"
#include "jit/passes/passes.h"
#include "tests/cpp/pass_test_util.h"

namespace epochpp::passes {
namespace {

using namespace ir;
using namespace testing_util;

// f(params) whose body `make` builds; callee 0 is f itself, or `other` when given.
struct Rec {
  Fn b;
  explicit Rec(std::vector<std::string> params, const std::string& callee = "f") : b("f", std::move(params)) {
    b.f.callees.push_back({callee, nullptr, 0});
    b.f.param_types.assign(b.f.num_params, S(Kind::Int));
    for (int i = 0; i < b.f.num_params; ++i) b.f.locals[i].type = S(Kind::Int);
  }
  ExprPtr n() { return b.var("n"); }
  ExprPtr c(int64_t v) { return mkConstInt(v); }
  ExprPtr call(ExprPtr arg) { return mkCallFunc(0, "f", {std::move(arg)}); }
  ExprPtr minus(int64_t k) { return mkBinary(Op::Sub, n(), c(k)); }
  // types the constants and the call (the pass reads kinds, as after type inference)
  void type(Expr& e) {
    if (e.kind == ExprKind::Const) e.type = S(Kind::Int);
    for (auto& a : e.args) type(*a);
  }
  void type(Block& blk) {
    for (auto& s : blk) {
      if (s->value) type(*s->value);
      type(s->body);
      type(s->orelse);
    }
  }
  bool run(Block body) {
    b.f.body = std::move(body);
    type(b.f.body);
    boundRecursion(b.f);
    return b.f.measure_slot >= 0;
  }
};

// def f(n): if n < 2: return n;  return f(n - 1) + f(n - 2)
TEST(RecursionBound, FibHasMeasureN) {
  Rec r({"n"});
  EXPECT_TRUE(r.run({mkIf(mkCompare(Op::Lt, r.n(), r.c(2)), {mkReturn(r.n())}, {}),
                     mkReturn(mkBinary(Op::Add, r.call(r.minus(1)), r.call(r.minus(2))))}));
  EXPECT_EQ(r.b.f.measure_slot, 0);
  EXPECT_EQ(r.b.f.measure_min, 2);
  EXPECT_NE(print(r.b.f).find("# recursion depth bounded by n (calls only while n >= 2)"), std::string::npos);
  // fib(1), fib(0) are leaves: n, without a call
  ASSERT_NE(r.b.f.leaf_value, nullptr);
  EXPECT_EQ(r.b.f.leaf_value->kind, ExprKind::Var);
  EXPECT_EQ(r.b.f.leaf_below, 2);
}

// a leaf is the body's first statement returning a parameter or a constant, nothing else
TEST(RecursionBound, LeafOnlyForAPlainFirstReturn) {
  auto tail = [](Rec& r) { return mkReturn(mkBinary(Op::Add, r.call(r.minus(1)), r.c(1))); };
  Rec konst({"n"});
  EXPECT_TRUE(konst.run({mkIf(mkCompare(Op::Lt, konst.n(), konst.c(1)), {mkReturn(konst.c(7))}, {}), tail(konst)}));
  ASSERT_NE(konst.b.f.leaf_value, nullptr);
  EXPECT_EQ(konst.b.f.leaf_value->ival, 7);
  Rec computed({"n"});  // n * 2 could be any expression: no leaf (the measure stays)
  EXPECT_TRUE(computed.run({mkIf(mkCompare(Op::Lt, computed.n(), computed.c(1)),
                                 {mkReturn(mkBinary(Op::Mul, computed.n(), computed.c(2)))}, {}),
                            tail(computed)}));
  EXPECT_EQ(computed.b.f.leaf_value, nullptr);
  Rec second({"n"});  // another statement runs first
  int m = second.b.f.addLocal("m");
  EXPECT_TRUE(second.run({mkAssign(m, second.n()),
                          mkIf(mkCompare(Op::Lt, second.n(), second.c(1)), {mkReturn(second.n())}, {}), tail(second)}));
  EXPECT_EQ(second.b.f.leaf_value, nullptr);
  Rec longer({"n"});  // the guard's body does more than return
  EXPECT_TRUE(longer.run({mkIf(mkCompare(Op::Lt, longer.n(), longer.c(1)), {mkExprStmt(longer.n()), mkReturn(longer.n())}, {}),
                          tail(longer)}));
  EXPECT_EQ(longer.b.f.leaf_value, nullptr);
}

// `if n <= 0: return 0` and `if 1 > n: ...` name the same threshold, 1
TEST(RecursionBound, LeAndReversedCompare) {
  Rec a({"n"});
  EXPECT_TRUE(a.run({mkIf(mkCompare(Op::Le, a.n(), a.c(0)), {mkReturn(a.c(0))}, {}), mkReturn(a.call(a.minus(1)))}));
  EXPECT_EQ(a.b.f.measure_min, 1);
  Rec b({"n"});
  EXPECT_TRUE(b.run({mkIf(mkCompare(Op::Gt, b.c(1), b.n()), {mkReturn(b.c(0))}, {}), mkReturn(b.call(b.minus(3)))}));
  EXPECT_EQ(b.b.f.measure_min, 1);
}

// def f(n): if n >= 2: return f(n - 1) + 1;  return 0   — and `1 + f(n - 1) if n > 4 else 0`
TEST(RecursionBound, CallsUnderPositiveGuardOrConditionalExpression) {
  Rec a({"n"});
  EXPECT_TRUE(a.run({mkIf(mkCompare(Op::Ge, a.n(), a.c(2)), {mkReturn(mkBinary(Op::Add, a.call(a.minus(1)), a.c(1)))}, {}),
                     mkReturn(a.c(0))}));
  EXPECT_EQ(a.b.f.measure_min, 2);
  Rec b({"n"});
  EXPECT_TRUE(b.run({mkReturn(mkIfExp(mkCompare(Op::Gt, b.n(), b.c(4)), mkBinary(Op::Add, b.c(1), b.call(b.minus(1))), b.c(0)))}));
  EXPECT_EQ(b.b.f.measure_min, 5);
}

// the smallest guard any call sits under is the one that bounds the depth
TEST(RecursionBound, NestedGuardsTakeTheLowest) {
  Rec r({"n"});
  EXPECT_TRUE(r.run({mkIf(mkCompare(Op::Lt, r.n(), r.c(10)),
                          {mkIf(mkCompare(Op::Ge, r.n(), r.c(-3)), {mkReturn(r.call(r.minus(1)))}, {}), mkReturn(r.c(0))}, {}),
                     mkReturn(r.call(r.minus(2)))}));
  EXPECT_EQ(r.b.f.measure_min, -3);
}

TEST(RecursionBound, NoMeasureWhenTheDepthIsNotBounded) {
  auto guard = [](Rec& r) { return mkIf(mkCompare(Op::Lt, r.n(), r.c(2)), {mkReturn(r.n())}, {}); };
  Rec up({"n"});  // f(n + 1): grows
  EXPECT_FALSE(up.run({guard(up), mkReturn(up.call(mkBinary(Op::Add, up.n(), up.c(1))))}));
  Rec same({"n"});  // f(n - 0)
  EXPECT_FALSE(same.run({guard(same), mkReturn(same.call(same.minus(0)))}));
  Rec before({"n"});  // a call before the guard
  EXPECT_FALSE(before.run({mkExprStmt(before.call(before.minus(1))), guard(before), mkReturn(before.call(before.minus(1)))}));
  Rec noReturn({"n"});  // the guard's body falls through
  EXPECT_FALSE(noReturn.run({mkIf(mkCompare(Op::Lt, noReturn.n(), noReturn.c(2)), {mkPass()}, {}),
                             mkReturn(noReturn.call(noReturn.minus(1)))}));
  Rec withElse({"n"});  // an else: what follows is not only for n >= 2
  EXPECT_FALSE(withElse.run({mkIf(mkCompare(Op::Lt, withElse.n(), withElse.c(2)), {mkReturn(withElse.n())}, {mkPass()}),
                             mkReturn(withElse.call(withElse.minus(1)))}));
  Rec rebound({"n"});  // n rebound after the guard
  int n = rebound.b.f.slotOf("n");
  EXPECT_FALSE(rebound.run({guard(rebound), mkAssign(n, mkBinary(Op::Add, rebound.n(), rebound.c(5))),
                            mkReturn(rebound.call(rebound.minus(1)))}));
  Rec other({"n"}, "g");  // a call of another function
  EXPECT_FALSE(other.run({guard(other), mkReturn(other.call(other.minus(1)))}));
  Rec noCall({"n"});
  EXPECT_FALSE(noCall.run({guard(noCall), mkReturn(noCall.n())}));
}

// def f(k, n): ... f(k + 1, n - 1): the second parameter is the measure
TEST(RecursionBound, MeasureIsAnyIntParameter) {
  Rec r({"k", "n"});
  auto call = mkCallFunc(0, "f", {mkBinary(Op::Add, r.b.var("k"), r.c(1)), r.minus(1)});
  EXPECT_TRUE(r.run({mkIf(mkCompare(Op::Lt, r.n(), r.c(1)), {mkReturn(r.b.var("k"))}, {}), mkReturn(call)}));
  EXPECT_EQ(r.b.f.measure_slot, 1);
  EXPECT_EQ(r.b.f.measure_min, 1);
}

}  // namespace
}  // namespace epochpp::passes
