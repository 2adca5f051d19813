// tests/cpp/test_ir.cpp — the IR on its own: builder (mk*), the type lattice, the printer and the verifier.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "jit/ir/liveness.h"
#include "jit/ir/nodes.h"

namespace epochpp::ir {
namespace {

Type S(Kind k) { return Type::scalar(k); }

// def f(n): s = 0; for i in range(0, n, 1): s = s + i; return s   (untyped, as the frontend leaves it)
Function sumLoop() {
  Function f;
  f.name = "sum_to";
  f.file = "t.py";
  f.first_line = 1;
  int n = f.addLocal("n", true);
  f.num_params = 1;
  int s = f.addLocal("s");
  int i = f.addLocal("i");
  f.body.push_back(mkAssign(s, mkConstInt(0, 2), 2));
  f.body.push_back(mkFor(i, mkRange(mkConstInt(0, 3), mkVar(n, 3), mkConstInt(1, 3), 3),
                         {mkAssign(s, mkBinary(Op::Add, mkVar(s, 4), mkVar(i, 4), 4), 4)}, {}, 3));
  f.body.push_back(mkReturn(mkVar(s, 5), 5));
  return f;
}

// ---- builder ----------------------------------------------------------------------------------

TEST(Builder, ConstantsCarryTheirTypeAndValue) {
  auto i = mkConstInt(-42, 7);
  EXPECT_EQ(i->kind, ExprKind::Const);
  EXPECT_EQ(i->type, S(Kind::Int));
  EXPECT_EQ(i->ival, -42);
  EXPECT_EQ(i->line, 7);
  auto b = mkConstBool(true);
  EXPECT_EQ(b->type, S(Kind::Bool));
  EXPECT_EQ(b->ival, 1);
  auto fl = mkConstFloat(2.5);
  EXPECT_EQ(fl->type, S(Kind::Float));
  EXPECT_DOUBLE_EQ(fl->fval, 2.5);
  auto no = mkConstNone(3);
  EXPECT_EQ(no->type, Type::none());
  EXPECT_TRUE(no->args.empty());
}

TEST(Builder, ExpressionsHaveTheirKindOpAndOperands) {
  auto a = mkVar(0, 1), c = mkVar(1, 1);
  auto bin = mkBinary(Op::Mul, a, c, 4);
  EXPECT_EQ(bin->kind, ExprKind::Binary);
  EXPECT_EQ(bin->op, Op::Mul);
  ASSERT_EQ(bin->args.size(), 2u);
  EXPECT_EQ(bin->args[0], a);
  EXPECT_EQ(bin->args[1], c);
  EXPECT_EQ(bin->ival, 0) << "not in place unless the frontend says so";
  EXPECT_FALSE(bin->type.known()) << "types are left to type inference";

  EXPECT_EQ(mkCompare(Op::Lt, a, c)->kind, ExprKind::Compare);
  EXPECT_EQ(mkCompare(Op::Lt, a, c)->op, Op::Lt);
  EXPECT_EQ(mkBoolOp(Op::Or, a, c)->kind, ExprKind::BoolOp);
  EXPECT_EQ(mkUnary(Op::Neg, a)->args.size(), 1u);
  EXPECT_EQ(mkIfExp(a, c, a)->args.size(), 3u);

  auto in = mkIntrinsic("math.sqrt", {a}, 9);
  EXPECT_EQ(in->name, "math.sqrt");
  EXPECT_EQ(in->ival, -1) << "no dtype= argument";

  auto call = mkCallFunc(2, "helper", {a, c});
  EXPECT_EQ(call->callee, 2);
  EXPECT_EQ(call->name, "helper");

  auto idx = mkIndex(a, {c, mkConstInt(0)});
  ASSERT_EQ(idx->args.size(), 3u);
  EXPECT_EQ(idx->args[0], a) << "the base comes first, then the indices";

  auto sl = mkSlice(mkConstNone(), mkConstInt(3), mkConstNone());
  EXPECT_EQ(sl->kind, ExprKind::Slice);
  EXPECT_EQ(sl->args.size(), 3u);
  EXPECT_EQ(mkAttr("shape", a)->name, "shape");
  EXPECT_EQ(mkTuple({a, c, a})->args.size(), 3u);
  EXPECT_EQ(mkTupleGet(a, 1)->ival, 1);
  auto named = mkNamed(3, c);
  EXPECT_EQ(named->slot, 3);
  EXPECT_EQ(named->args[0], c);
  EXPECT_EQ(mkRange(mkConstInt(0), a, mkConstInt(1))->kind, ExprKind::RangeMake);
}

TEST(Builder, Statements) {
  auto v = mkConstInt(1);
  auto as = mkAssign(2, v, 11);
  EXPECT_EQ(as->kind, StmtKind::Assign);
  EXPECT_EQ(as->slot, 2);
  EXPECT_EQ(as->value, v);
  EXPECT_EQ(as->line, 11);

  auto st = mkStore(mkVar(0), {mkVar(1), mkVar(2)}, v);
  ASSERT_EQ(st->args.size(), 3u) << "target, then the indices";
  EXPECT_EQ(st->value, v);

  auto r = mkReturn(nullptr, 5);
  ASSERT_TRUE(r->value) << "a bare return returns None";
  EXPECT_EQ(r->value->type, Type::none());

  auto loop = mkFor(1, mkRange(mkConstInt(0), mkConstInt(3), mkConstInt(1)), {mkBreak()}, {mkPass()});
  EXPECT_EQ(loop->kind, StmtKind::For);
  EXPECT_EQ(loop->body.size(), 1u);
  EXPECT_EQ(loop->orelse.size(), 1u);
  EXPECT_FALSE(loop->parallel);
  EXPECT_EQ(mkWhile(mkConstBool(true), {mkContinue()}, {})->kind, StmtKind::While);
  EXPECT_EQ(mkIf(mkConstBool(true), {}, {})->kind, StmtKind::If);
  EXPECT_EQ(mkExprStmt(v)->kind, StmtKind::ExprStmt);
}

TEST(Builder, LocalsAreDeduplicatedByName) {
  Function f;
  EXPECT_EQ(f.addLocal("a", true), 0);
  EXPECT_EQ(f.addLocal("b"), 1);
  EXPECT_EQ(f.addLocal("a"), 0);
  EXPECT_EQ(f.locals.size(), 2u);
  EXPECT_TRUE(f.locals[0].is_param);
  EXPECT_FALSE(f.locals[1].is_param);
  EXPECT_EQ(f.slotOf("b"), 1);
  EXPECT_EQ(f.slotOf("zzz"), -1);
}

TEST(Builder, OpNames) {
  EXPECT_STREQ(opName(Op::FloorDiv), "//");
  EXPECT_STREQ(opName(Op::Pow), "**");
  EXPECT_STREQ(opName(Op::Ne), "!=");
  EXPECT_STREQ(opName(Op::Not), "not");
  EXPECT_STREQ(opName(Op::MatMul), "@");
}

// ---- types -------------------------------------------------------------------------------------

TEST(Types, Predicates) {
  EXPECT_FALSE(Type::unknown().known());
  EXPECT_TRUE(S(Kind::Int).isScalar());
  EXPECT_TRUE(S(Kind::NpFloat32).isScalar());
  EXPECT_FALSE(Type::none().isScalar());
  EXPECT_FALSE(Type::range().isScalar());
  EXPECT_TRUE(makeUnion({Kind::Int, Kind::Float}).isNumeric());
  EXPECT_FALSE(makeUnion({Kind::Int, Kind::Float}).isScalar());
  EXPECT_TRUE(S(Kind::NpFloat32).isFloatLike());
  EXPECT_TRUE(S(Kind::NpInt32).isIntLike());
  EXPECT_FALSE(S(Kind::Bool).isIntLike()) << "bool is not int-like in the lattice";
  EXPECT_TRUE(S(Kind::NpBool).isBoolLike());
  EXPECT_TRUE(Type::array(Kind::NpFloat64, 2, Layout::C).isArray());
  EXPECT_TRUE(isNumpyScalar(Kind::NpBool));
  EXPECT_FALSE(isNumpyScalar(Kind::Float));
  EXPECT_EQ(bitWidth(Kind::Bool), 1);
  EXPECT_EQ(bitWidth(Kind::NpInt32), 32);
  EXPECT_EQ(bitWidth(Kind::NpFloat32), 32);
  EXPECT_EQ(bitWidth(Kind::Int), 64);
}

TEST(Types, EqualityCoversEveryField) {
  auto a = Type::array(Kind::NpFloat64, 2, Layout::C);
  EXPECT_EQ(a, Type::array(Kind::NpFloat64, 2, Layout::C));
  EXPECT_NE(a, Type::array(Kind::NpFloat64, 2, Layout::F));
  EXPECT_NE(a, Type::array(Kind::NpFloat64, 1, Layout::C));
  EXPECT_NE(a, Type::array(Kind::NpFloat32, 2, Layout::C));
  EXPECT_NE(a, Type::array(Kind::NpFloat64, 2, Layout::C, true));
  EXPECT_NE(Type::tuple({S(Kind::Int)}), Type::tuple({S(Kind::Float)}));
}

TEST(Types, Str) {
  EXPECT_EQ(S(Kind::Int).str(), "int");
  EXPECT_EQ(S(Kind::Float).str(), "float");
  EXPECT_EQ(S(Kind::Bool).str(), "bool");
  EXPECT_EQ(Type::none().str(), "none");
  EXPECT_EQ(Type::unknown().str(), "?");
  EXPECT_EQ(S(Kind::NpInt32).str(), "np.int32");
  EXPECT_EQ(S(Kind::NpBool).str(), "np.bool");
  EXPECT_EQ(Type::range().str(), "range");
  EXPECT_EQ(Type::array(Kind::NpFloat64, 2, Layout::C).str(), "array[float64, 2d, C]");
  EXPECT_EQ(Type::array(Kind::NpInt32, 1, Layout::A, true).str(), "array[int32, 1d, A, ro]");
  EXPECT_EQ(Type::array(Kind::NpBool, 3, Layout::F).str(), "array[bool, 3d, F]");
  EXPECT_EQ(Type::tuple({}).str(), "()");
  EXPECT_EQ(Type::tuple({S(Kind::Int)}).str(), "(int,)");
  EXPECT_EQ(Type::tuple({S(Kind::Int), S(Kind::Float)}).str(), "(int, float)");
  EXPECT_EQ(Type::tuple({Type::tuple({S(Kind::Bool)}), Type::array(Kind::NpFloat32, 1, Layout::C)}).str(),
            "((bool,), array[float32, 1d, C])");
  EXPECT_EQ(makeUnion({Kind::Float, Kind::Int}).str(), "int|float");
}

TEST(Types, MakeUnionSortsDeduplicatesAndCollapses) {
  Type u = makeUnion({Kind::Float, Kind::Int, Kind::Float});
  EXPECT_EQ(u.kind, Kind::Union);
  ASSERT_EQ(u.elems.size(), 2u);
  EXPECT_EQ(u.elems[0].kind, Kind::Int);
  EXPECT_EQ(u.elems[1].kind, Kind::Float);
  EXPECT_EQ(makeUnion({Kind::Int, Kind::Int}), S(Kind::Int)) << "one member is not a union";
  EXPECT_EQ(members(u), (std::vector<Kind>{Kind::Int, Kind::Float}));
  EXPECT_EQ(members(S(Kind::Bool)), (std::vector<Kind>{Kind::Bool}));
}

TEST(Types, JoinScalars) {
  EXPECT_EQ(join(S(Kind::Int), S(Kind::Int)), S(Kind::Int));
  EXPECT_EQ(join(Type::unknown(), S(Kind::Float)), S(Kind::Float)) << "unknown is the bottom";
  EXPECT_EQ(join(S(Kind::Float), Type::unknown()), S(Kind::Float));
  EXPECT_EQ(join(S(Kind::Int), S(Kind::Float)).str(), "int|float");
  EXPECT_EQ(join(S(Kind::Float), S(Kind::Int)), join(S(Kind::Int), S(Kind::Float))) << "join commutes";
  Type u = join(join(S(Kind::Int), S(Kind::Float)), S(Kind::Bool));
  EXPECT_EQ(u.str(), "bool|int|float");
  EXPECT_EQ(join(u, S(Kind::Int)), u) << "absorbing a member changes nothing";
  EXPECT_EQ(join(Type::none(), S(Kind::Int)).str(), "none|int");
  EXPECT_EQ(join(S(Kind::NpInt32), S(Kind::NpInt64)).str(), "np.int32|np.int64");
}

TEST(Types, JoinArraysForgetsLayoutAndKeepsReadonly) {
  auto c = Type::array(Kind::NpFloat64, 2, Layout::C);
  auto fo = Type::array(Kind::NpFloat64, 2, Layout::F);
  auto ro = Type::array(Kind::NpFloat64, 2, Layout::C, true);
  EXPECT_EQ(join(c, fo), Type::array(Kind::NpFloat64, 2, Layout::A));
  EXPECT_EQ(join(c, ro), ro);
  EXPECT_FALSE(join(c, Type::array(Kind::NpFloat32, 2, Layout::C)).known()) << "dtypes differ";
  EXPECT_FALSE(join(c, Type::array(Kind::NpFloat64, 1, Layout::C)).known()) << "ranks differ";
  EXPECT_FALSE(join(c, S(Kind::Float)).known()) << "array vs scalar";
}

TEST(Types, JoinTuplesElementwise) {
  auto a = Type::tuple({S(Kind::Int), S(Kind::Float)});
  auto b = Type::tuple({S(Kind::Float), S(Kind::Float)});
  EXPECT_EQ(join(a, b).str(), "(int|float, float)");
  EXPECT_FALSE(join(a, Type::tuple({S(Kind::Int)})).known()) << "arity differs";
  EXPECT_FALSE(join(Type::tuple({Type::array(Kind::NpInt64, 1, Layout::C)}), Type::tuple({S(Kind::Int)})).known());
  EXPECT_FALSE(join(a, S(Kind::Int)).known());
  EXPECT_FALSE(join(Type::range(), S(Kind::Int)).known());
}

// ---- printer ------------------------------------------------------------------------------------

TEST(Printer, UntypedFunction) {
  Function f = sumLoop();
  EXPECT_EQ(print(f),
            "func sum_to(n):\n"
            "  s = 0\n"
            "  for i in range(0, n, 1):\n"
            "    s = (s + i)\n"
            "  return s\n");
}

TEST(Printer, TypesParallelLoopsAndElse) {
  Function f = sumLoop();
  f.locals[0].type = S(Kind::Int);
  f.locals[1].type = S(Kind::Int);
  f.locals[2].type = S(Kind::Int);
  f.return_type = S(Kind::Int);
  f.body[1]->parallel = true;
  f.body[1]->orelse.push_back(mkPass());
  EXPECT_EQ(print(f),
            "func sum_to(n: int) -> int:\n"
            "  s: int = 0\n"
            "  for[parallel] i in range(0, n, 1):\n"
            "    s: int = (s + i)\n"
            "  else:\n"
            "    pass\n"
            "  return s\n");
}

TEST(Printer, Expressions) {
  Function f;
  int a = f.addLocal("a", true);
  int x = f.addLocal("x");
  f.num_params = 1;
  auto P = [&](const ExprPtr& e) { return print(*e, f); };
  EXPECT_EQ(P(mkConstBool(true)), "True");
  EXPECT_EQ(P(mkConstBool(false)), "False");
  EXPECT_EQ(P(mkConstNone()), "None");
  EXPECT_EQ(P(mkConstInt(-3)), "-3");
  EXPECT_EQ(P(mkConstFloat(1.0)), "1.0");
  EXPECT_EQ(P(mkConstFloat(0.5)), "0.5");
  EXPECT_EQ(P(mkConstFloat(0.1)), "0.10000000000000001") << "%.17g round-trips";
  EXPECT_EQ(P(mkConstFloat(1e20)), "1e+20");
  EXPECT_EQ(P(mkConstFloat(std::numeric_limits<double>::infinity())), "inf");
  EXPECT_EQ(P(mkConstFloat(-std::numeric_limits<double>::infinity())), "-inf");
  EXPECT_EQ(P(mkConstFloat(std::nan(""))), "nan");
  EXPECT_EQ(P(mkUnary(Op::Not, mkVar(x))), "(not x)");
  EXPECT_EQ(P(mkUnary(Op::Neg, mkVar(x))), "(-x)");
  EXPECT_EQ(P(mkUnary(Op::Invert, mkVar(x))), "(~x)");
  EXPECT_EQ(P(mkCompare(Op::Le, mkVar(x), mkConstInt(3))), "(x <= 3)");
  EXPECT_EQ(P(mkBoolOp(Op::And, mkVar(x), mkVar(a))), "(x and a)");
  EXPECT_EQ(P(mkIfExp(mkVar(x), mkConstInt(1), mkConstInt(2))), "(1 if x else 2)");
  EXPECT_EQ(P(mkIntrinsic("np.where", {mkVar(x), mkVar(a), mkConstFloat(0.0)})), "np.where(x, a, 0.0)");
  EXPECT_EQ(P(mkCallFunc(0, "g", {})), "g()");
  EXPECT_EQ(P(mkIndex(mkVar(a), {mkVar(x), mkSlice(mkConstNone(), mkConstNone(), mkConstNone())})), "a[x, ::]");
  EXPECT_EQ(P(mkIndex(mkVar(a), {mkSlice(mkConstInt(1), mkVar(x), mkConstInt(2))})), "a[1:x:2]");
  EXPECT_EQ(P(mkAttr("shape", mkVar(a))), "a.shape");
  EXPECT_EQ(P(mkTuple({mkVar(x)})), "(x,)");
  EXPECT_EQ(P(mkTuple({mkVar(x), mkConstInt(2)})), "(x, 2)");
  EXPECT_EQ(P(mkTupleGet(mkVar(a), 1)), "a[1]");
  EXPECT_EQ(P(mkNamed(x, mkConstInt(4))), "(x := 4)");
  EXPECT_EQ(P(mkVar(9)), "$9") << "a bad slot prints, it does not crash";
}

TEST(Printer, StatementsAndEmptyBlocks) {
  Function f;
  f.name = "g";
  int a = f.addLocal("a", true);
  f.num_params = 1;
  f.body.push_back(mkStore(mkVar(a), {mkConstInt(0), mkConstInt(1)}, mkConstFloat(2.0)));
  f.body.push_back(mkExprStmt(mkIntrinsic("array.fill", {mkVar(a), mkConstInt(0)})));
  f.body.push_back(mkIf(mkConstBool(true), {}, {mkReturn(mkConstInt(1))}));
  f.body.push_back(mkWhile(mkConstBool(false), {mkBreak(), mkContinue()}, {}));
  f.body.push_back(mkReturn(nullptr));
  EXPECT_EQ(print(f),
            "func g(a):\n"
            "  a[0, 1] = 2.0\n"
            "  array.fill(a, 0)\n"
            "  if True:\n"
            "    pass\n"
            "  else:\n"
            "    return 1\n"
            "  while False:\n"
            "    break\n"
            "    continue\n"
            "  return None\n");
  Function empty;
  empty.name = "e";
  EXPECT_EQ(print(empty), "func e():\n  pass\n");
}

// ---- verifier -----------------------------------------------------------------------------------

TEST(Verifier, WellFormedFunctionIsClean) {
  Function f = sumLoop();
  EXPECT_EQ(verify(f, false), "");
}

TEST(Verifier, TypedFunctionIsCleanWithRequireTypes) {
  Function f;
  int x = f.addLocal("x", true);
  f.num_params = 1;
  f.locals[x].type = S(Kind::Float);
  auto v = mkVar(x, 2);
  v->type = S(Kind::Float);
  auto add = mkBinary(Op::Add, v, mkConstFloat(1.0, 2), 2);
  add->type = S(Kind::Float);
  f.body.push_back(mkReturn(add, 2));
  f.return_type = S(Kind::Float);
  EXPECT_EQ(verify(f, true), "");
}

TEST(Verifier, BreakOutsideLoop) {
  Function f;
  f.body.push_back(mkIf(mkConstBool(true), {mkBreak(3)}, {}, 3));
  EXPECT_EQ(verify(f, false), "line 3: break/continue outside a loop\n");
  Function g;
  g.body.push_back(mkContinue(8));
  EXPECT_NE(verify(g, false).find("line 8: break/continue outside a loop"), std::string::npos);
}

TEST(Verifier, BreakInsideLoopElseIsOutsideTheLoop) {
  // for ... else: break — the else block runs after the loop, so break there is not in that loop.
  Function f;
  int i = f.addLocal("i");
  f.body.push_back(mkFor(i, mkRange(mkConstInt(0), mkConstInt(3), mkConstInt(1)), {mkBreak(2)}, {mkBreak(4)}, 1));
  EXPECT_EQ(verify(f, false), "line 4: break/continue outside a loop\n");
}

TEST(Verifier, BadSlots) {
  Function f;
  f.addLocal("a");
  f.body.push_back(mkAssign(5, mkConstInt(1), 2));
  f.body.push_back(mkReturn(mkVar(-1, 3), 3));
  std::string err = verify(f, false);
  EXPECT_NE(err.find("line 2: slot 5 out of range"), std::string::npos) << err;
  EXPECT_NE(err.find("line 3: slot -1 out of range"), std::string::npos) << err;
  Function g;
  int i = g.addLocal("i");
  (void)i;
  g.body.push_back(mkFor(7, mkRange(mkConstInt(0), mkConstInt(3), mkConstInt(1)), {}, {}, 6));
  EXPECT_NE(verify(g, false).find("line 6: slot 7 out of range"), std::string::npos);
  Function h;
  h.addLocal("a");
  h.body.push_back(mkExprStmt(mkNamed(3, mkConstInt(1), 4), 4));
  EXPECT_NE(verify(h, false).find("line 4: slot 3 out of range"), std::string::npos);
}

TEST(Verifier, MissingTypesWhenRequired) {
  Function f = sumLoop();
  EXPECT_EQ(verify(f, false), "") << "untyped IR is fine before type inference";
  std::string err = verify(f, true);
  EXPECT_NE(err.find("local 'n' has no type"), std::string::npos) << err;
  EXPECT_NE(err.find("local 's' has no type"), std::string::npos) << err;
  EXPECT_NE(err.find("line 4: untyped expression (s + i)"), std::string::npos) << err;
  EXPECT_NE(err.find("line 5: untyped expression s"), std::string::npos) << err;
}

TEST(Verifier, MalformedShapes) {
  Function f;
  int a = f.addLocal("a", true);
  f.num_params = 1;
  auto badBin = mkBinary(Op::Add, mkVar(a), mkVar(a), 2);
  badBin->args.pop_back();
  f.body.push_back(mkExprStmt(badBin, 2));
  auto badIdx = mkIndex(mkVar(a), {}, 3);
  f.body.push_back(mkExprStmt(badIdx, 3));
  f.body.push_back(mkStore(mkVar(a), {}, mkConstInt(0), 4));
  f.body.push_back(mkExprStmt(mkCallFunc(0, "nobody", {}, 5), 5));
  auto forNoRange = mkFor(a, mkConstInt(3), {}, {}, 6);
  f.body.push_back(forNoRange);
  f.body.push_back(mkExprStmt(nullptr, 7));
  std::string err = verify(f, false);
  EXPECT_NE(err.find("line 2: expected 2 operands, got 1"), std::string::npos) << err;
  EXPECT_NE(err.find("line 3: index without indices"), std::string::npos) << err;
  EXPECT_NE(err.find("line 4: store without indices"), std::string::npos) << err;
  EXPECT_NE(err.find("line 5: bad callee"), std::string::npos) << err;
  EXPECT_NE(err.find("line 6: for without range"), std::string::npos) << err;
  EXPECT_NE(err.find("null expression"), std::string::npos) << err;
}

TEST(Verifier, MoreParamsThanLocals) {
  Function f;
  f.num_params = 2;
  f.addLocal("a", true);
  EXPECT_NE(verify(f, false).find("more params than locals"), std::string::npos);
}


// ---- liveness (liveAfter) -----------------------------------------------------------------------

namespace live {

// A function over locals named by the tests; statements built with the helpers below.
struct L {
  Function f;
  L() {
    f.name = "live";
    f.file = "t.py";
    f.addLocal("n", true);
    f.num_params = 1;
  }
  int v(const std::string& name) { return f.addLocal(name); }
  ExprPtr var(const std::string& name) { return mkVar(v(name)); }
  StmtPtr set(const std::string& name, ExprPtr e) { return mkAssign(v(name), std::move(e)); }
  StmtPtr loop(const std::string& var, Block body, Block orelse = {}) {
    return mkFor(v(var), mkRange(mkConstInt(0), this->var("n"), mkConstInt(1)), std::move(body), std::move(orelse));
  }
  std::set<std::string> after(const Stmt& s) {
    std::set<std::string> out;
    for (int slot : liveAfter(f, s)) out.insert(f.locals[slot].name);
    return out;
  }
};
using Names = std::set<std::string>;

TEST(Liveness, WhatIsReadLaterIsLiveAndWhatIsNotIsDead) {
  // x = 1; for j in range(n): y = j; return x
  L l;
  auto inner = l.loop("j", {l.set("y", l.var("j"))});
  l.f.body = {l.set("x", mkConstInt(1)), inner, mkReturn(l.var("x"))};
  EXPECT_EQ(l.after(*inner), Names{"x"});
  // ... return y: y is live, j is not
  l.f.body.back() = mkReturn(l.var("y"));
  EXPECT_EQ(l.after(*inner), Names{"y"});
}

TEST(Liveness, AnOuterLoopsNextIterationReadsBeforeAssigning) {
  // for i in range(n): t = y; for j in range(n): y = j       -> y live after the inner loop
  L l;
  auto inner = l.loop("j", {l.set("y", l.var("j"))});
  l.f.body = {l.loop("i", {l.set("t", l.var("y")), inner}), mkReturn(mkConstInt(0))};
  EXPECT_EQ(l.after(*inner), (Names{"n", "y"}));  // n: the inner range, evaluated again
  // for i in range(n): y = 0; t = y; for j ...: y = j         -> assigned first: dead
  L m;
  auto inner2 = m.loop("j", {m.set("y", m.var("j"))});
  m.f.body = {m.loop("i", {m.set("y", mkConstInt(0)), m.set("t", m.var("y")), inner2}), mkReturn(mkConstInt(0))};
  EXPECT_EQ(m.after(*inner2), Names{"n"});
}

TEST(Liveness, AnAssignmentOnOnePathOnlyDoesNotKill) {
  // for j ...: y = j;  if n: y = 0;  return y     -> live (the else path reads the loop's y)
  L l;
  auto inner = l.loop("j", {l.set("y", l.var("j"))});
  l.f.body = {inner, mkIf(l.var("n"), {l.set("y", mkConstInt(0))}, {}), mkReturn(l.var("y"))};
  EXPECT_EQ(l.after(*inner), (Names{"n", "y"}));
  // both branches assign: dead
  l.f.body[1] = mkIf(l.var("n"), {l.set("y", mkConstInt(0))}, {l.set("y", mkConstInt(1))});
  EXPECT_EQ(l.after(*inner), Names{"n"});
  // a later loop that may run zero times does not kill either
  l.f.body[1] = l.loop("k", {l.set("y", l.var("k"))});
  EXPECT_EQ(l.after(*inner), (Names{"n", "y"}));
}

TEST(Liveness, BreakAndContinueGoToTheirLoopsExitAndHead) {
  // while n: for j ...: y = j;  break          then return y    -> live (through the break)
  L l;
  auto inner = l.loop("j", {l.set("y", l.var("j"))});
  l.f.body = {mkWhile(l.var("n"), {inner, mkBreak()}, {}), mkReturn(l.var("y"))};
  EXPECT_EQ(l.after(*inner), Names{"y"});
  // while n: for j ...: y = j;  continue;  (dead code) ... ; return 0   -> head: reads n only
  l.f.body = {mkWhile(l.var("n"), {inner, mkContinue(), l.set("t", l.var("y"))}, {}), mkReturn(mkConstInt(0))};
  EXPECT_EQ(l.after(*inner), Names{"n"});
  // a loop's else runs on normal exit, not after a break
  L m;
  auto inner2 = m.loop("j", {m.set("y", m.var("j"))});
  m.f.body = {m.loop("i", {inner2}, {m.set("t", m.var("y"))}), mkReturn(mkConstInt(0))};
  EXPECT_EQ(m.after(*inner2), (Names{"n", "y"}));
  m.f.body = {mkWhile(m.var("n"), {inner2, mkBreak()}, {m.set("t", m.var("y"))}), mkReturn(mkConstInt(0))};
  EXPECT_EQ(m.after(*inner2), Names{});
}

TEST(Liveness, ALoopsOwnElseRunsAfterItsIterations) {
  // for j in range(n): y = j  else: t = y;  return t     -> y live (fuzz program 2212008055)
  L l;
  auto loop = l.loop("j", {l.set("y", l.var("j"))}, {l.set("t", l.var("y"))});
  l.f.body = {loop, mkReturn(l.var("t"))};
  EXPECT_EQ(l.after(*loop), Names{"y"});
  // else: y = 0; t = y;  return y    -> the else assigns y first: dead at the loop's exit
  L m;
  auto loop2 = m.loop("j", {m.set("y", m.var("j"))}, {m.set("y", mkConstInt(0)), m.set("t", m.var("y"))});
  m.f.body = {loop2, mkReturn(m.var("y"))};
  EXPECT_EQ(m.after(*loop2), Names{});
  // ... unless a break can skip the else: then the return reads the body's y
  loop2->body.push_back(mkIf(m.var("n"), {mkBreak()}, {}));
  EXPECT_EQ(m.after(*loop2), Names{"y"});
  // a break of an inner loop does not leave this one
  loop2->body.back() = m.loop("k", {mkBreak()});
  EXPECT_EQ(m.after(*loop2), Names{});
}

TEST(Liveness, WalrusCountsAsARead) {
  // for j ...: y = j;  return (y := 3)     -> conservatively live
  L l;
  auto inner = l.loop("j", {l.set("y", l.var("j"))});
  l.f.body = {inner, mkReturn(mkNamed(l.v("y"), mkConstInt(3)))};
  EXPECT_EQ(l.after(*inner), Names{"y"});
}

}  // namespace live

}  // namespace
}  // namespace epochpp::ir
