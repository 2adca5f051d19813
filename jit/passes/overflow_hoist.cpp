// jit/passes/overflow_hoist.cpp — overflow-check hoisting for innermost `for` loops.
//
// A Python int is an int64 in compiled code, and every `+ - *` on it checks for overflow (then
// deopts, so the interpreter finishes with exact big ints). The check is cheap, but it stops LLVM
// from vectorising a loop or folding `s += i * i` into a closed form. This pass finds, in each
// innermost `for` loop, the int `+ - *` nodes whose operands' ranges codegen can bound at the
// entry of each chunk of iterations (the loop is strip-mined in chunks of 2**16 iterations for
// Ctrl-C): constants, the loop variable (its chunk's range), ints the loop does not assign (their
// current values), and accumulators — ints the loop changes only by `v = v + inc` / `v = v - inc`
// with a bounded `inc` that reads no accumulator (range: current value +- chunk length x updates x
// the largest |inc|), and temporaries — ints assigned once at the top of the body from a bounded
// expression that reads no accumulator, and read only after that in the iteration (range: the
// expression's). Codegen evaluates those ranges in 128-bit arithmetic at each chunk's entry
// and runs the chunk without the checks when every node's range fits int64, else with them (so
// a real overflow still deopts at exactly the iteration it happens in). Per chunk, not per loop:
// a bound over a whole long loop (n x the largest term) would be far too loose to ever pass.
#include <map>
#include <set>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

bool hasLoop(const Block& b) {
  for (auto& s : b)
    if (s->kind == StmtKind::For || s->kind == StmtKind::While || hasLoop(s->body) || hasLoop(s->orelse)) return true;
  return false;
}

void forEachExpr(const Expr& e, const std::function<void(const Expr&)>& fn) {
  fn(e);
  for (auto& a : e.args) forEachExpr(*a, fn);
}

void forEachStmt(const Block& b, const std::function<void(const Stmt&)>& fn) {
  for (auto& s : b) {
    fn(*s);
    forEachStmt(s->body, fn);
    forEachStmt(s->orelse, fn);
  }
}

void forEachExprIn(const Block& b, const std::function<void(const Expr&)>& fn) {
  forEachStmt(b, [&](const Stmt& s) {
    if (s.value) forEachExpr(*s.value, fn);
    for (auto& a : s.args) forEachExpr(*a, fn);
  });
}

struct LoopFacts {
  const Function& f;
  const Stmt& loop;
  std::set<int> assigned;   // slots the body assigns (statements and :=)
  std::set<int> walrus;     // of those, assigned by :=
  std::set<int> accums;
  std::map<int, const Expr*> temps;  // ints assigned once per iteration, before any read
  bool loopVarOk = true;

  bool isInt(const Expr& e) const { return e.type.kind == Kind::Int; }

  bool bounded(const Expr& e) const {
    if (!isInt(e)) return false;
    if (e.kind == ExprKind::Const) return true;
    if (e.kind == ExprKind::Var) {
      if (f.locals[e.slot].type.kind != Kind::Int) return false;
      if (e.slot == loop.slot) return loopVarOk;
      return accums.count(e.slot) || temps.count(e.slot) || !assigned.count(e.slot);
    }
    if (e.kind == ExprKind::Binary && (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul))
      return bounded(*e.args[0]) && bounded(*e.args[1]);
    return false;
  }

  bool readsAccum(const Expr& e) const {
    bool r = false;
    forEachExpr(e, [&](const Expr& x) { r |= x.kind == ExprKind::Var && accums.count(x.slot); });
    return r;
  }
};

// The increment of `slot = slot + inc` / `slot = inc + slot` / `slot = slot - inc`, or nullptr.
const Expr* increment(const Stmt& s, bool& sub) {
  const Expr& v = *s.value;
  if (v.kind != ExprKind::Binary || v.type.kind != Kind::Int || (v.op != Op::Add && v.op != Op::Sub)) return nullptr;
  auto self = [&](const Expr& x) { return x.kind == ExprKind::Var && x.slot == s.slot; };
  sub = v.op == Op::Sub;
  if (self(*v.args[0])) return v.args[1].get();
  if (!sub && self(*v.args[1])) return v.args[0].get();
  return nullptr;
}

void analyse(const Function& f, Stmt& loop) {
  LoopFacts lf{f, loop, {}, {}, {}};
  forEachStmt(loop.body, [&](const Stmt& s) {
    if (s.kind == StmtKind::Assign) lf.assigned.insert(s.slot);
  });
  forEachExprIn(loop.body, [&](const Expr& e) {
    if (e.kind == ExprKind::NamedExpr) {
      lf.assigned.insert(e.slot);
      lf.walrus.insert(e.slot);
    }
  });
  lf.loopVarOk = !lf.assigned.count(loop.slot);
  // candidate accumulators: every assignment is `v = v +- inc`
  std::map<int, OvfAccum> cand;
  std::set<int> rejected(lf.walrus);
  rejected.insert(loop.slot);
  forEachStmt(loop.body, [&](const Stmt& s) {
    if (s.kind != StmtKind::Assign || rejected.count(s.slot)) return;
    bool sub = false;
    const Expr* inc = f.locals[s.slot].type.kind == Kind::Int ? increment(s, sub) : nullptr;
    if (!inc) {
      rejected.insert(s.slot);
      cand.erase(s.slot);
      return;
    }
    OvfAccum& a = cand[s.slot];
    a.slot = s.slot;
    a.updates++;
    a.incs.push_back({inc, sub});
  });
  for (auto& [slot, a] : cand) lf.accums.insert(slot);
  // temporaries: `t = <expr>` once, at the top level of the body, and read only after it (in the
  // same iteration), so t's range is its expression's
  std::map<int, int> assignCount;
  forEachStmt(loop.body, [&](const Stmt& s) {
    if (s.kind == StmtKind::Assign) assignCount[s.slot]++;
  });
  for (size_t k = 0; k < loop.body.size(); ++k) {
    const Stmt& s = *loop.body[k];
    if (s.kind != StmtKind::Assign || assignCount[s.slot] != 1 || cand.count(s.slot) || lf.walrus.count(s.slot) ||
        s.slot == loop.slot || f.locals[s.slot].type.kind != Kind::Int)
      continue;
    bool readBefore = false;
    for (size_t j = 0; j <= k; ++j) {
      auto reads = [&](const Expr& e) { readBefore |= e.kind == ExprKind::Var && e.slot == s.slot; };
      forEachStmt(Block{loop.body[j]}, [&](const Stmt& x) {
        if (x.value) forEachExpr(*x.value, reads);
        for (auto& a : x.args) forEachExpr(*a, reads);
      });
    }
    if (!readBefore) lf.temps[s.slot] = s.value.get();
  }
  for (bool changed = true; changed;) {  // drop what cannot be bounded, until nothing changes
    changed = false;
    for (auto it = cand.begin(); it != cand.end();) {
      bool ok = true;
      for (auto& [inc, sub] : it->second.incs) ok = ok && lf.bounded(*inc) && !lf.readsAccum(*inc);
      if (ok) {
        ++it;
        continue;
      }
      lf.accums.erase(it->first);
      it = cand.erase(it);
      changed = true;
    }
    for (auto it = lf.temps.begin(); it != lf.temps.end();) {
      if (lf.bounded(*it->second) && !lf.readsAccum(*it->second)) {
        ++it;
        continue;
      }
      it = lf.temps.erase(it);
      changed = true;
    }
  }
  std::set<const Expr*> indexArith;  // already proven by the loop's bounds check (bounds_hoist.cpp)
  for (auto& h : loop.hoisted)
    for (auto& t : h.dims)
      if (t.arith) indexArith.insert(t.arith);
  std::vector<const Expr*> ops;
  forEachExprIn(loop.body, [&](const Expr& e) {
    if (indexArith.count(&e)) return;
    if (e.kind == ExprKind::Binary && (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul) && lf.bounded(e) &&
        e.args[0]->type.kind == Kind::Int && e.args[1]->type.kind == Kind::Int)
      ops.push_back(&e);
  });
  if (ops.empty()) return;
  loop.ovf_ops = std::move(ops);
  for (auto& [slot, a] : cand) loop.ovf_accums.push_back(std::move(a));
  for (auto& [slot, e] : lf.temps) loop.ovf_temps.push_back({slot, e});
}

bool walk(const Function& f, Block& b) {
  bool changed = false;
  for (auto& s : b) {
    if (s->kind == StmtKind::For && !hasLoop(s->body)) {
      s->ovf_ops.clear();
      s->ovf_accums.clear();
      s->ovf_temps.clear();
      analyse(f, *s);
      changed |= !s->ovf_ops.empty();
    } else {
      changed |= walk(f, s->body);
    }
    changed |= walk(f, s->orelse);
  }
  return changed;
}

}  // namespace

bool hoistOverflowChecks(Function& f) { return walk(f, f.body); }

}  // namespace epochpp::passes
