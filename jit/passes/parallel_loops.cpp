// jit/passes/parallel_loops.cpp — dependence analysis for Level 3.
//
// A `for` loop is parallel when its iterations are independent:
//  * every array it writes is written at [i, ...] (i: the loop variable, exactly) and read
//    only at [i, ...]; arrays it only reads are read anywhere;
//  * every other scalar it assigns is private to an iteration (assigned before it is read, in
//    source order, and not used outside the loop) or a reduction `s = s + e` / `s = s * e`;
//  * no break/return, no allocation or whole-array operation, no call that gets arrays.
// Any error or deopt inside a parallel loop makes the whole call deopt (exact: the
// interpreter re-runs it), so the analysis need not prove the body free of errors.
// Nested loops are parallelised at the outermost independent level only.
#include <functional>
#include <map>
#include <set>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

void slotsIn(const Expr& e, std::set<int>& out) {
  if (e.kind == ExprKind::Var || e.kind == ExprKind::NamedExpr) out.insert(e.slot);
  for (auto& a : e.args) slotsIn(*a, out);
}

void slotsInBlock(const Block& b, std::set<int>& out) {
  for (auto& s : b) {
    if (s->kind == StmtKind::Assign || s->kind == StmtKind::For) out.insert(s->slot);
    if (s->value) slotsIn(*s->value, out);
    for (auto& a : s->args) slotsIn(*a, out);
    slotsInBlock(s->body, out);
    slotsInBlock(s->orelse, out);
  }
}

int64_t cost(const Block& b);
int64_t cost(const Expr& e) {
  int64_t c = 1;
  for (auto& a : e.args) c += cost(*a);
  if (e.kind == ExprKind::Intrinsic || e.kind == ExprKind::CallFunc) c += 10;
  return c;
}
int64_t cost(const Block& b) {
  int64_t c = 0;
  for (auto& s : b) {
    c += 1 + (s->value ? cost(*s->value) : 0);
    for (auto& a : s->args) c += cost(*a);
    int64_t inner = cost(s->body) + cost(s->orelse);
    c += (s->kind == StmtKind::For || s->kind == StmtKind::While) ? 32 * inner : inner;  // unknown trip counts
  }
  return c;
}

struct Analysis {
  Function& f;
  const Stmt& loop;
  int iv;
  std::set<int> outside;  // slots used anywhere outside the loop body
  bool ok = true;
  std::map<int, int> assignCount;
  std::map<int, Op> reductionOp;
  std::set<int> written, read;
  std::map<int, int> alias;  // `$base = a` temporaries of augmented item assignment -> a

  int resolve(int slot) const {
    auto it = alias.find(slot);
    return it == alias.end() ? slot : it->second;
  }

  void fail() { ok = false; }

  // Expressions: no allocation, no array-valued operations except views; calls get no arrays.
  void expr(const Expr& e) {
    for (auto& a : e.args) expr(*a);
    if (e.type.isArray() && !(e.kind == ExprKind::Var || e.kind == ExprKind::Index ||
                              (e.kind == ExprKind::Attr && e.name == "T")))
      fail();
    if (e.kind == ExprKind::Intrinsic)
      for (auto& a : e.args)
        if (a->type.isArray() && e.name != "len") fail();  // reductions and friends use per-call scratch
    if (e.kind == ExprKind::CallFunc)
      for (auto& a : e.args)
        if (a->type.isArray() || a->type.kind == Kind::Tuple) fail();
    if (e.kind == ExprKind::Index && e.args[0]->kind == ExprKind::Var && e.args[0]->type.isArray())
      read.insert(resolve(e.args[0]->slot));
    if (e.kind == ExprKind::NamedExpr) fail();
  }

  std::set<int> ivCopies;  // `i = $i` (enumerate): the same value as the loop variable
  bool indexedByIv(const std::vector<ExprPtr>& args) {
    return args.size() >= 2 && args[1]->kind == ExprKind::Var && (args[1]->slot == iv || ivCopies.count(args[1]->slot));
  }

  void checkReadsOfWritten(const Expr& e) {
    for (auto& a : e.args) checkReadsOfWritten(*a);
    if (e.kind == ExprKind::Index && e.args[0]->kind == ExprKind::Var && written.count(resolve(e.args[0]->slot)) &&
        !indexedByIv(e.args))
      fail();
  }

  void block(const Block& b, int depth) {
    for (auto& s : b) {
      switch (s->kind) {
        case StmtKind::Break: if (depth == 0) fail(); break;
        case StmtKind::Return: fail(); break;
        case StmtKind::Store: {
          const Expr& base = *s->args[0];
          if (base.kind != ExprKind::Var || !base.type.isArray() || !indexedByIv(s->args)) { fail(); break; }
          for (size_t k = 1; k < s->args.size(); ++k)
            if (s->args[k]->kind == ExprKind::Slice) fail();
          if ((int)s->args.size() - 1 != base.type.ndim) fail();
          written.insert(resolve(base.slot));
          break;
        }
        case StmtKind::Assign: {
          assignCount[s->slot]++;
          const Expr& v = *s->value;
          if (depth == 0 && v.kind == ExprKind::Var && v.slot == iv) ivCopies.insert(s->slot);
          if (v.kind == ExprKind::Binary && (v.op == Op::Add || v.op == Op::Mul) && v.args[0]->kind == ExprKind::Var &&
              v.args[0]->slot == s->slot && v.type.isScalar()) {
            std::set<int> rhs;
            slotsIn(*v.args[1], rhs);
            if (!rhs.count(s->slot)) reductionOp[s->slot] = v.op;
          }
          if (f.locals[s->slot].type.isArray()) {
            // only the frontend's alias temporaries (a[i] += x keeps `$base = a`) may bind arrays
            if (f.locals[s->slot].name.rfind("$base", 0) == 0 && v.kind == ExprKind::Var) alias[s->slot] = resolve(v.slot);
            else fail();
          }
          break;
        }
        default: break;
      }
      if (s->value) expr(*s->value);
      for (auto& a : s->args) expr(*a);
      int inner = (s->kind == StmtKind::For || s->kind == StmtKind::While) ? depth + 1 : depth;
      block(s->body, inner);
      block(s->orelse, depth);
    }
  }

  // Assigned before read, in source order (assignments inside nested blocks only count inside).
  bool privateIn(int slot) {
    bool assigned = false;
    return definedFirst(loop.body, slot, assigned);
  }
  static bool reads(const Expr& e, int slot) {
    if (e.kind == ExprKind::Var && e.slot == slot) return true;
    for (auto& a : e.args)
      if (reads(*a, slot)) return true;
    return false;
  }
  bool definedFirst(const Block& b, int slot, bool& assigned) {
    for (auto& s : b) {
      if (!assigned) {
        if (s->value && reads(*s->value, slot)) return false;
        for (auto& a : s->args)
          if (reads(*a, slot)) return false;
      }
      if (s->kind == StmtKind::Assign && s->slot == slot) { assigned = true; continue; }
      bool inner = assigned;
      if (s->kind == StmtKind::For && s->slot == slot) inner = true;
      if (!definedFirst(s->body, slot, inner)) return false;
      bool inner2 = assigned;
      if (!definedFirst(s->orelse, slot, inner2)) return false;
    }
    return true;
  }
};

void outsideUses(const Block& b, const Stmt* skip, std::set<int>& out) {
  for (auto& s : b) {
    if (s.get() == skip) {
      if (s->value) slotsIn(*s->value, out);  // the range expression
      continue;
    }
    if (s->kind == StmtKind::Assign || s->kind == StmtKind::For) out.insert(s->slot);
    if (s->value) slotsIn(*s->value, out);
    for (auto& a : s->args) slotsIn(*a, out);
    outsideUses(s->body, skip, out);
    outsideUses(s->orelse, skip, out);
  }
}

struct Marker {
  Function& f;
  bool changed = false;

  bool tryLoop(Stmt& s) {
    Analysis a{f, s, s.slot};
    outsideUses(f.body, &s, a.outside);
    a.block(s.body, 0);
    if (!a.ok) return false;
    std::function<void(const Block&)> reads = [&](const Block& b) {
      for (auto& st : b) {
        if (st->value) a.checkReadsOfWritten(*st->value);
        for (auto& x : st->args) a.checkReadsOfWritten(*x);
        reads(st->body);
        reads(st->orelse);
      }
    };
    reads(s.body);
    if (!a.ok) return false;
    for (auto it = a.ivCopies.begin(); it != a.ivCopies.end();)  // rebound elsewhere: not a copy
      it = a.assignCount[*it] != 1 ? a.ivCopies.erase(it) : std::next(it);
    // scalars: reduction or private
    std::set<int> assigned;
    slotsInBlock(s.body, assigned);
    std::vector<std::pair<int, Op>> reds;
    for (int slot : assigned) {
      bool isAssigned = a.assignCount.count(slot) || slot == s.slot;
      if (!isAssigned) {
        // only read here, or an inner loop variable
        bool innerFor = false;
        std::function<void(const Block&)> find = [&](const Block& b) {
          for (auto& st : b) {
            if (st->kind == StmtKind::For && st->slot == slot) innerFor = true;
            find(st->body);
            find(st->orelse);
          }
        };
        find(s.body);
        if (!innerFor) continue;
        if (a.outside.count(slot)) return false;
        continue;
      }
      if (slot == s.slot) continue;
      auto r = a.reductionOp.find(slot);
      if (r != a.reductionOp.end() && a.assignCount[slot] == 1) {
        // the reduction variable is read nowhere else in the loop
        int readsElsewhere = 0;
        std::function<void(const Expr&)> count = [&](const Expr& e) {
          if (e.kind == ExprKind::Var && e.slot == slot) ++readsElsewhere;
          for (auto& x : e.args) count(*x);
        };
        std::function<void(const Block&)> walk = [&](const Block& b) {
          for (auto& st : b) {
            if (st->value) count(*st->value);
            for (auto& x : st->args) count(*x);
            walk(st->body);
            walk(st->orelse);
          }
        };
        walk(s.body);
        if (readsElsewhere == 1) {
          reds.push_back({slot, r->second});
          continue;
        }
      }
      if (a.outside.count(slot) || !a.privateIn(slot)) return false;
    }
    s.parallel = true;
    s.reductions = reds;
    for (auto& [tmp, src] : a.alias)
      if (a.outside.count(tmp)) return false;
    s.written_arrays.assign(a.written.begin(), a.written.end());
    for (int r : a.read)
      if (!a.written.count(r)) s.read_arrays.push_back(r);
    s.work = cost(s.body);
    // innermost loops vectorise: an operation costs far less than in loops over loops
    bool nested = false;
    for (auto& st : s.body) nested |= st->kind == StmtKind::For || st->kind == StmtKind::While || !st->body.empty();
    if (!nested) s.work = std::max<int64_t>(1, s.work / 10);
    // a simple loop that writes arrays is memory-bound: the copy of what it writes (kept so a
    // failure can be undone exactly) would cost more than the second core gains
    if (!nested && !a.written.empty() && s.work < 4) {
      s.parallel = false;
      s.reductions.clear();
      s.written_arrays.clear();
      s.read_arrays.clear();
      return false;
    }
    return true;
  }

  void block(Block& b) {
    for (auto& s : b) {
      if (s->kind == StmtKind::For && f.locals[s->slot].type.kind == Kind::Int && tryLoop(*s)) {
        changed = true;
        continue;  // the outermost independent loop: inner loops stay serial inside it
      }
      block(s->body);
      block(s->orelse);
    }
  }
};

}  // namespace

bool markParallelLoops(Function& f) {
  Marker m{f};
  m.block(f.body);
  return m.changed;
}

}  // namespace epochpp::passes
