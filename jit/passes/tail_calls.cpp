// jit/passes/tail_calls.cpp — accumulating tail calls: marks `return x + f(args)` where the
// call is the last thing evaluated and x and the result are Python ints, so codegen can
// turn a call of the function itself into a jump back to its start (fib's second call).
//
// Exact because: Python evaluates x, then the arguments, then the call, and the jump keeps
// that order; int addition is associative on exact ints, and compiled ints never wrap (an
// overflow of the running sum deopts and the interpreter computes CPython's answer); the
// recursion depth grows by one per jump and is checked as a call checks it, so
// RecursionError comes at the same depth. Codegen makes the final check that the call
// resolves to this very specialisation (same function, same argument types).
#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

bool candidate(const Function& f, const Stmt& s) {
  if (s.kind != StmtKind::Return || !s.value) return false;
  const Expr& e = *s.value;
  if (e.kind != ExprKind::Binary || e.op != Op::Add || e.ival != 0 || e.type.kind != Kind::Int) return false;
  const Expr& x = *e.args[0];
  const Expr& call = *e.args[1];
  return x.type.kind == Kind::Int && call.kind == ExprKind::CallFunc && call.type.kind == Kind::Int &&
         call.callee >= 0 && call.callee < (int)f.callees.size() && f.callees[call.callee].name == f.name;
}

// Returns outside loops only: a jump from a loop body (or a Level 3 loop) stays out of scope.
bool mark(const Function& f, Block& b) {
  bool changed = false;
  for (auto& s : b) {
    if (s->kind == StmtKind::For || s->kind == StmtKind::While) continue;
    bool c = candidate(f, *s);
    changed |= c != s->tail_accumulate;
    s->tail_accumulate = c;
    if (s->kind == StmtKind::If) {
      changed |= mark(f, s->body);
      changed |= mark(f, s->orelse);
    }
  }
  return changed;
}

}  // namespace

bool markTailCalls(Function& f) {
  if (f.return_type.kind != Kind::Int) return false;  // a union or float result: plain calls
  return mark(f, f.body);
}

}  // namespace epochpp::passes
