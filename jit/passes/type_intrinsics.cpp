// jit/passes/type_intrinsics.cpp — result types of builtins, math.*, numpy functions and array methods.
#include <set>

#include "jit/passes/type_infer_impl.h"

namespace epochpp::passes {

using namespace ir;

namespace {
const std::set<std::string> kMathFloat1 = {
    "math.sqrt", "math.exp", "math.log2", "math.log10", "math.sin", "math.cos",
    "math.tan", "math.asin", "math.acos", "math.atan", "math.sinh", "math.cosh", "math.tanh",
    "math.fabs", "math.erf", "math.erfc", "math.expm1", "math.log1p", "math.asinh",  // math.log: 1 or 2 args
    "math.acosh", "math.atanh", "math.degrees", "math.radians"};
const std::set<std::string> kMathFloat2 = {"math.atan2", "math.hypot", "math.copysign", "math.pow",
                                            "math.fmod"};
const std::set<std::string> kMathInt1 = {"math.floor", "math.ceil", "math.trunc"};
const std::set<std::string> kMathBool1 = {"math.isnan", "math.isinf", "math.isfinite"};
const std::set<std::string> kNpFloat1 = {"np.sqrt", "np.exp", "np.log", "np.sin", "np.cos", "np.tan",
                                          "np.tanh", "np.log2", "np.log10", "np.arcsin", "np.arccos",
                                          "np.arctan", "np.sinh", "np.cosh", "np.expm1", "np.log1p"};
const std::set<std::string> kNpReduce = {"np.sum", "np.min", "np.max", "np.mean", "np.argmin", "np.argmax",
                                          "np.amin", "np.amax", "array.sum", "array.min", "array.max",
                                          "array.mean", "array.argmin", "array.argmax"};
const std::set<std::string> kAlloc = {"np.zeros", "np.ones", "np.empty"};
}  // namespace

static bool scalarLike(const Type& t) { return t.isScalar() || (t.kind == Kind::Union); }
static bool hasNone(const Type& t) {
  for (Kind k : members(t))
    if (k == Kind::None) return true;
  return false;
}

Type TypeInfer::intrinsic(Expr& e, const std::vector<Type>& a) {
  const std::string& n = e.name;
  auto need = [&](size_t lo, size_t hi) {
    if (a.size() < lo || a.size() > hi) fail(e.line, n + "() with " + std::to_string(a.size()) + " arguments");
  };
  auto needScalar = [&](size_t i) {
    if (!scalarLike(a[i]) || hasNone(a[i])) fail(e.line, n + "() of " + a[i].str());
  };
  auto dtypeKw = [&](Kind dflt) { return e.ival >= 0 ? (Kind)e.ival : dflt; };
  if (e.ival >= 0 && !(kAlloc.count(n) || n == "np.full" || n == "np.zeros_like" || n == "np.empty_like" ||
                       n == "np.ones_like" || n == "np.arange" || n == "np.cast"))
    fail(e.line, "the dtype= argument of " + n + "()");

  if (kMathFloat1.count(n)) { need(1, 1); needScalar(0); return Type::scalar(Kind::Float); }
  if (n == "math.log") {
    need(1, 2);
    for (size_t i = 0; i < a.size(); ++i) needScalar(i);
    return Type::scalar(Kind::Float);
  }
  if (kMathFloat2.count(n)) { need(2, 2); needScalar(0); needScalar(1); return Type::scalar(Kind::Float); }
  if (kMathInt1.count(n)) {
    need(1, 1); needScalar(0);
    for (Kind k : members(a[0])) {
      if (isNumpyScalar(k) && !isFloatKind(k)) fail(e.line, n + "() of a NumPy integer");
      if (n == "math.trunc" && k == Kind::NpFloat32) fail(e.line, "math.trunc() of np.float32 (CPython raises TypeError)");
    }
    return Type::scalar(Kind::Int);
  }
  if (kMathBool1.count(n)) { need(1, 1); needScalar(0); return Type::scalar(Kind::Bool); }

  if (n == "abs" || n == "np.abs" || n == "np.absolute" || n == "np.fabs") {
    need(1, 1);
    if (a[0].isArray()) return Type::array(n == "np.fabs" ? unaryFloatFuncKind(a[0].dtype) : a[0].dtype, a[0].ndim, Layout::C);
    needScalar(0);
    std::vector<Kind> out;
    for (Kind k : members(a[0])) {
      if (n == "abs") out.push_back(k == Kind::Bool ? Kind::Int : k);
      else if (n == "np.fabs") out.push_back(unaryFloatFuncKind(toNumpyKind(k)));
      else out.push_back(toNumpyKind(k));
    }
    return makeUnion(out);
  }
  if (n == "min" || n == "max") {
    if (a.size() < 2) fail(e.line, n + "() of a single iterable (pass two or more numbers)");
    Type t = a[0];
    for (size_t i = 0; i < a.size(); ++i) {
      needScalar(i);
      t = join(t, a[i]);
    }
    return t;
  }
  if (n == "round") {
    need(1, 2);
    needScalar(0);
    if (a.size() == 2 && !a[1].isIntLike() && a[1].kind != Kind::None) fail(e.line, "round() with ndigits of type " + a[1].str());
    bool nd = a.size() == 2 && a[1].kind != Kind::None;
    std::vector<Kind> out;
    for (Kind k : members(a[0])) {
      if (isNumpyScalar(k)) fail(e.line, "round() of a NumPy scalar (NumPy rounds differently; use float(x))");
      if (k == Kind::Float) out.push_back(nd ? Kind::Float : Kind::Int);
      else out.push_back(Kind::Int);
    }
    return makeUnion(out);
  }
  if (n == "int" || n == "float" || n == "bool") {
    need(1, 1);
    if (n == "bool" && a[0].kind == Kind::Tuple) return Type::scalar(Kind::Bool);
    needScalar(0);
    return Type::scalar(n == "int" ? Kind::Int : n == "float" ? Kind::Float : Kind::Bool);
  }
  if (n == "np.cast") {
    need(1, 1);
    needScalar(0);
    return Type::scalar((Kind)e.ival);
  }
  if (n == "len") {
    need(1, 1);
    if (a[0].isArray()) return Type::scalar(Kind::Int);
    if (a[0].kind == Kind::Tuple) return Type::scalar(Kind::Int);
    fail(e.line, "len() of " + a[0].str());
  }
  if (n == "pow") {
    need(2, 2);
    Expr probe = e;
    probe.kind = ExprKind::Binary;
    probe.op = Op::Pow;
    return binary(probe, a[0], a[1]);
  }
  if (kNpFloat1.count(n) || n == "np.fabs") {
    // NumPy computes these in float16 for bools: not compiled
    for (Kind k : members(a[0].isArray() ? Type::scalar(a[0].dtype) : a[0]))
      if (k == Kind::Bool || k == Kind::NpBool) fail(e.line, n + "() of booleans (NumPy computes it in float16)");
  }
  if (kNpFloat1.count(n)) {
    need(1, 1);
    if (a[0].isArray()) return Type::array(unaryFloatFuncKind(a[0].dtype), a[0].ndim, Layout::C);
    needScalar(0);
    std::vector<Kind> out;
    for (Kind k : members(a[0])) out.push_back(unaryFloatFuncKind(toNumpyKind(k)));
    return makeUnion(out);
  }
  if (n == "np.minimum" || n == "np.maximum") {
    need(2, 2);
    Expr probe = e;
    probe.kind = ExprKind::Binary;
    probe.op = Op::Add;
    probe.ival = 0;
    Type t = binary(probe, a[0], a[1]);
    if (!a[0].isArray() && !a[1].isArray()) {
      std::vector<Kind> out;
      for (Kind k : members(t)) out.push_back(toNumpyKind(k));
      return makeUnion(out);
    }
    return t;
  }
  if (n == "np.where") {
    need(3, 3);
    for (auto& t : a)
      if (!(t.isArray() || t.isScalar())) fail(e.line, "np.where() of " + t.str());
    Kind dx = a[1].isArray() ? a[1].dtype : a[1].kind, dy = a[2].isArray() ? a[2].dtype : a[2].kind;
    Kind k;
    if (isNumpyScalar(dx) && isNumpyScalar(dy)) k = numpyPromote(dx, dy);
    else if (isNumpyScalar(dx)) k = numpyWeak(dx, dy);
    else if (isNumpyScalar(dy)) k = numpyWeak(dy, dx);
    else k = numpyPromote(toNumpyKind(dx), toNumpyKind(dy));
    int nd = 0;
    for (auto& t : a) nd = std::max<int>(nd, t.isArray() ? t.ndim : 0);
    if (nd == 0) fail(e.line, "np.where() of three scalars (NumPy returns a 0-d array)");
    return Type::array(k, nd, Layout::C);
  }
  auto shapeNdim = [&](const Type& s) -> int {
    if (s.isIntLike()) return 1;
    if (s.kind == Kind::Tuple) {
      for (auto& el : s.elems)
        if (!el.isIntLike()) fail(e.line, n + "() with a shape element of type " + el.str());
      if (s.elems.empty() || s.elems.size() > 3) fail(e.line, n + "() of rank " + std::to_string(s.elems.size()));
      return (int)s.elems.size();
    }
    fail(e.line, n + "() with a shape of type " + s.str());
  };
  if (kAlloc.count(n)) {
    need(1, 1);
    return Type::array(dtypeKw(Kind::NpFloat64), shapeNdim(a[0]), Layout::C);
  }
  if (n == "np.full") {
    need(2, 2);
    needScalar(1);
    Kind vk = a[1].kind == Kind::Union ? Kind::Unknown : toNumpyKind(a[1].kind);
    if (e.ival < 0 && vk == Kind::Unknown) fail(e.line, "np.full() with a fill value of changing type");
    return Type::array(dtypeKw(vk), shapeNdim(a[0]), Layout::C);
  }
  if (n == "np.zeros_like" || n == "np.empty_like" || n == "np.ones_like") {
    need(1, 1);
    if (!a[0].isArray()) fail(e.line, n + "() of " + a[0].str());
    return Type::array(dtypeKw(a[0].dtype), a[0].ndim, a[0].layout == Layout::F ? Layout::F : a[0].layout == Layout::C ? Layout::C : Layout::A);
  }
  if (n == "np.arange") {
    need(1, 3);
    bool fl = false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].isScalar() || a[i].kind == Kind::Union || a[i].kind == Kind::None)
        fail(e.line, "np.arange() of " + a[i].str());
      fl |= a[i].isFloatLike();
    }
    if (e.ival >= 0 && (Kind)e.ival != Kind::NpFloat64 && (Kind)e.ival != Kind::NpInt64)
      fail(e.line, "np.arange() with this dtype");
    return Type::array(dtypeKw(fl ? Kind::NpFloat64 : Kind::NpInt64), 1, Layout::C);
  }
  if (n == "array.copy" || n == "np.copy") {
    need(1, 1);
    if (!a[0].isArray()) fail(e.line, "copy() of " + a[0].str());
    return Type::array(a[0].dtype, a[0].ndim, n == "np.copy" && a[0].layout == Layout::F ? Layout::F : Layout::C);
  }
  if (kNpReduce.count(n)) {
    need(1, 1);
    if (!a[0].isArray()) fail(e.line, n + "() of " + a[0].str() + " (only arrays are reduced)");
    Kind d = a[0].dtype;
    std::string op = n.substr(n.find('.') + 1);
    if (op == "sum") return Type::scalar(d == Kind::NpBool || d == Kind::NpInt32 ? Kind::NpInt64 : d);
    if (op == "mean") return Type::scalar(isFloatKind(d) ? d : Kind::NpFloat64);
    if (op == "argmin" || op == "argmax") return Type::scalar(Kind::NpInt64);
    return Type::scalar(d);  // min, max, amin, amax
  }
  if (n == "np.dot" || n == "array.dot") {
    need(2, 2);
    if (!a[0].isArray() || !a[1].isArray() || a[0].ndim != 1 || a[1].ndim != 1)
      fail(e.line, "np.dot() of " + a[0].str() + " and " + a[1].str() + " (only 1-D · 1-D is compiled)");
    return Type::scalar(numpyPromote(a[0].dtype, a[1].dtype));
  }
  if (n == "array.fill") {
    need(2, 2);
    if (!a[0].isArray()) fail(e.line, "fill() on " + a[0].str());
    needScalar(1);
    return Type::none();
  }
  fail(e.line, "the function '" + (n.rfind("array.", 0) == 0 ? "." + n.substr(6) + "()" : n + "()") + "'");
}

Type TypeInfer::index(Expr& e, const std::vector<Type>& a) {
  const Type& base = a[0];
  if (base.kind == Kind::Tuple) {
    if (a.size() != 2 || e.args[1]->kind == ExprKind::Slice || !(a[1].isIntLike() || a[1].kind == Kind::Bool))  // not a NumPy bool: no __index__
      fail(e.line, "indexing a tuple with " + a[1].str() + " (slices of tuples are not compiled)");
    if (e.args[1]->kind != ExprKind::Const) {
      // a run-time index: the element type is the join of all elements
      if (base.elems.empty()) return Type::scalar(Kind::Int);  // always IndexError; any type will do
      Type t = base.elems[0];
      for (auto& el : base.elems) {
        t = join(t, el);
        if (!t.known()) fail(e.line, "indexing a tuple of mixed kinds with a run-time index");
      }
      return t;
    }
    int64_t i = e.args[1]->ival, n = (int64_t)base.elems.size();
    if (i < 0) i += n;
    if (i < 0 || i >= n) fail(e.line, "tuple index out of range");
    return base.elems[i];
  }
  if (!base.isArray()) fail(e.line, "indexing " + base.str());
  int nidx = (int)a.size() - 1;
  if (nidx > base.ndim)
    fail(e.line, "too many indices (" + std::to_string(nidx) + ") for a " + std::to_string(base.ndim) + "-d array");
  int scalars = 0;
  bool leading_scalars = true, all_slices_simple = true;
  for (int i = 1; i <= nidx; ++i) {
    if (e.args[i]->kind == ExprKind::Slice) {
      leading_scalars = false;
      auto& step = e.args[i]->args[2];
      if (!(step->kind == ExprKind::Const && (step->type.kind == Kind::None || (step->type.kind == Kind::Int && step->ival == 1))))
        all_slices_simple = false;
      if (i > 1) all_slices_simple = false;
      continue;
    }
    if (a[i].isArray()) fail(e.line, "indexing with an array (fancy indexing)");
    if (!a[i].isIntLike()) fail(e.line, "an index of type " + a[i].str() + " (indices must be integers)");
    if (!leading_scalars) all_slices_simple = false;
    ++scalars;
  }
  if (scalars == base.ndim) return Type::scalar(base.dtype);
  int nd = base.ndim - scalars;
  Layout l = Layout::A;
  if (base.layout == Layout::C && all_slices_simple) l = Layout::C;  // a[i], a[i, :], a[i:j]
  return Type::array(base.dtype, nd, l, base.readonly);
}

}  // namespace epochpp::passes
