// jit/passes/bounds_hoist.cpp — bounds-check hoisting: records, per `for` loop, the element
// accesses whose index ranges are known at loop entry (a[i], u[i - 1], m[i, j] with i an
// enclosing loop variable). Codegen turns them into one check before the loop and two loop
// versions: unchecked when every access is in range, fully checked otherwise.
#include <set>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

void assignedSlots(const Block& b, std::set<int>& out);

void assignedInExpr(const Expr& e, std::set<int>& out) {
  if (e.kind == ExprKind::NamedExpr) out.insert(e.slot);
  for (auto& a : e.args) assignedInExpr(*a, out);
}

void assignedSlots(const Block& b, std::set<int>& out) {
  for (auto& s : b) {
    if (s->kind == StmtKind::Assign || s->kind == StmtKind::For) out.insert(s->slot);
    if (s->value) assignedInExpr(*s->value, out);
    for (auto& a : s->args) assignedInExpr(*a, out);
    assignedSlots(s->body, out);
    assignedSlots(s->orelse, out);
  }
}

struct Hoister {
  Function& f;
  std::vector<int> enclosing;  // loop variables of the enclosing loops
  bool changed = false;

  struct Scope {
    int loopvar;
    std::set<int> assigned;
  };

  bool invariantInt(int slot, const Scope& sc) {
    if (sc.assigned.count(slot) || f.locals[slot].type.kind != Kind::Int) return false;
    if (slot < f.num_params) return true;  // parameters are always bound
    for (int v : enclosing)
      if (v == slot) return true;  // bound at the top of every iteration of its loop
    return false;
  }

  bool term(const Expr& e, const Scope& sc, IndexTerm& t) {
    if (e.type.kind != Kind::Int) return false;
    auto var = [&](const Expr& x) {
      return x.kind == ExprKind::Var && (x.slot == sc.loopvar || invariantInt(x.slot, sc));
    };
    if (e.kind == ExprKind::Const) { t = {-1, e.ival, nullptr}; return true; }
    if (var(e)) { t = {e.slot, 0, nullptr}; return true; }
    if (e.kind == ExprKind::Binary && (e.op == Op::Add || e.op == Op::Sub)) {
      const Expr& a = *e.args[0];
      const Expr& c = *e.args[1];
      bool cc = c.kind == ExprKind::Const && c.type.kind == Kind::Int && c.ival > INT64_MIN / 2 && c.ival < INT64_MAX / 2;
      if (var(a) && cc) { t = {a.slot, e.op == Op::Add ? c.ival : -c.ival, &e}; return true; }
      bool ac = a.kind == ExprKind::Const && a.type.kind == Kind::Int && a.ival > INT64_MIN / 2 && a.ival < INT64_MAX / 2;
      if (e.op == Op::Add && ac && var(c)) { t = {c.slot, a.ival, &e}; return true; }
    }
    return false;
  }

  // an element access a[i0, i1, ...] on a loop-invariant array local
  bool access(const std::vector<ExprPtr>& args, const Scope& sc, HoistedAccess& h) {
    const Expr& base = *args[0];
    if (base.kind != ExprKind::Var || sc.assigned.count(base.slot) || !base.type.isArray()) return false;
    if ((int)args.size() - 1 != base.type.ndim) return false;
    h.base_slot = base.slot;
    for (size_t i = 1; i < args.size(); ++i) {
      IndexTerm t;
      if (args[i]->kind == ExprKind::Slice || !term(*args[i], sc, t)) return false;
      h.dims.push_back(t);
    }
    return true;
  }

  void scanExpr(const Expr& e, const Scope& sc, std::vector<HoistedAccess>& out) {
    for (auto& a : e.args) scanExpr(*a, sc, out);
    if (e.kind == ExprKind::Index && e.col != 1 && e.type.isScalar()) {
      HoistedAccess h;
      h.load = &e;
      if (access(e.args, sc, h)) out.push_back(h);
    }
  }

  void scanBlock(const Block& b, const Scope& sc, std::vector<HoistedAccess>& out) {
    for (auto& s : b) {
      if (s->value) scanExpr(*s->value, sc, out);
      for (auto& a : s->args) scanExpr(*a, sc, out);
      if (s->kind == StmtKind::Store) {
        HoistedAccess h;
        h.store = s.get();
        if (access(s->args, sc, h)) out.push_back(h);
      }
      scanBlock(s->body, sc, out);
      scanBlock(s->orelse, sc, out);
    }
  }

  void block(Block& b) {
    for (auto& s : b) {
      if (s->kind == StmtKind::For) {
        Scope sc{s->slot, {}};
        assignedSlots(s->body, sc.assigned);
        std::vector<HoistedAccess> found;
        if (!sc.assigned.count(s->slot) && f.locals[s->slot].type.kind == Kind::Int) scanBlock(s->body, sc, found);
        if (!found.empty()) {
          s->hoisted = std::move(found);
          changed = true;
        }
        enclosing.push_back(s->slot);
        block(s->body);
        enclosing.pop_back();
        block(s->orelse);
        continue;
      }
      block(s->body);
      block(s->orelse);
    }
  }
};

}  // namespace

bool hoistBoundsChecks(Function& f) {
  Hoister h{f};
  h.block(f.body);
  return h.changed;
}

}  // namespace epochpp::passes
