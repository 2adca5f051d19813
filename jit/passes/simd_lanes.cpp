// jit/passes/simd_lanes.cpp — which loops run several iterations at once, side by side in SIMD lanes.
//
// LLVM's loop vectoriser handles innermost loops. A loop whose body holds another loop (a pixel
// loop around an escape-time `while`, a matmul column loop around its dot product) stays scalar
// in C++ and Numba alike. When such a `for` loop's iterations are independent (the Level 3
// rules, parallel_loops.cpp), codegen (lower_lanes.cpp) can run W consecutive iterations as one:
// every local the body assigns becomes a vector of W values, `if` and `while` run under a mask
// of the lanes still going, and each lane computes exactly what its scalar iteration computes,
// operation for operation (so floats agree bit for bit). Anything that could raise (an int
// overflow, a float division by zero, math.sqrt of a negative, an index out of range) sends
// the W iterations back to the scalar loop before any of their effects is made; reductions
// (`s = s + e`) and stores are applied lane by lane at the end of the W iterations, in
// iteration order.
//
// The body must stay inside what codegen lowers in lanes:
//  * statements: assignments to int, bool and float locals (np.float64 too: the same double),
//    stores into float64 / int64 arrays at the top level of the body, `if`, `while` (no else),
//    inner `for` loops over a range whose bounds do not vary between lanes, `pass`;
//  * expressions: constants, locals, `+ - *` on ints and floats, `/` on floats, comparisons of
//    two ints or two floats, unary minus, `not`, math.sqrt, abs of a float, float64 array
//    elements, x.shape[k] and len(x);
//  * reductions `s = s + e` on an int or float `s`, at the top level of the body or in its `if`s;
//  * after a store into an array, the body reads that array only at elements that differ from
//    the stored one by a constant index (stores wait for the end of the W iterations);
//  * an inner loop's variable is read only inside that loop.
// The last iteration runs in the scalar loop, so what the loop leaves in its variables is what
// CPython leaves, unless no variable the loop assigns (its reductions aside) can be read after
// it (ir::liveAfter): then the lanes run to the loop's end (Stmt::lanes_to_end). Either way the
// iterations after the whole steps run in one more step with its last lanes off.
#include <functional>
#include <set>

#include "jit/ir/liveness.h"
#include "jit/passes/passes.h"

namespace epochpp::passes {

using namespace ir;

namespace {

bool floatLike(const Type& t) {
  for (Kind k : members(t))
    if (k != Kind::Float && k != Kind::NpFloat64) return false;
  return t.isNumeric();
}
bool intLike(const Type& t) { return t.kind == Kind::Int; }
bool boolLike(const Type& t) {  // bool, np.bool, or a union of the two (a comparison of unions)
  for (Kind k : members(t))
    if (k != Kind::Bool && k != Kind::NpBool) return false;
  return t.isNumeric();
}
bool laneScalar(const Type& t) { return floatLike(t) || intLike(t) || boolLike(t); }

struct Check {
  Function& f;
  const Stmt& loop;
  std::set<int> varying;     // the loop variable and every local the body assigns
  std::set<int> innerVars;   // inner `for` variables: the same in every lane
  std::set<int> reductions;
  std::string why;
  bool ok = true;
  void fail(const std::string& w) {
    if (ok) why = w;
    ok = false;
  }

  // x.shape[k], len(x): ints the same in every lane
  static bool shapeOf(const Expr& e) {
    auto isArr = [](const Expr& a) { return a.kind == ExprKind::Var && a.type.isArray(); };
    auto dimOk = [&isArr](const Expr& a, int64_t k) { return isArr(a) && k >= -(int64_t)a.type.ndim && k < a.type.ndim; };
    if (e.kind == ExprKind::TupleGet && e.args[0]->kind == ExprKind::Attr && e.args[0]->name == "shape")
      return dimOk(*e.args[0]->args[0], e.ival);
    if (e.kind == ExprKind::Index && e.args.size() == 2 && e.args[0]->kind == ExprKind::Attr && e.args[0]->name == "shape" &&
        e.args[1]->kind == ExprKind::Const && e.args[1]->type.kind == Kind::Int)
      return dimOk(*e.args[0]->args[0], e.args[1]->ival);
    if (e.kind == ExprKind::Intrinsic && e.name == "len" && e.args.size() == 1) return isArr(*e.args[0]);
    return false;
  }

  bool readsVarying(const Expr& e) const {
    if (e.kind == ExprKind::Var && varying.count(e.slot)) return true;
    for (auto& a : e.args)
      if (readsVarying(*a)) return true;
    return false;
  }

  void expr(const Expr& e) {
    if (!ok) return;
    switch (e.kind) {
      case ExprKind::Const:
        if (!laneScalar(e.type)) fail("a constant of type " + e.type.str());
        return;
      case ExprKind::Var:
        if (!laneScalar(e.type) || !laneScalar(f.locals[e.slot].type) ||
            (!varying.count(e.slot) && f.locals[e.slot].type.kind == Kind::Union))
          fail("'" + f.locals[e.slot].name + "' has type " + f.locals[e.slot].type.str());
        return;
      case ExprKind::Binary: {
        const Type &a = e.args[0]->type, &c = e.args[1]->type;
        bool ints = intLike(a) && intLike(c);
        bool floats = (floatLike(a) || intLike(a)) && (floatLike(c) || intLike(c)) && !ints;
        bool ok1 = (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul) ? (ints || floats)
                   : e.op == Op::Div ? floats : false;
        if (!ok1 || !laneScalar(e.type)) fail(std::string("the operator ") + opName(e.op) + " on " + a.str() + ", " + c.str());
        break;
      }
      case ExprKind::Compare: {
        const Type &a = e.args[0]->type, &c = e.args[1]->type;
        if (!((intLike(a) && intLike(c)) || (floatLike(a) && floatLike(c)))) fail("a comparison of " + a.str() + " with " + c.str());
        break;
      }
      case ExprKind::Unary:
        if (!((e.op == Op::Neg && (intLike(e.args[0]->type) || floatLike(e.args[0]->type))) ||
              (e.op == Op::Not && boolLike(e.args[0]->type))))
          fail(std::string("the unary operator ") + opName(e.op));
        break;
      case ExprKind::Intrinsic:
        if (shapeOf(e)) return;
        if (!((e.name == "math.sqrt" || e.name == "abs") && e.args.size() == 1 && floatLike(e.args[0]->type) && floatLike(e.type)))
          fail("a call of " + e.name);
        break;
      case ExprKind::Index: {
        if (shapeOf(e)) return;
        const Expr& base = *e.args[0];
        if (base.kind != ExprKind::Var || !base.type.isArray() || base.type.dtype != Kind::NpFloat64 ||
            (int)e.args.size() - 1 != base.type.ndim || varying.count(base.slot)) {
          fail("an element access other than a float64 array's element");
          return;
        }
        for (size_t k = 1; k < e.args.size(); ++k) {
          if (!intLike(e.args[k]->type)) fail("an index that is not an int");
          expr(*e.args[k]);
        }
        return;
      }
      case ExprKind::TupleGet:
        if (shapeOf(e)) return;
        fail("a tuple");
        return;
      default: fail("an expression of this kind"); return;
    }
    for (auto& a : e.args) expr(*a);
  }

  // depth: loops around the statement inside the body; inIf: inside an `if` of the body
  void block(const Block& b, int depth, bool inIf) {
    for (auto& sp : b) {
      if (!ok) return;
      const Stmt& s = *sp;
      switch (s.kind) {
        case StmtKind::Pass: break;
        case StmtKind::Assign: {
          const Type& t = f.locals[s.slot].type;
          const Type& v = s.value->type;
          if (!laneScalar(t) || !((floatLike(t) && floatLike(v)) || (intLike(t) && intLike(v)) || (boolLike(t) && boolLike(v)))) {
            fail("'" + f.locals[s.slot].name + "' is assigned a " + v.str());
            break;
          }
          if (reductions.count(s.slot)) {
            if (depth > 0) fail("a reduction inside an inner loop");
            const Expr& e = *s.value;
            if (!(e.kind == ExprKind::Binary && e.op == Op::Add && e.args[0]->kind == ExprKind::Var && e.args[0]->slot == s.slot))
              fail("a reduction other than s = s + e");
            else if (f.locals[s.slot].type.kind == Kind::Int ? !(intLike(e.args[1]->type) || boolLike(e.args[1]->type))
                                                             : !(floatLike(e.args[1]->type) || intLike(e.args[1]->type)))
              fail("a reduction term of type " + e.args[1]->type.str());
            else expr(*e.args[1]);
            break;
          }
          expr(*s.value);
          break;
        }
        case StmtKind::Store: {
          const Expr& base = *s.args[0];
          if (depth > 0 || inIf) { fail("a store inside an inner block"); break; }
          if (base.kind != ExprKind::Var || !base.type.isArray() || (int)s.args.size() - 1 != base.type.ndim ||
              !((base.type.dtype == Kind::NpFloat64 && floatLike(s.value->type)) ||
                (base.type.dtype == Kind::NpInt64 && intLike(s.value->type)))) {
            fail("a store other than a float into a float64 array or an int into an int64 array");
            break;
          }
          for (size_t k = 1; k < s.args.size(); ++k) {
            if (!intLike(s.args[k]->type)) fail("an index that is not an int");
            expr(*s.args[k]);
          }
          expr(*s.value);
          break;
        }
        case StmtKind::If:
          if (!boolLike(s.value->type)) fail("an if whose condition is a " + s.value->type.str());
          expr(*s.value);
          block(s.body, depth, true);
          block(s.orelse, depth, true);
          break;
        case StmtKind::While:
          if (!boolLike(s.value->type)) fail("a while whose condition is a " + s.value->type.str());
          if (!s.orelse.empty()) fail("a while with an else clause");
          expr(*s.value);
          block(s.body, depth + 1, inIf);
          break;
        case StmtKind::For: {
          const Expr& r = *s.value;
          int64_t step = 0;
          if (r.kind != ExprKind::RangeMake || !intConstant(*r.args[2], step) || step == 0 || !s.orelse.empty() ||
              !intLike(f.locals[s.slot].type)) {
            fail("an inner loop other than a for over a range with a constant step");
            break;
          }
          for (int k = 0; k < 2; ++k) {
            if (!intLike(r.args[k]->type) || readsVarying(*r.args[k])) fail("an inner loop whose bounds differ between iterations");
            expr(*r.args[k]);
          }
          block(s.body, depth + 1, inIf);
          break;
        }
        default: fail("a break, continue, return or expression statement"); break;
      }
    }
  }
};

// Stores wait for the end of the W iterations: after a top-level store into array A, the body
// may read A only at elements that differ in a constant index (>= 0) of the same dimension.
bool loadsAfterStoresOk(const Block& body) {
  std::vector<const Stmt*> stores;
  bool ok = true;
  auto distinct = [](const std::vector<ExprPtr>& x, const std::vector<ExprPtr>& y) {
    for (size_t k = 1; k < x.size() && k < y.size(); ++k)
      if (x[k]->kind == ExprKind::Const && y[k]->kind == ExprKind::Const && x[k]->ival >= 0 && y[k]->ival >= 0 &&
          x[k]->ival != y[k]->ival)
        return true;
    return false;
  };
  for (auto& s : body) {
    Block one{s};
    forEachExpr(one, [&](const Expr& e) {
      if (e.kind != ExprKind::Index || e.args[0]->kind != ExprKind::Var) return;
      for (const Stmt* st : stores)
        if (st->args[0]->slot == e.args[0]->slot && !distinct(st->args, e.args)) ok = false;
    });
    if (s->kind == StmtKind::Store) stores.push_back(s.get());
  }
  return ok;
}

struct Marker {
  Function& f;
  bool changed = false;

  bool candidate(Stmt& s) {
    const Expr& r = *s.value;
    int64_t step = 0;
    if (r.kind != ExprKind::RangeMake || !intConstant(*r.args[2], step) || step == 0 || !s.orelse.empty() ||
        f.locals[s.slot].type.kind != Kind::Int || !containsLoop(s.body))
      return false;
    std::vector<std::pair<int, Op>> reds;
    std::string why;
    if (!independentIterations(f, s, reds, why)) return false;
    Check c{f, s};
    std::set<int> assigned, forVars;
    assignedSlots(s.body, assigned, forVars);
    for (int v : forVars)
      if (assigned.count(v)) return false;  // an inner loop variable also assigned: not one value per lane
    // an inner loop variable read outside its loop (after a loop that ran 0 times it is what an
    // earlier iteration left, or unbound): not for lanes
    auto readsOf = [](const Block& blk, int v) {
      int n = 0;
      forEachExpr(blk, [&](const Expr& e) { n += e.kind == ExprKind::Var && e.slot == v; });
      return n;
    };
    std::function<bool(const Block&)> innerOk = [&](const Block& blk) {
      for (auto& st : blk) {
        if (st->kind == StmtKind::For && readsOf(s.body, st->slot) != readsOf(st->body, st->slot)) return false;
        if (!innerOk(st->body) || !innerOk(st->orelse)) return false;
      }
      return true;
    };
    if (!innerOk(s.body)) return false;
    c.innerVars = forVars;
    c.varying = assigned;
    c.varying.insert(s.slot);
    for (auto& [slot, op] : reds) {
      const Type& t = f.locals[slot].type;
      if (op != Op::Add || !(t.kind == Kind::Int || t.kind == Kind::Float)) return false;
      c.reductions.insert(slot);
    }
    for (int slot : c.varying)
      if (f.locals[slot].type.isArray()) return false;
    c.block(s.body, 0, false);
    if (!c.ok || !loadsAfterStoresOk(s.body)) return false;
    s.lanes = true;
    s.lane_reductions.assign(c.reductions.begin(), c.reductions.end());
    std::set<int> mine = c.varying;  // the loop variable, what the body assigns, `:=` targets
    forEachExpr(s.body, [&](const Expr& e) {
      if (e.kind == ExprKind::NamedExpr) mine.insert(e.slot);
    });
    mine.insert(forVars.begin(), forVars.end());
    for (int r : c.reductions) mine.erase(r);  // (the lanes leave them exact)
    s.lanes_to_end = true;
    for (int v : liveAfter(f, s))
      if (mine.count(v)) s.lanes_to_end = false;
    return true;
  }

  // the innermost candidate on each path: a loop whose inner loops run in lanes is left alone
  bool block(Block& b) {
    bool any = false;
    for (auto& s : b) {
      bool inner = block(s->body) | block(s->orelse);
      if (!inner && s->kind == StmtKind::For && candidate(*s)) inner = true;
      any |= inner;
    }
    changed |= any;
    return any;
  }
};

}  // namespace

bool markLaneLoops(Function& f) {
  std::function<void(Block&)> reset = [&](Block& b) {
    for (auto& s : b) {
      s->lanes = false;
      s->lanes_to_end = false;
      s->lane_reductions.clear();
      reset(s->body);
      reset(s->orelse);
    }
  };
  reset(f.body);
  Marker m{f};
  m.block(f.body);
  return m.changed;
}

}  // namespace epochpp::passes
