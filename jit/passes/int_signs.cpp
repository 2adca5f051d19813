// jit/passes/int_signs.cpp — sign facts about Python ints: a lower bound (>= 1, >= 0 or
// unknown) for every int local, found by a flow-insensitive fixed point over all of its
// assignments. Int arithmetic is exact in compiled code (an int64 overflow deopts before the
// value is used), so bounds carry over `+` and `*` as they do on mathematical integers.
//
// Precondition (shared with every int64 fast path): compiled code never uses a wrapped int; an
// overflow deopts at the operation that overflows, or a transformation that delays the check
// must keep wrapped values away from every other use.
//
// Use: `a // b` and `a % b` with a >= 0 and b >= 1 need no ZeroDivisionError check, no
// INT64_MIN // -1 check and no floor/sign correction (C's truncating division agrees with
// Python's floor there); codegen lowers them to one udiv/urem (trial division, digit loops).
#include <algorithm>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

// Lower bounds, ordered: a larger value is a stronger fact; join is min.
constexpr int kTop = -1;  // any int
constexpr int kNonNeg = 0;
constexpr int kPos = 1;
constexpr int kBottom = 2;  // no value seen yet (only while iterating)

int clampLb(int64_t v) { return v >= 1 ? kPos : v == 0 ? kNonNeg : kTop; }

struct Signs {
  Function& f;
  std::vector<int> lb;  // per slot
  bool grew = false;

  bool intSlot(int slot) const { return f.locals[slot].type.kind == Kind::Int || f.locals[slot].type.kind == Kind::Bool; }

  // Lower bound of an expression's value (ints and bools only; anything else: kTop).
  int bound(const Expr& e) {
    Kind k = e.type.kind;
    if (k == Kind::Bool) return kNonNeg;
    if (k != Kind::Int) return kTop;
    auto arg = [&](size_t i) { return bound(*e.args[i]); };
    switch (e.kind) {
      case ExprKind::Const: return clampLb(e.ival);
      case ExprKind::Var: return intSlot(e.slot) ? lb[e.slot] : kTop;
      case ExprKind::NamedExpr: return arg(0);
      case ExprKind::IfExp: return std::min(arg(1), arg(2));
      case ExprKind::Attr: return (e.name == "size" || e.name == "ndim") ? kNonNeg : kTop;
      case ExprKind::TupleGet: {
        const Expr& t = *e.args[0];
        return t.kind == ExprKind::Attr && t.name == "shape" ? kNonNeg : kTop;
      }
      case ExprKind::Intrinsic: {
        if (e.name == "len" || e.name == "abs") return kNonNeg;
        if ((e.name == "max" || e.name == "min") && e.args.size() == 2) {
          int x = arg(0), y = arg(1);
          return e.name == "max" ? std::max(x, y) : std::min(x, y);
        }
        return kTop;
      }
      case ExprKind::Binary: {
        if (e.args[0]->type.kind != Kind::Int && e.args[0]->type.kind != Kind::Bool) return kTop;
        if (e.args[1]->type.kind != Kind::Int && e.args[1]->type.kind != Kind::Bool) return kTop;
        int x = arg(0), y = arg(1);
        if (x == kBottom || y == kBottom) return kBottom;
        switch (e.op) {
          case Op::Add: return x == kTop || y == kTop ? kTop : std::min(kPos, x + y);
          case Op::Mul: return x == kTop || y == kTop ? kTop : std::min(x, y);
          case Op::FloorDiv: return x >= kNonNeg && y >= kPos ? kNonNeg : kTop;
          case Op::Mod: return y >= kPos ? kNonNeg : kTop;  // Python: the sign of the divisor
          case Op::BitAnd: return x >= kNonNeg || y >= kNonNeg ? kNonNeg : kTop;
          case Op::RShift: return x >= kNonNeg ? kNonNeg : kTop;
          default: return kTop;
        }
      }
      default: return kTop;
    }
  }

  void define(int slot, int v) {
    if (!intSlot(slot)) return;
    int j = std::min(lb[slot], v);
    if (j != lb[slot]) {
      lb[slot] = j;
      grew = true;
    }
  }

  void blockDefs(const Block& b) {
    forEachBinding(b, [&](int slot, const Expr* value, const Stmt& s) {
      if (value) return define(slot, bound(*value));
      // range(start, stop, step) with a constant step > 0 yields start, start+step, ... >= start
      const Expr& r = *s.value;
      bool up = r.kind == ExprKind::RangeMake && r.args.size() == 3 && r.args[2]->kind == ExprKind::Const &&
                r.args[2]->type.kind == Kind::Int && r.args[2]->ival > 0;
      define(slot, up ? bound(*r.args[0]) : kTop);
    });
  }
};

}  // namespace

bool inferIntSigns(Function& f) {
  Signs s{f, std::vector<int>(f.locals.size(), kBottom)};
  for (int p = 0; p < f.num_params; ++p) s.lb[p] = kTop;  // any argument
  // The lattice has four levels and bounds only fall, so this ends after a few rounds.
  do {
    s.grew = false;
    s.blockDefs(f.body);
  } while (s.grew);
  for (int& v : s.lb)
    if (v == kBottom) v = kTop;  // never assigned: claim nothing
  return setFact(f.body, kFactNonNegDivMod, [&](const Expr& e) {
    return e.kind == ExprKind::Binary && (e.op == Op::FloorDiv || e.op == Op::Mod) && e.type.kind == Kind::Int &&
           e.args[0]->type.kind == Kind::Int && e.args[1]->type.kind == Kind::Int && s.bound(*e.args[0]) >= kNonNeg &&
           s.bound(*e.args[1]) >= kPos;
  });
}

}  // namespace epochpp::passes
