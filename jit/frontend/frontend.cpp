// jit/frontend/frontend.cpp — statements: Python AST statements -> structured IR statements.
#include "jit/frontend/frontend_impl.h"

namespace epochpp::frontend {

using namespace ir;

std::string Walker::cls(py::handle node) {
  return py::str(py::type::handle_of(node).attr("__name__"));
}

int Walker::lineOf(py::handle node) {
  if (py::hasattr(node, "lineno")) return node.attr("lineno").cast<int>();
  return 0;
}

void Walker::unsupported(py::handle node, const std::string& what) {
  throw Unsupported{lineOf(node), what};
}

int Walker::newTemp(const std::string& hint) {
  return fn().addLocal("$" + hint + std::to_string(tmp_counter++));
}

py::object Walker::lookupGlobal(const std::string& n, bool* found) {
  py::dict g = py::reinterpret_borrow<py::dict>(globals);
  if (g.contains(n)) {
    py::object v = g[py::str(n)];
    res.guards.push_back({n, v, py::object()});
    *found = true;
    return v;
  }
  res.guards.push_back({n, py::object(), py::object()});  // must stay absent: the builtin is used
  if (py::hasattr(builtins, n.c_str())) {
    *found = true;
    return builtins.attr(n.c_str());
  }
  *found = false;
  return py::none();
}

// Names bound anywhere in the function body are locals (Python's scoping rule).
void Walker::collectAssigned(py::handle node) {
  std::string c = cls(node);
  if (c == "Name") {
    std::string ctx = cls(node.attr("ctx"));
    if (ctx == "Store" || ctx == "Del") assigned.insert(py::str(node.attr("id")));
    return;
  }
  if (c == "FunctionDef" || c == "Lambda" || c == "ClassDef" || c == "AsyncFunctionDef") {
    if (py::hasattr(node, "name")) assigned.insert(py::str(node.attr("name")));
    return;  // nested scopes are their own
  }
  for (auto field : node.attr("_fields")) {
    py::object v = node.attr(field);
    if (py::isinstance<py::list>(v)) {
      for (auto item : v)
        if (py::hasattr(item, "_fields")) collectAssigned(item);
    } else if (py::hasattr(v, "_fields")) {
      collectAssigned(v);
    }
  }
}

Block Walker::block(py::handle stmts) {
  Block out;
  for (auto s : stmts) stmt(s, out);
  return out;
}

void Walker::assignTo(py::handle target, ExprPtr value, int line, Block& out) {
  std::string c = cls(target);
  if (c == "Name") {
    out.push_back(mkAssign(fn().addLocal(py::str(target.attr("id"))), value, line));
  } else if (c == "Subscript") {
    ExprPtr base = expr(target.attr("value"));
    auto idx = subscriptIndices(target.attr("slice"));
    out.push_back(mkStore(base, idx, value, line));
  } else if (c == "Tuple" || c == "List") {
    int t = newTemp("unpack");
    out.push_back(mkAssign(t, value, line));
    py::list elts = target.attr("elts");
    for (size_t i = 0; i < elts.size(); ++i) {
      if (cls(elts[i]) == "Starred") unsupported(elts[i], "starred assignment target");
      auto get = mkTupleGet(mkVar(t, line), (int64_t)i, line);
      get->ival = (int64_t)i;
      get->col = (int)elts.size();  // arity the unpacking expects (checked by type inference)
      assignTo(elts[i], get, line, out);
    }
  } else {
    unsupported(target, "assignment to " + c);
  }
}

// `prange(...)` or `<module>.prange(...)` where the name resolves to epochpp.prange.
bool Walker::isPrange(py::handle iter) {
  if (cls(iter) != "Call") return false;
  py::handle f = iter.attr("func");
  py::object target;
  bool found = false;
  if (cls(f) == "Name") {
    std::string n = py::str(f.attr("id"));
    if (n != "prange" || assigned.count(n)) return false;
    target = lookupGlobal(n, &found);
  } else if (cls(f) == "Attribute" && cls(f.attr("value")) == "Name" && std::string(py::str(f.attr("attr"))) == "prange") {
    std::string mod = py::str(f.attr("value").attr("id"));
    if (assigned.count(mod)) return false;
    py::object m = lookupGlobal(mod, &found);
    if (!found || !py::hasattr(m, "prange")) return false;
    target = m.attr("prange");
  } else {
    return false;
  }
  if (!found) return false;
  try {
    return target.is(py::module_::import("epochpp").attr("prange"));
  } catch (py::error_already_set&) {
    return false;
  }
}

void Walker::forLoop(py::handle s, Block& out) {
  int line = lineOf(s);
  py::handle target = s.attr("target");
  py::handle iter = s.attr("iter");
  Block body = block(s.attr("body"));
  Block orelse = block(s.attr("orelse"));
  // for i in range(...)  /  for i in prange(...) / epochpp.prange(...) (Level 3: asserted independent)
  bool prange = isPrange(iter);
  if (cls(iter) == "Call" && cls(target) == "Name" &&
      (prange || (cls(iter.attr("func")) == "Name" && std::string(py::str(iter.attr("func").attr("id"))) == "range" &&
                  !assigned.count("range")))) {
    bool found = false;
    py::object r = prange ? py::object(builtins.attr("range")) : lookupGlobal("range", &found);
    if (r.is(builtins.attr("range"))) {
      py::list a = iter.attr("args");
      if (py::len(iter.attr("keywords")) != 0 || a.size() < 1 || a.size() > 3)
        unsupported(iter, "range() with these arguments");
      ExprPtr start = a.size() >= 2 ? expr(a[0]) : mkConstInt(0, line);
      ExprPtr stop = a.size() >= 2 ? expr(a[1]) : expr(a[0]);
      ExprPtr step = a.size() == 3 ? expr(a[2]) : mkConstInt(1, line);
      int slot = fn().addLocal(py::str(target.attr("id")));
      out.push_back(mkFor(slot, mkRange(start, stop, step, line), std::move(body), std::move(orelse), line));
      out.back()->prange = prange;
      return;
    }
  }
  // for x in array  /  for i, x in enumerate(array): iterate the first axis.
  bool enumerate = false;
  py::handle seq = iter;
  if (cls(iter) == "Call" && cls(iter.attr("func")) == "Name" &&
      std::string(py::str(iter.attr("func").attr("id"))) == "enumerate" &&
      py::len(iter.attr("args")) == 1 && py::len(iter.attr("keywords")) == 0) {
    enumerate = true;
    seq = iter.attr("args").cast<py::list>()[0];
    bool found = false;
    py::object en = lookupGlobal("enumerate", &found);
    if (assigned.count("enumerate") || !en.is(builtins.attr("enumerate")))
      unsupported(iter, "'enumerate' rebound to something else");
    if (cls(target) != "Tuple" || py::len(target.attr("elts")) != 2)
      unsupported(target, "enumerate() target must be two names");
  }
  int arr = newTemp("iter");
  out.push_back(mkAssign(arr, expr(seq), line));
  int idx = newTemp("i");
  Block inner;
  ExprPtr item = mkIndex(mkVar(arr, line), {mkVar(idx, line)}, line);
  item->col = 1;  // marks "first-axis iteration": index is known in range
  if (enumerate) {
    py::list elts = target.attr("elts");
    assignTo(elts[0], mkVar(idx, line), line, inner);
    assignTo(elts[1], item, line, inner);
  } else {
    assignTo(target, item, line, inner);
  }
  for (auto& b : body) inner.push_back(b);
  auto len = mkIntrinsic("len", {mkVar(arr, line)}, line);
  out.push_back(mkFor(idx, mkRange(mkConstInt(0, line), len, mkConstInt(1, line), line), std::move(inner),
                      std::move(orelse), line));
}

void Walker::stmt(py::handle s, Block& out) {
  std::string c = cls(s);
  int line = lineOf(s);
  if (c == "Assign") {
    py::list targets = s.attr("targets");
    ExprPtr v = expr(s.attr("value"));
    if (targets.size() == 1) {
      assignTo(targets[0], v, line, out);
    } else {
      int t = newTemp("v");
      out.push_back(mkAssign(t, v, line));
      for (auto tg : targets) assignTo(tg, mkVar(t, line), line, out);
    }
  } else if (c == "AnnAssign") {
    if (!s.attr("value").is_none()) assignTo(s.attr("target"), expr(s.attr("value")), line, out);
  } else if (c == "AugAssign") {
    Op op = binOp(cls(s.attr("op")));
    py::handle target = s.attr("target");
    std::string tc = cls(target);
    ExprPtr rhs = expr(s.attr("value"));
    if (tc == "Name") {
      int slot = fn().addLocal(py::str(target.attr("id")));
      auto b = mkBinary(op, mkVar(slot, line), rhs, line);
      b->ival = 1;  // in-place: arrays are updated in their own buffer (ndarray.__iadd__)
      out.push_back(mkAssign(slot, b, line));
    } else if (tc == "Subscript") {
      // a[i] += x evaluates `a` and `i` once: complex parts go to temporaries; names and
      // constants are used as they are (they cannot change within the statement)
      ExprPtr baseExpr = expr(target.attr("value"));
      ExprPtr baseRef;
      if (baseExpr->kind == ExprKind::Var) {
        baseRef = baseExpr;
      } else {
        int base = newTemp("base");
        out.push_back(mkAssign(base, baseExpr, line));
        baseRef = mkVar(base, line);
      }
      auto idx = subscriptIndices(target.attr("slice"));
      std::vector<ExprPtr> idx_vars;
      for (auto& i : idx) {
        if (i->kind == ExprKind::Slice || i->kind == ExprKind::Var || i->kind == ExprKind::Const) {
          idx_vars.push_back(i);
          continue;
        }
        int t = newTemp("idx");
        out.push_back(mkAssign(t, i, line));
        idx_vars.push_back(mkVar(t, line));
      }
      auto cur = mkIndex(baseRef, idx_vars, line);
      auto b = mkBinary(op, cur, rhs, line);
      b->ival = 1;
      out.push_back(mkStore(baseRef, idx_vars, b, line));
    } else {
      unsupported(target, "augmented assignment to " + tc);
    }
  } else if (c == "If") {
    out.push_back(mkIf(expr(s.attr("test")), block(s.attr("body")), block(s.attr("orelse")), line));
  } else if (c == "For") {
    forLoop(s, out);
  } else if (c == "While") {
    out.push_back(mkWhile(expr(s.attr("test")), block(s.attr("body")), block(s.attr("orelse")), line));
  } else if (c == "Break") {
    out.push_back(mkBreak(line));
  } else if (c == "Continue") {
    out.push_back(mkContinue(line));
  } else if (c == "Return") {
    py::object v = s.attr("value");
    out.push_back(mkReturn(v.is_none() ? mkConstNone(line) : expr(v), line));
  } else if (c == "Pass") {
    out.push_back(mkPass(line));
  } else if (c == "Expr") {
    py::object v = s.attr("value");
    if (cls(v) == "Constant" && py::isinstance<py::str>(v.attr("value"))) return;  // docstring
    out.push_back(mkExprStmt(expr(v), line));
  } else {
    static const std::pair<const char*, const char*> names[] = {
        {"Raise", "the 'raise' statement"}, {"Try", "try/except"}, {"With", "the 'with' statement"},
        {"FunctionDef", "a nested function"}, {"ClassDef", "a class definition"},
        {"Import", "an import"}, {"ImportFrom", "an import"}, {"Global", "the 'global' statement"},
        {"Nonlocal", "the 'nonlocal' statement"}, {"Delete", "the 'del' statement"},
        {"Assert", "the 'assert' statement"}, {"Match", "the 'match' statement"}};
    for (auto& [k, v] : names)
      if (c == k) unsupported(s, v);
    unsupported(s, "statement '" + c + "'");
  }
}

static FrontendResult lowerWith(Walker& w, py::handle funcdef, py::handle globals, const std::string& file,
                                const std::vector<std::string>& freevars);

FrontendResult lower(py::handle funcdef, py::handle globals, const std::string& file,
                     const std::vector<std::string>& freevars, std::vector<Guard>* partial) {
  Walker w;
  try {
    return lowerWith(w, funcdef, globals, file, freevars);
  } catch (...) {
    if (partial) *partial = w.res.guards;
    throw;
  }
}

static FrontendResult lowerWith(Walker& w, py::handle funcdef, py::handle globals, const std::string& file,
                                const std::vector<std::string>& freevars) {
  w.freevars.insert(freevars.begin(), freevars.end());
  w.globals = globals;
  w.builtins = py::module_::import("builtins");
  w.math_mod = py::module_::import("math");
  // numpy is only relevant if the program imported it (compiling must not import it)
  py::dict mods = py::reinterpret_borrow<py::dict>(PyImport_GetModuleDict());
  w.np_mod = mods.contains("numpy") ? py::object(mods["numpy"]) : py::object(py::none());
  Function& f = w.fn();
  f.name = py::str(funcdef.attr("name"));
  f.file = file;
  f.first_line = Walker::lineOf(funcdef);
  if (Walker::cls(funcdef) != "FunctionDef") w.unsupported(funcdef, "an async function or lambda");
  if (py::len(funcdef.attr("decorator_list")) > 1)
    w.unsupported(funcdef, "more than one decorator");
  py::handle args = funcdef.attr("args");
  if (!args.attr("vararg").is_none() || !args.attr("kwarg").is_none() ||
      py::len(args.attr("kwonlyargs")) || py::len(args.attr("posonlyargs")) || py::len(args.attr("defaults")))
    w.unsupported(funcdef, "*args, **kwargs, keyword-only, positional-only or default arguments");
  for (auto a : args.attr("args")) f.addLocal(py::str(a.attr("arg")), true);
  f.num_params = (int)f.locals.size();
  for (auto s : funcdef.attr("body")) w.collectAssigned(s);
  for (auto a : args.attr("args")) w.assigned.insert(py::str(a.attr("arg")));
  f.body = w.block(funcdef.attr("body"));
  return std::move(w.res);
}

}  // namespace epochpp::frontend
