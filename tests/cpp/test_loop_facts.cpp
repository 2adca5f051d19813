// tests/cpp/test_loop_facts.cpp — the loop facts passes write for codegen: bounds checks hoisted
// before a loop and lifted out of nests (bounds_hoist.cpp), int overflow checked once per strip
// (overflow_hoist.cpp), math.sqrt arguments that are never negative (float_signs.cpp).
#include <gtest/gtest.h>

#include "tests/cpp/pass_test_util.h"

namespace epochpp::passes {
namespace {

using namespace ir;
using namespace testing_util;

TEST(BoundsHoist, IndexComputedInTheLoopIsNotHoisted) {
  // def f(a, n): for i in range(n): j = i * 2; a[j] = 0.0
  Fn b("f", {"a", "n"});
  int i = b.local("i"), j = b.local("j");
  b.f.body = {mkFor(i, range0(b.var("n", 2), 2),
                    {mkAssign(j, mkBinary(Op::Mul, mkVar(i, 3), mkConstInt(2, 3), 3), 3),
                     mkStore(b.var("a", 4), {mkVar(j, 4)}, mkConstFloat(0.0, 4), 4)},
                    {}, 2)};
  runPipeline(b.f, {Arr(Kind::NpFloat64, 1), S(Kind::Int)}, kNoCallees);
  EXPECT_TRUE(b.f.body[0]->hoisted.empty());
}

TEST(BoundsHoist, ArrayReboundInTheLoopIsNotHoisted) {
  // def f(a, b, n): for i in range(n): x = a[i]; a = b
  Fn b("f", {"a", "b", "n"});
  int i = b.local("i"), x = b.local("x");
  b.f.body = {mkFor(i, range0(b.var("n", 2), 2),
                    {mkAssign(x, mkIndex(b.var("a", 3), {mkVar(i, 3)}, 3), 3), mkAssign(0, b.var("b", 4), 4)}, {}, 2)};
  runPipeline(b.f, {Arr(Kind::NpFloat64, 1), Arr(Kind::NpFloat64, 1), S(Kind::Int)}, kNoCallees);
  EXPECT_TRUE(b.f.body[0]->hoisted.empty());
}

TEST(BoundsHoist, InnerAccessesLiftedToTheOutermostLoop) {
  // def f(X, D, n, d):
  //   for i in range(n):
  //     for j in range(n):
  //       for k in range(d): D[i, j] = X[j, k]
  Fn b("f", {"X", "D", "n", "d"});
  int i = b.local("i"), j = b.local("j"), k = b.local("k");
  auto inner = mkFor(k, range0(b.var("d", 4), 4),
                     {mkStore(b.var("D", 5), {mkVar(i, 5), mkVar(j, 5)}, mkIndex(b.var("X", 5), {mkVar(j, 5), mkVar(k, 5)}, 5), 5)},
                     {}, 4);
  auto middle = mkFor(j, range0(b.var("n", 3), 3), {inner}, {}, 3);
  b.f.body = {mkFor(i, range0(b.var("n", 2), 2), {middle}, {}, 2)};
  runPipeline(b.f, {Arr(Kind::NpFloat64, 2), Arr(Kind::NpFloat64, 2), S(Kind::Int), S(Kind::Int)}, kNoCallees);
  const Stmt& outer = *b.f.body[0];
  const Stmt& mid = *outer.body[0];
  const Stmt& in = *mid.body[0];
  EXPECT_EQ(in.hoisted.size(), 2u) << "the innermost loop keeps its own record (used when the outer check fails)";
  EXPECT_EQ(mid.hoisted.size(), 1u) << "D[i, j], its own (i and j known at its entry); X[j, k] is lifted past it";
  ASSERT_EQ(outer.hoisted.size(), 2u);
  for (auto& h : outer.hoisted)
    for (auto& t : h.dims) {
      if (t.slot == i) EXPECT_EQ(t.loop, nullptr) << "the outer loop's own variable";
      if (t.slot == j) EXPECT_EQ(t.loop, &mid);
      if (t.slot == k) EXPECT_EQ(t.loop, &in);
    }
}

TEST(BoundsHoist, NotLiftedPastALoopThatChangesTheInnerRange) {
  // def f(X, n): for i in range(n): m = i; for k in range(m): x = X[k]
  Fn b("f", {"X", "n"});
  int i = b.local("i"), m = b.local("m"), k = b.local("k"), x = b.local("x");
  auto inner = mkFor(k, range0(mkVar(m, 4), 4), {mkAssign(x, mkIndex(b.var("X", 5), {mkVar(k, 5)}, 5), 5)}, {}, 4);
  b.f.body = {mkFor(i, range0(b.var("n", 2), 2), {mkAssign(m, mkVar(i, 3), 3), inner}, {}, 2)};
  runPipeline(b.f, {Arr(Kind::NpFloat64, 1), S(Kind::Int)}, kNoCallees);
  EXPECT_TRUE(b.f.body[0]->hoisted.empty()) << "m is assigned in the outer loop";
  EXPECT_EQ(b.f.body[0]->body[1]->hoisted.size(), 1u);
}

TEST(FloatSigns, SqrtOfASumOfSquaresNeedsNoDomainCheck) {
  // def f(x, y): s = 0.0; t = x - y; s = s + t * t; a = math.sqrt(s); b = math.sqrt(x); u = -1.0; c = math.sqrt(u)
  Fn b("f", {"x", "y"});
  int s = b.local("s"), t = b.local("t"), a = b.local("a"), bb = b.local("b"), u = b.local("u"), c = b.local("c");
  b.f.body = {mkAssign(s, mkConstFloat(0.0, 2), 2),
              mkAssign(t, mkBinary(Op::Sub, b.var("x", 3), b.var("y", 3), 3), 3),
              mkAssign(s, mkBinary(Op::Add, mkVar(s, 4), mkBinary(Op::Mul, mkVar(t, 4), mkVar(t, 4), 4), 4), 4),
              mkAssign(a, mkIntrinsic("math.sqrt", {mkVar(s, 5)}, 5), 5),
              mkAssign(bb, mkIntrinsic("math.sqrt", {b.var("x", 6)}, 6), 6),
              mkAssign(u, mkConstFloat(-1.0, 7), 7),
              mkAssign(c, mkIntrinsic("math.sqrt", {mkVar(u, 8)}, 8), 8)};
  runPipeline(b.f, {S(Kind::Float), S(Kind::Float)}, kNoCallees);
  EXPECT_TRUE(b.f.body[3]->value->facts & kFactNonNegArg) << "s is 0.0 plus squares";
  EXPECT_FALSE(b.f.body[4]->value->facts & kFactNonNegArg) << "a parameter can be negative";
  EXPECT_FALSE(b.f.body[6]->value->facts & kFactNonNegArg) << "u = -1.0";
}

TEST(FloatSigns, OneNegativeAssignmentSpoilsTheLocal) {
  // def f(x, n): s = 0.0; for i in range(n): s = s - x * x;  r = math.sqrt(s)
  Fn b("f", {"x", "n"});
  int s = b.local("s"), i = b.local("i"), r = b.local("r");
  b.f.body = {mkAssign(s, mkConstFloat(0.0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkAssign(s, mkBinary(Op::Sub, mkVar(s, 4), mkBinary(Op::Mul, b.var("x", 4), b.var("x", 4), 4), 4), 4)}, {}, 3),
              mkAssign(r, mkIntrinsic("math.sqrt", {mkVar(s, 5)}, 5), 5)};
  runPipeline(b.f, {S(Kind::Float), S(Kind::Int)}, kNoCallees);
  EXPECT_FALSE(b.f.body[2]->value->facts & kFactNonNegArg);
}

TEST(OverflowHoist, AccumulatorsAndTheirIncrements) {
  // def f(n, k): s = 0; t = 0
  //   for i in range(n): s = s + i * k; t = t + s; u = i * 2
  Fn b("f", {"n", "k"});
  int s = b.local("s"), t = b.local("t"), i = b.local("i"), u = b.local("u");
  b.f.body = {mkAssign(s, mkConstInt(0, 2), 2), mkAssign(t, mkConstInt(0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkAssign(s, mkBinary(Op::Add, mkVar(s, 4), mkBinary(Op::Mul, mkVar(i, 4), b.var("k", 4), 4), 4), 4),
                     mkAssign(t, mkBinary(Op::Add, mkVar(t, 5), mkVar(s, 5), 5), 5),
                     mkAssign(u, mkBinary(Op::Mul, mkVar(i, 6), mkConstInt(2, 6), 6), 6)},
                    {}, 3)};
  runPipeline(b.f, {S(Kind::Int), S(Kind::Int)}, kNoCallees);
  const Stmt& loop = *b.f.body[2];
  // s is an accumulator; t is not (its increment reads s); u is assigned a value that is not `u + inc`
  ASSERT_EQ(loop.ovf_accums.size(), 1u);
  EXPECT_EQ(loop.ovf_accums[0].slot, s);
  EXPECT_EQ(loop.ovf_accums[0].updates, 1);
  // i * k, s + i * k and i * 2 are bounded; t + s is not (t is neither unchanged nor an accumulator)
  EXPECT_EQ(loop.ovf_ops.size(), 3u);
}

TEST(OverflowHoist, OnlyInnermostLoopsAndNotAReboundLoopVariable) {
  // def f(n): s = 0
  //   for i in range(n):
  //     for j in range(n): s = s + j
  //     s = s + i
  //   for i in range(n): i = i + 1; s = s + i
  Fn b("f", {"n"});
  int s = b.local("s"), i = b.local("i"), j = b.local("j");
  b.f.body = {mkAssign(s, mkConstInt(0, 2), 2),
              mkFor(i, range0(b.var("n", 3), 3),
                    {mkFor(j, range0(b.var("n", 4), 4), {mkAssign(s, mkBinary(Op::Add, mkVar(s, 5), mkVar(j, 5), 5), 5)}, {}, 4),
                     mkAssign(s, mkBinary(Op::Add, mkVar(s, 6), mkVar(i, 6), 6), 6)},
                    {}, 3),
              mkFor(i, range0(b.var("n", 7), 7),
                    {mkAssign(i, mkBinary(Op::Add, mkVar(i, 8), mkConstInt(1, 8), 8), 8),
                     mkAssign(s, mkBinary(Op::Add, mkVar(s, 9), mkVar(i, 9), 9), 9)},
                    {}, 7)};
  runPipeline(b.f, {S(Kind::Int)}, kNoCallees);
  const Stmt& outer = *b.f.body[1];
  EXPECT_TRUE(outer.ovf_ops.empty());
  EXPECT_EQ(outer.body[0]->ovf_ops.size(), 1u);
  EXPECT_EQ(outer.body[0]->ovf_accums.size(), 1u);
  EXPECT_TRUE(b.f.body[2]->ovf_ops.empty());  // i changes in the body: nothing reading it is bounded
}

}  // namespace
}  // namespace epochpp::passes
