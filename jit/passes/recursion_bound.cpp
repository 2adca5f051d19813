// jit/passes/recursion_bound.cpp — a bound on how deep a self-recursive function can recurse,
// so codegen can check the recursion limit once instead of on every call.
//
// Looks for an int parameter p (a "measure") such that
//   - p is never rebound in the body;
//   - every call of a compiled function in the body calls this function (by its own name) and
//     passes p - k (k >= 1, a constant) for p;
//   - every such call is reached only when p >= c: the calls come after a top-level
//     `if p < c: ... return` (or `p <= c - 1`, `c > p`), or sit in the body of `if p >= c:`.
// Then a call with p = P makes nested calls at most max(0, P - c + 1) levels deep (each level
// lowers p by at least 1 and calls only while p >= c), and if the caller's depth plus that
// bound is below the limit no nested call can raise RecursionError: codegen runs a copy of the
// function without the depth check (codegen.cpp). The accumulating tail jumps of
// tail_calls.cpp are such calls too (the same call expression, the same argument).
//
// Codegen still checks that each call resolves to this very specialisation (as for tail calls);
// when one does not, the function keeps its check on every call.
#include <algorithm>
#include <cstdint>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

bool isVar(const Expr& e, int slot) { return e.kind == ExprKind::Var && e.slot == slot; }

// `p - k` or `p + (-k)` with k >= 1
bool decreases(const Expr& e, int p) {
  int64_t k;
  if (e.kind != ExprKind::Binary || e.ival != 0 || e.args.size() != 2) return false;
  if (!isVar(*e.args[0], p) || !intConstant(*e.args[1], k)) return false;
  return (e.op == Op::Sub && k >= 1) || (e.op == Op::Add && k <= -1);
}

// c such that `cond` holds exactly when p < c (`which` = Lt) or p >= c (`which` = Ge); false if neither.
bool threshold(const Expr& cond, int p, Op which, int64_t& c) {
  if (cond.kind != ExprKind::Compare || cond.args.size() != 2) return false;
  Op op = cond.op;
  const Expr *l = cond.args[0].get(), *r = cond.args[1].get();
  int64_t v;
  if (isVar(*r, p) && intConstant(*l, v)) {  // c OP p  ->  p OP' c
    std::swap(l, r);
    op = op == Op::Lt ? Op::Gt : op == Op::Le ? Op::Ge : op == Op::Gt ? Op::Lt : op == Op::Ge ? Op::Le : Op::None;
  }
  if (!isVar(*l, p) || !intConstant(*r, v)) return false;
  if (v == INT64_MAX || v == INT64_MIN) return false;
  if (which == Op::Lt) {
    if (op == Op::Lt) c = v;
    else if (op == Op::Le) c = v + 1;
    else return false;
  } else {
    if (op == Op::Ge) c = v;
    else if (op == Op::Gt) c = v + 1;
    else return false;
  }
  return true;
}

// What a point of the body knows about p: p >= `min` when `known`.
struct Guard {
  bool known = false;
  int64_t min = 0;
  Guard with(int64_t c) const { return {true, known ? std::max(min, c) : c}; }
};

struct Scan {
  const Function& f;
  int p;
  bool ok = true;
  int calls = 0;
  int64_t lowest = INT64_MAX;  // the smallest guard any call sits under

  // Every CallFunc in e: a self-call passing p - k for p, under a known guard.
  void expr(const Expr& e, Guard g) {
    if (!ok) return;
    if (e.kind == ExprKind::NamedExpr && e.slot == p) ok = false;
    if (e.kind == ExprKind::CallFunc) {
      bool self = e.callee >= 0 && e.callee < (int)f.callees.size() && f.callees[e.callee].name == f.name;
      if (!g.known || !self || (int)e.args.size() != f.num_params || !decreases(*e.args[p], p)) {
        ok = false;
        return;
      }
      ++calls;
      lowest = std::min(lowest, g.min);
    }
    int64_t c;
    if (e.kind == ExprKind::IfExp && e.args.size() == 3) {  // `a if p >= c else b`, `b if p < c else a`
      expr(*e.args[0], g);
      bool ge = threshold(*e.args[0], p, Op::Ge, c), lt = !ge && threshold(*e.args[0], p, Op::Lt, c);
      expr(*e.args[1], ge ? g.with(c) : g);
      expr(*e.args[2], lt ? g.with(c) : g);
      return;
    }
    for (auto& a : e.args) expr(*a, g);
  }

  void stmt(const Stmt& s, Guard g) {
    if (!ok) return;
    if ((s.kind == StmtKind::Assign || s.kind == StmtKind::For) && s.slot == p) ok = false;
    if (s.kind == StmtKind::For && s.parallel) ok = false;  // calls in outlined bodies: keep it simple
    if (s.value) expr(*s.value, g);
    for (auto& a : s.args) expr(*a, g);
    int64_t c;
    bool ge = s.kind == StmtKind::If && threshold(*s.value, p, Op::Ge, c);
    block(s.body, ge ? g.with(c) : g);
    block(s.orelse, g);
  }

  void block(const Block& b, Guard g) {
    for (auto& s : b) stmt(*s, g);
  }
};

bool endsInReturn(const Block& b) { return !b.empty() && b.back()->kind == StmtKind::Return; }

}  // namespace

bool boundRecursion(Function& f) {
  int before = f.measure_slot;
  int64_t beforeMin = f.measure_min;
  f.measure_slot = -1;
  f.measure_min = 0;
  for (int p = 0; p < f.num_params && f.measure_slot < 0; ++p) {
    if (f.param_types[p].kind != Kind::Int || f.locals[p].type.kind != Kind::Int) continue;
    Scan scan{f, p};
    Guard g;
    for (auto& s : f.body) {
      scan.stmt(*s, g);
      int64_t c;
      // `if p < c: ...; return` with no else: what follows runs with p >= c
      if (s->kind == StmtKind::If && s->orelse.empty() && endsInReturn(s->body) && threshold(*s->value, p, Op::Lt, c))
        g = g.with(c);
    }
    if (scan.ok && scan.calls > 0) {
      f.measure_slot = p;
      f.measure_min = scan.lowest;
    }
  }
  // A leaf: the body starts with `if p < c: return v`, v a parameter or a constant. A call
  // with p < c would return v having done nothing else (no other statement ran, reading a
  // parameter cannot fail): codegen's unchecked copy (which needs no depth check for it)
  // gives v without calling.
  const Expr* leafBefore = f.leaf_value;
  f.leaf_value = nullptr;
  f.leaf_below = 0;
  if (f.measure_slot >= 0 && !f.body.empty()) {
    const Stmt& s = *f.body[0];
    int64_t c;
    if (s.kind == StmtKind::If && s.orelse.empty() && s.body.size() == 1 && s.body[0]->kind == StmtKind::Return &&
        threshold(*s.value, f.measure_slot, Op::Lt, c)) {
      const Expr& v = *s.body[0]->value;
      bool param = v.kind == ExprKind::Var && v.slot < f.num_params;
      bool constant = v.kind == ExprKind::Const &&
                      (v.type.kind == Kind::Int || v.type.kind == Kind::Float || v.type.kind == Kind::Bool);
      if (param || constant) {
        f.leaf_value = &v;
        f.leaf_below = c;
      }
    }
  }
  return f.measure_slot != before || f.measure_min != beforeMin || f.leaf_value != leafBefore;
}

}  // namespace epochpp::passes
