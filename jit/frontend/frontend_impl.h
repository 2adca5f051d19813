// jit/frontend/frontend_impl.h — the AST walker shared by frontend.cpp (statements) and frontend_expr.cpp.
#pragma once
#include <set>
#include <string>

#include "jit/frontend/frontend.h"

namespace epochpp::frontend {

struct Walker {
  FrontendResult res;
  py::handle globals;
  py::object builtins;
  py::object math_mod, np_mod;
  std::set<std::string> assigned;  // names bound anywhere in the function: locals
  std::set<std::string> freevars;  // closure variables
  int tmp_counter = 0;

  ir::Function& fn() { return res.fn; }

  // shared helpers
  static std::string cls(py::handle node);
  static int lineOf(py::handle node);
  [[noreturn]] void unsupported(py::handle node, const std::string& what);
  int newTemp(const std::string& hint);
  py::object lookupGlobal(const std::string& name, bool* found);  // adds a guard

  // statements (frontend.cpp)
  void collectAssigned(py::handle node);
  ir::Block block(py::handle stmts);
  void stmt(py::handle s, ir::Block& out);
  void assignTo(py::handle target, ir::ExprPtr value, int line, ir::Block& out);
  void forLoop(py::handle s, ir::Block& out);
  bool isPrange(py::handle iter);

  // expressions (frontend_expr.cpp)
  ir::ExprPtr expr(py::handle e);
  ir::ExprPtr call(py::handle e);
  ir::ExprPtr name(py::handle e);
  ir::ExprPtr constant(py::handle value, py::handle node);
  ir::ExprPtr subscriptIndex(py::handle slice, std::vector<ir::ExprPtr>& out);
  std::vector<ir::ExprPtr> subscriptIndices(py::handle slice);
  int dtypeOf(py::handle node);  // a dtype expression -> ir::Kind (as int), -1 if not one
  std::string moduleAttr(py::handle func);  // "math.sqrt" / "np.sum" or ""
};

ir::Op binOp(const std::string& cls);
ir::Op cmpOp(const std::string& cls);

}  // namespace epochpp::frontend
