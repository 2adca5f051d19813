// jit/passes/effects.cpp — effect facts the runtime needs for exact deoptimisation.
//
// writes_args: the function may write into memory it did not allocate (its array arguments,
//   or views of them), so re-running it in the interpreter after a deopt would apply a write
//   twice unless the runtime snapshots those arrays first.
// may_deopt: the function has Python-int arithmetic whose int64 fast path can overflow.
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
  std::vector<bool> fresh;  // slot holds only arrays this call allocated
  bool writes = false, deopt = false;

  void collectFresh(const Block& b) {
    for (auto& s : b) {
      if (s->kind == StmtKind::Assign && f.locals[s->slot].type.isArray() && !isFreshArrayExpr(*s->value))
        fresh[s->slot] = false;
      collectFresh(s->body);
      collectFresh(s->orelse);
    }
  }

  bool targetFresh(const Expr& t) {
    const Expr* e = &t;
    while (e->kind == ExprKind::Index || (e->kind == ExprKind::Attr && e->name == "T")) e = e->args[0].get();
    return e->kind == ExprKind::Var && fresh[e->slot];
  }

  void expr(const Expr& e) {
    for (auto& a : e.args) expr(*a);
    if (e.kind == ExprKind::CallFunc) {
      deopt = true;  // a callee may deopt; and it may write arrays it is given
      for (auto& a : e.args)
        if (a->type.isArray()) writes = true;
    }
    if (e.kind == ExprKind::Binary && e.ival == 1 && e.type.isArray() && !targetFresh(*e.args[0])) writes = true;
    if (e.kind == ExprKind::Intrinsic && e.name == "array.fill" && !targetFresh(*e.args[0])) writes = true;
    bool int_result = false;
    for (Kind k : members(e.type)) int_result |= (k == Kind::Int);
    if (int_result && (e.kind == ExprKind::Binary || e.kind == ExprKind::Unary ||
                       (e.kind == ExprKind::Intrinsic && e.name != "len")))
      deopt = true;
  }

  void block(const Block& b) {
    for (auto& s : b) {
      if (s->value) expr(*s->value);
      for (auto& a : s->args) expr(*a);
      if (s->kind == StmtKind::Store && !targetFresh(*s->args[0])) writes = true;
      block(s->body);
      block(s->orelse);
    }
  }
};

}  // namespace

bool analyseEffects(Function& f) {
  Effects fx{f, std::vector<bool>(f.locals.size(), true)};
  for (int i = 0; i < f.num_params; ++i) fx.fresh[i] = false;
  fx.collectFresh(f.body);
  fx.block(f.body);
  bool changed = f.writes_args != fx.writes || f.may_deopt != fx.deopt;
  f.writes_args = fx.writes;
  f.may_deopt = fx.deopt;
  return changed;
}

}  // namespace epochpp::passes
