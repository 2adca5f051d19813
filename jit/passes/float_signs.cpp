// jit/passes/float_signs.cpp — which float values can never be negative: a flow-insensitive fixed
// point over every assignment of every local, as int_signs.cpp does for ints. "Not negative"
// here means >= 0, -0.0, +inf or NaN: everything math.sqrt accepts without a domain error.
//
// Non-negative: constants >= 0 (and -0.0), len() and shapes, x * x and a[i] * a[i], sums, products
// and quotients of non-negative values, abs / math.fabs / math.sqrt / math.exp / math.hypot,
// conditional expressions whose two values are, and locals all of whose assignments are.
// Parameters and array elements are unknown.
//
// Use: `math.sqrt(x)` of such an x needs no "math domain error" check, so a loop such as
// `s = 0.0; for k: s += t * t` followed by `math.sqrt(s)` has no way to raise — which also lets
// Level 3 skip keeping a copy of what its chunks write (lower_parallel.cpp).
#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

struct FloatSigns {
  Function& f;
  std::vector<char> nonneg;  // per slot; optimistic start, cleared by any other assignment
  bool fell = false;

  // the same value twice: one local, a constant, or the same element of one array (no call,
  // nothing assigned between the two reads inside one expression)
  static bool same(const Expr& a, const Expr& c) {
    if (a.kind != c.kind || a.type.kind != c.type.kind) return false;
    switch (a.kind) {
      case ExprKind::Var: return a.slot == c.slot;
      case ExprKind::Const: return a.ival == c.ival && a.fval == c.fval;
      case ExprKind::Index:
        if (a.args.size() != c.args.size()) return false;
        for (size_t i = 0; i < a.args.size(); ++i)
          if (a.args[i]->kind == ExprKind::Slice || !same(*a.args[i], *c.args[i])) return false;
        return a.type.isScalar();
      case ExprKind::Binary:
        return a.op == c.op && (a.op == Op::Add || a.op == Op::Sub || a.op == Op::Mul) && same(*a.args[0], *c.args[0]) &&
               same(*a.args[1], *c.args[1]);
      default: return false;
    }
  }

  bool nn(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Const:
        if (e.type.kind == Kind::Float) return e.fval >= 0.0 || e.fval != e.fval;  // -0.0 >= 0.0 too
        if (e.type.kind == Kind::Int || e.type.kind == Kind::Bool) return e.ival >= 0;
        return false;
      case ExprKind::Var: return e.slot >= f.num_params && nonneg[e.slot];
      case ExprKind::NamedExpr: return nn(*e.args[0]);
      case ExprKind::IfExp: return nn(*e.args[1]) && nn(*e.args[2]);
      case ExprKind::Unary: return e.op == Op::Pos && nn(*e.args[0]);
      case ExprKind::TupleGet: {
        const Expr& t = *e.args[0];
        return t.kind == ExprKind::Attr && t.name == "shape";
      }
      case ExprKind::Intrinsic:
        return e.name == "len" || e.name == "abs" || e.name == "math.fabs" || e.name == "math.sqrt" ||
               e.name == "math.exp" || e.name == "math.hypot";
      case ExprKind::Binary: {
        const Expr& a = *e.args[0];
        const Expr& c = *e.args[1];
        if (!e.type.isScalar() && e.type.kind != Kind::Union) return false;
        switch (e.op) {
          case Op::Mul:
            if (a.type.kind != Kind::Union && a.type.isScalar() && same(a, c)) return true;  // x * x, x[i] * x[i]
            return nn(a) && nn(c);
          case Op::Add:
          case Op::Div:
            return nn(a) && nn(c);
          default: return false;
        }
      }
      default: return false;
    }
  }

  void define(int slot, bool v) {
    if (!v && nonneg[slot]) {
      nonneg[slot] = 0;
      fell = true;
    }
  }

  void blockDefs(const Block& b) {
    forEachBinding(b, [&](int slot, const Expr* value, const Stmt&) { define(slot, value && nn(*value)); });
  }
};

}  // namespace

bool inferFloatSigns(Function& f) {
  FloatSigns s{f, std::vector<char>(f.locals.size(), 1)};
  // facts only fall, one slot at a time: at most one round per local
  do {
    s.fell = false;
    s.blockDefs(f.body);
  } while (s.fell);
  return setFact(f.body, kFactNonNegArg, [&](const Expr& e) {
    return e.kind == ExprKind::Intrinsic && e.name == "math.sqrt" && e.args.size() == 1 && s.nn(*e.args[0]);
  });
}

}  // namespace epochpp::passes
