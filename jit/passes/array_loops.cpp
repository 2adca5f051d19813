// jit/passes/array_loops.cpp — Levels 3 and 4: a whole-array float64 expression becomes an explicit
// loop, so that the parallel-loop pass marks it (all cores) and the GPU codegen makes a kernel of it.
//
//   c = np.sqrt(a * a + b * b) / s        (a, b: 1-d float64 arrays; s a scalar local)
// becomes
//   if a.shape[0] == b.shape[0]:          # short-circuit, leaves in Python's order
//       $ep_arr0 = np.empty(a.shape[0])
//       for $ep_i0 in range(0, a.shape[0], 1):
//           $ep_arr0[$ep_i0] = np.sqrt(a[$ep_i0] * a[$ep_i0] + b[$ep_i0] * b[$ep_i0]) / s
//       c = $ep_arr0
//   else:
//       c = np.sqrt(a * a + b * b) / s     # unchanged: broadcasting (length 1), or the ValueError
//
// Exact by construction, and only where it is: the leaves are locals and constants (`-3` too);
// reading them has no effect, and the condition reads the arrays in the order the fused loop
// would, so an unbound local raises at the same one. Every array in the expression is 1-d
// float64 and every scalar a Python int or float or np.float64, so each element is the same
// IEEE operation on the same operands as in the fused loop (`+ - * /`, unary `-`, and the NumPy
// functions below, which codegen lowers to the same instructions and libm calls on scalars as
// on arrays). Anything else (other dtypes, 2-d arrays, `**`, `//`, `%`, comparisons, calls,
// subscripts as leaves) keeps the fused loop.
#include <algorithm>
#include <set>

#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

const std::set<std::string> kFns = {"np.sqrt", "np.exp",    "np.log",     "np.sin",    "np.cos",    "np.tan",
                                    "np.tanh", "np.log2",   "np.log10",   "np.arcsin", "np.arccos", "np.arctan",
                                    "np.sinh", "np.cosh",   "np.expm1",   "np.log1p",  "np.abs",    "np.absolute",
                                    "np.fabs", "np.minimum", "np.maximum"};

bool isF64Vector(const Type& t) { return t.isArray() && t.dtype == Kind::NpFloat64 && t.ndim == 1; }

struct Rewriter {
  Function& f;
  int count = 0;

  // `e` qualifies; its array leaves' slots are appended in evaluation order.
  bool ok(const Expr& e, std::vector<int>& arrays) {
    if (e.kind == ExprKind::Var) {
      if (e.type.isArray()) {
        if (!isF64Vector(e.type)) return false;
        arrays.push_back(e.slot);
        return true;
      }
      return e.type.kind == Kind::Float || e.type.kind == Kind::Int || e.type.kind == Kind::NpFloat64;
    }
    if (e.kind == ExprKind::Const) return e.type.kind == Kind::Float || e.type.kind == Kind::Int;
    if (e.kind == ExprKind::Unary && !e.type.isArray() && (e.op == Op::Neg || e.op == Op::Pos) &&
        e.args[0]->kind == ExprKind::Const)  // `-0.0`, `-3`: constants too
      return ok(*e.args[0], arrays);
    if (!isF64Vector(e.type)) return false;  // an inner node: array-valued, float64, 1-d
    bool node = (e.kind == ExprKind::Binary && e.ival == 0 &&
                 (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul || e.op == Op::Div)) ||
                (e.kind == ExprKind::Unary && (e.op == Op::Neg || e.op == Op::Pos)) ||
                (e.kind == ExprKind::Intrinsic && e.ival < 0 && kFns.count(e.name) &&
                 e.args.size() == ((e.name == "np.minimum" || e.name == "np.maximum") ? 2u : 1u));
    if (!node) return false;
    for (auto& a : e.args)
      if (!ok(*a, arrays)) return false;
    return true;
  }

  // A copy of `e` reading element `i` of every array leaf.
  ExprPtr element(const Expr& e, int i) {
    if (e.kind == ExprKind::Var && e.type.isArray()) return mkIndex(mkVar(e.slot, e.line), {mkVar(i, e.line)}, e.line);
    auto c = std::make_shared<Expr>(e);
    if (c->kind != ExprKind::Const) c->type = Type::unknown();  // typed again (a constant keeps its own)
    for (auto& a : c->args) a = element(*a, i);
    return c;
  }

  static ExprPtr len(int slot, int line) {
    return mkIndex(mkAttr("shape", mkVar(slot, line), line), {mkConstInt(0, line)}, line);
  }

  // The statements that replace `target = e` (line `line`); none when `e` does not qualify.
  Block rewrite(int target, const ExprPtr& e, int line) {
    std::vector<int> arrays;
    if (!isF64Vector(e->type) || e->kind == ExprKind::Var || !ok(*e, arrays) || arrays.empty()) return {};
    std::vector<int> distinct;
    for (int s : arrays)
      if (std::find(distinct.begin(), distinct.end(), s) == distinct.end()) distinct.push_back(s);
    int k = count++;
    // `$` names are the compiler's own: no Python local can have one
    int out = f.addLocal("$ep_arr" + std::to_string(k));
    int i = f.addLocal("$ep_i" + std::to_string(k));
    Block loop;
    loop.push_back(mkAssign(out, mkIntrinsic("np.empty", {len(distinct[0], line)}, line), line));
    Block body;
    body.push_back(mkStore(mkVar(out, line), {mkVar(i, line)}, element(*e, i), line));
    loop.push_back(mkFor(i, mkRange(mkConstInt(0, line), len(distinct[0], line), mkConstInt(1, line), line),
                         std::move(body), {}, line));
    loop.push_back(mkAssign(target, mkVar(out, line), line));
    if (distinct.size() == 1) return loop;
    ExprPtr cond;
    for (size_t d = 1; d < distinct.size(); ++d) {
      ExprPtr eq = mkCompare(Op::Eq, len(distinct[0], line), len(distinct[d], line), line);
      cond = cond ? mkBoolOp(Op::And, cond, eq, line) : eq;
    }
    Block fused;
    fused.push_back(mkAssign(target, e, line));
    Block one;
    one.push_back(mkIf(cond, std::move(loop), std::move(fused), line));
    return one;
  }

  void block(Block& b) {
    Block out;
    for (auto& s : b) {
      if (s->kind == StmtKind::Assign && s->value) {
        Block r = rewrite(s->slot, s->value, s->line);
        if (!r.empty()) {
          out.insert(out.end(), r.begin(), r.end());
          continue;
        }
      }
      block(s->body);
      block(s->orelse);
      out.push_back(s);
    }
    b = std::move(out);
  }
};

}  // namespace

bool loopArrayExpressions(Function& f) {
  Rewriter r{f};
  r.block(f.body);
  return r.count > 0;
}

}  // namespace epochpp::passes
