// jit/passes/type_inference.cpp — forward type inference to a fixpoint over the function's locals.
//
// A local keeps one type for the whole function; when Python code rebinds it to another
// scalar type (s = 0; s += 0.5) the local becomes a tagged union, so the compiled code still
// returns exactly what CPython returns (0 for an empty loop, a float otherwise).
#include "jit/passes/type_infer_impl.h"

namespace epochpp::passes {

using namespace ir;

void TypeInfer::assign(int slot, const Type& t, int line) {
  if (!t.known()) return;
  Type& cur = f.locals[slot].type;
  if (f.locals[slot].is_param && cur.known() && cur != t) {
    Type j = join(cur, t);
    if (!j.known()) fail(line, "'" + f.locals[slot].name + "' is rebound from " + cur.str() + " to " + t.str());
    if (j != cur) { cur = j; changed = true; }
    return;
  }
  Type j = join(cur, t);
  if (!j.known())
    fail(line, "the variable '" + f.locals[slot].name + "' holds both " + cur.str() + " and " + t.str());
  if (j != cur) {
    cur = j;
    changed = true;
  }
}

static bool isNonNegIntConst(const Expr& e) {
  return e.kind == ExprKind::Const && e.type.kind == Kind::Int && e.ival >= 0;
}

Type TypeInfer::binary(Expr& e, const Type& a, const Type& b) {
  bool cmp = e.kind == ExprKind::Compare;
  if (a.isArray() || b.isArray()) {
    if (!(a.isArray() || a.isScalar()) || !(b.isArray() || b.isScalar()))
      fail(e.line, std::string("'") + opName(e.op) + "' between " + a.str() + " and " + b.str());
    Kind da = a.isArray() ? a.dtype : a.kind, db = b.isArray() ? b.dtype : b.kind;
    // A Python scalar beside an array is weak (NEP 50); two arrays promote.
    Kind k = arrayResultDtype(e.op, da, db);
    if (k == Kind::Unknown || e.op == Op::MatMul)
      fail(e.line, std::string("the array operation '") + opName(e.op) + "' on " + kindName(da) + " and " + kindName(db));
    int nd = std::max(a.isArray() ? a.ndim : 0, b.isArray() ? b.ndim : 0);
    if (e.ival == 1 && a.isArray()) {  // in-place update keeps the left operand
      if (k != a.dtype && !(cmp)) {
        // NumPy casts back with same_kind: float into int raises UFuncTypeError.
        if (isFloatKind(k) && !isFloatKind(a.dtype))
          fail(e.line, "an in-place update that would cast float results into an integer array");
      }
      if (b.isArray() && b.ndim > a.ndim) fail(e.line, "an in-place update that broadcasts the target");
      return a;
    }
    return Type::array(k, nd, Layout::C);
  }
  if (a.kind == Kind::Tuple || b.kind == Kind::Tuple) {
    fail(e.line, std::string("'") + opName(e.op) + "' on tuples");
  }
  // Scalars and unions: the result is the union over every member pair.
  std::vector<Kind> out;
  for (Kind ka : members(a))
    for (Kind kb : members(b)) {
      if (ka == Kind::None || kb == Kind::None) {
        if (cmp && (e.op == Op::Eq || e.op == Op::Ne)) { out.push_back(Kind::Bool); continue; }
        fail(e.line, std::string("'") + opName(e.op) + "' with None");
      }
      Type r = binaryResult(e.op, ka, kb, isNonNegIntConst(*e.args[1]));
      if (!r.known())
        fail(e.line, std::string("'") + opName(e.op) + "' between " + kindName(ka) + " and " + kindName(kb));
      for (Kind k : members(r)) out.push_back(k);
    }
  return makeUnion(out);
}

Type TypeInfer::expr(Expr& e) {
  std::vector<Type> at;
  if (e.kind != ExprKind::Const) {
    for (auto& a : e.args) at.push_back(expr(*a));
    // `x if c else f(...)` in a recursive f: while f's result is still unknown (a round before
    // the fixed point) the known branch gives the type, as a `return` of each branch would
    if (e.kind == ExprKind::IfExp && !strict && at.size() == 3 && at[0].known() && at[1].known() != at[2].known()) {
      e.type = at[1].known() ? at[1] : at[2];
      return e.type;
    }
    for (auto& t : at)
      if (!t.known()) {
        if (strict) fail(e.line, "an expression whose type cannot be inferred");
        e.type = Type::unknown();
        return e.type;
      }
  }
  Type t;
  switch (e.kind) {
    case ExprKind::Const: t = e.type; break;
    case ExprKind::Var:
      t = f.locals[e.slot].type;
      if (!t.known() && strict) fail(e.line, "the variable '" + f.locals[e.slot].name + "' is used before it is assigned");
      break;
    case ExprKind::NamedExpr:
      assign(e.slot, at[0], e.line);
      t = at[0];
      break;
    case ExprKind::Unary: {
      const Type& a = at[0];
      if (e.op == Op::Not) {
        if (a.isArray()) fail(e.line, "'not' on an array (its truth value is ambiguous)");
        t = Type::scalar(Kind::Bool);
        break;
      }
      if (a.isArray()) {
        if (e.op == Op::Invert && isFloatKind(a.dtype)) fail(e.line, "'~' on a float array");
        if (e.op == Op::Neg && a.dtype == Kind::NpBool) fail(e.line, "'-' on a bool array");
        t = Type::array(a.dtype, a.ndim, Layout::C);
        break;
      }
      std::vector<Kind> out;
      for (Kind k : members(a)) {
        if (k == Kind::None) fail(e.line, std::string("'") + opName(e.op) + "' on None");
        if (e.op == Op::Invert && isFloatKind(k)) fail(e.line, "'~' on a float");
        if (k == Kind::NpBool && e.op == Op::Neg) fail(e.line, "'-' on a NumPy bool");
        out.push_back(k == Kind::Bool ? (e.op == Op::Invert || e.op == Op::Neg || e.op == Op::Pos ? Kind::Int : k) : k);
      }
      t = makeUnion(out);
      break;
    }
    case ExprKind::Binary:
    case ExprKind::Compare:
      t = binary(e, at[0], at[1]);
      break;
    case ExprKind::BoolOp:
      if (at[0].isArray() || at[1].isArray()) fail(e.line, "'and'/'or' on arrays (truth value is ambiguous)");
      t = join(at[0], at[1]);
      if (!t.known()) fail(e.line, "'and'/'or' between " + at[0].str() + " and " + at[1].str());
      break;
    case ExprKind::IfExp:
      if (at[0].isArray()) fail(e.line, "an array used as a condition (truth value is ambiguous)");
      t = join(at[1], at[2]);
      if (!t.known()) fail(e.line, "a conditional expression between " + at[1].str() + " and " + at[2].str());
      break;
    case ExprKind::Intrinsic: t = intrinsic(e, at); break;
    case ExprKind::CallFunc: t = callees(e.callee, at, e.line); break;
    case ExprKind::Index: t = index(e, at); break;
    case ExprKind::Slice:
      for (auto& a : at)
        if (a.kind != Kind::None && !a.isIntLike() && a.kind != Kind::Bool)
          fail(e.line, "a slice bound of type " + a.str());
      t = Type::scalar(Kind::None);  // slices only appear as indices; the type is a placeholder
      break;
    case ExprKind::Attr: {
      const Type& a = at[0];
      if (!a.isArray()) fail(e.line, "the attribute '." + e.name + "' on " + a.str());
      if (e.name == "shape") t = Type::tuple(std::vector<Type>(a.ndim, Type::scalar(Kind::Int)));
      else if (e.name == "size" || e.name == "ndim") t = Type::scalar(Kind::Int);
      else if (e.name == "T")
        t = Type::array(a.dtype, a.ndim, a.ndim == 1 ? a.layout : a.layout == Layout::C ? Layout::F : a.layout == Layout::F ? Layout::C : Layout::A, a.readonly);
      else if (e.name == "real") fail(e.line, "the attribute '.real'");
      else t = a;
      break;
    }
    case ExprKind::TupleMake:
      t = Type::tuple(at);
      break;
    case ExprKind::TupleGet: {
      const Type& a = at[0];
      if (a.kind != Kind::Tuple) fail(e.line, "unpacking " + a.str() + " (only tuples unpack)");
      if (e.col > 0 && (int)a.elems.size() != e.col)
        fail(e.line, "unpacking a " + std::to_string(a.elems.size()) + "-tuple into " + std::to_string(e.col) + " names");
      if (e.ival < 0 || e.ival >= (int64_t)a.elems.size()) fail(e.line, "tuple index out of range");
      t = a.elems[e.ival];
      break;
    }
    case ExprKind::RangeMake:
      for (auto& a : at)
        if (!a.isIntLike() && a.kind != Kind::Bool)  // a NumPy bool has no __index__: CPython raises TypeError
          fail(e.line, "range() with an argument of type " + a.str());
      t = Type::range();
      break;
  }
  e.type = t;
  return t;
}

void TypeInfer::stmt(Stmt& s) {
  switch (s.kind) {
    case StmtKind::Assign: assign(s.slot, expr(*s.value), s.line); break;
    case StmtKind::Store: {
      std::vector<Type> at;
      for (auto& a : s.args) at.push_back(expr(*a));
      Type v = expr(*s.value);
      if (!at[0].known() || !v.known()) {
        if (strict) fail(s.line, "a store whose type cannot be inferred");
        break;
      }
      if (!at[0].isArray()) fail(s.line, "item assignment into " + at[0].str());
      if (at[0].readonly) fail(s.line, "assignment into a read-only array");
      // The target of the store, typed like a read of the same place.
      Expr probe;
      probe.kind = ExprKind::Index;
      probe.line = s.line;
      probe.args = s.args;
      Type place = index(probe, at);
      if (place.isArray()) {
        if (!(v.isArray() || v.isScalar())) fail(s.line, "assigning " + v.str() + " into an array slice");
        if (v.isArray() && v.ndim > place.ndim) fail(s.line, "assigning a higher-rank array into a slice");
      } else if (!v.isScalar() && v.kind != Kind::Union) {
        fail(s.line, "assigning " + v.str() + " into an array element");
      } else {
        for (Kind k : members(v))
          if (k == Kind::None) fail(s.line, "assigning None into a numeric array");
          else if (isFloatKind(k) && !isFloatKind(at[0].dtype) && k != Kind::Float && false) {}
      }
      break;
    }
    case StmtKind::ExprStmt: expr(*s.value); break;
    case StmtKind::Return: {
      Type t = expr(*s.value);
      if (!t.known()) {
        if (strict) fail(s.line, "a return value whose type cannot be inferred");
        break;
      }
      Type j = join(f.return_type, t);
      if (!j.known()) fail(s.line, "returns of different kinds (" + f.return_type.str() + " and " + t.str() + ")");
      if (j != f.return_type) { f.return_type = j; changed = true; }
      break;
    }
    case StmtKind::If:
    case StmtKind::While: {
      Type c = expr(*s.value);
      if (c.isArray()) fail(s.line, "an array used as a condition (truth value is ambiguous)");
      block(s.body);
      block(s.orelse);
      break;
    }
    case StmtKind::For:
      expr(*s.value);
      assign(s.slot, Type::scalar(Kind::Int), s.line);
      block(s.body);
      block(s.orelse);
      break;
    case StmtKind::Break: case StmtKind::Continue: case StmtKind::Pass: break;
  }
}

void TypeInfer::block(Block& b) {
  for (auto& s : b) stmt(*s);
}

static bool alwaysReturns(const Block& b) {
  for (auto& s : b) {
    if (s->kind == StmtKind::Return) return true;
    if (s->kind == StmtKind::If && alwaysReturns(s->body) && alwaysReturns(s->orelse)) return true;
  }
  return false;
}

bool inferTypes(Function& f, const std::vector<Type>& params, const CalleeTyper& callees) {
  if ((int)params.size() != f.num_params)
    throw Unsupported{f.first_line, "a call with " + std::to_string(params.size()) + " arguments to a function of " +
                                        std::to_string(f.num_params)};
  if (!alwaysReturns(f.body)) f.body.push_back(mkReturn(mkConstNone(0), 0));
  f.param_types = params;
  for (int i = 0; i < f.num_params; ++i) f.locals[i].type = params[i];
  TypeInfer ti{f, callees};
  for (int round = 0; round < 50; ++round) {
    ti.changed = false;
    ti.block(f.body);
    if (!ti.changed) break;
  }
  ti.strict = true;
  ti.block(f.body);
  for (auto& l : f.locals)
    if (!l.type.known()) l.type = Type::none();  // never assigned on any path that is typed
  return true;
}

}  // namespace epochpp::passes
