// jit/passes/bounds_hoist.cpp — bounds-check hoisting: records, per `for` loop, the element
// accesses whose index ranges are known at loop entry (a[i], u[i - 1], m[i, j] with i an
// enclosing loop variable). Codegen turns them into one check before the loop and two loop
// versions: unchecked when every access is in range, fully checked otherwise.
//
// Then each access is also lifted to the outermost loop P whose entry already knows its range:
// the array and the other indices unchanged in P, and every loop between P and the access a
// `for v in range(a, b, c)` with a, b invariant in P (constants, ints P does not assign,
// len(x) and x.shape[k] of arrays P does not assign) and c a constant. For
// `for i: for j in range(n): for k in range(d): X[j, k]` that is one check per call (or per
// Level 3 chunk of i) instead of one per j. The inner loop keeps its own record: when P's check
// fails, P runs its checked version and the inner loop is versioned as before.
#include <algorithm>
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

// An int expression codegen can evaluate at P's entry without side effects or errors, with the
// value it has wherever it is evaluated inside P.
bool invariantIn(const Function& f, const Expr& e, const std::set<int>& assigned, int pslot) {
  auto stable = [&](int slot) { return slot != pslot && !assigned.count(slot); };
  if (e.type.kind != Kind::Int) return false;
  if (e.kind == ExprKind::Const) return true;
  if (e.kind == ExprKind::Var) return stable(e.slot) && f.locals[e.slot].type.kind == Kind::Int;
  auto arrayVar = [&](const Expr& a) { return a.kind == ExprKind::Var && a.type.isArray() && a.type.ndim >= 1 && stable(a.slot); };
  if (e.kind == ExprKind::Intrinsic && e.name == "len" && e.args.size() == 1) return arrayVar(*e.args[0]);
  // x.shape[k], k a constant in range (an Index of the shape tuple, or a TupleGet)
  const Expr* t = nullptr;
  int64_t k = 0;
  if (e.kind == ExprKind::TupleGet) {
    t = e.args[0].get();
    k = e.ival;
  } else if (e.kind == ExprKind::Index && e.args.size() == 2 && e.args[1]->kind == ExprKind::Const &&
             e.args[1]->type.kind == Kind::Int) {
    t = e.args[0].get();
    k = e.args[1]->ival;
  }
  if (!t || t->kind != ExprKind::Attr || t->name != "shape" || !arrayVar(*t->args[0])) return false;
  int nd = t->args[0]->type.ndim;
  return k >= -nd && k < nd;
}

struct Lifter {
  Function& f;
  std::set<const void*> lifted;  // accesses already lifted to an enclosing loop

  static const void* key(const HoistedAccess& h) { return h.load ? (const void*)h.load : (const void*)h.store; }

  // h, recorded at the innermost loop chain.back(), re-expressed for loop P (chain: the loops
  // strictly inside P that enclose the access, outermost first)
  bool convert(const Stmt& P, const std::set<int>& assigned, const std::vector<const Stmt*>& chain, HoistedAccess& h) {
    if (assigned.count(h.base_slot)) return false;
    for (auto& t : h.dims) {
      if (t.slot < 0 || t.slot == P.slot) continue;
      const Stmt* q = nullptr;
      for (auto it = chain.rbegin(); it != chain.rend() && !q; ++it)
        if ((*it)->slot == t.slot) q = *it;
      if (!q) {  // unchanged in P
        if (assigned.count(t.slot) || f.locals[t.slot].type.kind != Kind::Int) return false;
        continue;
      }
      std::set<int> inQ;
      assignedSlots(q->body, inQ);
      const Expr& r = *q->value;
      if (inQ.count(q->slot) || r.args[2]->kind != ExprKind::Const || r.args[2]->ival == 0 ||
          !invariantIn(f, *r.args[0], assigned, P.slot) || !invariantIn(f, *r.args[1], assigned, P.slot))
        return false;
      t.loop = q;
    }
    return true;
  }

  void collect(Stmt& P, const std::set<int>& assigned, Block& b, std::vector<const Stmt*>& chain) {
    for (auto& s : b) {
      if (s->kind == StmtKind::For) {
        chain.push_back(s.get());
        for (auto& h : s->hoisted) {
          if (lifted.count(key(h)) || h.dims.empty()) continue;
          if (std::any_of(h.dims.begin(), h.dims.end(), [](const IndexTerm& t) { return t.loop; })) continue;  // a copy
          HoistedAccess c = h;
          if (convert(P, assigned, chain, c)) {
            lifted.insert(key(h));
            P.hoisted.push_back(std::move(c));
          }
        }
      }
      collect(P, assigned, s->body, chain);
      if (s->kind == StmtKind::For) chain.pop_back();
      collect(P, assigned, s->orelse, chain);
    }
  }

  bool block(Block& b) {
    bool changed = false;
    for (auto& s : b) {
      if (s->kind == StmtKind::For && f.locals[s->slot].type.kind == Kind::Int) {
        std::set<int> assigned;
        assignedSlots(s->body, assigned);
        if (!assigned.count(s->slot)) {
          size_t before = s->hoisted.size();
          std::vector<const Stmt*> chain;
          collect(*s, assigned, s->body, chain);
          changed |= s->hoisted.size() != before;
        }
      }
      changed |= block(s->body);
      changed |= block(s->orelse);
    }
    return changed;
  }
};

}  // namespace

bool hoistBoundsChecks(Function& f) {
  Hoister h{f};
  h.block(f.body);
  Lifter l{f};
  bool lifted = l.block(f.body);
  return h.changed || lifted;
}

}  // namespace epochpp::passes
