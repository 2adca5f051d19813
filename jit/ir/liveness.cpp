// jit/ir/liveness.cpp — backward liveness of locals over the structured IR (see liveness.h).
#include "jit/ir/liveness.h"

namespace epochpp::ir {

namespace {

using Set = std::set<int>;

void reads(const Expr& e, Set& out) {
  if (e.kind == ExprKind::Var || e.kind == ExprKind::NamedExpr) out.insert(e.slot);
  for (auto& a : e.args)
    if (a) reads(*a, out);
}

// Does the block hold a `break` out of the loop whose body it is (not one of an inner loop's)?
bool breaks(const Block& b) {
  for (auto& s : b) {
    if (s->kind == StmtKind::Break) return true;
    if (s->kind == StmtKind::If && (breaks(s->body) || breaks(s->orelse))) return true;
    if ((s->kind == StmtKind::For || s->kind == StmtKind::While) && breaks(s->orelse)) return true;  // a loop's else is outside it
  }
  return false;
}

struct Liveness {
  const Stmt* target;
  Set found;  // live after target (the union over every time the walk passes it)

  // live before a block, given what is live after it; brk/cont: live at the enclosing loop's
  // exit and head (null outside loops)
  Set block(const Block& b, Set out, const Set* brk, const Set* cont) {
    for (size_t k = b.size(); k-- > 0;) out = stmt(*b[k], out, brk, cont);
    return out;
  }

  Set stmt(const Stmt& s, const Set& out, const Set* brk, const Set* cont) {
    if (&s == target) {
      if (s.kind == StmtKind::For || s.kind == StmtKind::While) {
        Set e = block(s.orelse, out, brk, cont);  // a normal exit runs the loop's `else` first
        found.insert(e.begin(), e.end());
        if (breaks(s.body)) found.insert(out.begin(), out.end());  // a `break` skips it
      } else {
        found.insert(out.begin(), out.end());
      }
    }
    Set in;
    switch (s.kind) {
      case StmtKind::Assign:
        in = out;
        in.erase(s.slot);
        reads(*s.value, in);
        return in;
      case StmtKind::Store:
        in = out;
        for (auto& a : s.args) reads(*a, in);
        reads(*s.value, in);
        return in;
      case StmtKind::ExprStmt:
        in = out;
        reads(*s.value, in);
        return in;
      case StmtKind::Return:
        if (s.value) reads(*s.value, in);
        return in;
      case StmtKind::Pass: return out;
      case StmtKind::Break: return brk ? *brk : out;
      case StmtKind::Continue: return cont ? *cont : out;
      case StmtKind::If: {
        in = block(s.body, out, brk, cont);
        Set e = block(s.orelse, out, brk, cont);
        in.insert(e.begin(), e.end());
        reads(*s.value, in);
        return in;
      }
      case StmtKind::While:  // head: the condition; false -> orelse -> out, true -> body -> head
        return head(s.body, block(s.orelse, out, brk, cont), out, -1, s.value.get());
      case StmtKind::For:  // the range once; head: the next value, or the end (the variable keeps its value)
        in = head(s.body, block(s.orelse, out, brk, cont), out, s.slot, nullptr);
        reads(*s.value, in);
        return in;
    }
    return out;
  }

  // live at a loop's head, to a fixed point: what the body needs (minus `assigned`, the variable
  // the head assigns; `break` goes to out, `continue` to the head), what the exit needs, `cond`'s reads
  Set head(const Block& body, const Set& exitSet, const Set& out, int assigned, const Expr* cond) {
    Set h;
    for (;;) {
      Set next = block(body, h, &out, &h);
      if (assigned >= 0) next.erase(assigned);
      next.insert(exitSet.begin(), exitSet.end());
      if (cond) reads(*cond, next);
      if (next == h) return h;
      h = std::move(next);
    }
  }
};

}  // namespace

std::set<int> liveAfter(const Function& f, const Stmt& target) {
  Liveness l{&target, {}};
  l.block(f.body, {}, nullptr, nullptr);
  return l.found;
}

}  // namespace epochpp::ir
