// jit/passes/effects.cpp — effect facts the runtime needs for exact deoptimisation.
//
// writes_args: the function may write into memory it did not allocate (its array arguments,
//   or views of them), so re-running it in the interpreter after a deopt would apply a write
//   twice unless the runtime snapshots those arrays first.
// may_deopt: the function has a path to the deopt exit (Python-int overflow, float -> int
//   beyond int64, a negative float to a fractional power, or a call that may deopt). `%` of
//   ints never deopts, nor `//` where int_signs.cpp proved a >= 0 and b >= 1.
#include <set>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

bool isFreshArrayExpr(const Expr& e) {
  if (!e.type.isArray()) return false;
  switch (e.kind) {
    case ExprKind::Binary: case ExprKind::Compare: case ExprKind::Unary:
      return e.ival != 1;
    case ExprKind::Intrinsic:
      return e.name != "np.cast";  // every array-valued intrinsic allocates its result
    default:
      return false;
  }
}

struct Effects {
  Function& f;
  const CalleeLookup& callee;
  std::vector<bool> fresh;  // slot holds only arrays this call allocated
  bool writes = false, deopt = false;

  void notFreshUnlessAllocated(int slot, const Expr& value) {
    if (f.locals[slot].type.isArray() && !isFreshArrayExpr(value)) fresh[slot] = false;
  }

  void collectFreshExpr(const Expr& e) {
    if (e.kind == ExprKind::NamedExpr) notFreshUnlessAllocated(e.slot, *e.args[0]);
    for (auto& a : e.args) collectFreshExpr(*a);
  }

  void collectFresh(const Block& b) {
    for (auto& s : b) {
      if (s->kind == StmtKind::Assign) notFreshUnlessAllocated(s->slot, *s->value);
      if (s->value) collectFreshExpr(*s->value);
      for (auto& a : s->args) collectFreshExpr(*a);
      collectFresh(s->body);
      collectFresh(s->orelse);
    }
  }

  // The written memory is an array this call allocated: its root is an array local that only
  // ever holds fresh allocations (a tuple or anything else may hold an argument).
  bool targetFresh(const Expr& t) {
    const Expr* e = &t;
    while (e->kind == ExprKind::Index || (e->kind == ExprKind::Attr && e->name == "T")) e = e->args[0].get();
    return e->kind == ExprKind::Var && f.locals[e->slot].type.isArray() && fresh[e->slot];
  }

  static bool hasFloat(const Type& t) {
    for (Kind k : members(t))
      if (isFloatKind(k)) return true;
    return false;
  }

  // The compiled callee of a call, when known (not while its own compilation is under way).
  const Function* calleeOf(const Expr& e) const {
    if (!callee) return nullptr;
    std::vector<Type> args;
    for (auto& a : e.args) args.push_back(a->type);
    return callee(e.callee, args);
  }

  // Can this expression take the deopt exit? (int64 overflow, float -> int beyond int64,
  // a negative float to a fractional power, callees.)
  bool mayDeopt(const Expr& e) {
    bool int_result = false;
    for (Kind k : members(e.type)) int_result |= (k == Kind::Int);
    switch (e.kind) {
      case ExprKind::CallFunc: {
        const Function* g = calleeOf(e);
        return !g || g->may_deopt;
      }
      case ExprKind::Unary: return int_result;
      case ExprKind::Binary:
        if (e.op == Op::Pow && !usesNumpyRulesAny(e)) return true;
        if (e.op == Op::FloorDiv && (e.facts & kFactNonNegDivMod)) return false;  // a >= 0, b >= 1
        // int % int is never beyond int64 (|a % b| < |b|)
        return int_result && e.op != Op::BitAnd && e.op != Op::BitOr && e.op != Op::BitXor && e.op != Op::RShift &&
               e.op != Op::Mod;
      case ExprKind::Intrinsic:
        return e.name == "abs" || e.name == "int" || e.name == "round" || e.name == "pow" || e.name == "min" ||
               e.name == "max" || e.name == "math.floor" || e.name == "math.ceil" || e.name == "math.trunc";
      default: return false;
    }
  }

  static bool usesNumpyRulesAny(const Expr& e) {
    for (auto& a : e.args)
      for (Kind k : members(a->type))
        if (isNumpyScalar(k)) return true;
    return e.type.isArray();
  }

  void expr(const Expr& e) {
    for (auto& a : e.args) expr(*a);
    if (e.kind == ExprKind::CallFunc) {
      const Function* g = calleeOf(e);
      for (auto& a : e.args)
        if ((a->type.isArray() || a->type.kind == Kind::Tuple) && (!g || g->writes_args)) writes = true;  // the callee may write them
    }
    if (e.kind == ExprKind::Binary && e.ival == 1 && e.type.isArray() && !targetFresh(*e.args[0])) writes = true;
    if (e.kind == ExprKind::Intrinsic && e.name == "array.fill" && !targetFresh(*e.args[0])) writes = true;
    if (mayDeopt(e)) deopt = true;
  }

  void block(const Block& b) {
    for (auto& s : b) {
      if (s->value) expr(*s->value);
      for (auto& a : s->args) expr(*a);
      if (s->kind == StmtKind::Store) {
        if (!targetFresh(*s->args[0])) writes = true;
        // a float stored into an integer array converts like int(): beyond int64 it deopts
        const Type& target = s->args[0]->type;
        if (target.isArray() && !isFloatKind(target.dtype) && target.dtype != Kind::NpBool && hasFloat(s->value->type))
          deopt = true;
      }
      block(s->body);
      block(s->orelse);
    }
  }
};

}  // namespace

bool analyseEffects(Function& f, const CalleeLookup& callee) {
  Effects fx{f, callee, std::vector<bool>(f.locals.size(), true)};
  for (int i = 0; i < f.num_params; ++i) fx.fresh[i] = false;
  fx.collectFresh(f.body);
  fx.block(f.body);
  bool changed = f.writes_args != fx.writes || f.may_deopt != fx.deopt;
  f.writes_args = fx.writes;
  f.may_deopt = fx.deopt;
  return changed;
}

}  // namespace epochpp::passes
