// jit/frontend/frontend_expr.cpp — expressions: names, constants, operators, calls, subscripts.
#include <climits>

#include <map>

#include "jit/frontend/frontend_impl.h"

namespace epochpp::frontend {

using namespace ir;

Op binOp(const std::string& c) {
  if (c == "Add") return Op::Add;
  if (c == "Sub") return Op::Sub;
  if (c == "Mult") return Op::Mul;
  if (c == "Div") return Op::Div;
  if (c == "FloorDiv") return Op::FloorDiv;
  if (c == "Mod") return Op::Mod;
  if (c == "Pow") return Op::Pow;
  if (c == "BitAnd") return Op::BitAnd;
  if (c == "BitOr") return Op::BitOr;
  if (c == "BitXor") return Op::BitXor;
  if (c == "LShift") return Op::LShift;
  if (c == "RShift") return Op::RShift;
  if (c == "MatMult") return Op::MatMul;
  return Op::None;
}

Op cmpOp(const std::string& c) {
  if (c == "Lt") return Op::Lt;
  if (c == "LtE") return Op::Le;
  if (c == "Gt") return Op::Gt;
  if (c == "GtE") return Op::Ge;
  if (c == "Eq") return Op::Eq;
  if (c == "NotEq") return Op::Ne;
  return Op::None;
}

ExprPtr Walker::constant(py::handle v, py::handle node) {
  int line = lineOf(node);
  if (v.is_none()) return mkConstNone(line);
  if (PyBool_Check(v.ptr())) return mkConstBool(v.ptr() == Py_True, line);
  if (PyLong_CheckExact(v.ptr())) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow) unsupported(node, "an integer constant outside int64");
    return mkConstInt(x, line);
  }
  if (PyFloat_CheckExact(v.ptr())) return mkConstFloat(PyFloat_AsDouble(v.ptr()), line);
  std::string tn = py::str(py::type::handle_of(v).attr("__name__"));
  unsupported(node, "a constant of type '" + tn + "'");
}

// True when `v`, found as `mod.attr`, is the module's own object, as it was when epochpp first
// looked at the module, and is of a kind the module defines (not a user's function): `np.sqrt`
// compiles to the intrinsic only then. A replacement (monkeypatching) runs in the interpreter.
static bool pristine(py::handle mod, const std::string& attr, PyObject* v, bool isMath) {
  static std::map<PyObject*, PyObject*>* snaps = new std::map<PyObject*, PyObject*>;  // never freed
  PyObject*& snap = (*snaps)[mod.ptr()];
  if (!snap) snap = PyDict_Copy(py::object(mod.attr("__dict__")).ptr());
  if (!v || !snap) return false;
  PyObject* seen = PyDict_GetItemString(snap, attr.c_str());
  if (seen && seen != v) return false;  // replaced since
  bool own = PyFloat_CheckExact(v) || PyType_Check(v);  // constants, scalar types
  if (!own && isMath) own = PyCFunction_Check(v);
  if (!own && !isMath) own = std::string(py::str(py::getattr(py::handle(v), "__module__", py::str("")))).rfind("numpy", 0) == 0;
  if (own && !seen) PyDict_SetItemString(snap, attr.c_str(), v);  // loaded lazily after the snapshot
  return own;
}

// Resolves `math.sqrt`, `np.sum`, `numpy.zeros` (module objects found in globals) to a name.
std::string Walker::moduleAttr(py::handle func) {
  if (cls(func) != "Attribute" || cls(func.attr("value")) != "Name") return "";
  std::string mod = py::str(func.attr("value").attr("id"));
  if (assigned.count(mod)) return "";
  bool found = false;
  py::dict g = py::reinterpret_borrow<py::dict>(globals);
  if (!g.contains(mod)) return "";
  py::object m = lookupGlobal(mod, &found);
  std::string attr = py::str(func.attr("attr"));
  if (!m.is(math_mod) && !m.is(np_mod)) return "";
  // the attribute itself is guarded too: `np.sqrt = f` (monkeypatching) is seen at the next call
  py::dict md = py::reinterpret_borrow<py::dict>(m.attr("__dict__"));
  py::object v = md.contains(attr) ? py::object(md[py::str(attr)]) : py::object();
  res.guards.push_back({attr, v, md});
  if (!pristine(m, attr, v.ptr(), m.is(math_mod))) return "";
  return (m.is(math_mod) ? "math." : "np.") + attr;
}

int Walker::dtypeOf(py::handle node) {
  py::object obj;
  std::string c = cls(node);
  if (c == "Constant" && py::isinstance<py::str>(node.attr("value"))) {
    obj = node.attr("value");
  } else if (c == "Attribute") {
    std::string m = moduleAttr(node);
    if (m.rfind("np.", 0) != 0) return -1;
    obj = np_mod.attr(m.substr(3).c_str());
  } else if (c == "Name") {
    std::string n = py::str(node.attr("id"));
    if (assigned.count(n)) return -1;
    bool found = false;
    obj = lookupGlobal(n, &found);
    if (!found) return -1;
  } else {
    return -1;
  }
  py::object dt;
  try {
    dt = np_mod.attr("dtype")(obj);
  } catch (py::error_already_set&) {
    return -1;
  }
  if (!dt.attr("isnative").cast<bool>()) return -1;
  std::string k = py::str(dt.attr("kind"));
  int size = dt.attr("itemsize").cast<int>();
  if (k == "b") return (int)Kind::NpBool;
  if (k == "i" && size == 8) return (int)Kind::NpInt64;
  if (k == "i" && size == 4) return (int)Kind::NpInt32;
  if (k == "f" && size == 8) return (int)Kind::NpFloat64;
  if (k == "f" && size == 4) return (int)Kind::NpFloat32;
  return -1;
}

ExprPtr Walker::name(py::handle e) {
  std::string n = py::str(e.attr("id"));
  int line = lineOf(e);
  if (assigned.count(n)) return mkVar(fn().addLocal(n), line);
  if (freevars.count(n))
    unsupported(e, "the closure variable '" + n + "' (a nested function's free variables are not compiled; pass it as an argument)");
  bool found = false;
  py::object v = lookupGlobal(n, &found);
  if (!found) unsupported(e, "the name '" + n + "', which is not defined");
  if (PyBool_Check(v.ptr()) || PyLong_CheckExact(v.ptr()) || PyFloat_CheckExact(v.ptr()))
    return constant(v, e);  // a guarded global constant: a rebinding invalidates the code
  std::string tn = py::str(py::type::handle_of(v).attr("__name__"));
  unsupported(e, "the global '" + n + "' of type '" + tn + "' (only int, float and bool globals are read)");
}

std::vector<ExprPtr> Walker::subscriptIndices(py::handle slice) {
  std::vector<ExprPtr> out;
  if (cls(slice) == "Index") slice = slice.attr("value");  // Python < 3.9 form
  if (cls(slice) == "Tuple") {
    for (auto el : slice.attr("elts")) subscriptIndex(el, out);
  } else {
    subscriptIndex(slice, out);
  }
  return out;
}

ExprPtr Walker::subscriptIndex(py::handle s, std::vector<ExprPtr>& out) {
  int line = lineOf(s);
  if (cls(s) == "Slice") {
    auto part = [&](const char* f) {
      py::object v = s.attr(f);
      return v.is_none() ? mkConstNone(line) : expr(v);
    };
    out.push_back(mkSlice(part("lower"), part("upper"), part("step"), line));
  } else if (cls(s) == "Constant" && s.attr("value").is_none()) {
    unsupported(s, "indexing with None (np.newaxis)");
  } else {
    out.push_back(expr(s));
  }
  return out.back();
}

ExprPtr Walker::call(py::handle e) {
  int line = lineOf(e);
  py::handle func = e.attr("func");
  std::vector<ExprPtr> args;
  int dtype = -1;
  // numpy constructors take the dtype positionally too: np.zeros(n, np.float32), np.full(n, v, int)
  std::string ctor = moduleAttr(func);
  int dtype_pos = (ctor == "np.zeros" || ctor == "np.ones" || ctor == "np.empty" || ctor == "np.zeros_like" ||
                   ctor == "np.empty_like" || ctor == "np.ones_like") ? 1
                  : ctor == "np.full" ? 2 : ctor == "np.arange" ? 3 : -1;
  int pos = 0;
  for (auto a : e.attr("args")) {
    if (cls(a) == "Starred") unsupported(a, "a starred argument");
    if (pos++ == dtype_pos) {
      dtype = dtypeOf(a);
      if (dtype < 0) unsupported(a, "this dtype (supported: float64, float32, int64, int32, bool)");
      continue;
    }
    args.push_back(expr(a));
  }
  for (auto kw : e.attr("keywords")) {
    py::object k = kw.attr("arg");
    std::string key = k.is_none() ? "**" : std::string(py::str(k));
    if (key == "dtype") {
      dtype = dtypeOf(kw.attr("value"));
      if (dtype < 0) unsupported(kw.attr("value"), "this dtype (supported: float64, float32, int64, int32, bool)");
    } else if (key == "axis" || key == "out" || key == "order") {
      unsupported(kw, "the keyword argument '" + key + "'");
    } else {
      unsupported(kw, "the keyword argument '" + key + "'");
    }
  }
  auto intrinsic = [&](const std::string& n) {
    auto x = mkIntrinsic(n, std::move(args), line);
    x->ival = dtype;
    return x;
  };
  std::string fc = cls(func);
  if (fc == "Attribute") {
    std::string m = moduleAttr(func);
    if (!m.empty()) {
      if (m.rfind("np.", 0) == 0) {
        // a dtype used as a constructor: np.float64(x) ...
        int dt = dtypeOf(func);
        if (dt >= 0 && args.size() == 1) {
          auto x = mkIntrinsic("np.cast", std::move(args), line);
          x->ival = dt;
          return x;
        }
      }
      return intrinsic(m);
    }
    // a method call on an expression: a.sum(), a.copy(), ...
    std::string attr = py::str(func.attr("attr"));
    args.insert(args.begin(), expr(func.attr("value")));
    return intrinsic("array." + attr);
  }
  if (fc != "Name") unsupported(func, "calling a " + fc);
  std::string n = py::str(func.attr("id"));
  if (assigned.count(n)) unsupported(func, "calling the local variable '" + n + "'");
  bool found = false;
  py::object target = lookupGlobal(n, &found);
  if (!found) unsupported(func, "the name '" + n + "', which is not defined");
  if (PyCFunction_Check(target.ptr()) || PyType_Check(target.ptr())) {
    static const char* builtins_ok[] = {"abs", "min", "max", "round", "int", "float", "bool", "len", "pow"};
    for (auto b : builtins_ok)
      if (n == b && target.is(builtins.attr(b))) return intrinsic(n);
    // numpy functions imported by name (from numpy import sqrt) and math functions.
    py::object mod = py::getattr(target, "__module__", py::none());
    py::object self = py::getattr(target, "__self__", py::none());
    if (self.is(math_mod)) return intrinsic("math." + n);
    (void)mod;
  }
  // numpy ufuncs / functions imported by name
  if (py::hasattr(np_mod, n.c_str()) && target.is(np_mod.attr(n.c_str()))) return intrinsic("np." + n);
  // another Python function (or an epochpp dispatcher wrapping one) from globals
  py::object pyf = target;
  if (py::hasattr(target, "py_func") && py::hasattr(target, "inspect")) pyf = target.attr("py_func");
  if (PyFunction_Check(pyf.ptr())) {
    if (!args.empty() && py::len(e.attr("keywords")) == 0) {
    }
    if (py::len(e.attr("keywords"))) unsupported(e, "keyword arguments in a call to '" + n + "'");
    int idx = -1;
    for (size_t i = 0; i < fn().callees.size(); ++i)
      if (fn().callees[i].name == n) idx = (int)i;
    if (idx < 0) {
      fn().callees.push_back({n, pyf.ptr(), -1});
      res.callees.push_back(pyf);
      idx = (int)fn().callees.size() - 1;
    }
    return mkCallFunc(idx, n, std::move(args), line);
  }
  std::string tn = py::str(py::type::handle_of(target).attr("__name__"));
  unsupported(func, "calling '" + n + "' (a " + tn + ")");
}

ExprPtr Walker::expr(py::handle e) {
  std::string c = cls(e);
  int line = lineOf(e);
  if (c == "Constant") return constant(e.attr("value"), e);
  if (c == "Name") return name(e);
  if (c == "BinOp") {
    Op op = binOp(cls(e.attr("op")));
    if (op == Op::None || op == Op::MatMul) unsupported(e, "the operator " + cls(e.attr("op")));
    return mkBinary(op, expr(e.attr("left")), expr(e.attr("right")), line);
  }
  if (c == "UnaryOp") {
    std::string oc = cls(e.attr("op"));
    Op op = oc == "USub" ? Op::Neg : oc == "UAdd" ? Op::Pos : oc == "Not" ? Op::Not : Op::Invert;
    return mkUnary(op, expr(e.attr("operand")), line);
  }
  if (c == "BoolOp") {
    Op op = cls(e.attr("op")) == "And" ? Op::And : Op::Or;
    py::list vals = e.attr("values");
    ExprPtr acc = expr(vals[vals.size() - 1]);
    for (int i = (int)vals.size() - 2; i >= 0; --i) acc = mkBoolOp(op, expr(vals[i]), acc, line);
    return acc;
  }
  if (c == "Compare") {
    py::list ops = e.attr("ops");
    py::list comps = e.attr("comparators");
    std::vector<Op> cops;
    for (auto o : ops) {
      Op op = cmpOp(cls(o));
      if (op == Op::None) unsupported(e, "the comparison '" + cls(o) + "' (is / in)");
      cops.push_back(op);
    }
    ExprPtr left = expr(e.attr("left"));
    if (cops.size() == 1) return mkCompare(cops[0], left, expr(comps[0]), line);
    // a < b < c  ->  (a < ($t := b)) and ($t < c): each middle operand evaluated once
    std::vector<ExprPtr> parts;
    for (size_t i = 0; i < cops.size(); ++i) {
      ExprPtr right = expr(comps[i]);
      ExprPtr next;
      if (i + 1 < cops.size()) {
        int t = newTemp("cmp");
        right = mkNamed(t, right, line);
        next = mkVar(t, line);
      }
      parts.push_back(mkCompare(cops[i], left, right, line));
      left = next;
    }
    ExprPtr acc = parts.back();
    for (int i = (int)parts.size() - 2; i >= 0; --i) acc = mkBoolOp(Op::And, parts[i], acc, line);
    return acc;
  }
  if (c == "IfExp") return mkIfExp(expr(e.attr("test")), expr(e.attr("body")), expr(e.attr("orelse")), line);
  if (c == "NamedExpr") {
    int slot = fn().addLocal(py::str(e.attr("target").attr("id")));
    return mkNamed(slot, expr(e.attr("value")), line);
  }
  if (c == "Call") return call(e);
  if (c == "Subscript") {
    ExprPtr base = expr(e.attr("value"));
    return mkIndex(base, subscriptIndices(e.attr("slice")), line);
  }
  if (c == "Attribute") {
    std::string m = moduleAttr(e);
    if (m == "math.pi" || m == "np.pi") return mkConstFloat(3.141592653589793, line);
    if (m == "math.e" || m == "np.e") return mkConstFloat(2.718281828459045, line);
    if (m == "math.inf" || m == "np.inf") return mkConstFloat(HUGE_VAL, line);
    if (m == "math.nan" || m == "np.nan") return mkConstFloat(NAN, line);
    if (m == "math.tau") return mkConstFloat(6.283185307179586, line);
    if (!m.empty()) unsupported(e, "'" + m + "' used as a value");
    std::string attr = py::str(e.attr("attr"));
    if (attr == "shape" || attr == "size" || attr == "ndim" || attr == "T" || attr == "real")
      return mkAttr(attr, expr(e.attr("value")), line);
    unsupported(e, "the attribute '." + attr + "'");
  }
  if (c == "Tuple") {
    std::vector<ExprPtr> el;
    for (auto x : e.attr("elts")) el.push_back(expr(x));
    return mkTuple(std::move(el), line);
  }
  static const std::pair<const char*, const char*> names[] = {
      {"List", "a list"}, {"ListComp", "a list comprehension"}, {"Dict", "a dict"},
      {"DictComp", "a dict comprehension"}, {"Set", "a set"}, {"SetComp", "a set comprehension"},
      {"GeneratorExp", "a generator expression"}, {"Lambda", "a lambda"},
      {"JoinedStr", "an f-string"}, {"Await", "await"}, {"Yield", "yield"}, {"YieldFrom", "yield from"},
      {"Starred", "a starred expression"}};
  for (auto& [k, v] : names)
    if (c == k) unsupported(e, v);
  unsupported(e, "the expression '" + c + "'");
}

}  // namespace epochpp::frontend
