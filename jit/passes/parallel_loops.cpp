// jit/passes/parallel_loops.cpp — dependence analysis for Level 3.
//
// A `for` loop is parallel when its iterations are independent:
//  * every array it writes is written at [i, ...] (i: the loop variable, exactly) and read
//    only at [i, ...]; arrays it only reads are read anywhere;
//  * every other scalar it assigns is private to an iteration (assigned before it is read, in
//    source order, and not read after the loop, its own `else` included, before it is assigned
//    again: ir::liveAfter, so a name reused by a later loop does not count) or a reduction: `s = s + e`, `s * e`, `s & e`,
//    `s | e`, `s ^ e` (integers, bools), `s and e` / `s or e` (bools), `max(s, e)`, `min(s, e)`;
//  * no break/return, no allocation or whole-array operation; calls get arrays only when the
//    callee never writes memory it did not allocate (known once the callee has been compiled).
// Any error or deopt inside a parallel loop makes the whole call deopt (exact: the
// interpreter re-runs it), so the analysis need not prove the body free of errors.
// Nested loops are parallelised at the outermost independent level only.
#include <functional>
#include <map>
#include <set>

#include "jit/ir/liveness.h"
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
  const CalleeLookup& callee;
  const Stmt& loop;
  int iv;
  std::set<int> outside;  // slots the function may read after the loop (ir::liveAfter)
  bool ok = true;
  bool asserted = false;
  int64_t calleeWork = 0;       // estimated cost of the functions one iteration calls
  bool callsFunctions = false;  // epochpp.prange: the user vouches that iterations touch disjoint array elements
  std::string why;        // the first reason the loop is not parallel (for prange's explain note)
  std::map<int, int> assignCount;
  std::map<int, Op> reductionOp;
  std::set<int> written, read;
  std::map<int, int> alias;  // `$base = a` temporaries of augmented item assignment -> a

  int resolve(int slot) const {
    auto it = alias.find(slot);
    return it == alias.end() ? slot : it->second;
  }

  void fail(const char* reason) {
    if (ok) why = reason;
    ok = false;
  }

  // Expressions: no allocation, no array-valued operations except views; calls get no arrays.
  void expr(const Expr& e) {
    for (auto& a : e.args) expr(*a);
    if (e.type.isArray() && !(e.kind == ExprKind::Var || e.kind == ExprKind::Index ||
                              (e.kind == ExprKind::Attr && e.name == "T")))
      fail("it computes a whole array (an allocation or an array operation)");
    if (e.kind == ExprKind::Intrinsic)
      for (auto& a : e.args)
        if (a->type.isArray() && e.name != "len")  // reductions and friends use per-call scratch
          fail("it calls a NumPy function on an array");
    if (e.kind == ExprKind::CallFunc) {
      // arrays may go to a function that only reads them (a row view per item: simulate(p[i]))
      bool passesArrays = false;
      std::vector<Type> args;
      for (auto& a : e.args) {
        passesArrays |= a->type.isArray() || a->type.kind == Kind::Tuple;
        args.push_back(a->type);
      }
      const Function* g = callee ? callee(e.callee, args) : nullptr;
      if (passesArrays && (!g || g->writes_args)) fail("it passes an array or a tuple to a function that may write it");
      if (g) calleeWork += cost(g->body);
      else calleeWork += 320;  // unknown: as a loop of unknown length
      callsFunctions = true;
    }
    if (e.kind == ExprKind::Index && e.args[0]->kind == ExprKind::Var && e.args[0]->type.isArray())
      read.insert(resolve(e.args[0]->slot));
    if (e.kind == ExprKind::NamedExpr) fail("it uses :=");
  }

  // `s = s OP e` (and `s = max(s, e)`, `s = min(s, e)`): the reduction's operator, else Op::None.
  // max/min are recorded as Op::Gt/Op::Lt, the comparison that makes the new item win: Python's
  // max keeps the first of equal items and skips NaN items (unless s itself is NaN), and combining
  // chunk results in order with that same rule gives the serial answer exactly.
  Op reductionOf(int slot, const Expr& v) const {
    auto isS = [&](const Expr& e) { return e.kind == ExprKind::Var && e.slot == slot; };
    const Type& st = f.locals[slot].type;
    if (v.args.size() != 2 || !isS(*v.args[0])) return Op::None;
    if (v.kind == ExprKind::Binary) {
      if ((v.op == Op::Add || v.op == Op::Mul) && v.type.isScalar()) return v.op;
      // bitwise: exact and associative on integers and bools of one type
      bool integral = st.kind == Kind::Int || st.kind == Kind::Bool || st.kind == Kind::NpInt64 ||
                      st.kind == Kind::NpInt32 || st.kind == Kind::NpBool;
      if ((v.op == Op::BitAnd || v.op == Op::BitOr || v.op == Op::BitXor) && integral && v.type == st &&
          v.args[1]->type == st)
        return v.op;
      return Op::None;
    }
    if (v.kind == ExprKind::BoolOp && st.kind == Kind::Bool && v.type.kind == Kind::Bool && v.args[1]->type.kind == Kind::Bool)
      return v.op;  // `s = s and e` / `s = s or e` on bools: all() / any()
    if (v.kind == ExprKind::Intrinsic && (v.name == "max" || v.name == "min")) {
      if (!v.args[1]->type.isNumeric()) return Op::None;
      for (const Type* t : {&st, static_cast<const Type*>(&v.args[1]->type)})
        for (Kind k : members(*t))
          if (!(k == Kind::Int || k == Kind::Float || k == Kind::NpInt64 || k == Kind::NpInt32 || k == Kind::NpFloat64 ||
                k == Kind::NpFloat32))
            return Op::None;  // bools: False is no identity for max over negative ints
      return v.name == "max" ? Op::Gt : Op::Lt;
    }
    return Op::None;
  }

  std::set<int> ivCopies;  // `i = $i` (enumerate): the same value as the loop variable
  // anyDim (SIMD lanes, simd_lanes.cpp): the loop variable may index any one dimension of an
  // array, the same one at every access of it, the other indices not changing in the loop
  // (x[c, i]: each iteration its own column)
  bool anyDim = false;
  std::set<int> assignedInLoop;
  std::map<int, size_t> ivDim;
  bool isIv(const Expr& e) const { return e.kind == ExprKind::Var && (e.slot == iv || ivCopies.count(e.slot)); }
  bool indexedByIv(const std::vector<ExprPtr>& args) {
    if (!anyDim) return args.size() >= 2 && isIv(*args[1]);
    size_t at = 0;
    for (size_t k = 1; k < args.size(); ++k) {
      if (!at && isIv(*args[k])) {
        at = k;
        continue;
      }
      std::set<int> used;
      slotsIn(*args[k], used);
      for (int u : used)
        if (assignedInLoop.count(u)) return false;
    }
    if (!at) return false;
    int arr = args[0]->kind == ExprKind::Var ? resolve(args[0]->slot) : -1;
    auto [it, fresh] = ivDim.emplace(arr, at);
    return fresh || it->second == at;
  }

  void checkReadsOfWritten(const Expr& e) {
    for (auto& a : e.args) checkReadsOfWritten(*a);
    if (e.kind == ExprKind::Index && e.args[0]->kind == ExprKind::Var && written.count(resolve(e.args[0]->slot)) &&
        !indexedByIv(e.args))
      fail("it reads an array it writes at an index other than the loop variable");
  }

  void block(const Block& b, int depth) {
    for (auto& s : b) {
      switch (s->kind) {
        case StmtKind::Break: if (depth == 0) fail("it has a break"); break;
        case StmtKind::Return: fail("it has a return"); break;
        case StmtKind::Store: {
          const Expr& base = *s->args[0];
          if (base.kind != ExprKind::Var || !base.type.isArray()) { fail("it stores into something other than an array variable"); break; }
          if (!asserted && !indexedByIv(s->args)) { fail("it writes an array at an index other than the loop variable"); break; }
          for (size_t k = 1; k < s->args.size(); ++k)
            if (s->args[k]->kind == ExprKind::Slice) fail("it stores into a slice");
          if ((int)s->args.size() - 1 != base.type.ndim) fail("it stores a whole row (give every index)");
          written.insert(resolve(base.slot));
          break;
        }
        case StmtKind::Assign: {
          assignCount[s->slot]++;
          const Expr& v = *s->value;
          if (depth == 0 && v.kind == ExprKind::Var && v.slot == iv) ivCopies.insert(s->slot);
          Op rop = reductionOf(s->slot, v);
          if (rop != Op::None) {
            std::set<int> rhs;
            slotsIn(*v.args[1], rhs);
            if (!rhs.count(s->slot)) reductionOp[s->slot] = rop;
          }
          if (f.locals[s->slot].type.isArray()) {
            // only the frontend's alias temporaries (a[i] += x keeps `$base = a`) may bind arrays
            if (f.locals[s->slot].name.rfind("$base", 0) == 0 && v.kind == ExprKind::Var) alias[s->slot] = resolve(v.slot);
            else fail("it assigns an array to a variable");
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

struct Marker {
  Function& f;
  const CalleeLookup& callee;
  bool changed = false;

  bool tryLoop(Stmt& s) {
    std::string why;
    bool ok = analyse(s, why);
    if (!ok && s.prange)
      f.notes.push_back("line " + std::to_string(s.line) + ": the prange loop runs serially: " + why);
    return ok;
  }

  // The independence rules above (no cost decisions); fills `reds`.
  bool independent(const Stmt& s, Analysis& a, std::vector<std::pair<int, Op>>& reds, std::string& why) {
    a.asserted = s.prange;
    if (a.anyDim) {
      assignedSlots(s.body, a.assignedInLoop, a.assignedInLoop);
      a.assignedInLoop.insert(s.slot);
    }
    a.outside = liveAfter(f, s);
    a.block(s.body, 0);
    if (!a.ok) {
      why = a.why;
      return false;
    }
    std::function<void(const Block&)> reads = [&](const Block& b) {
      for (auto& st : b) {
        if (st->value) a.checkReadsOfWritten(*st->value);
        for (auto& x : st->args) a.checkReadsOfWritten(*x);
        reads(st->body);
        reads(st->orelse);
      }
    };
    if (!a.asserted) reads(s.body);
    if (!a.ok) {
      why = a.why;
      return false;
    }
    for (auto it = a.ivCopies.begin(); it != a.ivCopies.end();)  // rebound elsewhere: not a copy
      it = a.assignCount[*it] != 1 ? a.ivCopies.erase(it) : std::next(it);
    // scalars: reduction or private
    std::set<int> assigned;
    slotsInBlock(s.body, assigned);
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
        if (a.outside.count(slot)) {
          why = "the inner loop variable '" + f.locals[slot].name + "' is used after the loop";
          return false;
        }
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
      if (a.outside.count(slot) || !a.privateIn(slot)) {
        why = "'" + f.locals[slot].name + "' carries a value from one iteration to the next (or is used after the loop) "
              "and is not a reduction (s += e, s *= e, s &= e, s |= e, s ^= e, s = max(s, e), s = min(s, e))";
        return false;
      }
    }
    for (auto& [tmp, src] : a.alias)
      if (a.outside.count(tmp)) {
        why = "an internal temporary is used after the loop";
        return false;
      }
    return true;
  }

  bool analyse(Stmt& s, std::string& why) {
    Analysis a{f, callee, s, s.slot};
    std::vector<std::pair<int, Op>> reds;
    if (!independent(s, a, reds, why)) return false;
    s.parallel = true;
    s.reductions = reds;
    s.written_arrays.assign(a.written.begin(), a.written.end());
    for (int r : a.read)
      if (!a.written.count(r)) s.read_arrays.push_back(r);
    s.work = cost(s.body) + a.calleeWork;
    // innermost loops vectorise: an operation costs far less than in loops over loops (a call
    // does not vectorise)
    bool nested = a.callsFunctions;
    for (auto& st : s.body) nested |= st->kind == StmtKind::For || st->kind == StmtKind::While || !st->body.empty();
    if (!nested) s.work = std::max<int64_t>(1, s.work / 10);
    // A simple loop that only moves memory runs in parallel too: its small work per item puts it
    // under the runtime's work threshold until the arrays are large, and above it two cores
    // moved 1.3-1.9x the bytes of one on the 2-vCPU VM measured (docs/levels.md).
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

bool independentIterations(Function& f, const Stmt& s, std::vector<std::pair<int, Op>>& reductions, std::string& why) {
  CalleeLookup none;
  Marker m{f, none};
  Analysis a{f, none, s, s.slot};
  a.anyDim = true;
  reductions.clear();
  return m.independent(s, a, reductions, why);
}

bool markParallelLoops(Function& f, const CalleeLookup& callee) {
  Marker m{f, callee};
  m.block(f.body);
  return m.changed;
}

}  // namespace epochpp::passes
